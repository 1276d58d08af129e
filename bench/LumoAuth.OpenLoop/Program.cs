using LumoAuth.OpenLoop;

// An open-loop, fixed-rate HTTP load (what wrk2 does, which this machine lacks): requests are scheduled
// at the rate whatever the server does, and latency is counted from each request's scheduled time.
LoadOptions options;
try
{
    options = LoadOptions.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or FormatException or IOException)
{
    await Console.Error.WriteLineAsync(ex.Message + Environment.NewLine + LoadOptions.Usage);
    return 2;
}

using var driver = new FixedRateDriver(options);
if (options.WarmUpSeconds > 0)
{
    await driver.RunAsync(options.WarmUpSeconds);
}

var result = await driver.RunAsync(options.Seconds);
Console.WriteLine(result.Describe(options.Rate));
Console.WriteLine(result.MachineLine());
return 0;
