using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using LumoAuth.Admin.Data;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// A client allowed admin or relationship-store scopes does not make every user who signs in to it an administrator:
/// those scopes reach a user's token only while the user administers the tenant.
/// </summary>
public sealed class PrivilegedScopeTests(WithAuthorizationSuite suite) : IClassFixture<WithAuthorizationSuite>
{
    private const string Requested = "openid offline_access admin.read zanzibar.write";

    private async Task<(string AccessToken, string RefreshToken, string Scope)> SignInAsync(SignInSetup setup)
    {
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge, new() { ["scope"] = Requested })))["code"];
        using var http = suite.Token.CreateClient();
        using var exchanged = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));
        var tokens = await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK);
        return (tokens.GetProperty("access_token").GetString()!, tokens.GetProperty("refresh_token").GetString()!, tokens.GetProperty("scope").GetString()!);
    }

    private async Task<HttpStatusCode> ReadScopesAsync(SignInSetup setup, string accessToken)
    {
        using var http = suite.Token.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{setup.Tenant.Api}/admin/scopes");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    private async Task SetAdminAsync(SignInSetup setup, bool isAdmin)
    {
        await using var scope = suite.Admin.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<AdminDbContext>().Users.IgnoreQueryFilters()
            .Where(u => u.Id == setup.UserId).ExecuteUpdateAsync(u => u.SetProperty(x => x.IsAdmin, isAdmin));
    }

    private static string[] ScopesOf(string accessToken) =>
        new JsonWebToken(accessToken).GetPayloadValue<string>("scope").Split(' ').Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task AdminScopes_ReachOnlyTheTokensOfUsersWhoAdministerTheTenant_AndLeaveAtTheRefreshAfterTheyStop()
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Console", applicationType = "spa", redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "authorization_code", "refresh_token" },
            allowedScopes = new[] { "openid", "offline_access", "admin.read", "zanzibar.write" },
        });

        // A plain user gets what the client may have minus the privileged scopes, and the response says so (RFC 6749 §3.3).
        var plain = await SignInAsync(setup);
        Assert.Equal("offline_access openid", string.Join(' ', plain.Scope.Split(' ').Order(StringComparer.Ordinal)));
        Assert.Equal(["offline_access", "openid"], ScopesOf(plain.AccessToken));
        Assert.Equal(HttpStatusCode.Forbidden, await ReadScopesAsync(setup, plain.AccessToken));

        // An administrator gets them all.
        await SetAdminAsync(setup, true);
        var admin = await SignInAsync(setup);
        Assert.Equal(["admin.read", "offline_access", "openid", "zanzibar.write"], ScopesOf(admin.AccessToken));
        Assert.Equal(HttpStatusCode.OK, await ReadScopesAsync(setup, admin.AccessToken));

        // No longer an administrator: the next refresh leaves them out.
        await SetAdminAsync(setup, false);
        using var http = suite.Token.CreateClient();
        using var refreshed = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = admin.RefreshToken, ["client_id"] = setup.ClientId,
        }));
        var after = (await HttpAssert.JsonAsync(refreshed, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;
        Assert.Equal(["offline_access", "openid"], ScopesOf(after));
        Assert.Equal(HttpStatusCode.Forbidden, await ReadScopesAsync(setup, after));

        // Holding the system role tenant_admin counts as administering the tenant too.
        using var authz = suite.Authorization.CreateClient();
        authz.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using (var assigned = await authz.PutAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/roles", new { roles = new[] { "tenant_admin" } }))
        {
            Assert.True(assigned.IsSuccessStatusCode, await assigned.Content.ReadAsStringAsync());
        }

        var byRole = await SignInAsync(setup);
        Assert.Equal(["admin.read", "offline_access", "openid", "zanzibar.write"], ScopesOf(byRole.AccessToken));
    }

    [Theory]
    [InlineData("admin", true)]
    [InlineData("admin.read", true)]
    [InlineData("admin:users", true)]
    [InlineData("zanzibar.write", true)]
    [InlineData("zanzibar:read", true)]
    [InlineData("administration", false)]
    [InlineData("adminpanel", false)]
    [InlineData("zanzibar_reports", false)]
    [InlineData("openid", false)]
    public void Privileged_AreTheAdminAndRelationshipScopes_NotTenantScopesThatMerelyStartAlike(string scope, bool privileged) =>
        Assert.Equal(privileged, LumoAuth.Token.Features.Scopes.ScopeNames.IsPrivileged(scope));
}
