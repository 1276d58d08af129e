using System.Net;
using System.Text.RegularExpressions;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using OtpNet;

namespace LumoAuth.Token.Tests;

/// <summary>
/// The signed-in user's own two-step verification page (<c>/t/{slug}/account/mfa</c>). The clock moves (forward only) to age
/// sessions; every test signs in after any earlier move.
/// </summary>
public sealed partial class MfaAccountPageTests(MovableClockSuite suite) : IClassFixture<MovableClockSuite>
{
    [Fact]
    public async Task Page_WithoutASession_SendsTheBrowserToSignIn()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();

        using var response = await browser.GetAsync($"/t/{setup.Tenant.Slug}/account/mfa");

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/login?returnUrl=", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task User_TurnsTotpOn_WithAWrongThenARightCode_ThenGetsNewBackupCodes()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var page = $"/t/{setup.Tenant.Slug}/account/mfa";
        var overview = await HostedFlow.OpenSignedInAsync(browser, setup, page);
        Assert.Contains("<strong>off</strong>", overview, StringComparison.Ordinal);

        using var begun = await PostAsync(browser, page, overview, "begin");
        var enrolment = await begun.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, begun.StatusCode);
        var secret = SecretPattern().Match(enrolment).Groups[1].Value;
        var totp = new Totp(Base32Encoding.ToBytes(secret));

        using var wrong = await PostAsync(browser, page, enrolment, "confirm", totp.ComputeTotp() == "000000" ? "111111" : "000000");
        var again = await wrong.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        Assert.Contains(secret, again, StringComparison.Ordinal);

        using var confirmed = await PostAsync(browser, page, again, "confirm", totp.ComputeTotp());
        var codes = await confirmed.Content.ReadAsStringAsync();
        Assert.Equal(10, Regex.Count(codes, "<li><code>"));

        var on = await HostedFlow.OpenSignedInAsync(browser, setup, page);
        Assert.Contains("<strong>on</strong>", on, StringComparison.Ordinal);

        // The session was opened with the password alone: new backup codes now take a sign-in with the code, which asks for it.
        using var refused = await PostAsync(browser, page, on, "backup-codes");
        var reopened = await SignInAgainWithACodeAsync(browser, setup, refused, totp);
        using var renewed = await PostAsync(browser, page, reopened, "backup-codes");
        var renewedCodes = await renewed.Content.ReadAsStringAsync();
        Assert.Equal(10, Regex.Count(renewedCodes, "<li><code>"));
        Assert.NotEqual(CodesOf(codes), CodesOf(renewedCodes));
    }

    [Fact]
    public async Task Actions_OnASessionOlderThanTheReauthenticationWindow_SendTheBrowserToSignInAgain_ThenWork()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var page = $"/t/{setup.Tenant.Slug}/account/mfa";
        var overview = await HostedFlow.OpenSignedInAsync(browser, setup, page);

        // A session cookie alone — stolen, or left open — is not enough to set up a second factor for its owner.
        suite.Clock.Advance(TimeSpan.FromMinutes(11));
        using var stale = await PostAsync(browser, page, overview, "begin");
        Assert.Equal(HttpStatusCode.SeeOther, stale.StatusCode);
        Assert.Equal($"/t/{setup.Tenant.Slug}/login?returnUrl={Uri.EscapeDataString(page)}", stale.Headers.Location!.OriginalString);
        Assert.DoesNotContain("data-totp-secret", await stale.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The password again, and the page takes the action.
        using var signedIn = await HostedFlow.SubmitLoginAsync(browser, stale.Headers.Location.OriginalString, setup.Email, setup.Password);
        Assert.Equal(page, HostedFlow.LocalRedirect(signedIn));
        using var begun = await PostAsync(browser, page, await HostedFlow.OpenSignedInAsync(browser, setup, page), "begin");
        Assert.Equal(HttpStatusCode.OK, begun.StatusCode);
        Assert.Contains("data-totp-secret", await begun.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("backup-codes")]
    [InlineData("begin")]
    [InlineData("sms-begin")]
    [InlineData("sms-off")]
    [InlineData("email-off")]
    [InlineData("email-on")]
    public async Task Actions_OnAPasswordOnlySession_OfAUserWithASecondFactor_AskForTheSecondFactorFirst(string action)
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var page = $"/t/{setup.Tenant.Slug}/account/mfa";
        var overview = await HostedFlow.OpenSignedInAsync(browser, setup, page);
        // As a trusted browser or a low-risk adaptive sign-in would leave it: a recent session that did not take the factor.
        await suite.EnrolTotpAsync(setup);

        using var refused = await PostAsync(browser, page, overview, action);

        Assert.Equal(HttpStatusCode.SeeOther, refused.StatusCode);
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/login?returnUrl=", refused.Headers.Location!.OriginalString, StringComparison.Ordinal);
        Assert.DoesNotContain("<li><code>", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LowRiskAdaptiveSignIn_OnTheWayToThePasskeyPage_StillAsksForTheSecondFactor()
    {
        // Adaptive authentication skips the second step of a low-risk sign-in; the page takes no session without it, so the
        // sign-in it sends the user to must ask for it whatever the score (else each would send the user to the other for ever).
        var setup = await suite.SetUpAsync();
        var totp = await suite.EnrolTotpAsync(setup);
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            await LumoAuth.Testing.ApiAssert.OkAsync(await admin.PatchAsync($"{setup.Tenant.Api}/admin/settings", System.Net.Http.Json.JsonContent.Create(
                new { adaptiveAuth = new { enabled = true, lowRiskThreshold = 99, highRiskThreshold = 100 } })));
        }

        using var browser = suite.Browser();
        using var plain = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);
        Assert.DoesNotContain("name=\"totp\"", await plain.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var refused = await browser.GetAsync($"/t/{setup.Tenant.Slug}/account/passkeys");

        var page = await SignInAgainWithACodeAsync(browser, setup, refused, totp);

        Assert.Contains("passkey", page, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Follows the page's refusal to the login page, signs in with the password and a (next) code, and opens the page again.</summary>
    private static async Task<string> SignInAgainWithACodeAsync(HttpClient browser, SignInSetup setup, HttpResponseMessage refusal, Totp totp)
    {
        Assert.Equal(HttpStatusCode.SeeOther, refusal.StatusCode);
        var login = HostedFlow.LocalRedirect(refusal)!;
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/login?returnUrl=", login, StringComparison.Ordinal);
        using var password = await HostedFlow.SubmitLoginAsync(browser, login, setup.Email, setup.Password);
        var step = await password.Content.ReadAsStringAsync();
        Assert.Contains("name=\"totp\"", step, StringComparison.Ordinal);
        var form = HostedFlow.HiddenFields(step);
        // The code that confirmed the factor may not be used again: the next time step's.
        form["totp"] = totp.ComputeTotp(DateTime.UtcNow.AddSeconds(30));
        using var verified = await browser.PostAsync($"/t/{setup.Tenant.Slug}/login", new FormUrlEncodedContent(form));
        var back = HostedFlow.LocalRedirect(verified) ?? throw new InvalidOperationException(await verified.Content.ReadAsStringAsync());
        return await HostedFlow.OpenSignedInAsync(browser, setup, back);
    }

    [Fact]
    public async Task ForgedOrMissingAntiforgeryToken_IsRefused()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var page = $"/t/{setup.Tenant.Slug}/account/mfa";
        await HostedFlow.OpenSignedInAsync(browser, setup, page);

        using var response = await browser.PostAsync(page, new FormUrlEncodedContent(new Dictionary<string, string> { ["action"] = "begin" }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain("data-totp-secret", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient browser, string page, string html, string action, string? code = null)
    {
        var form = HostedFlow.HiddenFields(html);
        form["action"] = action;
        if (code is not null)
        {
            form["totp"] = code;
        }

        return browser.PostAsync(page, new FormUrlEncodedContent(form));
    }

    private static string CodesOf(string html) => string.Join(',', Regex.Matches(html, "<li><code>([^<]+)</code>").Select(m => m.Groups[1].Value));

    [GeneratedRegex("<code data-totp-secret>([A-Z2-7]+)</code>")]
    private static partial Regex SecretPattern();
}

/// <summary>The signed-in user's sessions page (<c>/t/{slug}/account/sessions</c>): see them, sign out the others.</summary>
public sealed class SessionsAccountPageTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    [Fact]
    public async Task User_SeesTheirSessions_AndSignsOutAnotherOne_ButNotSomeoneElses()
    {
        var setup = await suite.SetUpAsync();
        var page = $"/t/{setup.Tenant.Slug}/account/sessions";
        using var laptop = suite.Browser();
        using var phone = suite.Browser();
        await HostedFlow.OpenSignedInAsync(phone, setup, page);
        var listing = await HostedFlow.OpenSignedInAsync(laptop, setup, page);
        Assert.Equal(2, Regex.Count(listing, "data-session="));
        Assert.Contains("This browser", listing, StringComparison.Ordinal);
        var phoneSession = Regex.Match(listing, "name=\"session\" value=\"([^\"]+)\"").Groups[1].Value;

        // A made-up or foreign session id changes nothing; the phone's own id signs the phone out.
        var form = HostedFlow.HiddenFields(listing);
        form["session"] = "sess_not-mine";
        using (var foreign = await laptop.PostAsync(page, new FormUrlEncodedContent(form)))
        {
            Assert.Equal(HttpStatusCode.SeeOther, foreign.StatusCode);
        }

        form["session"] = phoneSession;
        using (var revoked = await laptop.PostAsync(page, new FormUrlEncodedContent(form)))
        {
            Assert.Equal(HttpStatusCode.SeeOther, revoked.StatusCode);
        }

        Assert.Equal(1, Regex.Count(await HostedFlow.OpenSignedInAsync(laptop, setup, page), "data-session="));
        using var phoneAgain = await phone.GetAsync(page);
        Assert.Equal(HttpStatusCode.SeeOther, phoneAgain.StatusCode);
        Assert.Contains("/login", phoneAgain.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Page_WithoutASession_SendsTheBrowserToSignIn_AndAPostWithoutCsrfIsRefused()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var page = $"/t/{setup.Tenant.Slug}/account/sessions";

        using var response = await browser.GetAsync(page);
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        using var forged = await browser.PostAsync(page, new FormUrlEncodedContent(new Dictionary<string, string> { ["action"] = "revoke-others" }));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
    }
}
