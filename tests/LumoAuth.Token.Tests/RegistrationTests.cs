using System.Net;
using System.Net.Http.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// <c>prompt=create</c> (OpenID Connect Prompt Create): the hosted registration page, admin creating the account
/// under the tenant's policy, the SSO session and the authorization request continuing to consent and the code;
/// the tenant's registration switch, duplicate emails, weak passwords, CSRF and foreign return URLs.
/// </summary>
public sealed class RegistrationTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private const string NewPassword = "Br4nd-New-Passw0rd!";

    private static string NewEmail() => $"new-{Guid.NewGuid():N}"[..14] + "@example.com";

    private async Task DisableRegistrationAsync(LumoAuth.Testing.TestTenant tenant)
    {
        using var admin = suite.Admin.ClientFor(tenant);
        using var response = await admin.PutAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { registrationEnabled = false } });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Authorize with prompt=create; returns the registration page's URL.</summary>
    private static async Task<string> RegistrationUrlAsync(HttpClient browser, SignInSetup setup, string challenge)
    {
        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["prompt"] = "create" }));
        Assert.Equal(HttpStatusCode.SeeOther, authorize.StatusCode);
        var location = HostedFlow.LocalRedirect(authorize)!;
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/register?", location, StringComparison.Ordinal);
        return location;
    }

    private static async Task<(HttpResponseMessage Response, string Html)> SubmitAsync(
        HttpClient browser, string registrationUrl, string email, string password, string name = "New Person")
    {
        using var page = await browser.GetAsync(registrationUrl);
        var html = await page.Content.ReadAsStringAsync();
        Assert.True(page.StatusCode == HttpStatusCode.OK, html);
        var form = HostedFlow.HiddenFields(html);
        form["email"] = email;
        form["password"] = password;
        form["name"] = name;
        var response = await browser.PostAsync(registrationUrl.Split('?')[0], new FormUrlEncodedContent(form));
        return (response, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task PromptCreate_RegisterThenConsent_IssuesCodeForTheNewUser()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var email = NewEmail();

        var registration = await RegistrationUrlAsync(browser, setup, challenge);
        var (registered, body) = await SubmitAsync(browser, registration, email, NewPassword, "Nina New");
        using (registered)
        {
            Assert.True(registered.StatusCode == HttpStatusCode.SeeOther, body);
        }

        // Back to the authorization request, without "create" (it has happened), then consent and the code.
        var back = HostedFlow.LocalRedirect(registered)!;
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/api/v1/oauth/authorize?", back, StringComparison.Ordinal);
        Assert.DoesNotContain("prompt=create", back, StringComparison.Ordinal);
        using var consent = await browser.GetAsync(back);
        var consentHtml = await consent.Content.ReadAsStringAsync();
        Assert.Contains("consent_decision", consentHtml, StringComparison.Ordinal);
        using var decided = await HostedFlow.DecideConsentAsync(browser, consentHtml, accept: true);
        var code = HostedFlow.Parameters(decided.Headers.Location!)["code"];

        using var http = suite.Token.CreateClient();
        using var exchange = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));
        var json = await HttpAssert.JsonAsync(exchange, HttpStatusCode.OK);
        var id = new JsonWebToken(json.GetProperty("id_token").GetString());
        Assert.Equal(email, id.GetClaim("email").Value);
        Assert.Equal("Nina New", id.GetClaim("name").Value);
        Assert.NotEqual(setup.UserId.ToString(), id.Subject);

        // The account is admin's, and the new password signs in through the login page.
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var user = await ApiAssert.OkAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{id.Subject}"));
        Assert.Equal(email, user["data"]!["email"]!.GetValue<string>());
        using var otherBrowser = suite.Browser();
        using var login = await HostedFlow.SubmitLoginAsync(otherBrowser, $"/t/{setup.Tenant.Slug}/login", email, NewPassword);
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.Contains("You are signed in", await login.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PromptCreate_TenantRequiresMfaWithoutGrace_EnrolsBeforeTheSessionOpens_ThenContinues()
    {
        var setup = await suite.SetUpAsync();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        using (var required = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { mfaPolicy = new { required = true, gracePeriodDays = 0 } }))
        {
            Assert.True(required.IsSuccessStatusCode, await required.Content.ReadAsStringAsync());
        }

        using var browser = suite.Browser();
        var registration = await RegistrationUrlAsync(browser, setup, HostedFlow.Pkce().Challenge);
        var (registered, html) = await SubmitAsync(browser, registration, NewEmail(), NewPassword);

        // As at the login page: the enrolment first, and no session until it is done.
        using (registered)
        {
            Assert.True(registered.StatusCode == HttpStatusCode.OK, html);
            Assert.Contains("Set up two-step verification", html, StringComparison.Ordinal);
            Assert.DoesNotContain(NewPassword, html, StringComparison.Ordinal);
            Assert.False(registered.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("lumo_session=", StringComparison.Ordinal)));
        }

        var secret = System.Text.RegularExpressions.Regex.Match(html, "<code data-totp-secret>([A-Z2-7]+)</code>").Groups[1].Value;
        var form = HostedFlow.HiddenFields(html);
        form["totp"] = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(secret)).ComputeTotp(DateTime.UtcNow);
        using var enrolled = await browser.PostAsync($"/t/{setup.Tenant.Slug}/login", new FormUrlEncodedContent(form));
        var codes = await enrolled.Content.ReadAsStringAsync();
        Assert.True(enrolled.StatusCode == HttpStatusCode.OK, codes);
        Assert.Equal(10, System.Text.RegularExpressions.Regex.Count(codes, "<li><code>"));
        Assert.Contains(enrolled.Headers.GetValues("Set-Cookie"), c => c.StartsWith("lumo_session=", StringComparison.Ordinal));

        // On to the authorization request it came from.
        var next = System.Net.WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(codes, "<a href=\"([^\"]+)\" data-continue>").Groups[1].Value);
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/api/v1/oauth/authorize?", next, StringComparison.Ordinal);
        using var consent = await browser.GetAsync(next);
        Assert.Contains("consent_decision", await consent.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RegistrationPage_CarriesCsrfFieldAndSecurityHeaders()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var registration = await RegistrationUrlAsync(browser, setup, HostedFlow.Pkce().Challenge);

        using var page = await browser.GetAsync(registration);

        var html = await page.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("__csrf", HostedFlow.HiddenFields(html).Keys);
        Assert.Contains("frame-ancestors 'none'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("DENY", page.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("no-store", page.Headers.CacheControl!.ToString());
    }

    [Fact]
    public async Task Discovery_PromptValuesSupported_ListsCreateWhileRegistrationIsAllowed()
    {
        var open = await suite.SetUpAsync();
        var closed = await suite.SetUpAsync();
        await DisableRegistrationAsync(closed.Tenant);
        using var http = suite.Token.CreateClient();

        async Task<List<string?>> PromptValuesAsync(SignInSetup setup)
        {
            using var response = await http.GetAsync($"{setup.Tenant.Api}/.well-known/openid-configuration");
            var json = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
            return json.GetProperty("prompt_values_supported").EnumerateArray().Select(e => e.GetString()).ToList();
        }

        var openValues = await PromptValuesAsync(open);
        Assert.Contains("create", openValues);
        Assert.Contains("login", openValues);
        Assert.DoesNotContain("create", await PromptValuesAsync(closed));
    }

    [Fact]
    public async Task PromptCreate_RegistrationDisabled_Answers400InvalidRequestWithoutRedirect()
    {
        var setup = await suite.SetUpAsync();
        await DisableRegistrationAsync(setup.Tenant);
        using var browser = suite.Browser();

        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, HostedFlow.Pkce().Challenge, new() { ["prompt"] = "create" }));

        Assert.Equal(HttpStatusCode.BadRequest, authorize.StatusCode);
        Assert.Null(authorize.Headers.Location);
        var html = await authorize.Content.ReadAsStringAsync();
        Assert.Contains("data-error=\"invalid_request\"", html, StringComparison.Ordinal);
        Assert.Contains("create", html, StringComparison.Ordinal);

        // The page itself refuses too, whoever links to it.
        using var page = await browser.GetAsync($"/t/{setup.Tenant.Slug}/register");
        Assert.Equal(HttpStatusCode.Forbidden, page.StatusCode);
        Assert.Contains("data-error=\"registration_disabled\"", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_EmailTaken_GenericMessageThatOffersSignIn()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var registration = await RegistrationUrlAsync(browser, setup, HostedFlow.Pkce().Challenge);

        var (response, html) = await SubmitAsync(browser, registration, setup.Email, NewPassword);

        using (response)
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        Assert.Contains("role=\"alert\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("already exists", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains($"href=\"/t/{setup.Tenant.Slug}/login?returnUrl=", html, StringComparison.Ordinal);
        Assert.DoesNotContain(response.Headers, h => h.Key == "Set-Cookie" && h.Value.Any(v => v.StartsWith("lumo_session=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Register_WeakPassword_ShowsThePolicyAndCreatesNothing()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var registration = await RegistrationUrlAsync(browser, setup, HostedFlow.Pkce().Challenge);
        var email = NewEmail();

        var (response, html) = await SubmitAsync(browser, registration, email, "short");

        using (response)
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        Assert.Contains("at least 8 characters", html, StringComparison.Ordinal);
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        using var lookup = await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{Uri.EscapeDataString(email)}");
        Assert.Equal(HttpStatusCode.NotFound, lookup.StatusCode);
    }

    [Fact]
    public async Task Register_WithoutCsrfToken_IsRefused()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var email = NewEmail();

        using var response = await browser.PostAsync($"/t/{setup.Tenant.Slug}/register", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["email"] = email, ["password"] = NewPassword,
        }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("data-error=\"invalid_request\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        using var lookup = await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{Uri.EscapeDataString(email)}");
        Assert.Equal(HttpStatusCode.NotFound, lookup.StatusCode);
    }

    [Theory]
    [InlineData("https://evil.example.com/")]
    [InlineData("//evil.example.com/t/x/api/v1/oauth/authorize")]
    public async Task RegistrationPage_ForeignReturnUrl_IsRefused(string returnUrl)
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();

        using var page = await browser.GetAsync($"/t/{setup.Tenant.Slug}/register?returnUrl={Uri.EscapeDataString(returnUrl)}");

        Assert.Equal(HttpStatusCode.BadRequest, page.StatusCode);
        Assert.Contains("data-error=\"invalid_request\"", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_EmailOfAnotherTenantsUser_CreatesASeparateAccount()
    {
        var first = await suite.SetUpAsync();
        var second = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var registration = await RegistrationUrlAsync(browser, second, HostedFlow.Pkce().Challenge);

        var (response, body) = await SubmitAsync(browser, registration, first.Email, NewPassword);

        using (response)
        {
            Assert.True(response.StatusCode == HttpStatusCode.SeeOther, body);
        }

        // The first tenant's user is untouched: its own password still signs in there, the new one does not.
        using var firstBrowser = suite.Browser();
        using var wrong = await HostedFlow.SubmitLoginAsync(firstBrowser, $"/t/{first.Tenant.Slug}/login", first.Email, NewPassword);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
    }
    [Fact]
    public async Task PromptCreateWithNone_IsRedirectedBackAsInvalidRequest()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();

        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, HostedFlow.Pkce().Challenge, new() { ["prompt"] = "none create", ["state"] = "s-none" }));

        // No page is shown: the error goes back to the (verified) redirect URI.
        Assert.NotNull(authorize.Headers.Location);
        Assert.StartsWith(SignInSetup.RedirectUri + "?", authorize.Headers.Location!.AbsoluteUri, StringComparison.Ordinal);
        var parameters = HostedFlow.Parameters(authorize.Headers.Location);
        Assert.Equal("invalid_request", parameters["error"]);
        Assert.Equal("s-none", parameters["state"]);
    }
    [Fact]
    public async Task LoginPage_OffersRegistrationOnlyWhileItIsAllowed()
    {
        var open = await suite.SetUpAsync();
        var closed = await suite.SetUpAsync();
        await DisableRegistrationAsync(closed.Tenant);
        using var browser = suite.Browser();
        const string returnUrl = "/api/v1/oauth/authorize?client_id=x";

        using var openPage = await browser.GetAsync($"/t/{open.Tenant.Slug}/login?returnUrl={Uri.EscapeDataString($"/t/{open.Tenant.Slug}{returnUrl}")}");
        using var closedPage = await browser.GetAsync($"/t/{closed.Tenant.Slug}/login");

        var openHtml = await openPage.Content.ReadAsStringAsync();
        Assert.Contains($"href=\"/t/{open.Tenant.Slug}/register?returnUrl=", openHtml, StringComparison.Ordinal);
        Assert.DoesNotContain("/register", await closedPage.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
