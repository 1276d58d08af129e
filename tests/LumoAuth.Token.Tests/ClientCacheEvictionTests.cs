using System.Net;
using LumoAuth.Contracts.Clients;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Another replica changed a client: the <c>ClientUpdated</c>/<c>ClientDeleted</c> event arrives over RabbitMQ
/// on this replica's own queue and drops the cached client, so the change applies here too.
/// </summary>
public sealed class ClientCacheEvictionTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    [Fact]
    public async Task ClientUpdatedEvent_FromAnotherReplica_EvictsTheCachedClient()
    {
        var tenant = factory.Acme;
        var client = await factory.CreateOAuthClientAsync(tenant);
        await factory.AccessTokenAsync(tenant, client);
        // What another replica's update does to the shared database, without touching this replica's cache.
        await factory.WithDbAsync(db => db.Applications.IgnoreQueryFilters()
            .Where(a => a.ClientId == client.ClientId).ExecuteUpdateAsync(s => s.SetProperty(a => a.IsActive, false)));
        await factory.AccessTokenAsync(tenant, client);
        var bus = factory.Services.GetRequiredService<IBus>();

        await ApiAssert.EventuallyAsync(async () =>
        {
            await bus.Publish(new ClientUpdated(client.ClientId) { TenantId = tenant.Info.Id });
            using var response = await factory.ClientCredentialsAsync(tenant, client);
            return response.StatusCode == HttpStatusCode.Unauthorized ? response.StatusCode.ToString() : null;
        });
    }

    [Fact]
    public async Task ClientDeletedEvent_FromAnotherReplica_EvictsTheCachedClient()
    {
        var tenant = factory.Acme;
        var client = await factory.CreateOAuthClientAsync(tenant);
        await factory.AccessTokenAsync(tenant, client);
        await factory.WithDbAsync(db => db.Applications.IgnoreQueryFilters()
            .Where(a => a.ClientId == client.ClientId).ExecuteDeleteAsync());
        var bus = factory.Services.GetRequiredService<IBus>();

        await ApiAssert.EventuallyAsync(async () =>
        {
            await bus.Publish(new ClientDeleted(client.ClientId) { TenantId = tenant.Info.Id });
            using var response = await factory.ClientCredentialsAsync(tenant, client);
            return response.StatusCode == HttpStatusCode.Unauthorized ? response.StatusCode.ToString() : null;
        });
    }
}
