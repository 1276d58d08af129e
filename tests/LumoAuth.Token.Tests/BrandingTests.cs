using System.Net;
using System.Net.Http.Json;
using LumoAuth.Admin.Data;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Tenant branding from admin's settings on the hosted pages: name, colour and logo shown, the logo's origin
/// the only image source in the CSP, hostile values neutralised, and a settings change seen after admin's event.
/// </summary>
[Collection(SharedTokenSuite.Name)]
public sealed class BrandingTests(TokenSuite suite)
{
    private async Task PutBrandingAsync(LumoAuth.Testing.TestTenant tenant, object branding)
    {
        using var admin = suite.Admin.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/settings", new { branding }));
    }

    /// <summary>Writes the settings document directly, as an older version or a bad migration could have left it.</summary>
    private async Task WriteRawSettingsAsync(Guid tenantId, string json)
    {
        await using var scope = suite.Admin.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        await db.Tenants.Where(t => t.Id == tenantId).ExecuteUpdateAsync(s => s.SetProperty(t => t.Settings, json));
    }

    private async Task<(HttpResponseMessage Page, string Html)> LoginPageAsync(LumoAuth.Testing.TestTenant tenant)
    {
        using var browser = suite.Browser();
        var page = await browser.GetAsync($"/t/{tenant.Slug}/login");
        return (page, await page.Content.ReadAsStringAsync());
    }

    private static string Csp(HttpResponseMessage page) => page.Headers.GetValues("Content-Security-Policy").Single();

