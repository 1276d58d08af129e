using LumoAuth.Messaging;
using LumoAuth.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace LumoAuth.Messaging.Tests;

/// <summary>
/// <c>/health</c> (every check) stays ready through a broker or Redis outage, which the services are built to work
/// through, and shows it as Degraded; <c>/alive</c> (the <c>live</c> checks) never looks at either.
/// </summary>
public sealed class ReadinessTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task BrokerAndRedisUp_AreHealthy()
    {
        var report = await ApiAssert.EventuallyAsync(async () =>
        {
            var checks = await host.Host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
            return checks.Status == HealthStatus.Healthy ? checks : null;
        });

        Assert.Equal(HealthStatus.Healthy, report.Entries["redis"].Status);
        Assert.Contains(report.Entries, entry => entry.Value.Tags.Contains("masstransit") && entry.Value.Status == HealthStatus.Healthy);
    }

    [Fact]
    public async Task BrokerAndRedisUnreachable_AreDegraded_NotUnhealthy_AndNotPartOfLiveness()
    {
        var database = TestInfrastructure.NewDatabase("readiness");
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:widgets"] = database,
            // Nothing listens there: as good as a broker and a Redis that are down.
            ["ConnectionStrings:rabbitmq"] = "amqp://guest:guest@127.0.0.1:1/",
            ["ConnectionStrings:redis"] = "127.0.0.1:1,connectTimeout=500",
            ["Messaging:Prefix"] = TestInfrastructure.NewMessagingPrefix("readiness"),
            ["LumoAuth:InternalKey"] = TestInfrastructure.InternalKey,
        });
        builder.Services.AddMemoryCache();
        builder.AddTenantServices();
        builder.AddServiceDatabase<WidgetDbContext>("widgets");
        builder.AddMessaging<WidgetDbContext>();
        var app = builder.Build();
        await app.StartAsync();
        try
        {
            var checks = app.Services.GetRequiredService<HealthCheckService>();
            // Give the bus and the multiplexer time to try; whatever they meet, neither may say Unhealthy.
            HealthReport report;
            var tries = 0;
            do
            {
                await Task.Delay(500);
                report = await checks.CheckHealthAsync(r => r.Name != "widgets");
            }
            while (++tries < 20 && report.Entries.Values.Any(e => e.Status != HealthStatus.Degraded));

            Assert.Equal(HealthStatus.Degraded, report.Entries["redis"].Status);
            var bus = Assert.Single(report.Entries, entry => entry.Value.Tags.Contains("masstransit"));
            Assert.Equal(HealthStatus.Degraded, bus.Value.Status);
            Assert.Equal(HealthStatus.Degraded, report.Status);

            var registrations = app.Services.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations;
            Assert.All(registrations.Where(r => r.Name == "redis" || r.Tags.Contains("masstransit")), r => Assert.DoesNotContain("live", r.Tags));
        }
        finally
        {
            await MessagingHost.StopWithinBoundsAsync(app);
            await TestInfrastructure.DropDatabaseAsync(database);
        }
    }
}
