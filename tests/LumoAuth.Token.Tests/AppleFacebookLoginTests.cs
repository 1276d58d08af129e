using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Sign in with Apple and Facebook Login, the two social types the docs list beside the OpenID Connect presets: Apple's
/// client secret is a JWT signed with the tenant's key for each exchange, its answer is posted back cross-site and its
/// names come once beside the code; Facebook's account comes from the Graph API, asked with the app secret's proof.
/// Through the gateway, with admin, PostgreSQL, Redis and RabbitMQ real; the providers are stand-ins on a local https site.
/// </summary>
public sealed class AppleFacebookLoginTests(FederationSuite suite) : IClassFixture<FederationSuite>
{
    private const string ServicesId = "com.example.web";
    private const string TeamId = "TEAM123456";
    private const string KeyId = "KEY1234567";

    /// <summary>
    /// One Apple stand-in (one key) per suite: federation fetches a key set at most every 30 s, so a new key for each test
    /// would not be believed by the next one.
    /// </summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<FederationSuite, TestProvider> Apples = new();

    private static TestProvider AppleOf(FederationSuite suite) => Apples.GetValue(suite, s => TestProvider.Start(s.Providers, FederationFactory.AppleStandIn));

    [Fact]
    public async Task Apple_SignsInWithAClientSecretSignedForTheExchange_AndKeepsTheNameItPostsOnce()
    {
        var setup = await suite.SetUpAsync();
        var apple = AppleOf(suite);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var provider = await suite.AddProviderAsync(setup.Tenant, new { type = "apple", clientId = ServicesId, teamId = TeamId, keyId = KeyId, privateKey = key.ExportPkcs8PrivateKeyPem() });
        var providerId = provider.GetProperty("id").GetString()!;
        Assert.Equal(apple.Issuer, provider.GetProperty("issuerUrl").GetString());
        Assert.Equal(["openid", "name", "email"], provider.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal((TeamId, KeyId), (provider.GetProperty("teamId").GetString(), provider.GetProperty("keyId").GetString()));
        Assert.DoesNotContain("PRIVATE KEY", provider.GetRawText(), StringComparison.Ordinal);

        using var browser = suite.FederatedBrowser();
        var (state, nonce, authorize) = await StartAsync(browser, setup, providerId);
        var query = QueryHelpers.ParseQuery(authorize.Query);
        Assert.StartsWith(apple.Issuer + "/authorize", authorize.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal("form_post", query["response_mode"].ToString());
        Assert.False(query.ContainsKey("code_challenge"), "Apple is held to the nonce, not PKCE");
        Assert.NotEmpty(nonce);

        // Apple's ID token names no one; the name comes posted beside the code, the first time only.
        var email = $"ann-{Guid.NewGuid():N}"[..12] + "@privaterelay.appleid.com";
        apple.AnswerCode(new() { ["aud"] = ServicesId, ["sub"] = "001234.apple-user", ["email"] = email, ["email_verified"] = "true", ["nonce"] = nonce });
        using var posted = await browser.PostAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["code"] = "apple-code", ["state"] = state, ["user"] = """{"name":{"firstName":"Ann","lastName":"Apple"},"email":"someone-else@example.com"}""",
        }));
        Assert.Equal(HttpStatusCode.SeeOther, posted.StatusCode);
        var back = posted.Headers.Location!.OriginalString;
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback?response=", back, StringComparison.Ordinal);
        Assert.DoesNotContain("apple-code", back, StringComparison.Ordinal);
        using var callback = await browser.GetAsync(back);
        using var signedIn = await browser.GetAsync(HostedFlow.LocalRedirect(callback)!);
        Assert.True((await signedIn.Content.ReadAsStringAsync()).Contains("You are signed in", StringComparison.Ordinal), HostedFlow.LocalRedirect(callback));

