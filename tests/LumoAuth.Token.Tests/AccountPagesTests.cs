using System.Net;
using System.Net.Http.Json;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using AdminTenant = LumoAuth.Testing.TestTenant;

namespace LumoAuth.Token.Tests;

/// <summary>
/// The hosted pages behind admin's e-mailed links, through the gateway: forgot password, reset, invitation and
/// e-mail verification. Admin here mails nothing (no SMTP host) and never keeps a raw token, so the tests put a
/// known token's hash where admin's mail consumer would have put the mailed one (as admin's own tests do), and
/// verification tokens come from admin's real token issuer.
/// </summary>
public sealed class AccountPagesTests(AccountPagesSuite suite) : IClassFixture<AccountPagesSuite>
{
    private const string NewPassword = "Fresh-Passw0rd-2026!";

    private static string NewToken() => "tok_" + Guid.NewGuid().ToString("N");

    private async Task<string> SubmitAsync(HttpClient browser, string pageUrl, Dictionary<string, string> fields, HttpStatusCode expected)
    {
        using var page = await browser.GetAsync(pageUrl);
        var html = await page.Content.ReadAsStringAsync();
        Assert.True(page.StatusCode == HttpStatusCode.OK, html);
        var form = HostedFlow.HiddenFields(html);
        foreach (var (key, value) in fields)
        {
            form[key] = value;
        }

        using var response = await browser.PostAsync(pageUrl.Split('?')[0], new FormUrlEncodedContent(form));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        return body;
    }

