using System.Diagnostics;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Messaging.Tests;

/// <summary>
/// A replica whose temporary eviction queue is lost (as in a broker restart or a dropped connection) forgets its
/// cached tenants once the queue is back, so a change whose <c>TenantUpdated</c> went nowhere is seen at once.
/// </summary>
public sealed class EvictionQueueReconnectTests(EvictionQueueReconnectTests.Replica replica) : IClassFixture<EvictionQueueReconnectTests.Replica>
{
    [Fact]
    public async Task LostEvictionQueue_IsDeclaredAgain_AndTheCachedTenantsAreForgotten()
    {
        var directory = replica.Host.Services.GetRequiredService<TenantDirectory>();
        Assert.Equal("before", (await directory.FindAsync("acme", default))!.Name);
        replica.Tenants.Name = "renamed"; // its TenantUpdated is published while this replica has no queue: lost

        var queue = (await RabbitMqCtlAsync("list_queues", "name", "--no-table-headers", "--quiet"))
            .Split('\n', StringSplitOptions.TrimEntries).Single(q => q.StartsWith(replica.Prefix, StringComparison.Ordinal) && q.Contains("tenant-cache-eviction", StringComparison.Ordinal));
        await RabbitMqCtlAsync("delete_queue", queue);

        // Well within the entry's minute (and before its refresh at 48 s): only the clear explains a fresh answer.
        await ApiAssert.EventuallyAsync(async () => (await directory.FindAsync("acme", default))!.Name == "renamed" ? "fresh" : null, TimeSpan.FromSeconds(30));
        Assert.Contains(queue, await RabbitMqCtlAsync("list_queues", "name", "--no-table-headers", "--quiet"));
    }

    /// <summary>A replica with no consumers of its own whose tenants come from <see cref="Tenants"/>.</summary>
    public sealed class Replica() : MessagingHost("evictions")
    {
        public NamedTenants Tenants { get; } = new();

        protected override void AddServices(IServiceCollection services) => services.AddSingleton<ITenantSource>(Tenants);

        protected override void AddConsumers(IBusRegistrationConfigurator bus)
        {
        }
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

    public sealed class NamedTenants : ITenantSource
    {
        private static readonly Guid Id = Guid.NewGuid();

        private volatile string _name = "before";

        public string Name
        {
            get => _name;
            set => _name = value;
        }

        public Task<TenantInfo?> FindByIdAsync(Guid id, CancellationToken cancellationToken) => Task.FromResult<TenantInfo?>(null);

        public Task<TenantInfo?> FindBySlugAsync(string slug, CancellationToken cancellationToken) =>
            Task.FromResult<TenantInfo?>(new TenantInfo(Id, slug, _name, TenantStatuses.Active, "eu"));
    }
}
