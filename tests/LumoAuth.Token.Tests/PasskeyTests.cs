using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Passkeys (WebAuthn, TOK-18…21) through the hosted pages' JSON endpoints, answered by a software authenticator: a
/// signed-in user adds one; anyone with it then signs in without password or TOTP code; replays, clones, other origins
/// and other tenants are refused.
/// </summary>
public sealed partial class PasskeyTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private const string Origin = "http://localhost";

    [Fact]
    public async Task AddedPasskey_SignsInWithoutPasswordOrTotp_AndContinuesTheAuthorization()
    {
        var setup = await suite.SetUpAsync();
        using var passkey = new SoftwarePasskey();
        await RegisterAsync(setup, passkey);
        // A second factor the passkey need not be asked for.
        await suite.EnrolTotpAsync(setup);

        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var listed = JsonDocument.Parse(await admin.GetStringAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/passkeys")).RootElement.GetProperty("data");
        Assert.Equal("Work laptop", listed[0].GetProperty("name").GetString());

        using var browser = suite.Browser();
        var loginPage = await browser.GetAsync($"/t/{setup.Tenant.Slug}/login");
        Assert.Contains("data-passkey=\"authenticate\"", await loginPage.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", loginPage.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);

        var (_, challenge) = HostedFlow.Pkce();
        var authorize = HostedFlow.AuthorizeUrl(setup, challenge);
        var options = await OptionsAsync(browser, setup, "authenticate");
        Assert.Equal(0, options.GetProperty("allowCredentials").GetArrayLength());
        Assert.Equal("required", options.GetProperty("userVerification").GetString());
        using var signedIn = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/authenticate?returnUrl={Uri.EscapeDataString(authorize)}", passkey.Get(options, Origin));
        var answer = await HttpAssert.JsonAsync(signedIn, HttpStatusCode.OK);
        Assert.Equal(authorize, answer.GetProperty("redirect").GetString());

        using (var consent = await browser.GetAsync(authorize))
        {
            Assert.Contains("consent_decision", await consent.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // The passkey's sign-in, not the password sign-in that added the passkey.
        var login = await suite.AuditEntryAsync(setup, "user_login_succeeded", SignedInWithAPasskey);
        Assert.Contains("hwk", login.GetProperty("metadata").GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public async Task AfterThePassword_APasskeyStandsInForTheSecondFactor_AndTheAuthorizationGoesOn()
    {
        var setup = await suite.SetUpAsync();
        using var passkey = new SoftwarePasskey();
        await RegisterAsync(setup, passkey);
        await suite.EnrolTotpAsync(setup);

        // The authorization request sends the browser to the login page; the password leads to the second step.
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();
        var authorize = HostedFlow.AuthorizeUrl(setup, challenge);
        string loginUrl;
        using (var toLogin = await browser.GetAsync(authorize))
        {
            loginUrl = HostedFlow.LocalRedirect(toLogin)!;
        }

        using var password = await HostedFlow.SubmitLoginAsync(browser, loginUrl, setup.Email, setup.Password);
        var step = await password.Content.ReadAsStringAsync();
        Assert.Contains("name=\"totp\"", step, StringComparison.Ordinal);
        var returnUrl = System.Net.WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(step, "data-return-url=\"([^\"]+)\"").Groups[1].Value);
        Assert.Contains("/oauth/authorize", returnUrl, StringComparison.Ordinal);

        // The passkey instead of the code: the user is signed in with it (user verification makes it multi-factor).
        var options = await OptionsAsync(browser, setup, "authenticate");
        using var signedIn = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/authenticate?returnUrl={Uri.EscapeDataString(returnUrl)}", passkey.Get(options, Origin));
        Assert.Equal(returnUrl, (await HttpAssert.JsonAsync(signedIn, HttpStatusCode.OK)).GetProperty("redirect").GetString());
        using (var consent = await browser.GetAsync(returnUrl))
        {
            Assert.Contains("consent_decision", await consent.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var login = await suite.AuditEntryAsync(setup, "user_login_succeeded", SignedInWithAPasskey);
        Assert.DoesNotContain("otp", login.GetProperty("metadata").GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public async Task ReplayedClonedForeignOrOtherOriginAnswers_AreRefused()
    {
        var setup = await suite.SetUpAsync();
        var elsewhere = await suite.SetUpAsync();
        using var passkey = new SoftwarePasskey();
        await RegisterAsync(setup, passkey);
        using var browser = suite.Browser();

        var options = await OptionsAsync(browser, setup, "authenticate");
        var answer = passkey.Get(options, Origin);
        using (var first = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/authenticate", answer))
        {
            await HttpAssert.JsonAsync(first, HttpStatusCode.OK);
        }

        // The challenge is answered once: the same answer again finds no ceremony, and under new options it is stale.
        using (var replay = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/authenticate", answer))
        {
            Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
        }

        await OptionsAsync(browser, setup, "authenticate");
        using (var stale = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/authenticate", answer))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, stale.StatusCode);
        }

        // A copy of the key signs with a counter that did not move on: refused.
        using (var cloned = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/authenticate", passkey.Get(await OptionsAsync(browser, setup, "authenticate"), Origin)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, cloned.StatusCode);
        }

        passkey.Counter = 2;
        using (var phished = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/authenticate",
                   passkey.Get(await OptionsAsync(browser, setup, "authenticate"), "https://evil.example.com")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, phished.StatusCode);
        }

        using (var foreign = await PostJsonAsync(browser, $"/t/{elsewhere.Tenant.Slug}/webauthn/authenticate",
                   passkey.Get(await OptionsAsync(browser, elsewhere, "authenticate"), Origin)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, foreign.StatusCode);
        }

        using (var next = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/authenticate", passkey.Get(await OptionsAsync(browser, setup, "authenticate"), Origin)))
        {
            await HttpAssert.JsonAsync(next, HttpStatusCode.OK);
        }

        // An admin removes the passkey: it signs nobody in any more.
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var id = JsonDocument.Parse(await admin.GetStringAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/passkeys")).RootElement.GetProperty("data")[0].GetProperty("id").GetString();
        using (var deleted = await admin.DeleteAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/passkeys/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        passkey.Counter = 3;
        using var removed = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/authenticate", passkey.Get(await OptionsAsync(browser, setup, "authenticate"), Origin));
        Assert.Equal(HttpStatusCode.Unauthorized, removed.StatusCode);
    }

    [Fact]
    public async Task Registration_NeedsASession_JsonAndItsOwnOptions()
    {
        var setup = await suite.SetUpAsync();
        using var anonymous = suite.Browser();
        using (var noSession = await PostJsonAsync(anonymous, $"/t/{setup.Tenant.Slug}/webauthn/register/options", new JsonObject()))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, noSession.StatusCode);
        }

        using var browser = await SignedInAsync(setup);
        using (var form = await browser.PostAsync($"/t/{setup.Tenant.Slug}/webauthn/register/options", new FormUrlEncodedContent(new Dictionary<string, string>())))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, form.StatusCode);
        }

        using var passkey = new SoftwarePasskey();
        using (var withoutOptions = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/register", new JsonObject { ["id"] = "x" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, withoutOptions.StatusCode);
        }

        // An answer for another site's options (origin) is refused, and its options are used up.
        var options = await OptionsAsync(browser, setup, "register");
        using (var otherOrigin = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/register", passkey.Create(options, "https://evil.example.com")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, otherOrigin.StatusCode);
        }

        using var account = await browser.GetAsync($"/t/{setup.Tenant.Slug}/account/passkeys");
        Assert.Contains("data-passkey=\"register\"", await account.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var toLogin = await anonymous.GetAsync($"/t/{setup.Tenant.Slug}/account/passkeys");
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/login?returnUrl=", HostedFlow.LocalRedirect(toLogin), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registration_ByAUserWithASecondFactor_NeedsASignInThatTookIt()
    {
        var setup = await suite.SetUpAsync();
        // Signed in with the password alone (as a trusted browser or a low-risk sign-in would be), then the user has a second factor.
        using var browser = await SignedInAsync(setup);
        var totp = await suite.EnrolTotpAsync(setup);
        var account = $"/t/{setup.Tenant.Slug}/account/passkeys";

        using (var options = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/register/options", new JsonObject()))
        {
            await HttpAssert.EnvelopeAsync(options, HttpStatusCode.Unauthorized, "unauthorized");
        }

        using (var answer = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/register", new JsonObject { ["id"] = "x" }))
        {
            await HttpAssert.EnvelopeAsync(answer, HttpStatusCode.Unauthorized, "unauthorized");
        }

        // The account page sends the browser to sign in again, on the way back here; that sign-in asks for the code.
        string login;
        using (var page = await browser.GetAsync(account))
        {
            login = HostedFlow.LocalRedirect(page)!;
            Assert.Equal($"/t/{setup.Tenant.Slug}/login?returnUrl={Uri.EscapeDataString(account)}", login);
        }

        using var password = await HostedFlow.SubmitLoginAsync(browser, login, setup.Email, setup.Password);
        var form = HostedFlow.HiddenFields(await password.Content.ReadAsStringAsync());
        form["totp"] = totp.ComputeTotp(DateTime.UtcNow.AddSeconds(30));
        using var verified = await browser.PostAsync($"/t/{setup.Tenant.Slug}/login", new FormUrlEncodedContent(form));
        Assert.Equal(account, HostedFlow.LocalRedirect(verified));

        using var passkey = new SoftwarePasskey();
        using var registered = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/register", passkey.Create(await OptionsAsync(browser, setup, "register"), Origin));
        await HttpAssert.JsonAsync(registered, HttpStatusCode.Created);
    }

    [Fact]
    public async Task PasskeysOff_NoButtonNoScriptNoEndpoints_AndTheSecondFactorStepOffersOneWhenOn()
    {
        var off = await suite.SetUpAsync();
        using (var admin = suite.Admin.ClientFor(off.Tenant))
        using (var switched = await admin.PatchAsJsonAsync($"{off.Tenant.Api}/admin/settings", new { loginPolicy = new { passkeysEnabled = false } }))
        {
            Assert.True(switched.IsSuccessStatusCode, await switched.Content.ReadAsStringAsync());
        }

        using var browser = suite.Browser();
        using (var login = await browser.GetAsync($"/t/{off.Tenant.Slug}/login"))
        {
            Assert.DoesNotContain("data-passkey", await login.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.DoesNotContain("script-src", login.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        }

        using (var options = await PostJsonAsync(browser, $"/t/{off.Tenant.Slug}/webauthn/authenticate/options", new JsonObject()))
        {
            Assert.Equal(HttpStatusCode.NotFound, options.StatusCode);
        }

        var on = await suite.SetUpAsync();
        await suite.EnrolTotpAsync(on);
        using var second = await HostedFlow.SubmitLoginAsync(suite.Browser(), $"/t/{on.Tenant.Slug}/login", on.Email, on.Password);
        var step = await second.Content.ReadAsStringAsync();
        Assert.Contains("name=\"totp\"", step, StringComparison.Ordinal);
        Assert.Contains("Use a passkey instead", step, StringComparison.Ordinal);
    }

    private static bool SignedInWithAPasskey(JsonElement entry) =>
        entry.GetProperty("metadata").GetProperty("methods").EnumerateArray().Any(m => m.GetString() == "hwk");

    private async Task RegisterAsync(SignInSetup setup, SoftwarePasskey passkey)
    {
        using var browser = await SignedInAsync(setup);
        var options = await OptionsAsync(browser, setup, "register");
        Assert.Equal("localhost", options.GetProperty("rp").GetProperty("id").GetString());
        Assert.Equal("required", options.GetProperty("authenticatorSelection").GetProperty("residentKey").GetString());
        using var registered = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/register?name=Work%20laptop", passkey.Create(options, Origin));
        Assert.Equal("Work laptop", (await HttpAssert.JsonAsync(registered, HttpStatusCode.Created)).GetProperty("name").GetString());
    }

    private async Task<HttpClient> SignedInAsync(SignInSetup setup)
    {
        var browser = suite.Browser();
        using var login = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        return browser;
    }

    private static async Task<JsonElement> OptionsAsync(HttpClient browser, SignInSetup setup, string kind)
    {
        using var response = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/{kind}/options", new JsonObject());
        return await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
    }

    private static Task<HttpResponseMessage> PostJsonAsync(HttpClient browser, string path, JsonObject body) =>
        browser.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
}

/// <summary>The token service behind a gateway whose public origin is https (requests still arrive over http).</summary>
public sealed class HttpsOriginSuite : TokenSuite
{
    protected override IDictionary<string, string?> TokenSettings => new Dictionary<string, string?> { ["LumoAuth:PublicBaseUrl"] = "https://id.example.com" };
}

/// <summary>The passkey ceremony cookie follows the hosted pages' cookie rules.</summary>
public sealed class PasskeyCeremonyCookieTests(HttpsOriginSuite suite) : IClassFixture<HttpsOriginSuite>
{
    [Fact]
    public async Task CeremonyCookie_IsSecureStrictAndLimitedToThePasskeyEndpoints_WhenThePublicOriginIsHttps()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();

        using var options = await browser.PostAsync($"/t/{setup.Tenant.Slug}/webauthn/authenticate/options",
            new StringContent("{}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, options.StatusCode);
        var cookie = options.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("lumo_webauthn=", StringComparison.Ordinal));
        var attributes = cookie.Split(';').Skip(1).Select(a => a.Trim().ToLowerInvariant()).ToList();
        Assert.Contains("secure", attributes);
        Assert.Contains("samesite=strict", attributes);
        Assert.Contains("httponly", attributes);
        Assert.Contains($"path=/t/{setup.Tenant.Slug}/webauthn", attributes);
    }
}
