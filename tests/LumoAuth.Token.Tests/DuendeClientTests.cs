using System.Net.Http.Json;
using Duende.IdentityModel.Client;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// A real OAuth client library against the service: Duende.IdentityModel's discovery, client credentials,
/// introspection, revocation, code exchange and refresh — all driven from the discovery document.
/// </summary>
public sealed class DuendeClientTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private async Task<DiscoveryDocumentResponse> DiscoverAsync(HttpClient http, SignInSetup setup)
    {
        var disco = await http.GetDiscoveryDocumentAsync(new DiscoveryDocumentRequest
        {
            Address = setup.Issuer,
            Policy = new DiscoveryPolicy { RequireHttps = false, ValidateIssuerName = true, ValidateEndpoints = true },
        });
        Assert.False(disco.IsError, disco.Error);
        return disco;
    }

    private async Task<(string ClientId, string Secret)> ServiceClientAsync(SignInSetup setup, object body)
    {
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var created = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", body);
        var data = (await HttpAssert.JsonAsync(created, System.Net.HttpStatusCode.Created)).GetProperty("data");
        return (data.GetProperty("clientId").GetString()!, data.GetProperty("secret").GetString()!);
    }

    [Fact]
    public async Task ClientCredentials_Introspection_Revocation_WithDuende()
    {
        var setup = await suite.SetUpAsync();
        var (clientId, secret) = await ServiceClientAsync(setup, new { name = "worker", allowedScopes = new[] { "jobs.run" } });
        using var http = suite.Token.CreateClient();
        var disco = await DiscoverAsync(http, setup);

        var token = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
        {
            Address = disco.TokenEndpoint, ClientId = clientId, ClientSecret = secret, Scope = "jobs.run",
        });
        Assert.False(token.IsError, token.Error);

        var active = await http.IntrospectTokenAsync(new TokenIntrospectionRequest
        {
            Address = disco.IntrospectionEndpoint, ClientId = clientId, ClientSecret = secret, Token = token.AccessToken!,
        });
        Assert.False(active.IsError, active.Error);
        Assert.True(active.IsActive);
        Assert.Contains(active.Claims, c => c.Type == "scope" && c.Value == "jobs.run");

        var revoked = await http.RevokeTokenAsync(new TokenRevocationRequest
        {
            Address = disco.RevocationEndpoint, ClientId = clientId, ClientSecret = secret, Token = token.AccessToken!, TokenTypeHint = "access_token",
        });
        Assert.False(revoked.IsError, revoked.Error);

        var inactive = await http.IntrospectTokenAsync(new TokenIntrospectionRequest
        {
            Address = disco.IntrospectionEndpoint, ClientId = clientId, ClientSecret = secret, Token = token.AccessToken!,
        });
        Assert.False(inactive.IsError, inactive.Error);
        Assert.False(inactive.IsActive);
    }

    [Fact]
    public async Task ConfidentialWebClient_CodeExchangeAndRefresh_WithDuende()
    {
        var setup = await suite.SetUpAsync();
        var (clientId, secret) = await ServiceClientAsync(setup, new
        {
            name = "portal",
            applicationType = "web",
            redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "authorization_code", "refresh_token" },
            allowedScopes = new[] { "openid", "email", "offline_access" },
        });
        var web = setup with { ClientId = clientId, ClientSecret = secret };
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, web,
            HostedFlow.AuthorizeUrl(web, challenge, new() { ["scope"] = "openid email offline_access" })))["code"];
        using var http = suite.Token.CreateClient();
        var disco = await DiscoverAsync(http, setup);

        var tokens = await http.RequestAuthorizationCodeTokenAsync(new AuthorizationCodeTokenRequest
        {
            Address = disco.TokenEndpoint, ClientId = clientId, ClientSecret = secret,
            Code = code, RedirectUri = SignInSetup.RedirectUri, CodeVerifier = verifier,
        });
        Assert.False(tokens.IsError, tokens.Error + " " + tokens.ErrorDescription);
        Assert.NotNull(tokens.IdentityToken);

        var refreshed = await http.RequestRefreshTokenAsync(new RefreshTokenRequest
        {
            Address = disco.TokenEndpoint, ClientId = clientId, ClientSecret = secret, RefreshToken = tokens.RefreshToken!,
        });
        Assert.False(refreshed.IsError, refreshed.Error + " " + refreshed.ErrorDescription);
        Assert.NotEqual(tokens.RefreshToken, refreshed.RefreshToken);

        var userInfo = await http.GetUserInfoAsync(new UserInfoRequest { Address = disco.UserInfoEndpoint, Token = refreshed.AccessToken! });
        Assert.False(userInfo.IsError, userInfo.Error);
        Assert.Equal(setup.Email, userInfo.Claims.Single(c => c.Type == "email").Value);

        // Revoking the refresh token ends the grant (RFC 7009 §2.1).
        var revoked = await http.RevokeTokenAsync(new TokenRevocationRequest
        {
            Address = disco.RevocationEndpoint, ClientId = clientId, ClientSecret = secret, Token = refreshed.RefreshToken!, TokenTypeHint = "refresh_token",
        });
        Assert.False(revoked.IsError, revoked.Error);
        var afterRevocation = await http.RequestRefreshTokenAsync(new RefreshTokenRequest
        {
            Address = disco.TokenEndpoint, ClientId = clientId, ClientSecret = secret, RefreshToken = refreshed.RefreshToken!,
        });
        Assert.Equal("invalid_grant", afterRevocation.Error);
    }
}