        // The client secret was a JWT signed with the tenant's key for this exchange, and no PKCE verifier went with it.
        var exchange = QueryHelpers.ParseQuery(suite.Providers.LastRequest($"/{FederationFactory.AppleStandIn}/token")!.Body);
        Assert.False(exchange.ContainsKey("code_verifier"));
        Assert.Equal(ServicesId, exchange["client_id"].ToString());
        var verified = await new JsonWebTokenHandler().ValidateTokenAsync(exchange["client_secret"].ToString(), new TokenValidationParameters
        {
            ValidIssuer = TeamId, ValidAudience = apple.Issuer, IssuerSigningKey = new ECDsaSecurityKey(ECDsa.Create(key.ExportParameters(false))),
            ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
        });
        Assert.True(verified.IsValid, verified.Exception?.Message);
        var secret = (JsonWebToken)verified.SecurityToken;
        Assert.Equal((ServicesId, KeyId), (secret.Subject, secret.Kid));
        Assert.True(secret.ValidTo - secret.IssuedAt <= TimeSpan.FromMinutes(5));

        // The account has the ID token's verified address (never the posted one) and the posted name.
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var users = await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users?search={Uri.EscapeDataString(email)}"), HttpStatusCode.OK);
        var user = users.GetProperty("data").EnumerateArray().Single();
        Assert.Equal(("Ann Apple", "Ann", "Apple"), (user.GetProperty("name").GetString(), user.GetProperty("givenName").GetString(), user.GetProperty("familyName").GetString()));
        Assert.True(user.GetProperty("emailVerified").GetBoolean());

