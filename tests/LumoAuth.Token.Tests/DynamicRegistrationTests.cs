using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Dynamic client registration (RFC 7591, TOK-15): off until the tenant switches it on; then applications register
/// themselves with the interactive grants and the OpenID Connect or tenant scopes only, and the RFC's error codes.
/// </summary>
public sealed class DynamicRegistrationTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    [Fact]
    public async Task Register_WhileTheTenantHasNotEnabledIt_IsRegistrationNotAllowed()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();

        using var response = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new { redirect_uris = new[] { "https://app.example.com/cb" } });

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Forbidden, "registration_not_allowed");
        var discovery = await http.GetFromJsonAsync<JsonElement>($"{setup.Tenant.Api}/.well-known/openid-configuration");
        Assert.False(discovery.TryGetProperty("registration_endpoint", out _));
    }

    [Fact]
    public async Task Register_ConfidentialWebClient_ReturnsItsMetadataAndSecretOnce()
    {
        var setup = await EnabledAsync();
        using var http = suite.Token.CreateClient();

        using var response = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new
        {
            redirect_uris = new[] { "https://app.example.com/callback" },
            client_name = "My Awesome App",
            client_uri = "https://example.com",
            grant_types = new[] { "authorization_code", "refresh_token" },
            response_types = new[] { "code" },
            token_endpoint_auth_method = "client_secret_basic",
            scope = "openid profile email",
            post_logout_redirect_uris = new[] { "https://app.example.com/bye" },
        });

        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        var clientId = json.GetProperty("client_id").GetString()!;
        Assert.False(string.IsNullOrEmpty(json.GetProperty("client_secret").GetString()));
        Assert.Equal(0, json.GetProperty("client_secret_expires_at").GetInt64());
        Assert.InRange(json.GetProperty("client_id_issued_at").GetInt64(), DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds());
        Assert.Equal("My Awesome App", json.GetProperty("client_name").GetString());
        Assert.Equal("web", json.GetProperty("application_type").GetString());
        Assert.Equal("client_secret_basic", json.GetProperty("token_endpoint_auth_method").GetString());
        Assert.Equal(["authorization_code", "refresh_token"], json.GetProperty("grant_types").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["code"], json.GetProperty("response_types").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["https://app.example.com/bye"], json.GetProperty("post_logout_redirect_uris").EnumerateArray().Select(e => e.GetString()));

        // An ordinary client of the tenant now, as the Admin API shows it (never its secret).
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var shown = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/clients/{clientId}"), HttpStatusCode.OK)).GetProperty("data");
        Assert.True(shown.GetProperty("isConfidential").GetBoolean());
        Assert.Equal(["email", "openid", "profile"], shown.GetProperty("allowedScopes").EnumerateArray().Select(e => e.GetString()).Order(StringComparer.Ordinal));
        Assert.False(shown.TryGetProperty("secret", out _));
        Assert.Equal(["https://app.example.com/bye"], shown.GetProperty("postLogoutRedirectUris").EnumerateArray().Select(e => e.GetString()));

        var discovery = await http.GetFromJsonAsync<JsonElement>($"{setup.Tenant.Api}/.well-known/openid-configuration");
        Assert.Equal(setup.Issuer + "/connect/register", discovery.GetProperty("registration_endpoint").GetString());
    }

    [Fact]
    public async Task Register_WithLogoutUris_EchoesThemInTheResponse()
    {
        var setup = await EnabledAsync();
        using var http = suite.Token.CreateClient();

        using var response = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new
        {
            redirect_uris = new[] { "https://app.example.com/callback" },
            frontchannel_logout_uri = "https://app.example.com/frontchannel-logout",
            backchannel_logout_uri = "https://app.example.com/backchannel-logout",
        });

        // RFC 7591 §3.2.1: the response holds every metadata value registered for the client.
        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        Assert.Equal("https://app.example.com/frontchannel-logout", json.GetProperty("frontchannel_logout_uri").GetString());
        Assert.Equal("https://app.example.com/backchannel-logout", json.GetProperty("backchannel_logout_uri").GetString());

        // What was echoed is what was registered, as the Admin API shows it.
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var shown = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/clients/{json.GetProperty("client_id").GetString()}"), HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal("https://app.example.com/frontchannel-logout", shown.GetProperty("frontchannelLogoutUri").GetString());
        Assert.Equal("https://app.example.com/backchannel-logout", shown.GetProperty("backchannelLogoutUri").GetString());
    }

    /// <summary>
    /// The documented information fields are kept and echoed (RFC 7591 §3.2.1), as are the logout session flags, which
    /// always hold: our logout names the session to every registered logout URI.
    /// </summary>
    [Fact]
    public async Task Register_WithLinksAndLogoutSessionFlags_EchoesThemAsRegistered()
    {
        var setup = await EnabledAsync();
        using var http = suite.Token.CreateClient();

        using var response = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new
        {
            redirect_uris = new[] { "https://app.example.com/callback" },
            client_uri = "https://example.com",
            logo_uri = "https://cdn.example.com/logo.png",
            policy_uri = "https://example.com/privacy",
            tos_uri = "https://example.com/terms",
            frontchannel_logout_uri = "https://app.example.com/frontchannel-logout",
            frontchannel_logout_session_required = true,
            backchannel_logout_uri = "https://app.example.com/backchannel-logout",
            backchannel_logout_session_required = false,
        });

        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        Assert.Equal("https://example.com", json.GetProperty("client_uri").GetString());
        Assert.Equal("https://cdn.example.com/logo.png", json.GetProperty("logo_uri").GetString());
        Assert.Equal("https://example.com/privacy", json.GetProperty("policy_uri").GetString());
        Assert.Equal("https://example.com/terms", json.GetProperty("tos_uri").GetString());
        Assert.True(json.GetProperty("frontchannel_logout_session_required").GetBoolean());
        Assert.True(json.GetProperty("backchannel_logout_session_required").GetBoolean());

        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var shown = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/clients/{json.GetProperty("client_id").GetString()}"), HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal("https://example.com", shown.GetProperty("clientUri").GetString());
        Assert.Equal("https://cdn.example.com/logo.png", shown.GetProperty("logoUri").GetString());
        Assert.Equal("https://example.com/privacy", shown.GetProperty("policyUri").GetString());
        Assert.Equal("https://example.com/terms", shown.GetProperty("tosUri").GetString());
    }

    [Fact]
    public async Task Register_WithoutGrantOrResponseTypes_GetsAndEchoesTheCodeFlowDefaults()
    {
        var setup = await EnabledAsync();
        using var http = suite.Token.CreateClient();

        using var response = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new { redirect_uris = new[] { "https://app.example.com/callback" } });

        // RFC 7591 §2: grant_types defaults to authorization_code, response_types to code.
        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        Assert.Equal(["authorization_code"], json.GetProperty("grant_types").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["code"], json.GetProperty("response_types").EnumerateArray().Select(e => e.GetString()));
        // Logout URIs that were not registered are not made up.
        Assert.False(json.TryGetProperty("frontchannel_logout_uri", out _));
        Assert.False(json.TryGetProperty("backchannel_logout_uri", out _));
        Assert.False(json.TryGetProperty("backchannel_logout_session_required", out _));
        Assert.False(json.TryGetProperty("logo_uri", out _));
    }

    [Theory]
    [InlineData("oauth/register")]
    [InlineData("oidc/register")]
    public async Task Register_PublicClient_SignsAUserInWithTheCodeFlow(string aliasPath)
    {
        var setup = await EnabledAsync();
        using var http = suite.Token.CreateClient();

        // At the alias paths (inventory C-05).
        using var response = await http.PostAsJsonAsync($"{setup.Tenant.Api}/{aliasPath}", new
        {
            redirect_uris = new[] { SignInSetup.RedirectUri }, token_endpoint_auth_method = "none", scope = "openid profile",
        });

        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("client_secret").ValueKind);
        Assert.Equal("none", json.GetProperty("token_endpoint_auth_method").GetString());
        var registered = setup with { ClientId = json.GetProperty("client_id").GetString()!, ClientSecret = null };
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var redirect = await HostedFlow.SignInAsync(browser, registered, HostedFlow.AuthorizeUrl(registered, challenge, new() { ["scope"] = "openid profile" }));
        using var tokens = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = HostedFlow.Parameters(redirect)["code"], ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = registered.ClientId, ["code_verifier"] = verifier,
        }));
        await HttpAssert.JsonAsync(tokens, HttpStatusCode.OK);
    }

    [Fact]
    public async Task RegisteredClient_IsUnknownToAnotherTenant_WhichMayNotRegisterEither()
    {
        var setup = await EnabledAsync();
        var other = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();
        using var registered = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new
        {
            redirect_uris = new[] { SignInSetup.RedirectUri }, token_endpoint_auth_method = "none",
        });
        var clientId = (await HttpAssert.JsonAsync(registered, HttpStatusCode.Created)).GetProperty("client_id").GetString()!;

        // Its own tenant knows it; the other tenant neither knows it nor lets anyone register (its switch is off).
        using var pushedHere = await http.PostAsync($"{setup.Tenant.Api}/oauth/par", Form(clientId));
        Assert.Equal(HttpStatusCode.Created, pushedHere.StatusCode);
        using var pushedThere = await http.PostAsync($"{other.Tenant.Api}/oauth/par", Form(clientId));
        await HttpAssert.OAuthErrorAsync(pushedThere, HttpStatusCode.Unauthorized, "invalid_client");
        using var registerThere = await http.PostAsJsonAsync($"{other.Tenant.Api}/connect/register", new { redirect_uris = new[] { SignInSetup.RedirectUri } });
        await HttpAssert.OAuthErrorAsync(registerThere, HttpStatusCode.Forbidden, "registration_not_allowed");

        static FormUrlEncodedContent Form(string clientId) => new(new Dictionary<string, string>
        {
            ["response_type"] = "code", ["client_id"] = clientId, ["redirect_uri"] = SignInSetup.RedirectUri, ["scope"] = "openid",
            ["code_challenge"] = HostedFlow.Pkce().Challenge, ["code_challenge_method"] = "S256",
        });
    }

    /// <summary>RFC 7591 with <c>private_key_jwt</c>: the keys registered (with or without <c>use</c>) authenticate it, and it gets no secret.</summary>
    [Fact]
    public async Task Register_WithPrivateKeyJwt_GetsNoSecret_AndSignsItsAssertions()
    {
        var setup = await EnabledAsync();
        var key = new Microsoft.IdentityModel.Tokens.RsaSecurityKey(System.Security.Cryptography.RSA.Create(2048)) { KeyId = "registered-1" };
        var rsa = key.Rsa.ExportParameters(false);
        using var http = suite.Token.CreateClient();
        using var response = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new
        {
            redirect_uris = new[] { "https://app.example.com/callback" }, token_endpoint_auth_method = "private_key_jwt",
            jwks = new { keys = new[] { new { kty = "RSA", kid = key.KeyId, n = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(rsa.Modulus), e = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(rsa.Exponent) } } },
        });
        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("client_secret").ValueKind);
        var clientId = json.GetProperty("client_id").GetString()!;

        using var signed = await suite.PostFormAsync($"{setup.Issuer}/oauth/revoke", new Dictionary<string, string>
        {
            ["token"] = "anything", ["client_id"] = clientId, ["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ["client_assertion"] = ClientAssertions.Create(clientId, setup.Issuer, key),
        });
        Assert.Equal(HttpStatusCode.OK, signed.StatusCode);
        using var unsigned = await suite.PostFormAsync($"{setup.Issuer}/oauth/revoke", [new("token", "anything"), new("client_id", clientId)]);
        await HttpAssert.OAuthErrorAsync(unsigned, HttpStatusCode.Unauthorized, "invalid_client");

        // Still without a secret, it replaces its own registration (RFC 7592).
        using var replace = new HttpRequestMessage(HttpMethod.Put, new Uri(json.GetProperty("registration_client_uri").GetString()!).PathAndQuery)
        {
            Content = JsonContent.Create(new
            {
                client_id = clientId, client_name = "Renamed", redirect_uris = new[] { "https://app.example.com/callback" }, token_endpoint_auth_method = "private_key_jwt",
                jwks = new { keys = new[] { new { kty = "RSA", kid = key.KeyId, n = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(rsa.Modulus), e = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(rsa.Exponent) } } },
            }),
        };
        replace.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", json.GetProperty("registration_access_token").GetString());
        using var replaced = await http.SendAsync(replace);
        Assert.Equal("Renamed", (await HttpAssert.JsonAsync(replaced, HttpStatusCode.OK)).GetProperty("client_name").GetString());
    }

    /// <summary>RFC 7592: the registration access token reads, replaces and deletes its own client, and nothing else.</summary>
    [Fact]
    public async Task TheRegistrationAccessToken_ReadsReplacesAndDeletesItsClient()
    {
        var setup = await EnabledAsync();
        using var http = suite.Token.CreateClient();
        using var registered = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new
        {
            client_name = "Notes", redirect_uris = new[] { "https://notes.example.com/callback" }, logo_uri = "https://notes.example.com/logo.png",
        });
        var json = await HttpAssert.JsonAsync(registered, HttpStatusCode.Created);
        var (clientId, secret) = (json.GetProperty("client_id").GetString()!, json.GetProperty("client_secret").GetString()!);
        var token = json.GetProperty("registration_access_token").GetString()!;
        var uri = json.GetProperty("registration_client_uri").GetString()!;
        Assert.Equal($"{setup.Issuer}/connect/register/{clientId}", uri);
        var path = new Uri(uri).PathAndQuery;

        HttpRequestMessage Managing(HttpMethod method, string? bearer, object? body = null)
        {
            var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
            if (bearer is not null)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
            }

            return request;
        }

        using (var read = await http.SendAsync(Managing(HttpMethod.Get, token)))
        {
            var current = await HttpAssert.JsonAsync(read, HttpStatusCode.OK);
            Assert.Equal("Notes", current.GetProperty("client_name").GetString());
            Assert.Equal(["code"], current.GetProperty("response_types").EnumerateArray().Select(t => t.GetString()));
            Assert.Equal(JsonValueKind.Null, current.GetProperty("client_secret").ValueKind);
            Assert.False(current.TryGetProperty("registration_access_token", out _));
        }

        // Another client's token, none at all, a client made through the Admin API, or this client at another tenant's
        // endpoint: the same invalid_token.
        using var other = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new { redirect_uris = new[] { "https://other.example.com/cb" } });
        var otherToken = (await HttpAssert.JsonAsync(other, HttpStatusCode.Created)).GetProperty("registration_access_token").GetString()!;
        var otherTenant = await EnabledAsync();
        foreach (var (bearer, target) in new[]
                 {
                     (otherToken, path), ((string?)null, path), (token + "x", path), (token, $"{setup.Tenant.Api}/connect/register/{setup.ClientId}"),
                     (token, $"{otherTenant.Tenant.Api}/connect/register/{clientId}"),
                 })
        {
            using var request = Managing(HttpMethod.Get, bearer);
            request.RequestUri = new Uri(target, UriKind.Relative);
            using var refused = await http.SendAsync(request);
            await HttpAssert.OAuthErrorAsync(refused, HttpStatusCode.Unauthorized, "invalid_token");
            Assert.Contains("invalid_token", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }

        // A replacement: what it leaves out (the logo) is cleared; it names its client and stays confidential.
        using (var wrongId = await http.SendAsync(Managing(HttpMethod.Put, token, new { client_id = "someone-else", redirect_uris = new[] { "https://notes.example.com/cb2" } })))
        {
            await HttpAssert.OAuthErrorAsync(wrongId, HttpStatusCode.BadRequest, "invalid_client_metadata");
        }

        using (var turnedPublic = await http.SendAsync(Managing(HttpMethod.Put, token, new
               {
                   client_id = clientId, redirect_uris = new[] { "https://notes.example.com/cb2" }, token_endpoint_auth_method = "none",
               })))
        {
            await HttpAssert.OAuthErrorAsync(turnedPublic, HttpStatusCode.BadRequest, "invalid_client_metadata");
        }

        using (var replaced = await http.SendAsync(Managing(HttpMethod.Put, token, new
               {
                   client_id = clientId, client_name = "Notes 2", redirect_uris = new[] { "https://notes.example.com/cb2" },
               })))
        {
            var now = await HttpAssert.JsonAsync(replaced, HttpStatusCode.OK);
            Assert.Equal("Notes 2", now.GetProperty("client_name").GetString());
            Assert.Equal(["https://notes.example.com/cb2"], now.GetProperty("redirect_uris").EnumerateArray().Select(u => u.GetString()));
            Assert.False(now.TryGetProperty("logo_uri", out _));
        }

        // Its secret still authenticates it; then the deletion ends it.
        using (var revoked = await suite.PostFormAsync($"{setup.Issuer}/oauth/revoke", [new("token", "anything")], (clientId, secret)))
        {
            Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        }

        using (var deleted = await http.SendAsync(Managing(HttpMethod.Delete, token)))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        using (var gone = await http.SendAsync(Managing(HttpMethod.Get, token)))
        {
            await HttpAssert.OAuthErrorAsync(gone, HttpStatusCode.Unauthorized, "invalid_token");
        }

        using var unknown = await suite.PostFormAsync($"{setup.Issuer}/oauth/revoke", [new("token", "anything")], (clientId, secret));
        await HttpAssert.OAuthErrorAsync(unknown, HttpStatusCode.Unauthorized, "invalid_client");
    }

    public static TheoryData<string, string> Refusals => new()
    {
        { """{"client_name":"x"}""", "invalid_redirect_uri" },
        { """{"redirect_uris":["https://app.example.com/cb#frag"]}""", "invalid_redirect_uri" },
        { """{"redirect_uris":["http://app.example.com/cb"]}""", "invalid_redirect_uri" },
        { """{"redirect_uris":["https://app.example.com/cb"],"grant_types":["client_credentials"]}""", "invalid_client_metadata" },
        { """{"redirect_uris":["https://app.example.com/cb"],"scope":"openid admin.write"}""", "invalid_client_metadata" },
        { """{"redirect_uris":["https://app.example.com/cb"],"scope":"openid not-a-tenant-scope"}""", "invalid_client_metadata" },
        { """{"redirect_uris":["https://app.example.com/cb"],"response_types":["token"]}""", "invalid_client_metadata" },
        { """{"redirect_uris":["https://app.example.com/cb"],"token_endpoint_auth_method":"private_key_jwt"}""", "invalid_client_metadata" },
        { """{"redirect_uris":["com.example.app:/cb"],"application_type":"native","token_endpoint_auth_method":"client_secret_basic"}""", "invalid_client_metadata" },
        { """{"redirect_uris":"https://app.example.com/cb"}""", "invalid_client_metadata" },
        { """not json""", "invalid_client_metadata" },
        { """{"redirect_uris":["https://app.example.com/cb"],"logo_uri":"javascript:alert(1)"}""", "invalid_client_metadata" },
        { """{"redirect_uris":["https://app.example.com/cb"],"policy_uri":"http://app.example.com/privacy"}""", "invalid_client_metadata" },
        { """{"redirect_uris":["https://app.example.com/cb"],"client_uri":42}""", "invalid_client_metadata" },
        { """{"redirect_uris":["https://app.example.com/cb"],"response_types":[null]}""", "invalid_client_metadata" },
        { """{"redirect_uris":["https://app.example.com/cb"],"grant_types":["authorization_code",""]}""", "invalid_client_metadata" },
        { """{"redirect_uris":["https://app.example.com/cb?iss=https://elsewhere.example"]}""", "invalid_redirect_uri" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Register_InvalidMetadata_AnswersTheRfcError(string body, string error)
    {
        var setup = await EnabledAsync();
        using var http = suite.Token.CreateClient();

        using var response = await http.PostAsync($"{setup.Tenant.Api}/connect/register", new StringContent(body, Encoding.UTF8, "application/json"));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, error);
    }

    /// <summary>A tenant that has switched registration on (before anything read its settings, so no cache is stale).</summary>
    [Fact]
    public async Task Register_WithAPostedSecret_HoldsTheClientToIt()
    {
        var setup = await EnabledAsync();
        using var http = suite.Token.CreateClient();
        using var response = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new
        {
            redirect_uris = new[] { "https://app.example.com/callback" }, token_endpoint_auth_method = "client_secret_post",
        });
        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.Created);
        var (clientId, secret) = (json.GetProperty("client_id").GetString()!, json.GetProperty("client_secret").GetString()!);

        // RFC 7591 §2: the method registered is the one the client uses; its secret in a Basic header authenticates nothing.
        using var basic = await suite.PostFormAsync($"{setup.Issuer}/oauth/revoke", [new("token", "anything")], (clientId, secret));
        await HttpAssert.OAuthErrorAsync(basic, HttpStatusCode.Unauthorized, "invalid_client");
        using var posted = await suite.PostFormAsync($"{setup.Issuer}/oauth/revoke",
            [new("token", "anything"), new("client_id", clientId), new("client_secret", secret)]);
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
    }

    private async Task<SignInSetup> EnabledAsync()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        using var response = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { clientRegistration = new { dynamicRegistrationEnabled = true } });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return setup;
    }
}
