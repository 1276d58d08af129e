using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>A token service whose admin mails through a local SMTP receiver.</summary>
public sealed class MailingSuite : TokenSuite
{
    private MailingSuite(SmtpReceiver smtp)
        : base(new AdminFactory { ExtraSettings = smtp.AdminSettings() }) => Smtp = smtp;

    public MailingSuite()
        : this(SmtpReceiver.Start())
    {
    }

    public SmtpReceiver Smtp { get; }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Smtp.DisposeAsync();
    }
}

/// <summary>
/// The hosted sign-in's second step by e-mailed code, through the gateway: the page says where the code went and offers a
/// new one, the mailed code completes the sign-in (an MFA session), and the account page turns the method on and off.
/// </summary>
public sealed partial class EmailCodeLoginTests(MailingSuite suite) : IClassFixture<MailingSuite>
{
    [Fact]
    public async Task Login_WithEmailCodes_MailsACode_ThatCompletesTheSignIn_AndOffersANewOne()
    {
        var setup = await SetUpAsync(required: true);
        using var browser = suite.Browser();
        var returnUrl = HostedFlow.AuthorizeUrl(setup, HostedFlow.Pkce().Challenge);

        using var first = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login?returnUrl={Uri.EscapeDataString(returnUrl)}", setup.Email, setup.Password);
        var html = await first.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Contains("We sent a sign-in code to <strong>", html, StringComparison.Ordinal);
        Assert.Contains("data-resend", html, StringComparison.Ordinal);
        Assert.DoesNotContain(setup.Email, html, StringComparison.Ordinal);
        var code = await CodeMailedAsync(setup.Email, 1);

        // A wrong code keeps the step; "Send a new code" within 30 seconds mails nothing more.
        using var wrong = await SubmitAsync(browser, CodeForm(html), code == "000000" ? "000001" : "000000");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains("Enter the newest code we sent you", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var resend = await SubmitAsync(browser, ResendForm(html), code: null);
        Assert.Equal(HttpStatusCode.OK, resend.StatusCode);
        Assert.Single(suite.Smtp.To(setup.Email, "mfa_code"));

        // The code works once its mail's transaction has committed.
        var signedIn = await ApiAssert.EventuallyAsync(async () =>
        {
            var response = await SubmitAsync(browser, CodeForm(html), code);
            if (response.StatusCode == HttpStatusCode.SeeOther)
            {
                return response;
            }

            response.Dispose();
            return null;
        });
        using (signedIn)
        {
            Assert.StartsWith($"/t/{setup.Tenant.Slug}/api/v1/oauth/authorize?", signedIn.Headers.Location!.OriginalString, StringComparison.Ordinal);
        }

        using var sessions = suite.Token.CreateClient();
        sessions.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var listed = await HttpAssert.JsonAsync(await sessions.GetAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/sessions"), HttpStatusCode.OK);
        Assert.True(listed.GetProperty("data")[0].GetProperty("mfaVerified").GetBoolean());
    }

    [Fact]
    public async Task AccountPage_TurnsEmailCodesOn_ShowingBackupCodesOnce_AndOff()
    {
        var setup = await SetUpAsync(required: false);
        using var browser = suite.Browser();
        await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, HostedFlow.Pkce().Challenge));
        var page = await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/account/mfa");
        Assert.Contains("Email me a code at each sign-in", page, StringComparison.Ordinal);

        using var on = await SubmitAsync(browser, ActionForm(page, "email-on"), code: null);
        var shown = await on.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, on.StatusCode);
        Assert.Contains("data-backup-codes", shown, StringComparison.Ordinal);
        page = await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/account/mfa");
        Assert.Contains("Stop emailing me codes", page, StringComparison.Ordinal);

        // The first browser's session took no second factor, so it may not turn the codes off now that the user has them.
        var mfaPage = $"/t/{setup.Tenant.Slug}/account/mfa";
        using (var refused = await SubmitAsync(browser, ActionForm(page, "email-off"), code: null))
        {
            Assert.Equal(HttpStatusCode.SeeOther, refused.StatusCode);
            Assert.StartsWith($"/t/{setup.Tenant.Slug}/login", refused.Headers.Location!.OriginalString, StringComparison.Ordinal);
        }

