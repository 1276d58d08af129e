using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>The services' logging defaults: quiet where a line per request says nothing, and overridable.</summary>
public sealed class LoggingDefaultsTests
{
    private const string SqlCommands = "Microsoft.EntityFrameworkCore.Database.Command";

    [Fact]
    public void SqlCommands_AreLoggedFromWarning_ByDefault()
    {
        using var host = Build();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger(SqlCommands);

        Assert.False(logger.IsEnabled(LogLevel.Information));
        Assert.True(logger.IsEnabled(LogLevel.Warning));
        Assert.True(host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("LumoAuth.Anything").IsEnabled(LogLevel.Information));
    }

    [Fact]
    public void SqlCommands_AreLoggedAgain_WhenTheDeploymentSaysSo()
    {
        using var host = Build($"--Logging:LogLevel:{SqlCommands}=Information");

        Assert.True(host.Services.GetRequiredService<ILoggerFactory>().CreateLogger(SqlCommands).IsEnabled(LogLevel.Information));
    }

    private static IHost Build(params string[] args)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, EnvironmentName = Environments.Production });
        builder.AddServiceDefaults();
        return builder.Build();
    }
}
