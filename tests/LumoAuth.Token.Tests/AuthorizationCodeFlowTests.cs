using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Token.Data;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using LumoAuth.Testing;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Authorization code + PKCE end to end against a real admin: hosted login, consent remembered per client and
/// scopes, <c>prompt</c> handling, the code exchange and its documented failures, ID tokens, userinfo.
/// </summary>
[RunsLong(220)]
public sealed class AuthorizationCodeFlowTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private static Task<HttpResponseMessage> PostTokenAsync(HttpClient http, SignInSetup setup, Dictionary<string, string> form) =>
        http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(form));

    private static Dictionary<string, string> CodeExchange(SignInSetup setup, string code, string verifier) => new()
    {
        ["grant_type"] = "authorization_code",
        ["code"] = code,
        ["redirect_uri"] = SignInSetup.RedirectUri,
        ["client_id"] = setup.ClientId,
        ["code_verifier"] = verifier,
    };

    private async Task<(SignInSetup Setup, HttpClient Browser, string Code, string Verifier, Dictionary<string, string> Redirect)> CodeAsync(
        Dictionary<string, string?>? overrides = null, SignInSetup? setup = null, HttpClient? browser = null)
    {
        setup ??= await suite.SetUpAsync();
        browser ??= suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var redirect = await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge, overrides));
        var parameters = HostedFlow.Parameters(redirect);
        Assert.True(parameters.ContainsKey("code"), redirect.ToString());
        return (setup, browser, parameters["code"], verifier, parameters);
    }

    [Fact]
    public async Task CodeFlow_LoginConsentExchange_IssuesAccessIdAndRefreshTokens()
    {
        var setup = await suite.SetUpAsync();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            (await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}", new { picture = "https://cdn.example.com/alice.png" })).EnsureSuccessStatusCode();
        }

        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var url = HostedFlow.AuthorizeUrl(setup, challenge, new() { ["state"] = "s-1", ["nonce"] = "n-1" });

        var redirect = await HostedFlow.SignInAsync(browser, setup, url);

        Assert.StartsWith(SignInSetup.RedirectUri + "?", redirect.AbsoluteUri, StringComparison.Ordinal);
        var parameters = HostedFlow.Parameters(redirect);
        Assert.Equal("s-1", parameters["state"]);
        Assert.Equal(setup.Issuer, parameters["iss"]);
        using var http = suite.Token.CreateClient();
        using var response = await PostTokenAsync(http, setup, CodeExchange(setup, parameters["code"], verifier));
        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        Assert.Equal("Bearer", json.GetProperty("token_type").GetString());
        Assert.False(string.IsNullOrEmpty(json.GetProperty("refresh_token").GetString()));
        // The client's access-token lifetime (the default, one hour), said in the answer and in the token alike.
        Assert.InRange(json.GetProperty("expires_in").GetInt32(), 3590, 3600);
        Assert.Equal(["email", "offline_access", "openid", "profile"], json.GetProperty("scope").GetString()!.Split(' ').Order(StringComparer.Ordinal));

        var access = new JsonWebToken(json.GetProperty("access_token").GetString());
        Assert.Equal(TimeSpan.FromHours(1), access.ValidTo - access.IssuedAt);
        Assert.Equal("at+jwt", access.Typ);
        Assert.Equal(setup.UserId.ToString(), access.Subject);
        Assert.Equal(setup.Issuer, access.Issuer);
        Assert.Equal(setup.ClientId, access.GetClaim("client_id").Value);
        Assert.Equal(setup.Tenant.Id.ToString(), access.GetClaim("tenant_id").Value);
        Assert.Equal(setup.Tenant.Slug, access.GetClaim("tenant").Value);
        Assert.True(access.TryGetPayloadValue<long>("auth_time", out var accessAuthTime) && accessAuthTime > 0);
        Assert.True(access.TryGetClaim("amr", out _));
        Assert.Equal(["email", "offline_access", "openid", "profile"], access.GetClaim("scope").Value.Split(' ').Order());
        // authorization's roles-of is not running here: the claims are left out, the token still issued.
        Assert.False(access.TryGetClaim("roles", out _));
        // A user in no group, a password alone, no address scope: no groups, level 1, no address.
        Assert.False(access.TryGetClaim("groups", out _));
        Assert.Equal("1", access.GetClaim("acr").Value);

        var id = new JsonWebToken(json.GetProperty("id_token").GetString());
        Assert.Equal(setup.Issuer, id.Issuer);
        Assert.Equal([setup.ClientId], id.Audiences);
        Assert.Equal(setup.UserId.ToString(), id.Subject);
        Assert.Equal("n-1", id.GetClaim("nonce").Value);
        Assert.Equal(setup.Email, id.GetClaim("email").Value);
        Assert.Equal("Alice Example", id.GetClaim("name").Value);
        Assert.Equal("https://cdn.example.com/alice.png", id.GetClaim("picture").Value);
        Assert.StartsWith("sess_", id.GetClaim("sid").Value, StringComparison.Ordinal);
        Assert.True(id.TryGetPayloadValue<long>("auth_time", out var authTime) && authTime > 0);
        Assert.False(id.TryGetClaim("tenant_id", out _));
        Assert.False(id.TryGetClaim("tenant", out _));
        Assert.False(id.TryGetClaim("address", out _));
        // OIDC Core §5.1: email_verified is a boolean and updated_at a number in the ID token too, not their text.
        using (var payload = JsonDocument.Parse(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(id.EncodedPayload)))
        {
            Assert.Contains(payload.RootElement.GetProperty("email_verified").ValueKind, new[] { JsonValueKind.True, JsonValueKind.False });
            Assert.Equal(JsonValueKind.Number, payload.RootElement.GetProperty("updated_at").ValueKind);
        }

        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Post })
        {
            using var request = new HttpRequestMessage(method, setup.Issuer + "/oauth/userinfo");
            if (method == HttpMethod.Post)
            {
                request.Content = new FormUrlEncodedContent([]);
            }

            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", access.EncodedToken);
            using var userinfo = await http.SendAsync(request);
            var claims = await HttpAssert.JsonAsync(userinfo, HttpStatusCode.OK);
            Assert.Equal(setup.UserId.ToString(), claims.GetProperty("sub").GetString());
            Assert.Equal(setup.Email, claims.GetProperty("email").GetString());
            Assert.Equal("Alice Example", claims.GetProperty("name").GetString());
            Assert.Equal("https://cdn.example.com/alice.png", claims.GetProperty("picture").GetString());
            Assert.Contains(claims.GetProperty("email_verified").ValueKind, new[] { JsonValueKind.True, JsonValueKind.False });
            Assert.Equal(JsonValueKind.Number, claims.GetProperty("updated_at").ValueKind);
            Assert.Equal(setup.Tenant.Slug, claims.GetProperty("tenant").GetString());
        }

        // What the client holds, and what says who the user is, stays out of the service's log.
        suite.Logs.AssertNeverLogged(parameters["code"], verifier, access.EncodedToken, json.GetProperty("refresh_token").GetString()!, id.EncodedToken, setup.Email);
    }

    [Fact]
    public async Task AccessToken_NamesTheAssuranceAndTheUsersGroups_IntrospectionNamesTheUser()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Admin.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var group = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/groups", new { name = "Engineering", slug = "engineering" });
        Assert.True(group.IsSuccessStatusCode, await group.Content.ReadAsStringAsync());
        using var member = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/groups/engineering/members", new { userId = setup.UserId.ToString() });
        Assert.True(member.IsSuccessStatusCode, await member.Content.ReadAsStringAsync());

        var (_, _, code, verifier, _) = await CodeAsync(setup: setup);
        using var http = suite.Token.CreateClient();
        using var response = await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier));
        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        var access = new JsonWebToken(json.GetProperty("access_token").GetString());
        var id = new JsonWebToken(json.GetProperty("id_token").GetString());

        // A password alone: the single-factor level, in both tokens (OIDC Core §2; RFC 9068 §2.2.1).
        Assert.Equal("1", access.GetClaim("acr").Value);
        Assert.Equal("1", id.GetClaim("acr").Value);
        Assert.Equal(["engineering"], access.Claims.Where(c => c.Type == "groups").Select(c => c.Value));
        Assert.False(id.TryGetClaim("groups", out _));

        // RFC 7662 §2.2: a resource server of the tenant learns who authorized the token; the user has no username.
        http.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var created = await http.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", new
        {
            name = "Orders API", applicationType = "m2m", grantTypes = new[] { "client_credentials" },
        });
        var api = (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data");
        http.DefaultRequestHeaders.Remove("X-API-Key");
        using var introspect = new HttpRequestMessage(HttpMethod.Post, setup.Issuer + "/oauth/introspect")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = access.EncodedToken }),
        };
        introspect.Headers.Authorization = HttpAssert.Basic(api.GetProperty("clientId").GetString()!, api.GetProperty("secret").GetString()!);
        using var introspected = await http.SendAsync(introspect);
        var facts = await HttpAssert.JsonAsync(introspected, HttpStatusCode.OK);
        Assert.True(facts.GetProperty("active").GetBoolean());
        Assert.Equal(setup.Email, facts.GetProperty("username").GetString());
        suite.Logs.AssertNeverLogged(setup.Email, access.EncodedToken);
    }

    [Fact]
    public async Task TokensOfADeletedClient_AreInactiveAtIntrospection_AndRefuseToRefresh()
    {
        var (setup, browser, code, verifier, _) = await CodeAsync();
        using var http = suite.Token.CreateClient();
        var issued = await HttpAssert.JsonAsync(await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier)), HttpStatusCode.OK);
        http.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var created = await http.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", new
        {
            name = "Orders API", applicationType = "m2m", grantTypes = new[] { "client_credentials" },
        });
        var api = (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data");
        // Deleting the client deletes its stored grants: the refresh token's row is gone, the token itself is not.
        using var deleted = await http.DeleteAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        http.DefaultRequestHeaders.Remove("X-API-Key");

        foreach (var token in new[] { issued.GetProperty("refresh_token").GetString()!, issued.GetProperty("access_token").GetString()! })
        {
            using var introspect = new HttpRequestMessage(HttpMethod.Post, setup.Issuer + "/oauth/introspect")
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token }),
            };
            introspect.Headers.Authorization = HttpAssert.Basic(api.GetProperty("clientId").GetString()!, api.GetProperty("secret").GetString()!);
            using var introspected = await http.SendAsync(introspect);
            Assert.False((await HttpAssert.JsonAsync(introspected, HttpStatusCode.OK)).GetProperty("active").GetBoolean());
        }

        using var refreshed = await PostTokenAsync(http, setup, new()
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = issued.GetProperty("refresh_token").GetString()!, ["client_id"] = setup.ClientId,
        });
        await HttpAssert.OAuthErrorAsync(refreshed, HttpStatusCode.Unauthorized, "invalid_client");
        browser.Dispose();
    }

    [Fact]
    public async Task AddressScope_ReleasesTheUsersAddressAttribute_AsTheStructuredClaim()
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Shop",
            applicationType = "spa",
            redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid", "address" },
        });
        using var admin = suite.Admin.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var set = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/attributes", new
        {
            department = "sales",
            address = new { streetAddress = "1 Main St", locality = "Springfield", postal_code = "12345", country = "US", notes = "back door" },
        });
        Assert.True(set.IsSuccessStatusCode, await set.Content.ReadAsStringAsync());

        var (_, _, code, verifier, _) = await CodeAsync(new() { ["scope"] = "openid address" }, setup);
        using var http = suite.Token.CreateClient();
        using var response = await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier));
        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);

        // OIDC Core §5.1.1: one JSON object with the standard members only.
        var id = new JsonWebToken(json.GetProperty("id_token").GetString());
        var inToken = JsonDocument.Parse(id.GetPayloadValue<JsonElement>("address").GetRawText()).RootElement;
        using var request = new HttpRequestMessage(HttpMethod.Get, setup.Issuer + "/oauth/userinfo");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", json.GetProperty("access_token").GetString());
        using var userinfo = await http.SendAsync(request);
        var fromUserInfo = (await HttpAssert.JsonAsync(userinfo, HttpStatusCode.OK)).GetProperty("address");
        foreach (var address in new[] { inToken, fromUserInfo })
        {
            Assert.Equal(
                ["country:US", "locality:Springfield", "postal_code:12345", "street_address:1 Main St"],
                address.EnumerateObject().Select(m => $"{m.Name}:{m.Value.GetString()}").Order(StringComparer.Ordinal));
        }

        Assert.False(new JsonWebToken(json.GetProperty("access_token").GetString()).TryGetClaim("address", out _));
    }

    [Fact]
    public async Task UserInfo_ScopesDecideTheClaims()
    {
        var (setup, browser, code, verifier, _) = await CodeAsync(new() { ["scope"] = "openid" });
        using var http = suite.Token.CreateClient();
        using var response = await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier));
        var token = (await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("access_token").GetString();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var claims = await HttpAssert.JsonAsync(await http.GetAsync(setup.Issuer + "/oauth/userinfo"), HttpStatusCode.OK);

        Assert.Equal(setup.UserId.ToString(), claims.GetProperty("sub").GetString());
        Assert.False(claims.TryGetProperty("email", out _));
        Assert.False(claims.TryGetProperty("name", out _));
        browser.Dispose();
    }

    [Fact]
    public async Task UserInfo_PhoneScope_ReleasesThePhoneNumber_WithoutItNoPhoneClaim()
    {
        const string phone = "+14155550123";
        var setup = await suite.SetUpAsync(new
        {
            name = "Shop",
            applicationType = "spa",
            redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid", "phone" },
        });
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            (await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}", new { phoneNumber = phone })).EnsureSuccessStatusCode();
        }

        using var http = suite.Token.CreateClient();
        async Task<(JsonElement UserInfo, JsonWebToken IdToken)> SignInAsync(string scope)
        {
            var (_, browser, code, verifier, _) = await CodeAsync(new() { ["scope"] = scope }, setup);
            using var response = await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier));
            var tokens = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
            browser.Dispose();
            using var request = new HttpRequestMessage(HttpMethod.Get, setup.Issuer + "/oauth/userinfo");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens.GetProperty("access_token").GetString());
            using var userinfo = await http.SendAsync(request);
            return (await HttpAssert.JsonAsync(userinfo, HttpStatusCode.OK), new JsonWebToken(tokens.GetProperty("id_token").GetString()));
        }

        // OIDC Core §5.4: the phone scope asks for phone_number and phone_number_verified (false: no texted code proved it).
        var (withPhone, idWithPhone) = await SignInAsync("openid phone");
        var (withoutPhone, idWithoutPhone) = await SignInAsync("openid");

        Assert.Equal(phone, withPhone.GetProperty("phone_number").GetString());
        Assert.Equal(phone, idWithPhone.GetClaim("phone_number").Value);
        Assert.Equal(JsonValueKind.False, withPhone.GetProperty("phone_number_verified").ValueKind);
        using (var payload = JsonDocument.Parse(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(idWithPhone.EncodedPayload)))
        {
            Assert.Equal(JsonValueKind.False, payload.RootElement.GetProperty("phone_number_verified").ValueKind);
        }
        Assert.False(withoutPhone.TryGetProperty("phone_number_verified", out _));
        Assert.False(withoutPhone.TryGetProperty("phone_number", out _));
        Assert.False(idWithoutPhone.TryGetClaim("phone_number", out _));
        Assert.Equal(setup.UserId.ToString(), withoutPhone.GetProperty("sub").GetString());
    }

    /// <summary>OIDC Core §5.3: userinfo answers only an access token granted openid; others get RFC 6750 §3.1 insufficient_scope.</summary>
    [Fact]
    public async Task UserInfo_TokenWithoutOpenId_Returns403InsufficientScope_WithOpenId_200()
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Documents", applicationType = "web", redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "authorization_code" }, allowedScopes = new[] { "openid", "documents.read" },
        });
        using var http = suite.Token.CreateClient();
        async Task<HttpResponseMessage> UserInfoWithAsync(string scope)
        {
            var (_, browser, code, verifier, _) = await CodeAsync(new() { ["scope"] = scope }, setup);
            browser.Dispose();
            using var response = await suite.PostFormAsync(setup.TokenEndpoint, CodeExchange(setup, code, verifier), (setup.ClientId, setup.ClientSecret!));
            using var request = new HttpRequestMessage(HttpMethod.Get, setup.Issuer + "/oauth/userinfo");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", (await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("access_token").GetString());
            return await http.SendAsync(request);
        }

        using var withoutOpenId = await UserInfoWithAsync("documents.read");
        using var withOpenId = await UserInfoWithAsync("openid documents.read");

        await HttpAssert.OAuthErrorAsync(withoutOpenId, HttpStatusCode.Forbidden, "insufficient_scope");
        var challenge = withoutOpenId.Headers.WwwAuthenticate.ToString();
        Assert.StartsWith("Bearer", challenge, StringComparison.Ordinal);
        Assert.Contains("error=\"insufficient_scope\"", challenge, StringComparison.Ordinal);
        Assert.Equal(setup.UserId.ToString(), (await HttpAssert.JsonAsync(withOpenId, HttpStatusCode.OK)).GetProperty("sub").GetString());
    }

    /// <summary>The docs give ID tokens an hour (OpenIddict's default is 20 minutes).</summary>
    [Fact]
    public async Task IdToken_LivesOneHour()
    {
        var (setup, browser, code, verifier, _) = await CodeAsync(new() { ["scope"] = "openid" });
        browser.Dispose();
        using var http = suite.Token.CreateClient();
        using var response = await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier));

        var id = new JsonWebToken((await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("id_token").GetString());
        Assert.Equal(3600, id.GetPayloadValue<long>("exp") - id.GetPayloadValue<long>("iat"));
    }

    [Fact]
    public async Task UserInfo_WithoutOrWithBadToken_Returns401InvalidToken()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();

        using var none = await http.GetAsync(setup.Issuer + "/oauth/userinfo");
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "not-a-token");
        using var bad = await http.GetAsync(setup.Issuer + "/oauth/userinfo");

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.StartsWith("Bearer", none.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        await HttpAssert.OAuthErrorAsync(bad, HttpStatusCode.Unauthorized, "invalid_token", "The access token is expired or invalid");
        Assert.Contains("invalid_token", bad.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Contains("The access token is expired or invalid", bad.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UserInfo_WithAnExpiredToken_Returns401InvalidToken()
    {
        var setup = await suite.SetUpAsync();
        var keys = await suite.Token.Services.GetRequiredService<LumoAuth.Token.Keys.TenantKeyStore>().GetAsync(setup.Tenant.Id, CancellationToken.None);
        // Signed by the tenant's own key for one of its users, well-formed in every way; only the lifetime differs.
        string TokenEnding(DateTime expires) => new JsonWebTokenHandler().CreateToken(new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
        {
            Issuer = setup.Issuer,
            Audience = setup.Issuer,
            TokenType = "at+jwt",
            Subject = new System.Security.Claims.ClaimsIdentity([new("sub", setup.UserId.ToString()), new("client_id", setup.ClientId), new("scope", "openid"), new("jti", Guid.NewGuid().ToString())]),
            IssuedAt = expires.AddHours(-1),
            NotBefore = expires.AddHours(-1),
            Expires = expires,
            SigningCredentials = keys.Signing[0],
        });
        var expired = TokenEnding(DateTime.UtcNow.AddHours(-1));
        using (var control = suite.Token.CreateClient())
        {
            // The same token still within its lifetime is served: what the refusal below shows is the expiry.
            control.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TokenEnding(DateTime.UtcNow.AddMinutes(30)));
            using var served = await control.GetAsync(setup.Issuer + "/oauth/userinfo");
            Assert.True(served.StatusCode == HttpStatusCode.OK, await served.Content.ReadAsStringAsync());
        }

        using var http = suite.Token.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", expired);

        using var get = await http.GetAsync(setup.Issuer + "/oauth/userinfo");
        using var post = await http.PostAsync(setup.Issuer + "/oauth/userinfo", new FormUrlEncodedContent([]));

        await HttpAssert.OAuthErrorAsync(get, HttpStatusCode.Unauthorized, "invalid_token", "The access token is expired or invalid");
        await HttpAssert.OAuthErrorAsync(post, HttpStatusCode.Unauthorized, "invalid_token", "The access token is expired or invalid");
    }

    [Fact]
    public async Task SecondAuthorization_ReusesSessionAndRememberedConsent()
    {
        var (setup, browser, _, _, _) = await CodeAsync();
        var (_, challenge) = HostedFlow.Pkce();

        using var response = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge));

        Assert.True(response.Headers.Location?.AbsoluteUri.StartsWith(SignInSetup.RedirectUri, StringComparison.Ordinal), await response.Content.ReadAsStringAsync());
        Assert.True(HostedFlow.Parameters(response.Headers.Location!).ContainsKey("code"));
        browser.Dispose();
    }

    [Fact]
    public async Task PromptNone_WithSessionAndConsent_ReturnsCodeWithoutAnyPage()
    {
        var (setup, browser, _, _, _) = await CodeAsync();
        var (_, challenge) = HostedFlow.Pkce();

        using var response = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["prompt"] = "none" }));

        // 303, so that a browser follows with GET whatever method brought it here.
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        var parameters = HostedFlow.Parameters(response.Headers.Location!);
        Assert.True(parameters.ContainsKey("code"));
        Assert.Equal(setup.Issuer, parameters["iss"]);
        Assert.False(string.IsNullOrEmpty(parameters["state"]));
        browser.Dispose();
    }

    [Fact]
    public async Task PromptNone_WithSessionButNewScopes_AnswersConsentRequired()
    {
        var (setup, browser, _, _, _) = await CodeAsync(new() { ["scope"] = "openid" });
        var (_, challenge) = HostedFlow.Pkce();

        using var response = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["prompt"] = "none", ["scope"] = "openid email" }));

        Assert.Equal("consent_required", HostedFlow.Parameters(response.Headers.Location!)["error"]);
        browser.Dispose();
    }

    [Fact]
    public async Task PromptConsent_AsksAgainEvenWhenRemembered()
    {
        var (setup, browser, _, _, _) = await CodeAsync();
        var (_, challenge) = HostedFlow.Pkce();

        using var response = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["prompt"] = "consent" }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("consent_decision", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        browser.Dispose();
    }

    [Fact]
    public async Task PromptLoginAndMaxAgeZero_SendTheBrowserToLoginAgain()
    {
        var (setup, browser, _, _, _) = await CodeAsync();
        var (_, challenge) = HostedFlow.Pkce();

        using var login = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["prompt"] = "login" }));
        using var maxAge = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["max_age"] = "0" }));

        Assert.StartsWith($"/t/{setup.Tenant.Slug}/login?", HostedFlow.LocalRedirect(login), StringComparison.Ordinal);
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/login?", HostedFlow.LocalRedirect(maxAge), StringComparison.Ordinal);
        browser.Dispose();
    }

    [Fact]
    public async Task IdTokenHint_NamingAnotherUserThanTheSignedInOne_IsLoginRequiredWithPromptNone_AndALoginOtherwise()
    {
        // OIDC Core §3.1.2.1: the hint names the user the client expects; a browser signed in as someone else must not
        // answer for them.
        var (alice, aliceBrowser, aliceCode, aliceVerifier, _) = await CodeAsync();
        var bobEmail = $"bob-{Guid.NewGuid():N}"[..12] + "@example.com";
        var bob = alice with { UserId = await suite.Admin.CreateUserAsync(alice.Tenant, bobEmail, alice.Password, "Bob Example"), Email = bobEmail };
        var (_, bobBrowser, bobCode, bobVerifier, _) = await CodeAsync(setup: bob);
        using var http = suite.Token.CreateClient();
        var aliceIdToken = (await HttpAssert.JsonAsync(await PostTokenAsync(http, alice, CodeExchange(alice, aliceCode, aliceVerifier)), HttpStatusCode.OK))
            .GetProperty("id_token").GetString()!;
        var bobIdToken = (await HttpAssert.JsonAsync(await PostTokenAsync(http, bob, CodeExchange(bob, bobCode, bobVerifier)), HttpStatusCode.OK))
            .GetProperty("id_token").GetString()!;
        var (_, challenge) = HostedFlow.Pkce();

        using var silent = await aliceBrowser.GetAsync(HostedFlow.AuthorizeUrl(alice, challenge, new() { ["prompt"] = "none", ["id_token_hint"] = bobIdToken, ["state"] = "s-h" }));
        var refused = HostedFlow.Parameters(silent.Headers.Location!);
        Assert.Equal("login_required", refused["error"]);
        Assert.Equal("s-h", refused["state"]);
        Assert.Equal(alice.Issuer, refused["iss"]);

        using var interactive = await aliceBrowser.GetAsync(HostedFlow.AuthorizeUrl(alice, challenge, new() { ["id_token_hint"] = bobIdToken }));
        Assert.StartsWith($"/t/{alice.Tenant.Slug}/login?", HostedFlow.LocalRedirect(interactive), StringComparison.Ordinal);

        // The signed-in user's own hint is answered at once, and Bob's browser answers Bob's.
        using var own = await aliceBrowser.GetAsync(HostedFlow.AuthorizeUrl(alice, challenge, new() { ["prompt"] = "none", ["id_token_hint"] = aliceIdToken }));
        Assert.True(HostedFlow.Parameters(own.Headers.Location!).ContainsKey("code"), own.Headers.Location?.ToString());
        using var bobs = await bobBrowser.GetAsync(HostedFlow.AuthorizeUrl(bob, challenge, new() { ["prompt"] = "none", ["id_token_hint"] = bobIdToken }));
        Assert.True(HostedFlow.Parameters(bobs.Headers.Location!).ContainsKey("code"), bobs.Headers.Location?.ToString());
        aliceBrowser.Dispose();
        bobBrowser.Dispose();
    }

    [Fact]
    public async Task ConsentDenied_RedirectsAccessDenied()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();
        using var first = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["state"] = "s-d" }));
        using var login = await HostedFlow.SubmitLoginAsync(browser, HostedFlow.LocalRedirect(first)!, setup.Email, setup.Password);
        using var consent = await browser.GetAsync(HostedFlow.LocalRedirect(login)!);

        using var denied = await HostedFlow.DecideConsentAsync(browser, await consent.Content.ReadAsStringAsync(), accept: false);

        var parameters = HostedFlow.Parameters(denied.Headers.Location!);
        Assert.Equal("access_denied", parameters["error"]);
        Assert.Equal("s-d", parameters["state"]);
        Assert.Equal(setup.Issuer, parameters["iss"]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Login_WrongPasswordOrUnknownEmail_SameGenericAnswer_NoSession(bool knownEmail)
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();

        using var response = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login",
            knownEmail ? setup.Email : "nobody@example.com", "Wrong-Password-123!");

        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("The email or password is incorrect.", html, StringComparison.Ordinal);
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("lumo_session=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Login_SessionCookieIsScopedToTheTenantPathAndHttpOnly()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();

        using var response = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);

        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("lumo_session=", StringComparison.Ordinal));
        Assert.Contains($"path=/t/{setup.Tenant.Slug}", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task SessionCookie_OfOneTenant_DoesNotSignInAtAnother()
    {
        var setup = await suite.SetUpAsync();
        var other = await suite.SetUpAsync();
        using var browser = suite.Browser();
        using var login = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);
        var cookie = login.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("lumo_session=", StringComparison.Ordinal)).Split(';')[0];
        using var attacker = suite.Token.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var (_, challenge) = HostedFlow.Pkce();
        using var request = new HttpRequestMessage(HttpMethod.Get, HostedFlow.AuthorizeUrl(other, challenge));
        request.Headers.Add("Cookie", cookie);

        using var response = await attacker.SendAsync(request);

        Assert.StartsWith($"/t/{other.Tenant.Slug}/login?", HostedFlow.LocalRedirect(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_WrongCodeVerifier_InvalidGrant()
    {
        var (setup, browser, code, _, _) = await CodeAsync();
        using var http = suite.Token.CreateClient();

        using var response = await PostTokenAsync(http, setup, CodeExchange(setup, code, HostedFlow.Pkce().Verifier));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant", "code_verifier verification failed");
        browser.Dispose();
    }

    [Fact]
    public async Task Token_MissingCodeVerifier_InvalidRequest()
    {
        var (setup, browser, code, _, _) = await CodeAsync();
        using var http = suite.Token.CreateClient();
        var form = CodeExchange(setup, code, "x");
        form.Remove("code_verifier");

        using var response = await PostTokenAsync(http, setup, form);

        // A client that must use PKCE left out a required parameter (RFC 6749 §5.2); see docs/api-decisions.md.
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
        browser.Dispose();
    }

    [Fact]
    public async Task Token_VerifierTooShort_InvalidGrant()
    {
        var (setup, browser, code, verifier, _) = await CodeAsync();
        using var http = suite.Token.CreateClient();

        using var response = await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier[..42]));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant", "code_verifier must be at least 43 characters (got 42)");
        browser.Dispose();
    }

    [Theory]
    [InlineData(129, "")]
    [InlineData(43, "+/=")]
    [InlineData(43, " ")]
    public async Task Token_VerifierOutsideRfc7636_InvalidGrant_EvenWhenItHashesToTheChallenge(int length, string tail)
    {
        // RFC 7636 §4.1: 43–128 unreserved characters. An S256 challenge can be the hash of anything, so the verifier's
        // own form is checked: the client hashed exactly this string, and it still gets no tokens.
        var verifier = new string('v', length) + tail;
        var challenge = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier)));
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge)))["code"];
        using var http = suite.Token.CreateClient();

        using var response = await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant",
            "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' or '~'");
    }

    [Fact]
    public async Task Token_WrongRedirectUri_InvalidGrant()
    {
        var (setup, browser, code, verifier, _) = await CodeAsync();
        using var http = suite.Token.CreateClient();
        var form = CodeExchange(setup, code, verifier);
        form["redirect_uri"] = "https://spa.example.com/other";

        using var response = await PostTokenAsync(http, setup, form);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
        browser.Dispose();
    }

    [Fact]
    public async Task Token_AnotherClientsCode_InvalidGrant()
    {
        var (setup, browser, code, verifier, _) = await CodeAsync();
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var created = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", new
        {
            name = "Other",
            applicationType = "spa",
            redirectUris = new[] { SignInSetup.RedirectUri },
            allowedScopes = new[] { "openid" },
        });
        var otherClientId = (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data").GetProperty("clientId").GetString()!;
        using var http = suite.Token.CreateClient();
        var form = CodeExchange(setup, code, verifier);
        form["client_id"] = otherClientId;

        using var response = await PostTokenAsync(http, setup, form);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
        browser.Dispose();
    }

    [Fact]
    public async Task Refresh_ForMoreScopeThanGranted_InvalidScope_ForLessIsIssued()
    {
        var (setup, browser, code, verifier, _) = await CodeAsync(new() { ["scope"] = "openid profile offline_access" });
        using var http = suite.Token.CreateClient();
        using var exchanged = await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier));
        var refresh = (await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("refresh_token").GetString()!;

        // "email" is allowed for the client but was not granted by this user (RFC 6749 §6: no scope beyond the grant).
        using var wider = await PostTokenAsync(http, setup, new()
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = refresh, ["client_id"] = setup.ClientId, ["scope"] = "openid profile email offline_access",
        });
        await HttpAssert.OAuthErrorAsync(wider, HttpStatusCode.BadRequest, "invalid_scope");

        using var narrower = await PostTokenAsync(http, setup, new()
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = refresh, ["client_id"] = setup.ClientId, ["scope"] = "openid offline_access",
        });
        var json = await HttpAssert.JsonAsync(narrower, HttpStatusCode.OK);
        Assert.DoesNotContain("profile", new JsonWebToken(json.GetProperty("access_token").GetString()).GetClaim("scope").Value.Split(' '));
        browser.Dispose();
    }

    [Fact]
    public async Task Token_ReusedCode_InvalidGrant_AndRevokesEverythingIssuedFromIt_ButNotTheUsersOtherGrants()
    {
        var (setup, browser, code, verifier, _) = await CodeAsync();
        using var http = suite.Token.CreateClient();
        var otherDevice = await suite.SignInOnNewDeviceAsync(setup);
        using var first = await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier));
        var issued = await HttpAssert.JsonAsync(first, HttpStatusCode.OK);
        var refresh = issued.GetProperty("refresh_token").GetString()!;
        var access = issued.GetProperty("access_token").GetString()!;
        Assert.False(await DeniedEverywhereAsync(setup, access));

        using var replay = await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier));

        await HttpAssert.OAuthErrorAsync(replay, HttpStatusCode.BadRequest, "invalid_grant", "Authorization code has already been used");
        // The access token issued from the code is refused by every service's bearer check, not only here.
        Assert.True(await DeniedEverywhereAsync(setup, access));
        using var refreshed = await PostTokenAsync(http, setup, new()
        {
            ["grant_type"] = "refresh_token",
            ["refresh_token"] = refresh,
            ["client_id"] = setup.ClientId,
        });
        await HttpAssert.OAuthErrorAsync(refreshed, HttpStatusCode.BadRequest, "invalid_grant");
        await suite.AssertSecurityEventAsync(setup, "authorization_code_replayed", setup.ClientId, "cascade_token_revocation");
        await AssertStillWorksAsync(http, setup, otherDevice);
        browser.Dispose();
    }

    private async Task AssertStillWorksAsync(HttpClient http, SignInSetup setup, JsonElement grant)
    {
        Assert.False(await DeniedEverywhereAsync(setup, grant.GetProperty("access_token").GetString()!));
        await HttpAssert.JsonAsync(await PostTokenAsync(http, setup, new()
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = grant.GetProperty("refresh_token").GetString()!, ["client_id"] = setup.ClientId,
        }), HttpStatusCode.OK);
    }

    [Fact]
    public async Task Revoke_AccessTokenKeepsTheRefreshToken_RevokingTheRefreshTokenDeniesTheGrantsAccessTokens_OnlyThatGrants()
    {
        var (setup, browser, code, verifier, _) = await CodeAsync();
        using var http = suite.Token.CreateClient();
        var otherDevice = await suite.SignInOnNewDeviceAsync(setup);
        var issued = await HttpAssert.JsonAsync(await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier)), HttpStatusCode.OK);

        Assert.Equal(HttpStatusCode.OK, (await RevokeAsync(http, setup, issued.GetProperty("access_token").GetString()!)).StatusCode);
        Assert.True(await DeniedEverywhereAsync(setup, issued.GetProperty("access_token").GetString()!));
        var refreshed = await HttpAssert.JsonAsync(await PostTokenAsync(http, setup, new()
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = issued.GetProperty("refresh_token").GetString()!, ["client_id"] = setup.ClientId,
        }), HttpStatusCode.OK);
        var access = refreshed.GetProperty("access_token").GetString()!;
        Assert.False(await DeniedEverywhereAsync(setup, access));

        // RFC 7009 §2.1: revoking the refresh token takes the grant's access tokens with it.
        Assert.Equal(HttpStatusCode.OK, (await RevokeAsync(http, setup, refreshed.GetProperty("refresh_token").GetString()!)).StatusCode);
        Assert.True(await DeniedEverywhereAsync(setup, access));
        await HttpAssert.OAuthErrorAsync(await PostTokenAsync(http, setup, new()
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = refreshed.GetProperty("refresh_token").GetString()!, ["client_id"] = setup.ClientId,
        }), HttpStatusCode.BadRequest, "invalid_grant");
        await AssertStillWorksAsync(http, setup, otherDevice);
        browser.Dispose();
    }

    [Fact]
    public async Task Revoke_AnIdToken_UnsupportedTokenType()
    {
        var (setup, browser, code, verifier, _) = await CodeAsync();
        using var http = suite.Token.CreateClient();
        var issued = await HttpAssert.JsonAsync(await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier)), HttpStatusCode.OK);

        // RFC 7009 §2.2.1: an ID token is not something this server revokes.
        await HttpAssert.OAuthErrorAsync(await RevokeAsync(http, setup, issued.GetProperty("id_token").GetString()!), HttpStatusCode.BadRequest, "unsupported_token_type");
        browser.Dispose();
    }

    private static Task<HttpResponseMessage> RevokeAsync(HttpClient http, SignInSetup setup, string token) =>
        http.PostAsync(setup.Issuer + "/oauth/revoke", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token, ["client_id"] = setup.ClientId }));

    /// <summary>What every service's bearer validation asks (the shared Redis deny-list), for this access token.</summary>
    private async Task<bool> DeniedEverywhereAsync(SignInSetup setup, string accessToken)
    {
        var jwt = new JsonWebToken(accessToken);
        var denyList = suite.Token.Services.GetRequiredService<RedisAccessTokenDenyList>();
        return await denyList.IsRevokedAsync(setup.Tenant.Id, new AccessTokenFacts(jwt.Id, jwt.GetClaim("client_id").Value, jwt.IssuedAt), CancellationToken.None);
    }

    [Theory]
    [InlineData("id_token token")]
    [InlineData("token id_token code")]
    public async Task ImplicitAndHybrid_ForAClientThatOptedIn_AnswerInTheFragment(string responseType)
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Legacy SPA", applicationType = "spa", redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "authorization_code", "implicit" }, allowedScopes = new[] { "openid", "profile" },
        });
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();

        var withCode = responseType.Contains("code", StringComparison.Ordinal);
        var redirect = await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge, new()
        {
            ["response_type"] = responseType, ["scope"] = "openid profile", ["nonce"] = "n-456",
            ["code_challenge"] = withCode ? challenge : null, ["code_challenge_method"] = withCode ? "S256" : null,
        }));

        // Tokens never travel in the query (OAuth 2.0 Multiple Response Types §5: fragment by default).
        Assert.Empty(redirect.Query.TrimStart('?'));
        var fragment = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(redirect.Fragment.TrimStart('#'));
        Assert.Equal(setup.Issuer, fragment["iss"].ToString());
        var idToken = new JsonWebToken(fragment["id_token"].ToString());
        Assert.Equal(setup.UserId.ToString(), idToken.Subject);
        Assert.Equal("n-456", idToken.GetClaim("nonce").Value);
        Assert.True(idToken.TryGetClaim("at_hash", out _));
        var access = new JsonWebToken(fragment["access_token"].ToString());
        Assert.Equal("at+jwt", access.Typ);
        Assert.Equal(withCode, fragment.ContainsKey("code"));
        browser.Dispose();
    }

    [Fact]
    public async Task Refresh_RotatesTheRefreshToken_AndAConcurrentReuseWithinLeewayStillWorks_ButOnlyOnce()
    {
        var (setup, browser, code, verifier, _) = await CodeAsync();
        using var http = suite.Token.CreateClient();
        using var exchanged = await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier));
        var first = (await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("refresh_token").GetString()!;
        var form = new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = first, ["client_id"] = setup.ClientId };

        using var refreshed = await PostTokenAsync(http, setup, form);
        using var concurrent = await PostTokenAsync(http, setup, form);

        var json = await HttpAssert.JsonAsync(refreshed, HttpStatusCode.OK);
        var second = json.GetProperty("refresh_token").GetString()!;
        Assert.NotEqual(first, second);
        Assert.Equal(setup.UserId.ToString(), new JsonWebToken(json.GetProperty("access_token").GetString()).Subject);
        var concurrentTokens = await HttpAssert.JsonAsync(concurrent, HttpStatusCode.OK);

        // A third use inside the leeway is not a concurrent refresh any more: reuse, and the grant ends.
        using var third = await PostTokenAsync(http, setup, form);
        await HttpAssert.OAuthErrorAsync(third, HttpStatusCode.BadRequest, "invalid_grant");
        await suite.AssertSecurityEventAsync(setup, "refresh_token_replayed", setup.ClientId, "cascade_token_revocation");
        foreach (var successor in new[] { second, concurrentTokens.GetProperty("refresh_token").GetString()! })
        {
            using var afterReuse = await PostTokenAsync(http, setup, new(form) { ["refresh_token"] = successor });
            await HttpAssert.OAuthErrorAsync(afterReuse, HttpStatusCode.BadRequest, "invalid_grant");
        }

        Assert.True(await DeniedEverywhereAsync(setup, json.GetProperty("access_token").GetString()!));
        browser.Dispose();
    }

    /// <summary>
    /// Uses that arrive at once all find the token unredeemed, so OpenIddict alone would accept each: counted atomically,
    /// only the first and one retry get tokens, and the rest end the grant.
    /// </summary>
    [Fact]
    public async Task Refresh_SixAtOnce_AtMostTwoGetTokens_AndTheGrantEnds()
    {
        var (setup, browser, code, verifier, _) = await CodeAsync();
        using var http = suite.Token.CreateClient();
        using var exchanged = await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier));
        var first = (await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("refresh_token").GetString()!;
        var form = new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = first, ["client_id"] = setup.ClientId };

        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => PostTokenAsync(http, setup, form)));

        var granted = answers.Where(a => a.StatusCode == HttpStatusCode.OK).ToList();
        Assert.InRange(granted.Count, 1, 2);
        Assert.All(answers.Where(a => a.StatusCode != HttpStatusCode.OK), a => Assert.Equal(HttpStatusCode.BadRequest, a.StatusCode));
        foreach (var answer in granted)
        {
            var successor = (await HttpAssert.JsonAsync(answer, HttpStatusCode.OK)).GetProperty("refresh_token").GetString()!;
            using var afterReuse = await PostTokenAsync(http, setup, new(form) { ["refresh_token"] = successor });
            await HttpAssert.OAuthErrorAsync(afterReuse, HttpStatusCode.BadRequest, "invalid_grant");
        }

        foreach (var answer in answers)
        {
            answer.Dispose();
        }

        browser.Dispose();
    }

    [Fact]
    public async Task Token_VerifierWithoutChallenge_IsRefused_ConfidentialWithoutPkceStillWorks()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var created = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", new
        {
            name = "Server app",
            applicationType = "web",
            redirectUris = new[] { SignInSetup.RedirectUri },
            allowedScopes = new[] { "openid" },
        });
        var data = (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data");
        Assert.False(data.GetProperty("requiresPkce").GetBoolean());
        var web = setup with { ClientId = data.GetProperty("clientId").GetString()!, ClientSecret = data.GetProperty("secret").GetString() };
        using var browser = suite.Browser();
        var first = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, web,
            HostedFlow.AuthorizeUrl(web, "unused", new() { ["scope"] = "openid", ["code_challenge"] = null, ["code_challenge_method"] = null })))["code"];
        using var http = suite.Token.CreateClient();
        Dictionary<string, string> Exchange(string code, string? verifier)
        {
            var form = new Dictionary<string, string>
            {
                ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
                ["client_id"] = web.ClientId, ["client_secret"] = web.ClientSecret!,
            };
            if (verifier is not null)
            {
                form["code_verifier"] = verifier;
            }

            return form;
        }

        using var withVerifier = await PostTokenAsync(http, web, Exchange(first, HostedFlow.Pkce().Verifier));
        await HttpAssert.OAuthErrorAsync(withVerifier, HttpStatusCode.BadRequest, "invalid_grant", "Invalid PKCE flow: code_verifier without code_challenge");
        await suite.AssertSecurityEventAsync(web, "pkce_downgrade_attempted", web.ClientId, "request_rejected");

        var (_, challenge) = HostedFlow.Pkce();
        using var again = await browser.GetAsync(HostedFlow.AuthorizeUrl(web, challenge, new() { ["scope"] = "openid", ["code_challenge"] = null, ["code_challenge_method"] = null }));
        var second = HostedFlow.Parameters(again.Headers.Location!)["code"];
        using var plain = await PostTokenAsync(http, web, Exchange(second, null));
        await HttpAssert.JsonAsync(plain, HttpStatusCode.OK);

        // This client need not use PKCE, but a code it asked for with a challenge is redeemed only with the verifier.
        using var withChallenge = await browser.GetAsync(HostedFlow.AuthorizeUrl(web, challenge, new() { ["scope"] = "openid" }));
        var third = HostedFlow.Parameters(withChallenge.Headers.Location!)["code"];
        using var withoutVerifier = await PostTokenAsync(http, web, Exchange(third, null));
        await HttpAssert.OAuthErrorAsync(withoutVerifier, HttpStatusCode.BadRequest, "invalid_grant", "code_verifier is required");
    }

    /// <summary>RFC 7636 §4.2/§4.3: a confidential client may send a plain challenge, or one without a method, which means plain.</summary>
    [Theory]
    [InlineData("plain")]
    [InlineData(null)]
    public async Task Token_ConfidentialClientsPlainChallenge_IsRedeemedWithTheSameVerifier_AnotherIsInvalidGrant(string? method)
    {
        var setup = await suite.SetUpAsync();
        var data = await suite.CreateClientAsync(setup, new
        {
            name = "Server app",
            applicationType = "web",
            redirectUris = new[] { SignInSetup.RedirectUri },
            allowedScopes = new[] { "openid" },
        });
        var web = setup with { ClientId = data.GetProperty("clientId").GetString()!, ClientSecret = data.GetProperty("secret").GetString() };
        // A plain challenge is the verifier itself.
        var verifier = HostedFlow.Pkce().Verifier;
        var authorize = HostedFlow.AuthorizeUrl(web, verifier, new() { ["scope"] = "openid", ["code_challenge_method"] = method });
        using var browser = suite.Browser();
        var first = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, web, authorize))["code"];
        using var again = await browser.GetAsync(authorize);
        var second = HostedFlow.Parameters(again.Headers.Location!)["code"];
        using var http = suite.Token.CreateClient();
        Dictionary<string, string> Exchange(string code, string codeVerifier) => new()
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = web.ClientId, ["client_secret"] = web.ClientSecret!, ["code_verifier"] = codeVerifier,
        };

        using var wrong = await PostTokenAsync(http, web, Exchange(first, HostedFlow.Pkce().Verifier));
        using var right = await PostTokenAsync(http, web, Exchange(second, verifier));

        await HttpAssert.OAuthErrorAsync(wrong, HttpStatusCode.BadRequest, "invalid_grant", "code_verifier verification failed");
        var tokens = await HttpAssert.JsonAsync(right, HttpStatusCode.OK);
        Assert.Equal(web.ClientId, new JsonWebToken(tokens.GetProperty("access_token").GetString()).GetClaim("client_id").Value);
    }

    /// <summary>A refresh token lives the client's <c>refreshTokenLifetime</c>: 30 days (2,592,000 s) unless the client sets another.</summary>
    [Theory]
    [InlineData(null, 2_592_000)]
    [InlineData(86_400, 86_400)]
    public async Task RefreshToken_LivesTheClientsRefreshTokenLifetime_ThirtyDaysByDefault(int? refreshTokenLifetime, int expectedSeconds)
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Dashboard",
            applicationType = "spa",
            redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "authorization_code", "refresh_token" },
            allowedScopes = new[] { "openid", "offline_access" },
            refreshTokenLifetime,
        });
        var (_, browser, code, verifier, _) = await CodeAsync(new() { ["scope"] = "openid offline_access" }, setup);
        using var http = suite.Token.CreateClient();
        using var response = await PostTokenAsync(http, setup, CodeExchange(setup, code, verifier));
        Assert.False(string.IsNullOrEmpty((await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("refresh_token").GetString()));

        await using var scope = suite.Token.Services.CreateAsyncScope();
        var lifetime = await scope.ServiceProvider.GetRequiredService<TokenDbContext>().Set<TokenToken>().IgnoreQueryFilters()
            .Where(t => t.Type == OpenIddict.Abstractions.OpenIddictConstants.TokenTypeIdentifiers.RefreshToken && t.Application!.ClientId == setup.ClientId)
            .Select(t => t.ExpirationDate - t.CreationDate)
            .SingleAsync();

        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), lifetime);
        browser.Dispose();
    }

    /// <summary>
    /// OAuth 2.0 Form Post Response Mode: the signed-in user's browser gets a page whose form posts the code, state and
    /// iss (RFC 9207) to the redirect URI, and submits itself.
    /// </summary>
    [Fact]
    public async Task FormPostResponseMode_SignedIn_AnswersAFormThatPostsCodeStateAndIssToTheClient_AndSubmitsItself()
    {
        var (setup, browser, _, _, _) = await CodeAsync();
        var (verifier, challenge) = HostedFlow.Pkce();

        using var response = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["response_mode"] = "form_post", ["state"] = "s-form" }));

        var html = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {html}");
        Assert.Null(response.Headers.Location);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"method=\"post\" action=\"{SignInSetup.RedirectUri}\"", html, StringComparison.Ordinal);
        Assert.Contains("<script>document.form.submit();</script>", html, StringComparison.Ordinal);
        var fields = System.Text.RegularExpressions.Regex.Matches(html, "<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]*)\"")
            .ToDictionary(m => WebUtility.HtmlDecode(m.Groups[1].Value), m => WebUtility.HtmlDecode(m.Groups[2].Value));
        Assert.Equal(["code", "iss", "state"], fields.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("s-form", fields["state"]);
        Assert.Equal(setup.Issuer, fields["iss"]);

        // The code the form carries is an ordinary one.
        using var http = suite.Token.CreateClient();
        using var exchanged = await PostTokenAsync(http, setup, CodeExchange(setup, fields["code"], verifier));
        await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK);
        browser.Dispose();
    }

    [Fact]
    public async Task Token_UnknownGrantType_UnsupportedGrantType()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();

        using var response = await PostTokenAsync(http, setup, new() { ["grant_type"] = "urn:example:made-up", ["client_id"] = setup.ClientId });

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "unsupported_grant_type");
    }
}