        // A new browser's sign-in now asks for a mailed code; signed in with it, it may.
        using var other = suite.Browser();
        using var login = await HostedFlow.SubmitLoginAsync(other, $"/t/{setup.Tenant.Slug}/login?returnUrl={Uri.EscapeDataString(mfaPage)}", setup.Email, setup.Password);
        var codeStep = await login.Content.ReadAsStringAsync();
        Assert.Contains("We sent a sign-in code to", codeStep, StringComparison.Ordinal);
        var code = await CodeMailedAsync(setup.Email, 1);
        using (await ApiAssert.EventuallyAsync(async () =>
               {
                   var response = await SubmitAsync(other, CodeForm(codeStep), code);
                   if (response.StatusCode == HttpStatusCode.SeeOther)
                   {
                       return response;
                   }

                   response.Dispose();
                   return null;
               }))
        {
        }

        using var off = await SubmitAsync(other, ActionForm(await other.GetStringAsync(mfaPage), "email-off"), code: null);
        Assert.Equal(HttpStatusCode.SeeOther, off.StatusCode);
        Assert.Contains("Email me a code at each sign-in", await other.GetStringAsync(mfaPage), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_WithAnAppAndEmailCodes_SwitchesToAMailedCode()
    {
        var setup = await SetUpAsync(required: false);
        await suite.EnrolTotpAsync(setup);
        using (var admin = suite.Admin.Internal())
        using (var on = await admin.PostAsJsonAsync(LumoAuth.Contracts.Internal.MfaRoutes.EmailCodes(setup.UserId, setup.Tenant.Id), new { }))
        {
            Assert.Equal(HttpStatusCode.Created, on.StatusCode);
        }

        using var browser = suite.Browser();
        using var first = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);
        var appStep = await first.Content.ReadAsStringAsync();
        Assert.Contains("Code from your authenticator app", appStep, StringComparison.Ordinal);
        Assert.Empty(suite.Smtp.To(setup.Email, "mfa_code"));

        using var switched = await SubmitAsync(browser, FormWith(appStep, "data-switch=\"email\""), code: null);
        var emailStep = await switched.Content.ReadAsStringAsync();
        Assert.Contains("We sent a sign-in code to", emailStep, StringComparison.Ordinal);
        Assert.Contains("data-switch=\"totp\"", emailStep, StringComparison.Ordinal);
        var code = await CodeMailedAsync(setup.Email, 1);

        var signedIn = await ApiAssert.EventuallyAsync(async () =>
        {
            using var response = await SubmitAsync(browser, CodeForm(emailStep), code);
            var html = await response.Content.ReadAsStringAsync();
            return html.Contains("You are signed in", StringComparison.Ordinal) ? html : null;
        });
        Assert.NotNull(signedIn);
    }

    /// <summary>A user with a verified address in a tenant that allows codes by e-mail (and, when <paramref name="required"/>, requires a second step).</summary>
    private async Task<SignInSetup> SetUpAsync(bool required)
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        using var verified = await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}", new { emailVerified = true });
        Assert.True(verified.IsSuccessStatusCode, await verified.Content.ReadAsStringAsync());
        using var settings = await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings",
            new { mfaPolicy = new { required, allowedMethods = new[] { "totp", "email" }, gracePeriodDays = 0 } });
        Assert.True(settings.IsSuccessStatusCode, await settings.Content.ReadAsStringAsync());
        return setup;
    }

    private async Task<string> CodeMailedAsync(string address, int count)
    {
        var mail = await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            var mails = suite.Smtp.To(address, "mfa_code");
            return mails.Count >= count ? mails[count - 1] : null;
        }, TimeSpan.FromSeconds(40));
        return CodePattern().Match(mail.Text).Value;
    }

    private static Task<HttpResponseMessage> SubmitAsync(HttpClient browser, string formHtml, string? code) =>
        HostedFlow.SubmitFormAsync(browser, formHtml, code is null ? null : new() { ["totp"] = code });

    private static string ResendForm(string html) => FormWith(html, "data-resend");

    private static string CodeForm(string html) => FormWith(html, "name=\"totp\"");

    private static string ActionForm(string html, string action) => FormWith(html, $"name=\"action\" value=\"{action}\"");

    private static string FormWith(string html, string marker) => HostedFlow.FormWith(html, marker);

    [GeneratedRegex(@"\b[0-9]{6}\b")]
    private static partial Regex CodePattern();
}
