using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// The account pages where users change their own account, through the gateway. <c>/account/password</c>: the current
/// password first, the tenant's policy on the new one, the user's other sessions signed out by default, and nothing
/// without a session or a genuine form. <c>/account/profile</c>: the names, saved through admin's rules.
/// </summary>
public sealed partial class SelfServicePageTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private const string NewPassword = "Another-Long-Passphrase-7";

    [Fact]
    public async Task ChangingThePassword_NeedsTheCurrentOne_AppliesThePolicy_AndSignsOutOtherSessions()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        using var elsewhere = suite.Browser();
        await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, HostedFlow.Pkce().Challenge));
        await HostedFlow.SignInAsync(elsewhere, setup, HostedFlow.AuthorizeUrl(setup, HostedFlow.Pkce().Challenge));
        var page = $"/t/{setup.Tenant.Slug}/account/password";

        using (var wrongCurrent = await SubmitAsync(browser, page, "not-my-password", NewPassword))
        {
            Assert.Equal(HttpStatusCode.BadRequest, wrongCurrent.StatusCode);
            Assert.Contains("Current password is not your current password.", await wrongCurrent.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var weak = await SubmitAsync(browser, page, setup.Password, "short"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, weak.StatusCode);
            Assert.Contains("Password ", await weak.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var mismatch = await SubmitAsync(browser, page, setup.Password, NewPassword, confirm: NewPassword + "x"))
        {
            Assert.Contains("The two passwords are not the same.", await mismatch.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var changed = await SubmitAsync(browser, page, setup.Password, NewPassword))
        {
            var html = await changed.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
            Assert.Contains("data-password-changed", html, StringComparison.Ordinal);
            Assert.Contains("Your 1 other session was signed out.", html, StringComparison.Ordinal);
        }

        // Only this browser's session is left; the old password no longer signs in, the new one does.
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var sessions = JsonDocument.Parse(await admin.GetStringAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/sessions")).RootElement.GetProperty("data");
        Assert.Equal(1, sessions.GetArrayLength());
        using (var here = await browser.GetAsync($"/t/{setup.Tenant.Slug}/account/sessions"))
        {
            Assert.Equal(HttpStatusCode.OK, here.StatusCode);
        }

        using (var there = await elsewhere.GetAsync($"/t/{setup.Tenant.Slug}/account/sessions"))
        {
            Assert.Equal(HttpStatusCode.SeeOther, there.StatusCode);
        }

        using var third = suite.Browser();
        using (var old = await HostedFlow.SubmitLoginAsync(third, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, old.StatusCode);
        }

        using var renewed = await HostedFlow.SubmitLoginAsync(third, $"/t/{setup.Tenant.Slug}/login", setup.Email, NewPassword);
        Assert.Equal(HttpStatusCode.OK, renewed.StatusCode);
        Assert.Contains("You are signed in", await renewed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutASession_ThePageSendsToSignIn_AndAForgedFormChangesNothing()
    {
        var setup = await suite.SetUpAsync();
        using var anonymous = suite.Browser();
        var page = $"/t/{setup.Tenant.Slug}/account/password";

        using var shown = await anonymous.GetAsync(page);
        Assert.Equal(HttpStatusCode.SeeOther, shown.StatusCode);
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/login?returnUrl=", shown.Headers.Location!.OriginalString, StringComparison.Ordinal);

        using var browser = suite.Browser();
        await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, HostedFlow.Pkce().Challenge));
        using var forged = await browser.PostAsync(page, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["current"] = setup.Password, ["password"] = NewPassword, ["confirm"] = NewPassword,
        }));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        using var other = suite.Browser();
        using var stillOld = await HostedFlow.SubmitLoginAsync(other, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);
        Assert.Equal(HttpStatusCode.OK, stillOld.StatusCode);
    }

    [Fact]
    public async Task ProfilePage_ShowsTheAccount_AndSavesTheNames()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var page = $"/t/{setup.Tenant.Slug}/account/profile";
        using (var anonymous = suite.Browser())
        using (var toSignIn = await anonymous.GetAsync(page))
        {
            Assert.Equal(HttpStatusCode.SeeOther, toSignIn.StatusCode);
        }

        await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, HostedFlow.Pkce().Challenge));
        var html = await browser.GetStringAsync(page);
        Assert.Contains(setup.Email, html, StringComparison.Ordinal);
        Assert.Contains("value=\"Alice Example\"", html, StringComparison.Ordinal);

        using (var tooLong = await SubmitFormAsync(browser, html, new() { ["name"] = new string('a', 201), ["given_name"] = "", ["family_name"] = "" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        }

        using (var saved = await SubmitFormAsync(browser, html, new() { ["name"] = "Alice Smith", ["given_name"] = "Alice", ["family_name"] = "Smith" }))
        {
            Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
            Assert.Contains("data-saved", await saved.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var user = JsonDocument.Parse(await admin.GetStringAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}")).RootElement.GetProperty("data");
        Assert.Equal("Alice Smith", user.GetProperty("name").GetString());
        Assert.Equal("Smith", user.GetProperty("familyName").GetString());
    }

    private static Task<HttpResponseMessage> SubmitFormAsync(HttpClient browser, string html, Dictionary<string, string> fields)
    {
        var form = HostedFlow.HiddenFields(html);
        foreach (var (name, value) in fields)
        {
            form[name] = value;
        }

        return browser.PostAsync(WebUtility.HtmlDecode(FormAction().Match(html).Groups[1].Value), new FormUrlEncodedContent(form));
    }

    private static async Task<HttpResponseMessage> SubmitAsync(HttpClient browser, string page, string current, string password, string? confirm = null)
    {
        var html = await browser.GetStringAsync(page);
        return await SubmitFormAsync(browser, html, new()
        {
            ["current"] = current, ["password"] = password, ["confirm"] = confirm ?? password, ["sign_out_others"] = "on",
        });
    }

    [GeneratedRegex("<form method=\"post\" action=\"([^\"]+)\"")]
    private static partial Regex FormAction();
}