        // The posted answer is used once: posting it again (or sending its key again) finds nothing.
        using var again = await PostAnswerAsync(browser, setup, providerId, new() { ["code"] = "apple-code", ["state"] = state });
        await AssertLandsOnErrorAsync(browser, again, "expired");
        await AssertLandsOnErrorAsync(browser, await browser.GetAsync(back), "expired");
    }

    [Fact]
    public async Task Apple_PostedAnswers_AreTakenOnlyInTheBrowserThatBegan_AndACancelSaysSo()
    {
        var setup = await suite.SetUpAsync();
        AppleOf(suite);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var providerId = (await suite.AddProviderAsync(setup.Tenant, new { type = "apple", clientId = ServicesId, teamId = TeamId, keyId = KeyId, privateKey = key.ExportPkcs8PrivateKeyPem() }))
            .GetProperty("id").GetString()!;

        // The person cancels at Apple.
        using var browser = suite.FederatedBrowser();
        var (state, _, _) = await StartAsync(browser, setup, providerId);
        await AssertLandsOnErrorAsync(browser, await PostAnswerAsync(browser, setup, providerId, new() { ["error"] = "user_cancelled_authorize", ["state"] = state }), "cancelled");

        // An answer posted in another browser (an attacker's code pushed into the victim's sign-in) completes nothing.
        (state, _, _) = await StartAsync(browser, setup, providerId);
        using var other = suite.FederatedBrowser();
        await AssertLandsOnErrorAsync(other, await PostAnswerAsync(other, setup, providerId, new() { ["code"] = "c", ["state"] = state }), "expired");

        // A post without a state, or not a form at all, is turned away at once.
        await AssertLandsOnErrorAsync(browser, await PostAnswerAsync(browser, setup, providerId, new() { ["code"] = "c" }), "expired");
        using var json = await browser.PostAsJsonAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback", new { code = "c", state = "s" });
        await AssertLandsOnErrorAsync(browser, json, "expired");
    }

    [Fact]
    public async Task Apple_SaysAPersonLeft_AndTheirLinkGoes_OnlyWhenAppleSignedThat_AndOnlyOnce()
    {
        var setup = await suite.SetUpAsync();
        var apple = AppleOf(suite);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // Linking by address brings the person back to the same user when they sign in with Apple again.
        var provider = await suite.AddProviderAsync(setup.Tenant, new
        {
            type = "apple", clientId = ServicesId, teamId = TeamId, keyId = KeyId, privateKey = key.ExportPkcs8PrivateKeyPem(), autoLinkUsers = true,
        });
        var providerId = provider.GetProperty("id").GetString()!;
        var notifications = $"/t/{setup.Tenant.Slug}/auth/social/{providerId}/notifications";
        Assert.Equal("http://localhost" + notifications, provider.GetProperty("notificationUrl").GetString());
        var subject = "001234." + Guid.NewGuid().ToString("N");
        var email = $"left-{Guid.NewGuid():N}"[..13] + "@privaterelay.appleid.com";

        async Task SignInAsync()
        {
            using var browser = suite.FederatedBrowser();
            var (state, nonce, _) = await StartAsync(browser, setup, providerId);
            apple.AnswerCode(new() { ["aud"] = ServicesId, ["sub"] = subject, ["email"] = email, ["email_verified"] = "true", ["nonce"] = nonce });
            using var landed = await PostAnswerAsync(browser, setup, providerId, new() { ["code"] = "c", ["state"] = state });
            using var signedIn = await browser.GetAsync(HostedFlow.LocalRedirect(landed)!);
            Assert.Contains("You are signed in", await signedIn.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        async Task<bool> LinkedAsync()
        {
            using var scope = suite.Federation.Services.CreateScope();
            var db = scope.ServiceProvider.GetRequiredService<LumoAuth.Federation.Data.FederationDbContext>();
            return await db.ExternalIdentities.IgnoreQueryFilters().AnyAsync(i => i.ProviderId == Guid.Parse(providerId) && i.Subject == subject);
        }

        string Notice(string type, string? jti = null, TestProvider? signer = null) => apple.IdToken(new()
        {
            ["aud"] = ServicesId, ["jti"] = jti ?? Guid.NewGuid().ToString("N"),
            ["events"] = JsonSerializer.Serialize(new { type, sub = subject, email, is_private_email = "true", event_time = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }),
        }, signer);

        async Task<HttpStatusCode> NotifyAsync(string payload)
        {
            using var http = suite.FederatedBrowser();
            using var answer = await http.PostAsJsonAsync(notifications, new { payload });
            return answer.StatusCode;
        }

        await SignInAsync();
        Assert.True(await LinkedAsync());

        // Not Apple's signature, not JSON, or not for this provider: refused, and the link stays.
        Assert.Equal(HttpStatusCode.BadRequest, await NotifyAsync(Notice("consent-revoked", signer: TestProvider.Unpublished(apple.Issuer))));
        using (var http = suite.FederatedBrowser())
        using (var notJson = await http.PostAsync(notifications, new StringContent("payload=x", Encoding.UTF8, "application/x-www-form-urlencoded")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await suite.FederatedBrowser().PostAsJsonAsync($"/t/{setup.Tenant.Slug}/auth/social/{Guid.NewGuid()}/notifications", new { payload = Notice("consent-revoked") })).StatusCode);
        Assert.True(await LinkedAsync());

        // An address relay turned off changes nothing here; the person stopping Sign in with Apple for the app unlinks them.
        Assert.Equal(HttpStatusCode.OK, await NotifyAsync(Notice("email-disabled")));
        Assert.True(await LinkedAsync());
        var revoked = Notice("consent-revoked");
        Assert.Equal(HttpStatusCode.OK, await NotifyAsync(revoked));
        Assert.False(await LinkedAsync());

        // Signing in with Apple again links them anew; the old notification replayed removes nothing.
        await SignInAsync();
        Assert.True(await LinkedAsync());
        Assert.Equal(HttpStatusCode.OK, await NotifyAsync(revoked));
        Assert.True(await LinkedAsync());
    }

    [Fact]
    public async Task Facebook_SignsInWithTheGraphApisAccount_AskedWithTheAppSecretsProof()
    {
        var setup = await suite.SetUpAsync();
        var providerId = (await suite.AddProviderAsync(setup.Tenant, new { type = "facebook", clientId = "fb-app", clientSecret = "fb-app-secret" })).GetProperty("id").GetString()!;
        var email = $"fb-{Guid.NewGuid():N}"[..11] + "@example.com";
        const string accessToken = "EAAG-upstream-token";
        suite.Providers.Serve("/facebook/graph/oauth/access_token", new SiteAnswer(JsonSerializer.Serialize(new { access_token = accessToken, token_type = "bearer", expires_in = 5183944 })));
        suite.Providers.Serve("/facebook/graph/me", new SiteAnswer(JsonSerializer.Serialize(new
        {
            id = "10220000000000001", name = "Fay Book", first_name = "Fay", last_name = "Book", email,
            picture = new { data = new { url = "https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=1", width = 50, height = 50 } },
        })));

        using var browser = suite.FederatedBrowser();
        var (state, nonce, authorize) = await StartAsync(browser, setup, providerId);
        var query = QueryHelpers.ParseQuery(authorize.Query);
        Assert.StartsWith(suite.Providers.Origin + "/facebook/dialog/oauth", authorize.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal("email public_profile", query["scope"].ToString());
        Assert.Equal("S256", query["code_challenge_method"].ToString());
        Assert.Empty(nonce);

        using var callback = await browser.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback?code=fb-code&state={state}");
        using var signedIn = await browser.GetAsync(HostedFlow.LocalRedirect(callback)!);
        Assert.Contains("You are signed in", await signedIn.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The code went back with the app secret and the PKCE verifier; the Graph call carried the token and its proof.
        var exchange = QueryHelpers.ParseQuery(suite.Providers.LastRequest("/facebook/graph/oauth/access_token")!.Body);
        Assert.Equal(("fb-app", "fb-app-secret"), (exchange["client_id"].ToString(), exchange["client_secret"].ToString()));
        Assert.True(exchange["code_verifier"].ToString().Length >= 43);
        var me = suite.Providers.LastRequest("/facebook/graph/me")!;
        Assert.Equal("Bearer " + accessToken, me.Authorization);
        var graph = QueryHelpers.ParseQuery(me.Query);
        Assert.Equal(Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes("fb-app-secret"), Encoding.UTF8.GetBytes(accessToken))), graph["appsecret_proof"].ToString());
        Assert.Contains("email", graph["fields"].ToString(), StringComparison.Ordinal);

        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var users = await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users?search={Uri.EscapeDataString(email)}"), HttpStatusCode.OK);
        var user = users.GetProperty("data").EnumerateArray().Single();
        Assert.Equal(("Fay Book", "Fay", "Book"), (user.GetProperty("name").GetString(), user.GetProperty("givenName").GetString(), user.GetProperty("familyName").GetString()));
        Assert.StartsWith("https://platform-lookaside.fbsbx.com/", user.GetProperty("picture").GetString(), StringComparison.Ordinal);

        // A Graph API that refuses the token signs no one in.
        suite.Providers.Serve("/facebook/graph/me", new SiteAnswer("""{"error":{"message":"Invalid appsecret_proof","type":"GraphMethodException","code":100}}""", 400));
        using var refused = suite.FederatedBrowser();
        (state, _, _) = await StartAsync(refused, setup, providerId);
        await AssertLandsOnErrorAsync(refused, await refused.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback?code=fb-code&state={state}"), "provider_error");
    }

    [Fact]
    public async Task TheAdminApi_ChecksApplesKeyAndIds_AndKeepsTheKeySecret()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.FederationAdmin(tenant);
        var api = $"{tenant.Api}/admin/social-providers";
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var pem = key.ExportPkcs8PrivateKeyPem();

        async Task InvalidAsync(object body, string field)
        {
            using var response = await admin.PostAsJsonAsync(api, body);
            var error = await ApiAssert.ErrorAsync(response, 400, "validation_error");
            Assert.Contains($"\"{field}\"", error.ToJsonString(), StringComparison.Ordinal);
        }

        await InvalidAsync(new { type = "apple", clientId = ServicesId, keyId = KeyId, privateKey = pem }, "teamId");
        await InvalidAsync(new { type = "apple", clientId = ServicesId, teamId = TeamId, privateKey = pem }, "keyId");
        await InvalidAsync(new { type = "apple", clientId = ServicesId, teamId = TeamId, keyId = KeyId }, "privateKey");
        await InvalidAsync(new { type = "apple", clientId = ServicesId, teamId = "team", keyId = KeyId, privateKey = pem }, "teamId");
        await InvalidAsync(new { type = "apple", clientId = ServicesId, teamId = TeamId, keyId = KeyId, privateKey = "not a key" }, "privateKey");
        using (var rsa = RSA.Create(2048))
        {
            await InvalidAsync(new { type = "apple", clientId = ServicesId, teamId = TeamId, keyId = KeyId, privateKey = rsa.ExportPkcs8PrivateKeyPem() }, "privateKey");
        }

        using (var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384))
        {
            await InvalidAsync(new { type = "apple", clientId = ServicesId, teamId = TeamId, keyId = KeyId, privateKey = p384.ExportPkcs8PrivateKeyPem() }, "privateKey");
        }

        // A public key is no key to sign with.
        await InvalidAsync(new { type = "apple", clientId = ServicesId, teamId = TeamId, keyId = KeyId, privateKey = key.ExportSubjectPublicKeyInfoPem() }, "privateKey");
        await InvalidAsync(new { type = "apple", clientId = ServicesId, teamId = TeamId, keyId = KeyId, privateKey = pem, clientSecret = "s" }, "clientSecret");
        await InvalidAsync(new { type = "apple", clientId = ServicesId, teamId = TeamId, keyId = KeyId, privateKey = pem, issuerUrl = "https://appleid.example.com" }, "issuerUrl");
        await InvalidAsync(new { type = "facebook", clientId = "fb" }, "clientSecret");
        await InvalidAsync(new { type = "facebook", clientId = "fb", clientSecret = "s", teamId = TeamId }, "teamId");

        using var created = await admin.PostAsJsonAsync(api, new { type = "apple", clientId = ServicesId, teamId = TeamId, keyId = KeyId, privateKey = pem });
        var apple = (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data");
        Assert.Equal("Apple", apple.GetProperty("name").GetString());
        var id = apple.GetProperty("id").GetString();

        // A new key (Apple keys are revoked and made anew) changes the key id and key; the team stays.
        using var rotated = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using (var changed = await admin.PatchAsJsonAsync($"{api}/{id}", new { keyId = "NEWKEY1234", privateKey = rotated.ExportPkcs8PrivateKeyPem() }))
        {
            var data = (await HttpAssert.JsonAsync(changed, HttpStatusCode.OK)).GetProperty("data");
            Assert.Equal((TeamId, "NEWKEY1234"), (data.GetProperty("teamId").GetString(), data.GetProperty("keyId").GetString()));
            Assert.DoesNotContain("PRIVATE KEY", data.GetRawText(), StringComparison.Ordinal);
        }

        using (var wrong = await admin.PatchAsJsonAsync($"{api}/{id}", new { privateKey = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" }))
        {
            await ApiAssert.ErrorAsync(wrong, 400, "validation_error");
        }

        using var facebook = await admin.PostAsJsonAsync(api, new { type = "facebook", clientId = "fb", clientSecret = "s" });
        var data2 = (await HttpAssert.JsonAsync(facebook, HttpStatusCode.Created)).GetProperty("data");
        Assert.Equal(["email", "public_profile"], data2.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.False(data2.TryGetProperty("teamId", out _));
        Assert.Equal(JsonValueKind.Null, data2.GetProperty("issuerUrl").ValueKind);

        // Facebook is not OpenID Connect here: its scopes are taken as listed, with no openid added.
        using var scoped = await admin.PatchAsJsonAsync($"{api}/{data2.GetProperty("id").GetString()}", new { scopes = new[] { "email" } });
        Assert.Equal(["email"], (await HttpAssert.JsonAsync(scoped, HttpStatusCode.OK)).GetProperty("data").GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
    }

    private static async Task<HttpResponseMessage> PostAnswerAsync(HttpClient browser, SignInSetup setup, string providerId, Dictionary<string, string> fields)
    {
        // As Apple's page posts it: a cross-site form the binding cookie does not come with (the gateway's browser sends it anyway; the GET that follows is what counts).
        var posted = await browser.PostAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback", new FormUrlEncodedContent(fields));
        if (posted.StatusCode != HttpStatusCode.SeeOther)
        {
            return posted;
        }

        Assert.Equal("no-store", posted.Headers.CacheControl?.ToString());
        var back = await browser.GetAsync(posted.Headers.Location!.OriginalString);
        posted.Dispose();
        return back;
    }

    private static async Task AssertLandsOnErrorAsync(HttpClient browser, HttpResponseMessage redirect, string reason)
    {
        using (redirect)
        {
            var location = HostedFlow.LocalRedirect(redirect);
            Assert.True(location is not null, $"{redirect.StatusCode}: {await redirect.Content.ReadAsStringAsync()}");
            Assert.Contains($"/login/external?error={reason}", location, StringComparison.Ordinal);
        }
    }

    private static async Task<(string State, string Nonce, Uri Authorize)> StartAsync(HttpClient browser, SignInSetup setup, string providerId)
    {
        using var start = await browser.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}");
        Assert.True(start.StatusCode == HttpStatusCode.Redirect, await start.Content.ReadAsStringAsync());
        var location = start.Headers.Location!;
        var query = QueryHelpers.ParseQuery(location.Query);
        return (query["state"].ToString(), query.TryGetValue("nonce", out var nonce) ? nonce.ToString() : string.Empty, location);
    }
}