    [Fact]
    public async Task LoginPage_ShowsTheTenantsNameColourAndLogo()
    {
        var setup = await suite.SetUpAsync();
        await PutBrandingAsync(setup.Tenant, new { displayName = "Acme & Sons", logoUrl = "https://cdn.acme.example/brand/logo.svg", primaryColor = "#0a7f3c" });

        var (page, html) = await LoginPageAsync(setup.Tenant);

        using (page)
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("<p class=\"brand-name\">Acme &amp; Sons</p>", html, StringComparison.Ordinal);
            Assert.Contains("<img class=\"logo\" src=\"https://cdn.acme.example/brand/logo.svg\"", html, StringComparison.Ordinal);
            Assert.Contains("button{background:#0a7f3c", html, StringComparison.Ordinal);
            var csp = Csp(page);
            Assert.Contains("img-src https://cdn.acme.example;", csp, StringComparison.Ordinal);
            Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
            Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task HostedPages_HostileBranding_IsNeutralised()
    {
        var setup = await suite.SetUpAsync();
        // The admin API refuses such a logo and colour; the page must not rely on that.
        await WriteRawSettingsAsync(setup.Tenant.Id,
            """{"branding":{"displayName":"\"><script>alert(1)</script>","logoUrl":"javascript:alert(1)","primaryColor":"red;}body{background:url(https://evil.example/x)"}}""");

        var (page, html) = await LoginPageAsync(setup.Tenant);

        using (page)
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            // Our own passkey script is the one script the page loads.
            var ownScript = $"<script src=\"/t/{setup.Tenant.Slug}/webauthn/passkeys.js\"></script>";
            Assert.Contains(ownScript, html, StringComparison.Ordinal);
            Assert.DoesNotContain("<script", html.Replace(ownScript, string.Empty, StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
            Assert.Contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;", html, StringComparison.Ordinal);
            Assert.DoesNotContain("javascript:", html, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("<img", html, StringComparison.Ordinal);
            Assert.DoesNotContain("evil.example", html, StringComparison.Ordinal);
            var csp = Csp(page);
            Assert.DoesNotContain("img-src", csp, StringComparison.Ordinal);
            Assert.DoesNotContain("evil", csp, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("http://cdn.example.com/logo.png")]
    [InlineData("http://127.0.0.1:8080/logo.png")]
    [InlineData("https://user:pass@cdn.example.com/logo.png")]
    [InlineData("data:image/svg+xml;base64,PHN2Zz4=")]
    public async Task HostedPages_LogoThatIsNotHttps_IsLeftOut(string logo)
    {
        var setup = await suite.SetUpAsync();
        await WriteRawSettingsAsync(setup.Tenant.Id, System.Text.Json.JsonSerializer.Serialize(new { branding = new { logoUrl = logo } }));

        var (page, html) = await LoginPageAsync(setup.Tenant);

        using (page)
        {
            Assert.DoesNotContain("<img", html, StringComparison.Ordinal);
            Assert.DoesNotContain("img-src", Csp(page), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ErrorConsentAndLogoutPages_CarryTheBranding()
    {
        var setup = await suite.SetUpAsync();
        await PutBrandingAsync(setup.Tenant, new { displayName = "Brandy Co", logoUrl = "https://img.brandy.example/l.png" });
        using var browser = suite.Browser();

        // Error page: an unknown client never redirects.
        using var error = await browser.GetAsync($"{setup.Tenant.Api}/oauth/authorize?response_type=code&client_id=nope&redirect_uri=https%3A%2F%2Fx.example%2Fcb");
        var errorHtml = await error.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Contains("Brandy Co", errorHtml, StringComparison.Ordinal);

        // Consent page, after signing in.
        var (_, challenge) = HostedFlow.Pkce();
        using var first = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge));
        using var login = await HostedFlow.SubmitLoginAsync(browser, HostedFlow.LocalRedirect(first)!, setup.Email, setup.Password);
        using var consent = await browser.GetAsync(HostedFlow.LocalRedirect(login)!);
        var consentHtml = await consent.Content.ReadAsStringAsync();
        Assert.Contains("consent_decision", consentHtml, StringComparison.Ordinal);
        Assert.Contains("src=\"https://img.brandy.example/l.png\"", consentHtml, StringComparison.Ordinal);
        Assert.Contains("img-src https://img.brandy.example", Csp(consent), StringComparison.Ordinal);

        // Logout confirmation.
        using var logout = await browser.GetAsync($"{setup.Tenant.Api}/oauth/logout");
        var logoutHtml = await logout.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, logout.StatusCode);
        Assert.Contains("Brandy Co", logoutHtml, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostedPages_BrandingChange_IsSeenAfterAdminsEvent()
    {
        var setup = await suite.SetUpAsync();
        await PutBrandingAsync(setup.Tenant, new { displayName = "Before Rename" });
        var (first, before) = await LoginPageAsync(setup.Tenant);
        first.Dispose();
        Assert.Contains("Before Rename", before, StringComparison.Ordinal);

        await PutBrandingAsync(setup.Tenant, new { displayName = "After Rename" });

        // The cache holds the old name until TenantSettingsChanged arrives over RabbitMQ.
        var after = await ApiAssert.EventuallyAsync(async () =>
        {
            var (page, html) = await LoginPageAsync(setup.Tenant);
            page.Dispose();
            return html.Contains("After Rename", StringComparison.Ordinal) ? html : null;
        });
        Assert.DoesNotContain("Before Rename", after, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostedPages_AnotherTenantsBranding_NeverShows()
    {
        var branded = await suite.SetUpAsync();
        var plain = await suite.SetUpAsync();
        await PutBrandingAsync(branded.Tenant, new { displayName = "Only Mine", logoUrl = "https://only.mine.example/logo.png" });

        var (page, html) = await LoginPageAsync(plain.Tenant);

        using (page)
        {
            Assert.DoesNotContain("Only Mine", html, StringComparison.Ordinal);
            Assert.DoesNotContain("only.mine.example", html + Csp(page), StringComparison.Ordinal);
            Assert.Contains($"Tenant {plain.Tenant.Slug}", html, StringComparison.Ordinal);
        }
    }
    [Theory]
    [InlineData("http://[::1]:8080/logo.png", true, "http://[::1]:8080")]
    [InlineData("http://localhost:5000/logo.png", true, "http://localhost:5000")]
    [InlineData("http://localhost:5000/logo.png", false, null)]
    [InlineData("http://cdn.example.com/logo.png", true, null)]
    [InlineData("https://bücher.example/logo.png", false, "https://xn--bcher-kva.example")]
    [InlineData("https://cdn.example.com:8443/a/b.png", false, "https://cdn.example.com:8443")]
    public void LogoOrigin_IsAValidCspSource_OnlyForAllowedLogos(string logo, bool development, string? origin)
    {
        var branding = LumoAuth.Token.Features.Branding.PageBranding.From(
            new LumoAuth.Contracts.Internal.HostedPageSettings(true, null, logo, "#abc"), "Tenant", development);

        Assert.Equal(origin, branding.LogoOrigin);
        Assert.Equal("#abc", branding.PrimaryColor);
        Assert.Equal("Tenant", branding.DisplayName);
    }
}
