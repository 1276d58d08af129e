using System.Diagnostics;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LumoAuth.Messaging.Tests;

/// <summary>
/// A replica whose temporary eviction queue is lost (as in a broker restart or a dropped connection) forgets its
/// cached tenants once the queue is back, so a change whose <c>TenantUpdated</c> went nowhere is seen at once.
/// </summary>
public sealed class EvictionQueueReconnectTests : IAsyncLifetime
{
    private readonly string _database = TestInfrastructure.NewDatabase("evictions");
    private readonly string _prefix = TestInfrastructure.NewMessagingPrefix("evictions");
    private readonly NamedTenants _tenants = new();
    private IHost _host = null!;

    [Fact]
    public async Task LostEvictionQueue_IsDeclaredAgain_AndTheCachedTenantsAreForgotten()
    {
        var directory = _host.Services.GetRequiredService<TenantDirectory>();
        Assert.Equal("before", (await directory.FindAsync("acme", default))!.Name);
        _tenants.Name = "renamed"; // its TenantUpdated is published while this replica has no queue: lost

        var queue = (await RabbitMqCtlAsync("list_queues", "name", "--no-table-headers", "--quiet"))
            .Split('\n', StringSplitOptions.TrimEntries).Single(q => q.StartsWith(_prefix, StringComparison.Ordinal) && q.Contains("tenant-cache-eviction", StringComparison.Ordinal));
        await RabbitMqCtlAsync("delete_queue", queue);

        // Well within the entry's minute (and before its refresh at 48 s): only the clear explains a fresh answer.
        await ApiAssert.EventuallyAsync(async () => (await directory.FindAsync("acme", default))!.Name == "renamed" ? "fresh" : null, TimeSpan.FromSeconds(30));
        Assert.Contains(queue, await RabbitMqCtlAsync("list_queues", "name", "--no-table-headers", "--quiet"));
    }

    public async Task InitializeAsync()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:widgets"] = _database,
            ["ConnectionStrings:rabbitmq"] = TestInfrastructure.RabbitMq,
            ["ConnectionStrings:redis"] = TestInfrastructure.Redis,
            ["Messaging:Prefix"] = _prefix,
            ["LumoAuth:InternalKey"] = TestInfrastructure.InternalKey,
        });
        builder.Services.AddSingleton<ITenantSource>(_tenants);
        builder.AddTenantServices();
        builder.AddServiceDatabase<WidgetDbContext>("widgets");
        builder.AddMessaging<WidgetDbContext>();
        _host = builder.Build();
        await using (var scope = _host.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<WidgetDbContext>().Database.EnsureCreatedAsync();
        }

        await _host.StartAsync();
        await _host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        using var shutdown = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _host.StopAsync(shutdown.Token);
        _host.Dispose();
        await TestInfrastructure.DropDatabaseAsync(_database);
    }

    private static async Task<string> RabbitMqCtlAsync(params string[] args)
    {
        var script = Environment.GetEnvironmentVariable("LUMOAUTH_INFRA_SCRIPT") ?? Path.Combine(TestInfrastructure.RepositoryRoot(), "eng", "infra.sh");
        using var process = Process.Start(new ProcessStartInfo("bash", [script, "rabbitmqctl", .. args]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"rabbitmqctl {string.Join(' ', args)}: {await stderr}");
        return await stdout;
    }

    private sealed class NamedTenants : ITenantSource
    {
        private static readonly Guid Id = Guid.NewGuid();

        private volatile string _name = "before";

        public string Name
        {
            get => _name;
            set => _name = value;
        }

        public Task<TenantInfo?> FindBySlugAsync(string slug, CancellationToken cancellationToken) =>
            Task.FromResult<TenantInfo?>(new TenantInfo(Id, slug, _name, TenantStatuses.Active, "eu"));
    }
}
