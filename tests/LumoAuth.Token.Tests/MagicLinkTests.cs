using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Passwordless sign-in by e-mailed link (TOK-16), Magic-Link-Only, email-first and <c>check-email</c> (TOK-17) on the
/// hosted pages. Admin mails the link; here its token is set by hand, as the mail sender would.
/// </summary>
public sealed class MagicLinkTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    [Fact]
    public async Task LinkFromTheLoginPage_SignsInOnce_AndContinuesTheAuthorization()
    {
        var setup = await TenantAsync(new { magicLinkEnabled = true });
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();
        using var toLogin = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge));
        var loginUrl = HostedFlow.LocalRedirect(toLogin)!;
        var loginPage = await browser.GetStringAsync(loginUrl);
        Assert.Contains("Email me a sign-in link", loginPage, StringComparison.Ordinal);
        Assert.Contains("name=\"password\"", loginPage, StringComparison.Ordinal);
        var returnUrl = HostedFlow.HiddenFields(loginPage)["returnUrl"];

        var inbox = await RequestAsync(browser, setup, setup.Email.ToUpperInvariant(), returnUrl);
        Assert.Contains("Check your inbox", inbox, StringComparison.Ordinal);
        var token = await MailedTokenAsync(setup.UserId);

        // Opening the link uses nothing up (mail scanners fetch links); the button does.
        var confirm = await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/magic-link/verify?token={token}");
        Assert.Contains("Sign in", confirm, StringComparison.Ordinal);
        using (var signedIn = await SubmitAsync(browser, confirm))
        {
            Assert.Equal(returnUrl, HostedFlow.LocalRedirect(signedIn));
        }

        // The session is open: the authorization request now reaches the consent page.
        using (var consent = await browser.GetAsync(returnUrl))
        {
            Assert.Contains("consent_decision", await consent.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var again = await SubmitAsync(browser, confirm);
        Assert.Equal(HttpStatusCode.BadRequest, again.StatusCode);
        Assert.Contains("data-error=\"invalid_token\"", await again.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var login = await suite.AuditEntryAsync(setup, "user_login_succeeded");
        Assert.Contains("email", login.GetProperty("metadata").GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public async Task LinkAskedForByAnotherBrowser_SignsIn_ButDoesNotGoOnWhereThatBrowserSaid()
    {
        // Anyone may ask for a link to anyone's address: the continuation they name (here a device's approval page, RFC 8628
        // §5.4 remote phishing) is not where the mailbox owner lands after clicking the genuine mail.
        var setup = await TenantAsync(new { magicLinkEnabled = true });
        using var requester = suite.Browser();
        var devicePage = $"/t/{setup.Tenant.Slug}/api/v1/oauth/device?user_code=ABCD-EFGH";
        await RequestAsync(requester, setup, setup.Email, devicePage);
        var token = await MailedTokenAsync(setup.UserId);

        using var owner = suite.Browser();
        var confirm = await owner.GetStringAsync($"/t/{setup.Tenant.Slug}/magic-link/verify?token={token}");
        using var signedIn = await SubmitAsync(owner, confirm);

        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        Assert.Contains("You are signed in", await signedIn.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Null(HostedFlow.LocalRedirect(signedIn));
    }

    /// <summary>
    /// Requests for one address closer together than the spacing get the same page but no new link: a flood of requests
    /// for someone's address neither fills their inbox nor keeps replacing the link they are about to use.
    /// </summary>
    [Fact]
    public async Task RepeatedRequests_WithinTheSpacing_KeepTheFirstLink()
    {
        var setup = await TenantAsync(new { magicLinkEnabled = true });
        using var browser = suite.Browser();
        using var watch = WatchAdmin();
        await RequestAsync(browser, setup, setup.Email, null);
        var token = await MailedTokenAsync(setup.UserId);

        for (var i = 0; i < 3; i++)
        {
            Assert.Contains("Check your inbox", await RequestAsync(browser, setup, setup.Email, null), StringComparison.Ordinal);
        }

        await watch.WaitForHandledAsync<AddressLinkRequested>(m => m.TenantId == setup.Tenant.Id, count: 4);
        await using (var scope = suite.Admin.Services.CreateAsyncScope())
        {
            Assert.Equal(1, await scope.ServiceProvider.GetRequiredService<AdminDbContext>().MagicLinkTokens.IgnoreQueryFilters().CountAsync(t => t.UserId == setup.UserId));
        }

        using var signedIn = await SubmitAsync(browser, await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/magic-link/verify?token={token}"));
        Assert.NotEqual(HttpStatusCode.BadRequest, signedIn.StatusCode);
    }

    [Fact]
    public async Task UnknownAddress_GetsTheSamePage_AndNoLink()
    {
        var setup = await TenantAsync(new { magicLinkEnabled = true });
        using var browser = suite.Browser();
        using var watch = WatchAdmin();
        var known = await RequestAsync(browser, setup, setup.Email, null);
        var unknown = await RequestAsync(browser, setup, "nobody@example.com", null);
        Assert.Equal(known.Replace(setup.Email, "X", StringComparison.Ordinal), unknown.Replace("nobody@example.com", "X", StringComparison.Ordinal));

        // Only the newest link of a user works: a second request (once the spacing has passed) replaces the first; within it, keeps it.
        await RequestAsync(browser, setup, setup.Email, null);
        await watch.WaitForHandledAsync<AddressLinkRequested>(m => m.TenantId == setup.Tenant.Id, count: 3);
        await using var scope = suite.Admin.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        Assert.Equal(1, await db.MagicLinkTokens.IgnoreQueryFilters().CountAsync(t => t.TenantId == setup.Tenant.Id));
    }

    [Fact]
    public async Task ExpiredOrForeignLink_DoesNotSignIn()
    {
        var setup = await TenantAsync(new { magicLinkEnabled = true });
        var other = await TenantAsync(new { magicLinkEnabled = true });
        using var browser = suite.Browser();
        await RequestAsync(browser, setup, setup.Email, null);
        var token = await MailedTokenAsync(setup.UserId);

        // Another tenant's page does not take this tenant's link.
        using (var foreign = await SubmitAsync(browser, await browser.GetStringAsync($"/t/{other.Tenant.Slug}/magic-link/verify?token={token}")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, foreign.StatusCode);
        }

        await using (var scope = suite.Admin.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<AdminDbContext>().MagicLinkTokens.IgnoreQueryFilters()
                .Where(t => t.UserId == setup.UserId).ExecuteUpdateAsync(s => s.SetProperty(t => t.ExpiresAt, DateTimeOffset.UtcNow.AddSeconds(-1)));
        }

        using var expired = await SubmitAsync(browser, await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/magic-link/verify?token={token}"));
        Assert.Equal(HttpStatusCode.BadRequest, expired.StatusCode);
    }

    [Theory]
    [InlineData(null, 15)]
    [InlineData(5, 5)]
    public async Task Link_LivesForTheTenantsConfiguredMinutes_FifteenByDefault(int? configured, int minutes)
    {
        var setup = await TenantAsync(configured is { } m ? (object)new { magicLinkEnabled = true, magicLinkExpiryMinutes = m } : new { magicLinkEnabled = true });
        using var browser = suite.Browser();
        await RequestAsync(browser, setup, setup.Email, null);

        await using var scope = suite.Admin.Services.CreateAsyncScope();
        var links = scope.ServiceProvider.GetRequiredService<AdminDbContext>().MagicLinkTokens.IgnoreQueryFilters();
        var link = await ApiAssert.EventuallyAsync(() => links.AsNoTracking().SingleOrDefaultAsync(t => t.UserId == setup.UserId));
        Assert.Equal(TimeSpan.FromMinutes(minutes), link.ExpiresAt - link.CreatedAt);
    }

    /// <summary>
    /// The factor is the owner's when the address was proven before, and also when an admin made the account (verified or
    /// not: the admin vouched for it). Only a self-registration's first link removes it instead (below).
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task UserWithTotp_IsAskedForTheCode_BeforeTheLinkSignsIn(bool verified)
    {
        var setup = await TenantAsync(new { magicLinkEnabled = true });
        var totp = await suite.EnrolTotpAsync(setup);
        if (verified)
        {
            await VerifyAddressAsync(setup);
        }

        using var browser = suite.Browser();
        await RequestAsync(browser, setup, setup.Email, null);
        var token = await MailedTokenAsync(setup.UserId);

        using var asked = await SubmitAsync(browser, await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/magic-link/verify?token={token}"));
        var codeForm = await asked.Content.ReadAsStringAsync();
        Assert.Contains("name=\"totp\"", codeForm, StringComparison.Ordinal);
        using (var wrong = await SubmitAsync(browser, codeForm, new() { ["totp"] = "000000" }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using var right = await SubmitAsync(browser, codeForm, new() { ["totp"] = totp.ComputeTotp(DateTime.UtcNow.AddSeconds(30)) });
        Assert.Contains("You are signed in", await right.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var user = JsonDocument.Parse(await admin.GetStringAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}")).RootElement.GetProperty("data");
        Assert.True(user.GetProperty("mfaEnabled").GetBoolean());
        Assert.True(user.GetProperty("emailVerified").GetBoolean());
    }

    /// <summary>
    /// Someone registered the owner's address first (never verified), signed in and set up a second factor. The owner's first
    /// link is not asked for it: admin removes everything the account got before, and the other sessions end.
    /// </summary>
    [Fact]
    public async Task FirstLinkToAnUnprovenAddress_SignsInWithoutTheFactorsSetUpBefore_AndEndsTheOtherSessions()
    {
        var setup = await TenantAsync(new { magicLinkEnabled = true });
        await MarkSelfRegisteredAsync(suite, setup);
        using var squatter = suite.Browser();
        using (var signedIn = await HostedFlow.SubmitLoginAsync(squatter, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password))
        {
            Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        }

        await suite.EnrolTotpAsync(setup);
        using var owner = suite.Browser();
        await RequestAsync(owner, setup, setup.Email, null);
        var token = await MailedTokenAsync(setup.UserId);

        using var signIn = await SubmitAsync(owner, await owner.GetStringAsync($"/t/{setup.Tenant.Slug}/magic-link/verify?token={token}"));
        var page = await signIn.Content.ReadAsStringAsync();
        Assert.Contains("You are signed in", page, StringComparison.Ordinal);
        Assert.DoesNotContain("name=\"totp\"", page, StringComparison.Ordinal);
        using (var ownerSessions = await owner.GetAsync($"/t/{setup.Tenant.Slug}/account/sessions"))
        {
            Assert.Equal(HttpStatusCode.OK, ownerSessions.StatusCode);
        }

        using (var squatterSessions = await squatter.GetAsync($"/t/{setup.Tenant.Slug}/account/sessions"))
        {
            Assert.Equal(HttpStatusCode.SeeOther, squatterSessions.StatusCode);
        }

        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var user = JsonDocument.Parse(await admin.GetStringAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}")).RootElement.GetProperty("data");
        Assert.False(user.GetProperty("mfaEnabled").GetBoolean());
        Assert.True(user.GetProperty("emailVerified").GetBoolean());
    }

    /// <summary>The same link to a proven address leaves the factor and the other sessions alone (it asks for the code).</summary>
    [Fact]
    public async Task LinkToAProvenAddress_KeepsTheOtherSessions()
    {
        var setup = await TenantAsync(new { magicLinkEnabled = true });
        await VerifyAddressAsync(setup);
        using var laptop = suite.Browser();
        using (var signedIn = await HostedFlow.SubmitLoginAsync(laptop, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password))
        {
            Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        }

        using var phone = suite.Browser();
        await RequestAsync(phone, setup, setup.Email, null);
        var token = await MailedTokenAsync(setup.UserId);
        using var signIn = await SubmitAsync(phone, await phone.GetStringAsync($"/t/{setup.Tenant.Slug}/magic-link/verify?token={token}"));
        Assert.Contains("You are signed in", await signIn.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var sessions = await laptop.GetAsync($"/t/{setup.Tenant.Slug}/account/sessions");
        Assert.Equal(HttpStatusCode.OK, sessions.StatusCode);
    }

    /// <summary>Makes the account one its user registered themselves (as the hosted sign-up does), never proven since.</summary>
    internal static async Task MarkSelfRegisteredAsync(TokenSuite suite, SignInSetup setup)
    {
        await using var scope = suite.Admin.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<AdminDbContext>().Users.IgnoreQueryFilters().Where(u => u.Id == setup.UserId)
            .ExecuteUpdateAsync(s => s.SetProperty(u => u.SelfRegisteredUnproven, true));
    }

    private async Task VerifyAddressAsync(SignInSetup setup)
    {
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        using var verified = await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}", new { emailVerified = true });
        Assert.True(verified.IsSuccessStatusCode, await verified.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task MagicLinkOnly_HidesThePassword_AndRefusesIt()
    {
        var setup = await TenantAsync(new { magicLinkOnly = true });
        using var browser = suite.Browser();
        var page = await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/login");
        Assert.DoesNotContain("name=\"password\"", page, StringComparison.Ordinal);
        Assert.Contains("Email me a sign-in link", page, StringComparison.Ordinal);

        var form = HostedFlow.HiddenFields(page);
        form["email"] = setup.Email;
        form["password"] = setup.Password;
        using var refused = await browser.PostAsync($"/t/{setup.Tenant.Slug}/login", new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("does not use passwords", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LinksOff_ByDefault()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        Assert.DoesNotContain("sign-in link", await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/login"), StringComparison.Ordinal);
        using var request = await browser.PostAsync($"/t/{setup.Tenant.Slug}/magic-link", new FormUrlEncodedContent(new Dictionary<string, string> { ["email"] = setup.Email }));
        Assert.Equal(HttpStatusCode.NotFound, request.StatusCode);
        using var check = await browser.PostAsync($"/t/{setup.Tenant.Slug}/check-email", new FormUrlEncodedContent(new Dictionary<string, string> { ["email"] = setup.Email }));
        Assert.Equal(HttpStatusCode.NotFound, check.StatusCode);
    }

    [Fact]
    public async Task EmailFirst_AsksForTheAddress_ThenShowsWhatFits_AndCheckEmailAnswers()
    {
        var setup = await TenantAsync(new { emailFirstLogin = true, magicLinkEnabled = true });
        using var browser = suite.Browser();
        var first = await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/login");
        Assert.Contains("name=\"login_hint\"", first, StringComparison.Ordinal);
        Assert.DoesNotContain("name=\"password\"", first, StringComparison.Ordinal);

        var known = await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/login?login_hint={Uri.EscapeDataString(setup.Email)}");
        Assert.Contains("name=\"password\"", known, StringComparison.Ordinal);
        Assert.Contains("Email me a sign-in link", known, StringComparison.Ordinal);
        var unknown = await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/login?login_hint=nobody%40example.com");
        Assert.Contains("There is no account", unknown, StringComparison.Ordinal);

        async Task<HttpResponseMessage> CheckAsync(string email) =>
            await browser.PostAsync($"/t/{setup.Tenant.Slug}/check-email", new FormUrlEncodedContent(new Dictionary<string, string> { ["email"] = email }));
        using (var exists = await CheckAsync(setup.Email))
        {
            Assert.True((await HttpAssert.JsonAsync(exists, HttpStatusCode.OK)).GetProperty("exists").GetBoolean());
        }

        using (var missing = await CheckAsync("nobody@example.com"))
        {
            Assert.False((await HttpAssert.JsonAsync(missing, HttpStatusCode.OK)).GetProperty("exists").GetBoolean());
        }

        using (var invalid = await CheckAsync("not an address"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        }

        // An oracle for addresses, so it shares the login page's limit (per tenant and address).
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 35; i++)
        {
            using var response = await CheckAsync($"guess{i}@example.com");
            statuses.Add(response.StatusCode);
        }

        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
    }

    private async Task<SignInSetup> TenantAsync(object loginPolicy)
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        using var response = await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { loginPolicy });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return setup;
    }

    private static async Task<string> RequestAsync(HttpClient browser, SignInSetup setup, string email, string? returnUrl)
    {
        var form = new Dictionary<string, string> { ["email"] = email };
        if (returnUrl is not null)
        {
            form["returnUrl"] = returnUrl;
        }

        using var response = await browser.PostAsync($"/t/{setup.Tenant.Slug}/magic-link", new FormUrlEncodedContent(form));
        var html = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, html);
        return html;
    }

    /// <summary>Sets the hash of the user's pending link (admin stages it shortly after the request) to a known token's, as the mail sender does.</summary>
    private async Task<string> MailedTokenAsync(Guid userId)
    {
        var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
        await using var scope = suite.Admin.Services.CreateAsyncScope();
        var hash = TokenRedemptionEndpoints.HashOf(token);
        var links = scope.ServiceProvider.GetRequiredService<AdminDbContext>().MagicLinkTokens.IgnoreQueryFilters();
        await ApiAssert.EventuallyAsync(async () =>
            await links.Where(t => t.UserId == userId && t.UsedAt == null).ExecuteUpdateAsync(s => s.SetProperty(t => t.TokenHash, hash)) == 1 ? "set" : null);
        return token;
    }

    private BusWatch WatchAdmin() => new(suite.Admin.Services.GetRequiredService<MassTransit.IBus>());

    private static async Task<HttpResponseMessage> SubmitAsync(HttpClient browser, string html, Dictionary<string, string>? fields = null)
    {
        var form = HostedFlow.HiddenFields(html);
        foreach (var (name, value) in fields ?? [])
        {
            form[name] = value;
        }

        var action = System.Text.RegularExpressions.Regex.Match(html, "<form method=\"post\" action=\"([^\"]+)\"").Groups[1].Value;
        return await browser.PostAsync(WebUtility.HtmlDecode(action), new FormUrlEncodedContent(form));
    }
}
