using System.Net;
using System.Net.Http.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Data;
using LumoAuth.Token.Keys;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests;

/// <summary>When a rotation's grace period ends, the old key leaves the JWKS without a restart.</summary>
public sealed class KeyGraceTests(MovableClockSuite suite) : IClassFixture<MovableClockSuite>
{
    [Fact]
    public async Task OldKey_IsPublishedDuringGrace_AndGoneAfterIt()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();
        var before = await KidsAsync(http, setup);
        var oldKid = Assert.Single(before);

        http.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var rotated = await http.PostAsJsonAsync($"{setup.Tenant.Api}/admin/signing-keys/rotate", new { algorithm = "ES256", gracePeriodHours = 1 });
        var newKid = (await HttpAssert.JsonAsync(rotated, HttpStatusCode.OK)).GetProperty("data").GetProperty("kid").GetString()!;

        Assert.Equal([newKid, oldKid], await KidsAsync(http, setup));
        suite.Clock.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal([newKid, oldKid], await KidsAsync(http, setup));
        suite.Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal([newKid], await KidsAsync(http, setup));
    }

    /// <summary>
    /// Another replica rotated and its event never came (this replica was reconnecting to the broker): the keys are read
    /// again after <see cref="TenantKeyStore.RecheckInterval"/>, so the retired key is neither published nor used for long.
    /// </summary>
    [Fact]
    public async Task RotationByAnotherReplica_UnheardOf_IsSeenAfterTheRecheckInterval()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();
        var oldKid = Assert.Single(await KidsAsync(http, setup));

        var otherReplica = ActivatorUtilities.CreateInstance<TenantKeyStore>(suite.Token.Services);
        await using (var scope = suite.Token.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
            await otherReplica.RotateAsync(db, setup.Tenant.Id, "ES256", TimeSpan.Zero, (_, _) => { }, CancellationToken.None);
        }

        Assert.Equal([oldKid], await KidsAsync(http, setup));
        suite.Clock.Advance(TenantKeyStore.RecheckInterval + TimeSpan.FromSeconds(1));
        var newKid = Assert.Single(await KidsAsync(http, setup));
        Assert.NotEqual(oldKid, newKid);
    }

    /// <summary>
    /// The database goes away: the keys read before keep serving past the recheck interval (client credentials need no
    /// database), a re-read that finds the same keys keeps the same objects, and nothing is built again.
    /// </summary>
    [Fact]
    public async Task KeysReadBefore_ServeThroughADatabaseOutage()
    {
        var setup = await suite.SetUpAsync();
        var database = new SwitchableScopes(suite.Token.Services.GetRequiredService<IServiceScopeFactory>());
        var store = ActivatorUtilities.CreateInstance<TenantKeyStore>(suite.Token.Services, database);
        var before = await store.GetAsync(setup.Tenant.Id, CancellationToken.None);

        database.Down = true;
        suite.Clock.Advance(TenantKeyStore.RecheckInterval + TimeSpan.FromSeconds(1));
        var during = await store.GetAsync(setup.Tenant.Id, CancellationToken.None);
        Assert.Same(before.Signing, during.Signing);

        database.Down = false;
        suite.Clock.Advance(TimeSpan.FromSeconds(10));
        var after = await store.GetAsync(setup.Tenant.Id, CancellationToken.None);
        Assert.Same(before.Signing, after.Signing);
        Assert.True(after.RefreshAfter > suite.Clock.GetUtcNow());
    }

    /// <summary>Scopes from the real container, or, while <see cref="Down"/>, a failure as from an unreachable database.</summary>
    private sealed class SwitchableScopes(IServiceScopeFactory inner) : IServiceScopeFactory
    {
        public volatile bool Down;

        public IServiceScope CreateScope() => Down ? throw new InvalidOperationException("The database is down (test).") : inner.CreateScope();
    }

    /// <summary>The published signing keys (the encryption key clients encrypt to is not rotated with them).</summary>
    private static async Task<List<string>> KidsAsync(HttpClient http, SignInSetup setup) =>
        [.. new JsonWebKeySet(await http.GetStringAsync($"{setup.Issuer}/.well-known/jwks.json")).Keys.Where(k => k.Use == "sig").Select(k => k.Kid)];
}
