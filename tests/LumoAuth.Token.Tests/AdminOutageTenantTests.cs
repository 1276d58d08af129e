using System.Net;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.Tests;

/// <summary>A token service whose clock the test moves past its caches' lifetimes while admin is cut off.</summary>
public sealed class TenantOutageSuite : TokenSuite
{
    public MovableClock Clock { get; } = new();

    protected override void ConfigureTokenServices(IServiceCollection services) => UseClock(services, Clock);
}

/// <summary>
/// Every request on a tenant path needs the tenant, and API-key callers their key, from admin: while admin is down a
/// tenant and a key already seen are served as last seen (for an hour and five minutes), anything else is a clear 503 —
/// never the 500 an unread tenant used to give once its minute in the cache was over.
/// </summary>
public sealed class AdminOutageTenantTests(TenantOutageSuite suite) : IClassFixture<TenantOutageSuite>
{
    private static string Discovery(LumoAuth.Testing.TestTenant tenant) => $"{tenant.Api}/.well-known/openid-configuration";

    [Fact]
    public async Task KnownTenantAndKey_AreServedAsLastSeen_WhileAdminIsDown_TheRestIs503()
    {
        var known = await suite.Admin.CreateTenantAsync();
        var neverSeen = await suite.Admin.CreateTenantAsync();
        using var http = suite.Token.CreateClient();
        using var keyed = suite.Token.CreateClient();
        keyed.DefaultRequestHeaders.Add("X-API-Key", known.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(Discovery(known))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await keyed.GetAsync($"{known.Api}/admin/clients")).StatusCode);

        suite.CutAdmin();
        try
        {
            // Past the tenant's minute and the key's 30 s in the cache.
            suite.Clock.Advance(TimeSpan.FromMinutes(2));
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(Discovery(known))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await keyed.GetAsync($"{known.Api}/admin/clients")).StatusCode);

            await ApiAssert.ErrorAsync(await http.GetAsync(Discovery(neverSeen)), 503, "service_unavailable");

            // The token endpoint answers in OAuth's shape.
            using var token = await http.PostAsync($"{neverSeen.Api}/oauth/token", new FormUrlEncodedContent(
                new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["client_id"] = "any", ["client_secret"] = "any" }));
            await HttpAssert.OAuthErrorAsync(token, HttpStatusCode.ServiceUnavailable, "temporarily_unavailable");

            // A key is trusted as last verified for five minutes only; the tenant for an hour.
            suite.Clock.Advance(TimeSpan.FromMinutes(6));
            await ApiAssert.ErrorAsync(await keyed.GetAsync($"{known.Api}/admin/clients"), 503, "service_unavailable");
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(Discovery(known))).StatusCode);
        }
        finally
        {
            suite.RestoreAdmin();
        }

        // Admin is back: the next ask after the retry interval is answered afresh.
        suite.Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(Discovery(neverSeen))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await keyed.GetAsync($"{known.Api}/admin/clients")).StatusCode);
    }

    [Fact]
    public async Task CaseVariantTenantPrefix_IsNotFound_NotATenantlessRequest()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var http = suite.Token.CreateClient();

        foreach (var path in new[] { $"/T/{tenant.Slug}/login", "/T/" + tenant.Slug + "/api/v1/.well-known/openid-configuration", $"/t/{tenant.Slug.ToUpperInvariant()}/login" })
        {
            await ApiAssert.ErrorAsync(await http.GetAsync(path), 404, "tenant_not_found");
        }
    }
}
