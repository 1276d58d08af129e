using System.Net;
using System.Net.Http.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>A token service whose admin texts through a local <see cref="SmsReceiver"/>.</summary>
public sealed class TextingSuite : TokenSuite
{
    private TextingSuite(SmsReceiver sms)
        : base(new AdminFactory { ExtraSettings = sms.AdminSettings() }) => Sms = sms;

    public TextingSuite()
        : this(SmsReceiver.Start())
    {
    }

    public SmsReceiver Sms { get; }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Sms.DisposeAsync();
    }
}

/// <summary>Codes by text message on the hosted pages: the account page adds a phone (its first code confirms it), and sign-ins then ask for a texted code.</summary>
public sealed class SmsLoginTests(TextingSuite suite) : IClassFixture<TextingSuite>
{
    [Fact]
    public async Task AccountPage_AddsAPhone_ThenANewBrowsersSignInAsksForATextedCode()
    {
        var setup = await suite.SetUpAsync();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        using (var settings = await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { mfaPolicy = new { allowedMethods = new[] { "totp", "sms" } } }))
        {
            Assert.True(settings.IsSuccessStatusCode, await settings.Content.ReadAsStringAsync());
        }

        const string phone = "+14155550177";
        using var browser = suite.Browser();
        await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, HostedFlow.Pkce().Challenge));
        var page = await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/account/mfa");
        Assert.Contains("Codes by text message", page, StringComparison.Ordinal);

        using var wrongNumber = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(page, "value=\"sms-begin\""), new() { ["phone"] = "555-0177" });
        Assert.Equal(HttpStatusCode.BadRequest, wrongNumber.StatusCode);
        using var begun = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(page, "value=\"sms-begin\""), new() { ["phone"] = "+1 415 555 0177" });
        var confirmPage = await begun.Content.ReadAsStringAsync();
        Assert.Contains("your phone ending <strong>•••0177</strong>", WebUtility.HtmlDecode(confirmPage), StringComparison.Ordinal);
        using var confirmed = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(confirmPage, "value=\"sms-confirm\""), new() { ["code"] = await suite.Sms.CodeAsync(phone, 1) });
        Assert.Contains("data-backup-codes", await confirmed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("Stop texting me codes", await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/account/mfa"), StringComparison.Ordinal);

        using var other = suite.Browser();
        using var login = await HostedFlow.SubmitLoginAsync(other, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);
        var step = await login.Content.ReadAsStringAsync();
        Assert.Contains("We texted a sign-in code to your phone ending <strong>•••0177</strong>", WebUtility.HtmlDecode(step), StringComparison.Ordinal);
        Assert.DoesNotContain("4155550177", step, StringComparison.Ordinal);
        var code = await suite.Sms.CodeAsync(phone, 2);
        var signedIn = await ApiAssert.EventuallyAsync(async () =>
        {
            using var response = await HostedFlow.SubmitFormAsync(other, HostedFlow.FormWith(step, "name=\"totp\""), new() { ["totp"] = code });
            var html = await response.Content.ReadAsStringAsync();
            return html.Contains("You are signed in", StringComparison.Ordinal) ? html : null;
        });
        Assert.NotNull(signedIn);
    }
}
