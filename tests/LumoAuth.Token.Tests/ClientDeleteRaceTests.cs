using System.Net;
using LumoAuth.Token.Data;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LumoAuth.Token.Tests;

/// <summary>A token service in which a test can make another request change a client's row just before it is deleted.</summary>
public sealed class ClientDeleteRaceSuite : TokenSuite
{
    public ConcurrentChange Change { get; } = new();

    protected override void ConfigureTokenServices(IServiceCollection services) =>
        services.ConfigureDbContext<TokenDbContext>(options => options.AddInterceptors(Change));

    /// <summary>For the next <c>n</c> saves that delete a client, changes the row's concurrency token first, as a rotation would.</summary>
    public sealed class ConcurrentChange : SaveChangesInterceptor
    {
        private int _remaining;

        public void Before(int deletions) => Volatile.Write(ref _remaining, deletions);

        public override async ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
        {
            var deleted = eventData.Context!.ChangeTracker.Entries<TokenApplication>().FirstOrDefault(e => e.State == EntityState.Deleted);
            if (deleted is not null && Interlocked.Decrement(ref _remaining) >= 0)
            {
                await using var connection = new NpgsqlConnection(eventData.Context.Database.GetConnectionString());
                await connection.OpenAsync(cancellationToken);
                await using var command = new NpgsqlCommand("UPDATE oidc_applications SET \"ConcurrencyToken\" = gen_random_uuid()::text WHERE \"Id\" = @id", connection);
                command.Parameters.AddWithValue("id", deleted.Entity.Id);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            return await base.SavingChangesAsync(eventData, result, cancellationToken);
        }
    }
}

/// <summary>
/// Deleting a client voids its tokens first; a change another request makes to the row meanwhile does not leave it
/// voided but alive: the deletion is tried once more on the row as it is now.
/// </summary>
public sealed class ClientDeleteRaceTests(ClientDeleteRaceSuite suite) : IClassFixture<ClientDeleteRaceSuite>
{
    [Fact]
    public async Task AChangeJustBeforeTheDeletion_DoesNotStopIt()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);

        suite.Change.Before(deletions: 1);
        using var deleted = await admin.DeleteAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}");

        Assert.True(deleted.StatusCode == HttpStatusCode.NoContent, await deleted.Content.ReadAsStringAsync());
        using var gone = await admin.GetAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task ChangesAgainAndAgain_Answer409_AndTheClientStays()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);

        suite.Change.Before(deletions: 2);
        using var refused = await admin.DeleteAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}");

        await HttpAssert.EnvelopeAsync(refused, HttpStatusCode.Conflict, "invalid_request");
        using var still = await admin.GetAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}");
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);

        // It stays, active, so the cut-off the attempt put ahead of now is back at now: its new tokens pass.
        var denyList = suite.Token.Services.GetRequiredService<LumoAuth.ServiceDefaults.Security.RedisAccessTokenDenyList>();
        var later = new LumoAuth.ServiceDefaults.Security.AccessTokenFacts(Guid.NewGuid().ToString(), setup.ClientId, DateTimeOffset.UtcNow.AddSeconds(5));
        Assert.False(await denyList.IsRevokedAsync(setup.Tenant.Id, later, CancellationToken.None));
    }
}
