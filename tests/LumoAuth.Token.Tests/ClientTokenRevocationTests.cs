using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Testing;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Protocol;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.IdentityModel.JsonWebTokens;
using StackExchange.Redis;
using TestTenant = LumoAuth.Testing.TestTenant;

namespace LumoAuth.Token.Tests;

/// <summary>The token service beside admin and an authorization service that validates bearer tokens with the token service's JWKS.</summary>
public sealed class BearerAcrossServicesSuite : TokenSuite
{
    public AuthorizationServiceFactory Authorization { get; private set; } = null!;

    // The authorization service starts first; its JWKS client reaches the token service once that is up.
    protected override async Task BeforeTokenAsync()
    {
        Authorization = new AuthorizationServiceFactory(Admin, services =>
            services.AddHttpClient(InternalClients.Token).ConfigurePrimaryHttpMessageHandler(() => Token.Server.CreateHandler()));
        await Authorization.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Authorization.DisposeAsync();
    }
}

/// <summary>
/// A deactivated or deleted client's stateless access tokens are refused by every service's own bearer validation
/// (a per-client cut-off in Redis), not only by introspection; the tenant's other clients are unaffected.
/// </summary>
public sealed class ClientTokenRevocationTests(BearerAcrossServicesSuite suite) : IClassFixture<BearerAcrossServicesSuite>
{
    private sealed record Machine(string ClientId, string Secret);

