extern alias TokenService;

using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;

namespace LumoAuth.Token.BrowserTests;

/// <summary>
/// A real browser (Debian's Chromium, driven by Playwright) signs a user in to an ASP.NET Core OpenID Connect
/// relying party through the tenant's hosted login and consent pages, sees the user's claims from the ID
/// token and userinfo, and signs out again through RP-initiated logout.
/// </summary>
public sealed class HostedLoginBrowserTests(BrowserSuite suite) : IClassFixture<BrowserSuite>
{
    internal static readonly string[] ChromiumFlags =
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

    /// <param name="pushed">
    /// Whether the relying party pushes its authorization request first (RFC 9126): the handler's default is to do so
    /// whenever discovery names a pushed authorization endpoint; both ways are proven here.
    /// </param>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RelyingParty_SignsInWithCodeAndPkce_Consents_ReadsUserInfo_AndLogsOut(bool pushed)
    {
        var (tenant, email, password, userId) = await TenantWithUserAsync();
        await using var rp = await RelyingPartyAsync(tenant, pushed ? Microsoft.AspNetCore.Authentication.OpenIdConnect.PushedAuthorizationBehavior.Require
            : Microsoft.AspNetCore.Authentication.OpenIdConnect.PushedAuthorizationBehavior.Disable);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync();

        await page.GotoAsync(rp.BaseUrl + "/");
        Assert.StartsWith($"{suite.GatewayBaseUrl}/t/{tenant.Slug}/login", page.Url, StringComparison.Ordinal);
        // The way back to the authorization endpoint carries the request itself, or only its request_uri.
        var returnUrl = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(new Uri(page.Url).Query)["returnUrl"].ToString();
        Assert.Equal(pushed, returnUrl.Contains("request_uri=", StringComparison.Ordinal));
        Assert.Equal(!pushed, returnUrl.Contains("code_challenge=", StringComparison.Ordinal));
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("button[value=accept]");
        Assert.Contains("Browser RP", await page.ContentAsync(), StringComparison.Ordinal);
        await page.ClickAsync("button[value=accept]");
        await page.WaitForSelectorAsync("#who");

        Assert.StartsWith(rp.BaseUrl, page.Url, StringComparison.Ordinal);
        Assert.Equal($"{email}|{userId}|Bob Browser", await page.InnerTextAsync("#who"));

        await page.GotoAsync(rp.BaseUrl + "/logout");
        await page.WaitForSelectorAsync("#out");
        Assert.Equal(rp.BaseUrl + "/signed-out", page.Url);

        // The SSO session is gone too: the next visit asks for the password again.
        await page.GotoAsync(rp.BaseUrl + "/");
        Assert.StartsWith($"{suite.GatewayBaseUrl}/t/{tenant.Slug}/login", page.Url, StringComparison.Ordinal);
    }

    /// <summary>
    /// A browser whose language is German gets the hosted pages in German through the gateway, and the sign-in works
    /// the same: the words change, not the forms.
    /// </summary>
    [Fact]
    public async Task ABrowserInGerman_SignsInThroughGermanPages()
    {
        var (tenant, email, password, userId) = await TenantWithUserAsync();
        await using var rp = await RelyingPartyAsync(tenant, Microsoft.AspNetCore.Authentication.OpenIdConnect.PushedAuthorizationBehavior.Disable);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { Locale = "de-DE" });
        var german = TokenService::LumoAuth.Token.Features.Localization.PageCatalogue.For("de");

        await page.GotoAsync(rp.BaseUrl + "/");
        Assert.StartsWith($"{suite.GatewayBaseUrl}/t/{tenant.Slug}/login", page.Url, StringComparison.Ordinal);
        Assert.Equal("de", await page.GetAttributeAsync("html", "lang"));
        Assert.Equal(german["Sign in"], (await page.InnerTextAsync("form button[type=submit]")).Trim());
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("button[value=accept]");
        Assert.Equal(german["Allow access?"], (await page.InnerTextAsync("h1")).Trim());
        Assert.Equal(german["Allow"], (await page.InnerTextAsync("button[value=accept]")).Trim());
        await page.ClickAsync("button[value=accept]");
        await page.WaitForSelectorAsync("#who");

        Assert.Equal($"{email}|{userId}|Bob Browser", await page.InnerTextAsync("#who"));
    }

    [Fact]
    public async Task ABrowserInArabic_GetsPagesLaidOutRightToLeft_AndSignsIn()
    {
        var (tenant, email, password, _) = await TenantWithUserAsync();
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { Locale = "ar-EG" });
        var arabic = TokenService::LumoAuth.Token.Features.Localization.PageCatalogue.For("ar");

        await page.GotoAsync($"{suite.GatewayBaseUrl}/t/{tenant.Slug}/login");
        Assert.Equal("ar", await page.GetAttributeAsync("html", "lang"));
        Assert.Equal("rtl", await page.EvaluateAsync<string>("() => getComputedStyle(document.querySelector('main')).direction"));
        Assert.Equal(arabic["Sign in"], (await page.InnerTextAsync("form button[type=submit]")).Trim());
        // Laid out from the right: a label starts at the right edge of the form, not the left.
        var (labelRight, formRight) = (await page.EvaluateAsync<double>("() => document.querySelector('label').getBoundingClientRect().right"),
            await page.EvaluateAsync<double>("() => document.querySelector('form').getBoundingClientRect().right"));
        Assert.InRange(formRight - labelRight, 0, 2);

        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync($"h1:has-text('{arabic["You are signed in"]}')");
        Assert.Equal("rtl", await page.GetAttributeAsync("html", "dir"));
    }

    private async Task<(LumoAuth.Testing.TestTenant Tenant, string Email, string Password, Guid UserId)> TenantWithUserAsync()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        const string password = "Corr3ct-Horse-Battery!";
        var email = $"bob-{Guid.NewGuid():N}"[..12] + "@example.com";
        var userId = await suite.Admin.CreateUserAsync(tenant, email, password, "Bob Browser");
        return (tenant, email, password, userId);
    }

    /// <summary>An ASP.NET Core OpenID Connect relying party on loopback, registered as a web client of the tenant.</summary>
    private async Task<RelyingParty> RelyingPartyAsync(LumoAuth.Testing.TestTenant tenant, Microsoft.AspNetCore.Authentication.OpenIdConnect.PushedAuthorizationBehavior pushing)
    {
        var rpPort = LumoAuth.Testing.LoopbackApp.FreePort();
        var rpBase = $"http://127.0.0.1:{rpPort}";
        using var admin = suite.Public();
        admin.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        using var created = await admin.PostAsJsonAsync($"{tenant.Api}/admin/clients", new
        {
            name = "Browser RP",
            applicationType = "web",
            redirectUris = new[] { RelyingParty.RedirectUri(rpBase) },
            postLogoutRedirectUris = new[] { RelyingParty.PostLogoutRedirectUri(rpBase) },
            grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid", "profile", "email" },
            requiresPkce = true,
        });
        var client = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("data");
        return await RelyingParty.StartAsync(rpPort, $"{suite.GatewayBaseUrl}{tenant.Api}",
            client.GetProperty("clientId").GetString()!, client.GetProperty("secret").GetString()!, pushing);
    }

    private static Task<IBrowser> LaunchAsync(IPlaywright playwright) =>
        playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("LUMOAUTH_CHROMIUM") ?? "/usr/bin/chromium",
            Headless = true,
            Args = ChromiumFlags,
        });
}