    /// <summary>
    /// Replaces the hash of the user's pending reset (admin stages it shortly after the forgot-password page's request)
    /// with a known token's.
    /// </summary>
    private async Task<string> MailedResetTokenAsync(Guid userId)
    {
        var token = NewToken();
        await using var scope = suite.Admin.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        var hash = TokenRedemptionEndpoints.HashOf(token);
        await ApiAssert.EventuallyAsync(async () => await db.PasswordResetTokens.IgnoreQueryFilters().Where(t => t.UserId == userId && t.UsedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.TokenHash, hash)) == 1 ? "set" : null);
        return token;
    }

    private async Task<(SignInSetup Setup, string Token)> RequestResetAsync(HttpClient browser)
    {
        var setup = await suite.SetUpAsync();
        await SubmitAsync(browser, $"/t/{setup.Tenant.Slug}/forgot-password", new() { ["email"] = setup.Email }, HttpStatusCode.OK);
        return (setup, await MailedResetTokenAsync(setup.UserId));
    }

    private static string ResetUrl(AdminTenant tenant, string token) => $"/t/{tenant.Slug}{EmailLinkPaths.PasswordReset}?token={token}";

    private static void AssertInvalidLink(string html) => Assert.Contains("data-error=\"invalid_token\"", html, StringComparison.Ordinal);

    [Fact]
    public async Task ForgotPassword_ResetOnThePage_ThenTheHostedLoginTakesTheNewPassword()
    {
        using var browser = suite.Browser();
        var setup = await suite.SetUpAsync();
        using (var page = await browser.GetAsync($"/t/{setup.Tenant.Slug}/login"))
        {
            Assert.Contains($"href=\"/t/{setup.Tenant.Slug}/forgot-password\"", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var sent = await SubmitAsync(browser, $"/t/{setup.Tenant.Slug}/forgot-password", new() { ["email"] = setup.Email.ToUpperInvariant() }, HttpStatusCode.OK);
        Assert.Contains("Check your email", sent, StringComparison.Ordinal);
        var token = await MailedResetTokenAsync(setup.UserId);

        using (var page = await browser.GetAsync(ResetUrl(setup.Tenant, token)))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("no-referrer", page.Headers.GetValues("Referrer-Policy").Single());
            Assert.Contains("frame-ancestors 'none'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
            Assert.Equal(token, HostedFlow.HiddenFields(await page.Content.ReadAsStringAsync())["token"]);
        }

        // The page's own check, then the tenant's policy from admin: the form again each time, the link still good.
        var mismatch = await SubmitAsync(browser, ResetUrl(setup.Tenant, token), new() { ["password"] = NewPassword, ["confirm"] = NewPassword + "x" }, HttpStatusCode.BadRequest);
        Assert.Contains("not the same", mismatch, StringComparison.Ordinal);
        var weak = await SubmitAsync(browser, ResetUrl(setup.Tenant, token), new() { ["password"] = "short", ["confirm"] = "short" }, HttpStatusCode.BadRequest);
        Assert.Contains("Password must be at least", weak, StringComparison.Ordinal);
        Assert.Contains("name=\"token\"", weak, StringComparison.Ordinal);

        var changed = await SubmitAsync(browser, ResetUrl(setup.Tenant, token), new() { ["password"] = NewPassword, ["confirm"] = NewPassword }, HttpStatusCode.OK);
        Assert.Contains("Your password was changed", changed, StringComparison.Ordinal);

        using (var old = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, old.StatusCode);
        }

        using (var login = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", setup.Email, NewPassword))
        {
            Assert.True(login.StatusCode == HttpStatusCode.OK, await login.Content.ReadAsStringAsync());
            Assert.Contains("You are signed in", await login.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Used once: the same link now gets the error page.
        var reused = await SubmitAsync(browser, ResetUrl(setup.Tenant, token), new() { ["password"] = "Another-Passw0rd-9!", ["confirm"] = "Another-Passw0rd-9!" }, HttpStatusCode.BadRequest);
        AssertInvalidLink(reused);

        // The token was in URLs and forms; no log line of the token service has it.
        suite.Logs.AssertNeverLogged(token);
    }

    [Fact]
    public async Task ForgotPassword_UnknownAddress_GetsTheSamePage()
    {
        using var browser = suite.Browser();
        var setup = await suite.SetUpAsync();
        var forgot = $"/t/{setup.Tenant.Slug}/forgot-password";

        var known = await SubmitAsync(browser, forgot, new() { ["email"] = setup.Email }, HttpStatusCode.OK);
        var unknown = await SubmitAsync(browser, forgot, new() { ["email"] = "nobody-" + setup.Email }, HttpStatusCode.OK);
        Assert.Equal(known, unknown);

        var malformed = await SubmitAsync(browser, forgot, new() { ["email"] = "not an address" }, HttpStatusCode.BadRequest);
        Assert.Contains("valid email", malformed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PasswordReset_GarbageOrUnknownToken_ShowsTheErrorPage()
    {
        using var browser = suite.Browser();
        var setup = await suite.SetUpAsync();

        foreach (var garbage in new[] { "", "not%20a%20token", "%3Cscript%3E", new string('a', 1001) })
        {
            using var page = await browser.GetAsync($"/t/{setup.Tenant.Slug}{EmailLinkPaths.PasswordReset}?token={garbage}");
            Assert.Equal(HttpStatusCode.BadRequest, page.StatusCode);
            AssertInvalidLink(await page.Content.ReadAsStringAsync());
        }

        using (var noToken = await browser.GetAsync($"/t/{setup.Tenant.Slug}{EmailLinkPaths.PasswordReset}"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, noToken.StatusCode);
        }

        // Well-formed but never issued: admin refuses it, the page explains.
        var unknown = await SubmitAsync(browser, ResetUrl(setup.Tenant, NewToken()), new() { ["password"] = NewPassword, ["confirm"] = NewPassword }, HttpStatusCode.BadRequest);
        AssertInvalidLink(unknown);
    }

    [Fact]
    public async Task PasswordReset_WithoutTheCsrfField_IsRefused_AndTheLinkStillWorks()
    {
        using var browser = suite.Browser();
        var (setup, token) = await RequestResetAsync(browser);

        using (await browser.GetAsync(ResetUrl(setup.Tenant, token)))
        {
        }

        using (var forged = await browser.PostAsync($"/t/{setup.Tenant.Slug}{EmailLinkPaths.PasswordReset}", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = token, ["password"] = NewPassword, ["confirm"] = NewPassword,
        })))
        {
            Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
            Assert.Contains("did not come from this page", await forged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var forgedRequest = await browser.PostAsync($"/t/{setup.Tenant.Slug}/forgot-password", new FormUrlEncodedContent(new Dictionary<string, string> { ["email"] = setup.Email })))
        {
            Assert.Equal(HttpStatusCode.BadRequest, forgedRequest.StatusCode);
        }

        await SubmitAsync(browser, ResetUrl(setup.Tenant, token), new() { ["password"] = NewPassword, ["confirm"] = NewPassword }, HttpStatusCode.OK);
    }

    [Fact]
    public async Task PasswordReset_AnotherTenantsLink_DoesNothingHere()
    {
        using var browser = suite.Browser();
        var (setup, token) = await RequestResetAsync(browser);
        var other = await suite.SetUpAsync();

        var foreign = await SubmitAsync(browser, ResetUrl(other.Tenant, token), new() { ["password"] = NewPassword, ["confirm"] = NewPassword }, HttpStatusCode.BadRequest);
        AssertInvalidLink(foreign);

        // Nothing was used up: the link still works under its own tenant.
        await SubmitAsync(browser, ResetUrl(setup.Tenant, token), new() { ["password"] = NewPassword, ["confirm"] = NewPassword }, HttpStatusCode.OK);
    }

    /// <summary>
    /// A proven address, or an unverified one of an account an admin made (vouched for): the box decides. Only a
    /// self-registration's first proof ends every session whatever it says (below).
    /// </summary>
    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public async Task PasswordReset_SignsOutEverySession_UnlessTheBoxIsUnticked(bool signOutEverywhere, bool verified)
    {
        using var laptop = suite.Browser();
        var (setup, token) = await RequestResetAsync(laptop);
        if (verified)
        {
            await VerifyAddressAsync(setup);
        }

        using (var signedIn = await HostedFlow.SubmitLoginAsync(laptop, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password))
        {
            Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        }

        // The form offers the choice ticked; a browser sends the box only when it stays ticked.
        using var phone = suite.Browser();
        Assert.Contains("name=\"sign_out_everywhere\" value=\"on\" checked", await phone.GetStringAsync(ResetUrl(setup.Tenant, token)), StringComparison.Ordinal);
        var fields = new Dictionary<string, string> { ["password"] = NewPassword, ["confirm"] = NewPassword };
        if (signOutEverywhere)
        {
            fields["sign_out_everywhere"] = "on";
        }

        using var watch = new LumoAuth.Testing.BusWatch(suite.Admin.Services.GetRequiredService<MassTransit.IBus>());
        var changed = await SubmitAsync(phone, ResetUrl(setup.Tenant, token), fields, HttpStatusCode.OK);
        Assert.Equal(signOutEverywhere, changed.Contains("1 signed-in session was signed out.", StringComparison.Ordinal));

        // The wish is committed with the password too, so the token service ends what came before even if this page could not.
        await ApiAssert.EventuallyAsync(() => Task.FromResult(
            watch.Published<LumoAuth.Contracts.Users.UserPasswordChanged>(m => m.UserId == setup.UserId) is [var published]
                ? published.SignOutEverywhere == signOutEverywhere ? "as asked" : throw new Xunit.Sdk.XunitException("wrong flag")
                : null));
        Assert.DoesNotContain("data-unproven-credentials-removed", changed, StringComparison.Ordinal);
        using var sessions = await laptop.GetAsync($"/t/{setup.Tenant.Slug}/account/sessions");
        Assert.Equal(signOutEverywhere ? HttpStatusCode.SeeOther : HttpStatusCode.OK, sessions.StatusCode);
    }

    /// <summary>
    /// Someone registered the owner's address first (never verified), signed in and set up a second factor. The owner's reset
    /// proves the address: admin removes the factor with the old password, and every session ends even with the box unticked.
    /// </summary>
    [Fact]
    public async Task PasswordReset_FirstProofOfTheAddress_SignsOutEverySession_EvenUnticked_AndSaysWhatWasRemoved()
    {
        using var squatter = suite.Browser();
        var (setup, token) = await RequestResetAsync(squatter);
        await MagicLinkTests.MarkSelfRegisteredAsync(suite, setup);
        using (var signedIn = await HostedFlow.SubmitLoginAsync(squatter, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password))
        {
            Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        }

        await suite.EnrolTotpAsync(setup);
        using var owner = suite.Browser();
        var changed = await SubmitAsync(owner, ResetUrl(setup.Tenant, token), new() { ["password"] = NewPassword, ["confirm"] = NewPassword }, HttpStatusCode.OK);
        Assert.Contains("data-unproven-credentials-removed", changed, StringComparison.Ordinal);
        Assert.Contains("1 signed-in session was signed out.", changed, StringComparison.Ordinal);
        using (var sessions = await squatter.GetAsync($"/t/{setup.Tenant.Slug}/account/sessions"))
        {
            Assert.Equal(HttpStatusCode.SeeOther, sessions.StatusCode);
        }

        Assert.True(await EmailVerifiedAsync(setup));
        // The new password alone signs in: the factor set up before the proof is gone.
        using var login = await HostedFlow.SubmitLoginAsync(owner, $"/t/{setup.Tenant.Slug}/login", setup.Email, NewPassword);
        Assert.Contains("You are signed in", await login.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private async Task VerifyAddressAsync(SignInSetup setup)
    {
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}", new { emailVerified = true }));
    }

    [Fact]
    public async Task Invitation_AcceptedOnThePage_ThenTheInviteeSignsIn_Once()
    {
        using var browser = suite.Browser();
        var setup = await suite.SetUpAsync();
        var email = $"invitee-{Guid.NewGuid():N}"[..16] + "@example.com";
        var token = await InviteAsync(setup.Tenant, email);
        var url = $"/t/{setup.Tenant.Slug}{EmailLinkPaths.Invitation}?token={token}";

        using (var page = await browser.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("no-referrer", page.Headers.GetValues("Referrer-Policy").Single());
        }

        // Another tenant's path: refused, and the invitation is still pending.
        var other = await suite.SetUpAsync();
        AssertInvalidLink(await SubmitAsync(browser, $"/t/{other.Tenant.Slug}{EmailLinkPaths.Invitation}?token={token}",
            new() { ["name"] = "Ivy Invitee", ["password"] = NewPassword, ["confirm"] = NewPassword }, HttpStatusCode.BadRequest));

        var weak = await SubmitAsync(browser, url, new() { ["name"] = "Ivy Invitee", ["password"] = "weak", ["confirm"] = "weak" }, HttpStatusCode.BadRequest);
        Assert.Contains("Ivy Invitee", weak, StringComparison.Ordinal);
        var accepted = await SubmitAsync(browser, url, new() { ["name"] = "Ivy Invitee", ["password"] = NewPassword, ["confirm"] = NewPassword }, HttpStatusCode.OK);
        Assert.Contains("Your account is ready", accepted, StringComparison.Ordinal);

        using (var login = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", email, NewPassword))
        {
            Assert.True(login.StatusCode == HttpStatusCode.OK, await login.Content.ReadAsStringAsync());
        }

        AssertInvalidLink(await SubmitAsync(browser, url, new() { ["password"] = NewPassword, ["confirm"] = NewPassword }, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Invitation_AcceptedWhileRegistrationIsOff_CreatesTheUser()
    {
        // Invitation-only: the tenant's registration switch closes self-service sign-up, never the invitations.
        using var browser = suite.Browser();
        var setup = await suite.SetUpAsync();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            using var closed = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { loginPolicy = new { registrationEnabled = false } });
            Assert.True(closed.IsSuccessStatusCode, await closed.Content.ReadAsStringAsync());
        }

        using (var register = await browser.GetAsync($"/t/{setup.Tenant.Slug}/register"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, register.StatusCode);
            Assert.Contains("data-error=\"registration_disabled\"", await register.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var email = $"only-{Guid.NewGuid():N}"[..13] + "@example.com";
        var token = await InviteAsync(setup.Tenant, email);
        var accepted = await SubmitAsync(browser, $"/t/{setup.Tenant.Slug}{EmailLinkPaths.Invitation}?token={token}",
            new() { ["name"] = "Olive Only", ["password"] = NewPassword, ["confirm"] = NewPassword }, HttpStatusCode.OK);
        Assert.Contains("Your account is ready", accepted, StringComparison.Ordinal);

        using var login = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", email, NewPassword);
        Assert.True(login.StatusCode == HttpStatusCode.OK, await login.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Invitation_ForAnAddressThatGotAnAccountMeanwhile_SaysSo_WithoutCreatingAnother()
    {
        using var browser = suite.Browser();
        var setup = await suite.SetUpAsync();
        var email = $"late-{Guid.NewGuid():N}"[..13] + "@example.com";
        var token = await InviteAsync(setup.Tenant, email);
        await suite.Admin.CreateUserAsync(setup.Tenant, email, "Someone-Else-Passw0rd!");

        var answer = await SubmitAsync(browser, $"/t/{setup.Tenant.Slug}{EmailLinkPaths.Invitation}?token={token}",
            new() { ["password"] = NewPassword, ["confirm"] = NewPassword }, HttpStatusCode.Conflict);
        Assert.Contains("data-error=\"account_exists\"", answer, StringComparison.Ordinal);
        using var login = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", email, NewPassword);
        Assert.Equal(HttpStatusCode.Unauthorized, login.StatusCode);
    }

    [Fact]
    public async Task EmailVerification_OpeningTheLinkChangesNothing_TheButtonVerifies()
    {
        using var browser = suite.Browser();
        var setup = await suite.SetUpAsync();
        var token = suite.Admin.Services.GetRequiredService<EmailVerificationTokens>()
            .Issue(setup.Tenant.Id, setup.UserId, setup.Email.ToLowerInvariant()).Token;
        var url = $"/t/{setup.Tenant.Slug}{EmailLinkPaths.EmailVerification}?token={token}";

        using (var page = await browser.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("no-referrer", page.Headers.GetValues("Referrer-Policy").Single());
        }

        Assert.False(await EmailVerifiedAsync(setup));

        var other = await suite.SetUpAsync();
        AssertInvalidLink(await SubmitAsync(browser, $"/t/{other.Tenant.Slug}{EmailLinkPaths.EmailVerification}?token={token}", new(), HttpStatusCode.BadRequest));
        Assert.False(await EmailVerifiedAsync(setup));

        var verified = await SubmitAsync(browser, url, new(), HttpStatusCode.OK);
        Assert.Contains("Your email address is verified", verified, StringComparison.Ordinal);
        Assert.True(await EmailVerifiedAsync(setup));

        using var garbage = await browser.GetAsync($"/t/{setup.Tenant.Slug}{EmailLinkPaths.EmailVerification}?token=%3Cnope%3E");
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        AssertInvalidLink(await SubmitAsync(browser, $"/t/{setup.Tenant.Slug}{EmailLinkPaths.EmailVerification}?token={NewToken()}", new(), HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task EmailVerification_NewLinkRequest_AnswersTheSameForEveryAddress()
    {
        using var browser = suite.Browser();
        var setup = await suite.SetUpAsync();
        var request = $"/t/{setup.Tenant.Slug}{EmailLinkPaths.EmailVerification}/request";

        var unverified = await SubmitAsync(browser, request, new() { ["email"] = setup.Email }, HttpStatusCode.OK);
        var unknown = await SubmitAsync(browser, request, new() { ["email"] = "nobody-" + setup.Email }, HttpStatusCode.OK);
        Assert.Equal(unverified, unknown);
        Assert.Contains("Check your email", unknown, StringComparison.Ordinal);

        using var forged = await browser.PostAsync(request, new FormUrlEncodedContent(new Dictionary<string, string> { ["email"] = setup.Email }));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
    }

    [Fact]
    public async Task AdminRefusing_ShowsTheUnavailablePage_NeverA500()
    {
        using var browser = suite.Browser();
        var (setup, token) = await RequestResetAsync(browser);
        suite.AdminRefusesLinks = true;
        try
        {
            var request = await SubmitAsync(browser, $"/t/{setup.Tenant.Slug}/forgot-password", new() { ["email"] = setup.Email }, HttpStatusCode.ServiceUnavailable);
            Assert.Contains("data-error=\"temporarily_unavailable\"", request, StringComparison.Ordinal);
            await SubmitAsync(browser, ResetUrl(setup.Tenant, token), new() { ["password"] = NewPassword, ["confirm"] = NewPassword }, HttpStatusCode.ServiceUnavailable);
        }
        finally
        {
            suite.AdminRefusesLinks = false;
        }

        await SubmitAsync(browser, ResetUrl(setup.Tenant, token), new() { ["password"] = NewPassword, ["confirm"] = NewPassword }, HttpStatusCode.OK);
    }

    [Fact]
    public async Task Pages_OfAnUnknownTenant_AreNotFound()
    {
        using var browser = suite.Browser();
        foreach (var path in new[] { "/forgot-password", $"{EmailLinkPaths.PasswordReset}?token=abc", $"{EmailLinkPaths.Invitation}?token=abc", $"{EmailLinkPaths.EmailVerification}?token=abc" })
        {
            using var response = await browser.GetAsync("/t/no-such-tenant" + path);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
    }

    private async Task<bool> EmailVerifiedAsync(SignInSetup setup)
    {
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var user = await ApiAssert.OkAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}"));
        return user["data"]!["emailVerified"]!.GetValue<bool>();
    }

    /// <summary>Invites through admin's API, then gives the invitation a known token's hash (where the mail's would be).</summary>
    private async Task<string> InviteAsync(AdminTenant tenant, string email)
    {
        using var admin = suite.Admin.ClientFor(tenant);
        var created = await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/invitations", new { email }), 201);
        var id = Guid.Parse(created["data"]!["id"]!.GetValue<string>());
        var token = NewToken();
        var hash = TokenRedemptionEndpoints.HashOf(token);
        await using var scope = suite.Admin.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        Assert.Equal(1, await db.Invitations.IgnoreQueryFilters().Where(i => i.Id == id).ExecuteUpdateAsync(s => s.SetProperty(i => i.TokenHash, hash)));
        return token;
    }
}

/// <summary>
/// The usual suite, with a switch that makes admin's link APIs answer
/// 403 (as admin does when the internal key is wrong) while tenant lookups still work.
/// </summary>
public sealed class AccountPagesSuite : TokenSuite
{
    public bool AdminRefusesLinks { get; set; }

    protected override void ConfigureTokenServices(IServiceCollection services)
    {
        services.AddHttpClient(LumoAuth.ServiceDefaults.Http.InternalClients.Admin).AddHttpMessageHandler(() => new RefuseLinks(this));
    }

    private sealed class RefuseLinks(AccountPagesSuite suite) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            suite.AdminRefusesLinks && request.RequestUri!.AbsolutePath is EmailLinkPaths.RequestPasswordReset or EmailLinkPaths.CompletePasswordReset
                ? Task.FromResult(new HttpResponseMessage(HttpStatusCode.Forbidden))
                : base.SendAsync(request, cancellationToken);
    }
}