    private async Task<Machine> CreateMachineClientAsync(TestTenant tenant)
    {
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        using var created = await admin.PostAsJsonAsync($"{tenant.Api}/admin/clients",
            new { name = "machine", isConfidential = true, grantTypes = new[] { "client_credentials" } });
        var data = (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data");
        return new Machine(data.GetProperty("clientId").GetString()!, data.GetProperty("secret").GetString()!);
    }

    private async Task<string> AccessTokenAsync(TestTenant tenant, Machine client)
    {
        using var http = suite.Token.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/oauth/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }),
        };
        request.Headers.Authorization = HttpAssert.Basic(client.ClientId, client.Secret);
        using var response = await http.SendAsync(request);
        return (await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;
    }

    /// <summary>A call to the authorization service authenticated by the bearer token alone.</summary>
    private async Task<HttpResponseMessage> CheckAsync(TestTenant tenant, string token)
    {
        using var authz = suite.Authorization.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/zanzibar/check")
        {
            Content = JsonContent.Create(new { @object = "document:1", relation = "viewer", user = "user:a" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await authz.SendAsync(request);
    }

    private async Task<HttpResponseMessage> AdminAsync(TestTenant tenant, HttpMethod method, string path, object? body = null)
    {
        using var admin = suite.Token.CreateClient();
        using var request = new HttpRequestMessage(method, $"{tenant.Api}/admin/clients/{path}") { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Add("X-API-Key", tenant.ApiKey);
        return await admin.SendAsync(request);
    }

    [Fact]
    public async Task DeactivatedClient_ItsTokenIsRefusedByAuthorization_AnotherClientsStillWorks()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var doomed = await CreateMachineClientAsync(tenant);
        var bystander = await CreateMachineClientAsync(tenant);
        var doomedToken = await AccessTokenAsync(tenant, doomed);
        var bystanderToken = await AccessTokenAsync(tenant, bystander);
        await ApiAssert.OkAsync(await CheckAsync(tenant, doomedToken));

        using var off = await AdminAsync(tenant, HttpMethod.Put, doomed.ClientId, new { isActive = false });
        Assert.False((await HttpAssert.JsonAsync(off, HttpStatusCode.OK)).GetProperty("data").GetProperty("isActive").GetBoolean());

        await ApiAssert.ErrorAsync(await CheckAsync(tenant, doomedToken), 401, "invalid_token");
        await ApiAssert.OkAsync(await CheckAsync(tenant, bystanderToken));
    }

    [Fact]
    public async Task DeletedClient_ItsTokenIsRefusedByAuthorization()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var doomed = await CreateMachineClientAsync(tenant);
        var token = await AccessTokenAsync(tenant, doomed);
        await ApiAssert.OkAsync(await CheckAsync(tenant, token));

        using var deleted = await AdminAsync(tenant, HttpMethod.Delete, doomed.ClientId);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);

        await ApiAssert.ErrorAsync(await CheckAsync(tenant, token), 401, "invalid_token");
    }

    [Fact]
    public async Task ReactivatedClient_TokensFromBeforeStayVoidEverywhere()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var client = await CreateMachineClientAsync(tenant);
        var token = await AccessTokenAsync(tenant, client);

        using (await AdminAsync(tenant, HttpMethod.Put, client.ClientId, new { isActive = false }))
        using (var on = await AdminAsync(tenant, HttpMethod.Put, client.ClientId, new { isActive = true }))
        {
            await HttpAssert.JsonAsync(on, HttpStatusCode.OK);
        }

        await ApiAssert.ErrorAsync(await CheckAsync(tenant, token), 401, "invalid_token");
        // Introspection gives the same verdict as the other services.
        using var http = suite.Token.CreateClient();
        using var introspect = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/oauth/introspect")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token }),
        };
        introspect.Headers.Authorization = HttpAssert.Basic(client.ClientId, client.Secret);
        using var answer = await http.SendAsync(introspect);
        Assert.False((await HttpAssert.JsonAsync(answer, HttpStatusCode.OK)).GetProperty("active").GetBoolean());
    }

    [Fact]
    public async Task RotatedSecret_IssuedTokensKeepWorking()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var client = await CreateMachineClientAsync(tenant);
        var token = await AccessTokenAsync(tenant, client);

        using var rotated = await AdminAsync(tenant, HttpMethod.Post, $"{client.ClientId}/rotate-secret");
        await HttpAssert.JsonAsync(rotated, HttpStatusCode.OK);

        await ApiAssert.OkAsync(await CheckAsync(tenant, token));
    }

    [Fact]
    public async Task ClientCutOff_IsScopedToItsTenant()
    {
        // The same client id in another tenant (ids are tenant-scoped in Redis keys) is not touched by this tenant's mark.
        var tenant = await suite.Admin.CreateTenantAsync();
        var other = await suite.Admin.CreateTenantAsync();
        var client = await CreateMachineClientAsync(tenant);
        var denyList = suite.Token.Services.GetRequiredService<RedisAccessTokenDenyList>();

        await denyList.RevokeClientTokensAsync(other.Id, client.ClientId, TimeSpan.FromMinutes(5));
        var token = await AccessTokenAsync(tenant, client);

        await ApiAssert.OkAsync(await CheckAsync(tenant, token));
        var ttl = await suite.Token.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase()
            .KeyTimeToLiveAsync(RedisAccessTokenDenyList.ClientKeyFor(other.Id, client.ClientId));
        Assert.NotNull(ttl);
        Assert.True(ttl <= TimeSpan.FromMinutes(6));
    }

    [Fact]
    public async Task DeactivatingAnotherTenantsClient_Is404AndVoidsNothing()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var other = await suite.Admin.CreateTenantAsync();
        var client = await CreateMachineClientAsync(tenant);
        var token = await AccessTokenAsync(tenant, client);

        using var foreign = await AdminAsync(other, HttpMethod.Put, client.ClientId, new { isActive = false });
        await HttpAssert.EnvelopeAsync(foreign, HttpStatusCode.NotFound, "resource_not_found");
        using var foreignDelete = await AdminAsync(other, HttpMethod.Delete, client.ClientId);
        await HttpAssert.EnvelopeAsync(foreignDelete, HttpStatusCode.NotFound, "resource_not_found");

        await ApiAssert.OkAsync(await CheckAsync(tenant, token));
    }
    /// <summary>
    /// Another replica deactivated the client a minute ago; this replica still holds it, active, in its client cache (the
    /// ClientUpdated event has not reached it) and issues tokens from there. Those tokens are refused everywhere: the
    /// deactivation's cut-off lies past the cache's lifetime.
    /// </summary>
    [Fact]
    public async Task DeactivatedOnAnotherReplica_TokensAStaleCacheIssuesAfterwards_AreRefused()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var client = await CreateMachineClientAsync(tenant);
        await AccessTokenAsync(tenant, client); // this replica now holds the client in its cache

        // What the other replica's deactivation did a minute ago: the cut-off for every service, then the row.
        var aMinuteAgo = new MovableClock();
        aMinuteAgo.Advance(TimeSpan.FromMinutes(-1));
        var otherReplica = new RedisAccessTokenDenyList(
            suite.Token.Services.GetRequiredService<IConnectionMultiplexer>(), suite.Token.Services.GetRequiredService<DenyListMirror>(),
            aMinuteAgo, NullLogger<RedisAccessTokenDenyList>.Instance);
        await ClientTokenCutOff.Deactivated.WriteAsync(otherReplica, tenant.Id, client.ClientId);
        await using (var scope = suite.Token.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<TokenDbContext>().Applications.IgnoreQueryFilters()
                .Where(a => a.ClientId == client.ClientId).ExecuteUpdateAsync(s => s.SetProperty(a => a.IsActive, false));
        }

        var stale = await AccessTokenAsync(tenant, client);
        Assert.True(new JsonWebToken(stale).IssuedAt > aMinuteAgo.GetUtcNow().UtcDateTime.AddSeconds(1));

        await ApiAssert.ErrorAsync(await CheckAsync(tenant, stale), 401, "invalid_token");
        Assert.False(await IntrospectAsync(tenant, client, stale));
    }

    /// <summary>A reactivated client's new tokens are accepted again, at once; those from before stay void.</summary>
    [Fact]
    public async Task ReactivatedClient_ItsNewTokensAreAccepted()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var client = await CreateMachineClientAsync(tenant);
        var before = await AccessTokenAsync(tenant, client);

        using (var off = await AdminAsync(tenant, HttpMethod.Put, client.ClientId, new { isActive = false }))
        {
            await HttpAssert.JsonAsync(off, HttpStatusCode.OK);
        }

        using (var on = await AdminAsync(tenant, HttpMethod.Put, client.ClientId, new { isActive = true }))
        {
            await HttpAssert.JsonAsync(on, HttpStatusCode.OK);
        }

        // iat has whole seconds and the cut-off's own second is void: a token of the next second is "after" it.
        await Task.Delay(TimeSpan.FromMilliseconds(1_000 - DateTimeOffset.UtcNow.Millisecond + 50));
        var after = await AccessTokenAsync(tenant, client);

        await ApiAssert.OkAsync(await CheckAsync(tenant, after));
        Assert.True(await IntrospectAsync(tenant, client, after));
        await ApiAssert.ErrorAsync(await CheckAsync(tenant, before), 401, "invalid_token");
    }

    /// <summary>
    /// The deny-list replaces a cut-off, also with an earlier one, and so does the process's copy of it (the latest line
    /// counts, as the latest write does for the key): the copy enforces the cut-off ahead when Redis lost it, and follows a
    /// reactivation back.
    /// </summary>
    [Fact]
    public async Task ClientCutOff_AheadForDeactivation_MovesBackOnReactivation()
    {
        var tenantId = Guid.NewGuid();
        var clientId = Guid.NewGuid().ToString();
        var redis = suite.Token.Services.GetRequiredService<IConnectionMultiplexer>();
        var mirror = new DenyListMirror(redis, TimeProvider.System);
        var denyList = new RedisAccessTokenDenyList(redis, mirror, TimeProvider.System, NullLogger<RedisAccessTokenDenyList>.Instance);
        var now = DateTimeOffset.UtcNow;
        AccessTokenFacts IssuedAt(DateTimeOffset at) => new(Guid.NewGuid().ToString(), clientId, at);

        await ClientTokenCutOff.Deactivated.WriteAsync(denyList, tenantId, clientId);
        await mirror.RefreshAsync();
        Assert.True(await denyList.IsRevokedAsync(tenantId, IssuedAt(now.AddSeconds(-30)), CancellationToken.None));
        Assert.True(await denyList.IsRevokedAsync(tenantId, IssuedAt(now + ClientCache.FoundLifetime), CancellationToken.None));
        Assert.False(await denyList.IsRevokedAsync(tenantId, IssuedAt(now + ClientCache.FoundLifetime + ClientTokenCutOff.StaleAllowance + TimeSpan.FromSeconds(5)), CancellationToken.None));
        var ttl = await redis.GetDatabase().KeyTimeToLiveAsync(RedisAccessTokenDenyList.ClientKeyFor(tenantId, clientId));
        Assert.True(ttl > ClientValidation.LongestAccessTokenLifetime + ClientCache.FoundLifetime);

        // Redis restarted from a file older than the deactivation: the copy still refuses what a stale cache issued.
        Assert.True(await redis.GetDatabase().KeyDeleteAsync(RedisAccessTokenDenyList.ClientKeyFor(tenantId, clientId)));
        Assert.True(await denyList.IsRevokedAsync(tenantId, IssuedAt(now + ClientCache.FoundLifetime), CancellationToken.None));

        await ClientTokenCutOff.Reactivated.WriteAsync(denyList, tenantId, clientId);
        await mirror.RefreshAsync();
        Assert.True(await denyList.IsRevokedAsync(tenantId, IssuedAt(now.AddSeconds(-30)), CancellationToken.None));
        Assert.False(await denyList.IsRevokedAsync(tenantId, IssuedAt(now.AddMinutes(1)), CancellationToken.None));
    }

    private async Task<bool> IntrospectAsync(TestTenant tenant, Machine client, string token)
    {
        using var http = suite.Token.CreateClient();
        using var introspect = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/oauth/introspect")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token }),
        };
        introspect.Headers.Authorization = HttpAssert.Basic(client.ClientId, client.Secret);
        using var answer = await http.SendAsync(introspect);
        return (await HttpAssert.JsonAsync(answer, HttpStatusCode.OK)).GetProperty("active").GetBoolean();
    }

    [Fact]
    public async Task ClientCutOff_RefusesTokensIssuedUpToIt_AcceptsLaterOnes()
    {
        var tenantId = Guid.NewGuid();
        var clientId = Guid.NewGuid().ToString();
        var denyList = suite.Token.Services.GetRequiredService<RedisAccessTokenDenyList>();
        var now = DateTimeOffset.UtcNow;

        await denyList.RevokeClientTokensAsync(tenantId, clientId, TimeSpan.FromMinutes(5));

        Assert.True(await denyList.IsRevokedAsync(tenantId, new AccessTokenFacts("jti-1", clientId, now.AddSeconds(-30)), CancellationToken.None));
        Assert.True(await denyList.IsRevokedAsync(tenantId, new AccessTokenFacts("jti-2", clientId, null), CancellationToken.None));
        Assert.False(await denyList.IsRevokedAsync(tenantId, new AccessTokenFacts("jti-3", clientId, now.AddMinutes(1)), CancellationToken.None));
        Assert.False(await denyList.IsRevokedAsync(tenantId, new AccessTokenFacts("jti-4", "another-client", now.AddSeconds(-30)), CancellationToken.None));
        Assert.False(await denyList.IsRevokedAsync(Guid.NewGuid(), new AccessTokenFacts("jti-5", clientId, now.AddSeconds(-30)), CancellationToken.None));
    }
}
