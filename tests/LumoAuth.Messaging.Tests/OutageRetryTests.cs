using System.Diagnostics;
using System.Globalization;
using LumoAuth.Messaging.Consumers;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.Testing;
using Npgsql;

namespace LumoAuth.Messaging.Tests;

/// <summary>Which failures wait out an outage, and that the broker lets a delivery wait that long.</summary>
public sealed class OutageRetryTests
{
    [Fact]
    public void DependencyUnavailable_IsAnOutage_AlsoWhenWrapped()
    {
        Assert.True(OutageFailures.IsOutage(new DependencyUnavailableException("admin did not answer")));
        Assert.True(OutageFailures.IsOutage(new InvalidOperationException("outer", new DependencyUnavailableException())));
    }

    [Fact]
    public void OtherFailures_AreNotOutages()
    {
        Assert.False(OutageFailures.IsOutage(new InvalidOperationException("a bug repeats on every try")));
        // A client's own URL failing is the client's lasting problem, not an outage of ours.
        Assert.False(OutageFailures.IsOutage(new HttpRequestException("client callback refused")));
        Assert.False(OutageFailures.IsOutage(new NpgsqlException("not transient")));
    }

    [Fact]
    public async Task TestBroker_AllowsUnacknowledgedDeliveriesLongerThanTheOutageRetry()
    {
        var script = Environment.GetEnvironmentVariable("LUMOAUTH_INFRA_SCRIPT") ?? Path.Combine(TestInfrastructure.RepositoryRoot(), "eng", "infra.sh");
        using var process = Process.Start(new ProcessStartInfo("bash", [script, "rabbitmq-conf"]) { RedirectStandardOutput = true })!;
        var config = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();

        var line = config.Split('\n').Select(l => l.Split('=', 2, StringSplitOptions.TrimEntries)).Single(l => l[0] == "consumer_timeout");
        var timeout = TimeSpan.FromMilliseconds(long.Parse(line[1], CultureInfo.InvariantCulture));
        Assert.True(timeout > new OutageRetryOptions().LongestSpan, $"consumer_timeout {timeout} is shorter than the outage retry");
    }
}
