using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace LumoAuth.Testing;

public static class QuietConsoleExtensions
{
    /// <summary>
    /// Only warnings and errors on the console of an in-process host: at Information every request writes lines there, tens
    /// of megabytes per run that the test host captures and nobody reads, for CPU the tests need. Errors also go to
    /// server-errors.log (<see cref="ServerErrorLog"/>).
    /// </summary>
    public static IWebHostBuilder QuietConsole(this IWebHostBuilder builder) =>
        builder.ConfigureLogging(logging => logging.AddFilter<ConsoleLoggerProvider>(null, LogLevel.Warning));
}
