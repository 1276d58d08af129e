using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Token.Data;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using OtpNet;

namespace LumoAuth.Token.Tests;

/// <summary>The hosted login's TOTP step for users with a second factor (admin checks the code).</summary>
public sealed class LoginSecondFactorTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private async Task<(SignInSetup Setup, Totp Totp)> EnrolledAsync()
    {
        var setup = await suite.SetUpAsync();
        return (setup, await suite.EnrolTotpAsync(setup));
    }

    private static async Task<HttpResponseMessage> SubmitCodeAsync(HttpClient browser, string secondStepHtml, string code)
    {
        var form = HostedFlow.HiddenFields(secondStepHtml);
        form["totp"] = code;
        return await browser.PostAsync(System.Text.RegularExpressions.Regex.Match(secondStepHtml, "action=\"([^\"]+)\"").Groups[1].Value, new FormUrlEncodedContent(form));
    }

    [Fact]
    public async Task Login_UserWithTotp_AsksForTheCode_ThenOpensAnMfaSession()
    {
        var (setup, totp) = await EnrolledAsync();
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var returnUrl = HostedFlow.AuthorizeUrl(setup, challenge);

        using var first = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login?returnUrl={Uri.EscapeDataString(returnUrl)}", setup.Email, setup.Password);
        var html = await first.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Contains("name=\"totp\"", html, StringComparison.Ordinal);
        // The password never travels back to the browser in clear.
        Assert.DoesNotContain(setup.Password, html, StringComparison.Ordinal);
        Assert.False(first.Headers.TryGetValues("Set-Cookie", out var early) && early.Any(c => c.StartsWith("lumo_session=", StringComparison.Ordinal)));

        // The next time step's code: the one used to confirm enrolment may not be replayed.
        using var second = await SubmitCodeAsync(browser, html, totp.ComputeTotp(DateTime.UtcNow.AddSeconds(30)));

        Assert.Equal(HttpStatusCode.SeeOther, second.StatusCode);
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/api/v1/oauth/authorize?", second.Headers.Location!.OriginalString, StringComparison.Ordinal);
        using var sessions = suite.Token.CreateClient();
        sessions.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var listed = JsonDocument.Parse(await sessions.GetStringAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/sessions")).RootElement.GetProperty("data")[0];
        Assert.True(listed.GetProperty("mfaVerified").GetBoolean());

        // The tokens of this session say it took more than one factor.
        var redirect = await HostedFlow.SignInAsync(browser, setup, returnUrl);
        using var http = suite.Token.CreateClient();
        using var exchanged = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = HostedFlow.Parameters(redirect)["code"],
            ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId,
            ["code_verifier"] = verifier,
        }));
        var tokens = await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK);
        var access = new JsonWebToken(tokens.GetProperty("access_token").GetString());
        Assert.Equal("2", access.GetClaim("acr").Value);
        Assert.Contains(access.Claims, c => c.Type == "amr" && c.Value is "otp" or "mfa");

        // The audit log's documented mfa_verified finds this sign-in.
        var verified = await suite.AuditEntryAsync(setup, "mfa_verified");
        Assert.Equal(setup.UserId.ToString(), verified.GetProperty("actor").GetProperty("id").GetString());
    }

    [Fact]
    public async Task Login_UserWithoutASecondFactor_PostingACodeAnyway_OpensASessionThatIsNotMfa()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        using var page = await browser.GetAsync($"/t/{setup.Tenant.Slug}/login");
        var form = HostedFlow.HiddenFields(await page.Content.ReadAsStringAsync());
        form["email"] = setup.Email;
        form["password"] = setup.Password;
        form["totp"] = "123456";

        using var signedIn = await browser.PostAsync($"/t/{setup.Tenant.Slug}/login", new FormUrlEncodedContent(form));

        Assert.Contains("You are signed in", await signedIn.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var sessions = suite.Token.CreateClient();
        sessions.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var listed = JsonDocument.Parse(await sessions.GetStringAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/sessions")).RootElement.GetProperty("data")[0];
        Assert.False(listed.GetProperty("mfaVerified").GetBoolean());
    }

    [Fact]
    public async Task Login_BackupCode_TakesThePlaceOfTheTotpCode_Once()
    {
        var (setup, _) = await EnrolledAsync();
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        using var renewed = await admin.PostAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/mfa/backup-codes", null);
        var code = (await HttpAssert.JsonAsync(renewed, HttpStatusCode.Created)).GetProperty("data").GetProperty("backupCodes")[0].GetString()!;

        async Task<HttpResponseMessage> LoginWithAsync(HttpClient browser)
        {
            using var first = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);
            var html = await first.Content.ReadAsStringAsync();
            Assert.Contains("or a backup code", html, StringComparison.Ordinal);
            return await SubmitCodeAsync(browser, html, code);
        }

        using (var signedIn = await LoginWithAsync(suite.Browser()))
        {
            Assert.Contains("You are signed in", await signedIn.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var again = await LoginWithAsync(suite.Browser());
        Assert.Equal(HttpStatusCode.Unauthorized, again.StatusCode);
    }

    [Fact]
    public async Task Login_WrongTotpCode_StaysOnTheCodeStep_WithoutSession()
    {
        var (setup, _) = await EnrolledAsync();
        using var browser = suite.Browser();
        using var first = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);

        using var wrong = await SubmitCodeAsync(browser, await first.Content.ReadAsStringAsync(), "000000");

        var html = await wrong.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains("name=\"totp\"", html, StringComparison.Ordinal);
        Assert.False(wrong.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("lumo_session=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Login_TamperedPendingStep_IsRefused()
    {
        var (setup, totp) = await EnrolledAsync();
        using var browser = suite.Browser();
        using var first = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);
        var html = (await first.Content.ReadAsStringAsync()).Replace("name=\"pending\" value=\"", "name=\"pending\" value=\"x", StringComparison.Ordinal);

        using var response = await SubmitCodeAsync(browser, html, totp.ComputeTotp(DateTime.UtcNow.AddSeconds(30)));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("data-error=\"invalid_request\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>A tenant that requires two-step verification with <paramref name="graceDays"/> of grace, and its user (no factor).</summary>
    private async Task<SignInSetup> MfaRequiredAsync(int graceDays)
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        using var response = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { mfaPolicy = new { required = true, gracePeriodDays = graceDays } });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return setup;
    }

    [Fact]
    public async Task Login_MfaRequiredAfterGrace_EnrolsTotpFirst_ShowsBackupCodes_ThenContinues()
    {
        var setup = await MfaRequiredAsync(graceDays: 0);
        using var browser = suite.Browser();
        var returnUrl = HostedFlow.AuthorizeUrl(setup, HostedFlow.Pkce().Challenge);

        using var first = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login?returnUrl={Uri.EscapeDataString(returnUrl)}", setup.Email, setup.Password);
        var html = await first.Content.ReadAsStringAsync();
        Assert.True(first.StatusCode == HttpStatusCode.OK, html);
        Assert.Contains("Set up two-step verification", html, StringComparison.Ordinal);
        Assert.DoesNotContain(setup.Password, html, StringComparison.Ordinal);
        Assert.False(first.Headers.TryGetValues("Set-Cookie", out var early) && early.Any(c => c.StartsWith("lumo_session=", StringComparison.Ordinal)));
        var secret = System.Text.RegularExpressions.Regex.Match(html, "<code data-totp-secret>([A-Z2-7]+)</code>").Groups[1].Value;
        var totp = new Totp(Base32Encoding.ToBytes(secret));

        // A wrong code keeps the same secret on the page; the right one turns the factor on and signs in.
        using var wrong = await SubmitCodeAsync(browser, html, totp.ComputeTotp(DateTime.UtcNow) == "000000" ? "111111" : "000000");
        var retry = await wrong.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains(secret, retry, StringComparison.Ordinal);
        using var enrolled = await SubmitCodeAsync(browser, retry, totp.ComputeTotp(DateTime.UtcNow));
        var codesPage = await enrolled.Content.ReadAsStringAsync();
        Assert.True(enrolled.StatusCode == HttpStatusCode.OK, codesPage);
        Assert.Equal(10, System.Text.RegularExpressions.Regex.Count(codesPage, "<li><code>"));
        Assert.Contains(WebUtility.HtmlEncode(returnUrl), codesPage, StringComparison.Ordinal);

        // Signed in with two factors; the next sign-in asks for a code like for any enrolled user.
        using var sessions = suite.Token.CreateClient();
        sessions.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var listed = JsonDocument.Parse(await sessions.GetStringAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/sessions")).RootElement.GetProperty("data")[0];
        Assert.True(listed.GetProperty("mfaVerified").GetBoolean());
        using var next = await HostedFlow.SubmitLoginAsync(suite.Browser(), $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);
        var nextHtml = await next.Content.ReadAsStringAsync();
        Assert.Contains("Two-step verification", nextHtml, StringComparison.Ordinal);
        Assert.DoesNotContain("data-totp-secret", nextHtml, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_MfaRequiredWithinGrace_SignsInWithThePasswordAlone()
    {
        var setup = await MfaRequiredAsync(graceDays: 7);
        using var browser = suite.Browser();

        using var signedIn = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);

        var html = await signedIn.Content.ReadAsStringAsync();
        Assert.True(signedIn.StatusCode == HttpStatusCode.OK, html);
        Assert.Contains("You are signed in", html, StringComparison.Ordinal);
        // With a reminder of the date and the way to the account page.
        Assert.Contains(DateTimeOffset.UtcNow.AddDays(7).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), html, StringComparison.Ordinal);
        Assert.Contains($"/t/{setup.Tenant.Slug}/account/mfa", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_RememberedDevice_SkipsTheCodeInThatBrowserOnly_UntilClearedByAnAdminOrAnMfaReset()
    {
        var (setup, totp) = await EnrolledAsync();
        await RememberDevicesForAsync(setup, days: 30);

        var login = $"/t/{setup.Tenant.Slug}/login";
        using var browser = suite.Browser();
        using (var first = await HostedFlow.SubmitLoginAsync(browser, login, setup.Email, setup.Password))
        {
            var html = await first.Content.ReadAsStringAsync();
            Assert.Contains("name=\"remember_device\"", html, StringComparison.Ordinal);
            var form = HostedFlow.HiddenFields(html);
            form["totp"] = totp.ComputeTotp(DateTime.UtcNow.AddSeconds(30));
            form["remember_device"] = "on";
            using var verified = await browser.PostAsync(login, new FormUrlEncodedContent(form));
            Assert.Contains("You are signed in", await verified.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Contains(verified.Headers.GetValues("Set-Cookie"), c => c.StartsWith("lumo_trusted=", StringComparison.Ordinal) && c.Contains("httponly", StringComparison.OrdinalIgnoreCase));
        }

        // Trusted for every later sign-in, not only the next one (the browser's device-id cookie must not replace the trust).
        Assert.False(await AskedForACodeAsync(browser, setup));
        Assert.False(await AskedForACodeAsync(browser, setup));
        Assert.True(await AskedForACodeAsync(suite.Browser(), setup));

        using var tokenAdmin = suite.Token.CreateClient();
        tokenAdmin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var devices = $"{setup.Tenant.Api}/admin/users/{setup.UserId}/trusted-devices";
        async Task<int> TrustedCountAsync() => (await HttpAssert.JsonAsync(await tokenAdmin.GetAsync(devices), HttpStatusCode.OK)).GetProperty("data").GetArrayLength();
        Assert.Equal(1, await TrustedCountAsync());

        // Another tenant sees none of it and can end none of it; its key does not open this tenant's API.
        var deviceId = (await HttpAssert.JsonAsync(await tokenAdmin.GetAsync(devices), HttpStatusCode.OK)).GetProperty("data")[0].GetProperty("id").GetString();
        var other = await suite.SetUpAsync();
        using var otherAdmin = suite.Token.CreateClient();
        otherAdmin.DefaultRequestHeaders.Add("X-API-Key", other.Tenant.ApiKey);
        var otherPath = $"{other.Tenant.Api}/admin/users/{setup.UserId}/trusted-devices";
        Assert.Equal(0, (await HttpAssert.JsonAsync(await otherAdmin.GetAsync(otherPath), HttpStatusCode.OK)).GetProperty("data").GetArrayLength());
        await HttpAssert.EnvelopeAsync(await otherAdmin.DeleteAsync($"{otherPath}/{deviceId}"), HttpStatusCode.NotFound, "resource_not_found");
        await HttpAssert.EnvelopeAsync(await otherAdmin.GetAsync(devices), HttpStatusCode.Unauthorized, "unauthorized");
        await HttpAssert.EnvelopeAsync(await tokenAdmin.DeleteAsync($"{devices}/{Guid.NewGuid()}"), HttpStatusCode.NotFound, "resource_not_found");
        Assert.Equal(1, await TrustedCountAsync());

        // The administrator resets the user's MFA: the trust goes with it (admin's UserMfaReset event).
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        using (var reset = await admin.PostAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/mfa/reset", null))
        {
            Assert.True(reset.IsSuccessStatusCode, await reset.Content.ReadAsStringAsync());
        }

        var remaining = -1;
        for (var attempt = 0; attempt < 300 && remaining != 0; attempt++)
        {
            remaining = await TrustedCountAsync();
            if (remaining != 0)
            {
                await Task.Delay(100);
            }
        }

        Assert.Equal(0, remaining);

        // Enrolled again and trusted again: an administrator can also clear the trust directly.
        await TrustThisBrowserAsync(browser, setup, await suite.EnrolTotpAsync(setup));

        Assert.False(await AskedForACodeAsync(browser, setup));
        Assert.Equal(HttpStatusCode.NoContent, (await tokenAdmin.DeleteAsync(devices)).StatusCode);
        Assert.True(await AskedForACodeAsync(browser, setup));
    }

    [Fact]
    public async Task Login_RememberedDevice_StillAsksForTheCode_OnTheWayToChangeTheSignInMethods()
    {
        var (setup, totp) = await EnrolledAsync();
        await RememberDevicesForAsync(setup, days: 30);
        using var browser = suite.Browser();
        await TrustThisBrowserAsync(browser, setup, totp);
        Assert.False(await AskedForACodeAsync(browser, setup));

        // The account pages that change factors and passkeys take no sign-in without the second step.
        foreach (var page in new[] { $"/t/{setup.Tenant.Slug}/account/mfa", $"/t/{setup.Tenant.Slug}/account/passkeys" })
        {
            using var response = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login?returnUrl={Uri.EscapeDataString(page)}", setup.Email, setup.Password);
            Assert.Contains("name=\"totp\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Login_MfaRequired_AfterAnAdminResetsTheFactor_EnrolsAgainBeforeSigningIn()
    {
        var setup = await MfaRequiredAsync(graceDays: 0);
        await suite.EnrolTotpAsync(setup);
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        using (var reset = await admin.PostAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/mfa/reset", null))
        {
            Assert.True(reset.IsSuccessStatusCode, await reset.Content.ReadAsStringAsync());
        }

        using var signIn = await HostedFlow.SubmitLoginAsync(suite.Browser(), $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);

        var html = await signIn.Content.ReadAsStringAsync();
        Assert.Contains("Set up two-step verification", html, StringComparison.Ordinal);
        Assert.Contains("data-totp-secret", html, StringComparison.Ordinal);
        Assert.False(signIn.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("lumo_session=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Login_RememberedDevice_TrustedForTheConfiguredDays_AsksForTheCodeAgainOnceTheTrustExpired()
    {
        var (setup, totp) = await EnrolledAsync();
        await RememberDevicesForAsync(setup, days: 7);

        using var browser = suite.Browser();
        await TrustThisBrowserAsync(browser, setup, totp);

        Assert.False(await AskedForACodeAsync(browser, setup));
        await using var scope = suite.Token.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
        var trust = await db.TrustedDevices.IgnoreQueryFilters().SingleAsync(d => d.UserId == setup.UserId);
        Assert.Equal(TimeSpan.FromDays(7), trust.ExpiresAt - trust.CreatedAt);

        await db.TrustedDevices.IgnoreQueryFilters().Where(d => d.Id == trust.Id)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.ExpiresAt, DateTimeOffset.UtcNow.AddSeconds(-1)));

        Assert.True(await AskedForACodeAsync(browser, setup));
    }

    private async Task RememberDevicesForAsync(SignInSetup setup, int days)
    {
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        using var enabled = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { mfaPolicy = new { rememberDeviceDays = days } });
        Assert.True(enabled.IsSuccessStatusCode, await enabled.Content.ReadAsStringAsync());
    }

    /// <summary>Signs in with the password and a code, ticking "remember this device".</summary>
    private static async Task TrustThisBrowserAsync(HttpClient browser, SignInSetup setup, Totp totp)
    {
        var login = $"/t/{setup.Tenant.Slug}/login";
        using var first = await HostedFlow.SubmitLoginAsync(browser, login, setup.Email, setup.Password);
        var form = HostedFlow.HiddenFields(await first.Content.ReadAsStringAsync());
        form["totp"] = totp.ComputeTotp(DateTime.UtcNow.AddSeconds(30));
        form["remember_device"] = "on";
        using var verified = await browser.PostAsync(login, new FormUrlEncodedContent(form));
        Assert.Contains("You are signed in", await verified.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>Whether a password sign-in in <paramref name="browser"/> is asked for a second-step code.</summary>
    private static async Task<bool> AskedForACodeAsync(HttpClient browser, SignInSetup setup)
    {
        using var response = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return html.Contains("name=\"totp\"", StringComparison.Ordinal);
    }
}
