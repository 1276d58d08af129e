extern alias TokenService;

using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.Testing;
using LumoAuth.Token.Data;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using AdminTenant = LumoAuth.Testing.TestTenant;

namespace LumoAuth.Token.Tests.Support;

/// <summary>
/// The token service beside a real admin service: tenants, API keys, users, passwords and profiles are
/// admin's, reached over the internal API as in production. They share a messaging prefix, so admin's user
/// events reach the token service.
/// </summary>
public class TokenSuite : IAsyncLifetime
{
    public TokenSuite()
        : this(new AdminFactory())
    {
    }

    /// <summary>With an admin of the suite's own (e.g. one that sends mail); xUnit needs fixtures to have one public constructor.</summary>
    protected TokenSuite(AdminFactory admin) => Admin = admin;

    public AdminFactory Admin { get; }

    public AdminBackedTokenFactory Token { get; private set; } = null!;

    private volatile bool _adminDown;

    /// <summary>Cuts the token service's link to admin: every call to admin then fails to connect, as in an outage.</summary>
    public void CutAdmin() => _adminDown = true;

    public void RestoreAdmin() => _adminDown = false;

    /// <summary>Every log line of the token service (to prove that codes, tokens and hints never reach a log).</summary>
    public RecordingLoggerProvider Logs { get; } = new();

    protected virtual IDictionary<string, string?> TokenSettings => new Dictionary<string, string?>();

    /// <summary>Extra service registrations for the token service of this suite (e.g. a clock the test moves).</summary>
    protected virtual void ConfigureTokenServices(IServiceCollection services)
    {
    }

    /// <summary>
    /// The token service reads time from <paramref name="clock"/>. Its housekeeping job is left out: run on a clock moved
    /// days ahead, it would delete the rows of every other suite sharing the database.
    /// </summary>
    protected static void UseClock(IServiceCollection services, MovableClock clock)
    {
        services.Replace(ServiceDescriptor.Singleton<TimeProvider>(clock));
        var job = services.Single(d => d.ImplementationType == typeof(LumoAuth.Token.Features.Housekeeping.TokenStoreHousekeeping));
        services.Remove(job);
    }

    /// <summary>Runs after admin and before the token service starts (to host another collaborator first).</summary>
    protected virtual Task BeforeTokenAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        await Admin.InitializeAsync();
        await BeforeTokenAsync();
        Token = new AdminBackedTokenFactory(Admin, TokenSettings, services =>
        {
            services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(Logs);
            services.AddHttpClient(InternalClients.Admin).AddHttpMessageHandler(() => new CuttableLink(() => _adminDown));
            ConfigureTokenServices(services);
        });
        await Token.InitializeAsync();
    }

    public virtual async Task DisposeAsync()
    {
        await Token.DisposeAsync();
        await Admin.DisposeAsync();
    }

    /// <summary>A tenant with one user (password known) and a public SPA client allowed the OIDC scopes.</summary>
    public async Task<SignInSetup> SetUpAsync(object? clientBody = null)
    {
        var tenant = await Admin.CreateTenantAsync();
        var email = $"alice-{Guid.NewGuid():N}"[..14] + "@example.com";
        const string password = "Corr3ct-Horse-Battery!";
        var userId = await Admin.CreateUserAsync(tenant, email, password, "Alice Example");
        using var admin = Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        using var created = await admin.PostAsJsonAsync($"{tenant.Api}/admin/clients", clientBody ?? new
        {
            name = "Dashboard",
            applicationType = "spa",
            redirectUris = new[] { SignInSetup.RedirectUri },
            postLogoutRedirectUris = new[] { SignInSetup.PostLogoutUri },
            grantTypes = new[] { "authorization_code", "refresh_token" },
            allowedScopes = new[] { "openid", "profile", "email", "offline_access" },
        });
        var body = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, body);
        var data = JsonDocument.Parse(body).RootElement.GetProperty("data");
        return new SignInSetup(tenant, $"{Token.PublicBaseUrl}{tenant.Api}", userId, email, password,
            data.GetProperty("clientId").GetString()!, data.TryGetProperty("secret", out var s) ? s.GetString() : null);
    }

    /// <summary>The user signs in to the setup's client in a browser of their own (a device); the code is exchanged: the token response.</summary>
    public async Task<JsonElement> SignInOnNewDeviceAsync(SignInSetup setup)
    {
        using var browser = Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge)))["code"];
        using var http = Token.CreateClient();
        using var exchanged = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));
        return await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK);
    }

    /// <summary>The tenant's audit entry with this action, once admin has consumed the event (it travels through RabbitMQ).</summary>
    /// <summary>The newest entry of the action (that <paramref name="matching"/> accepts, when given: an earlier entry of the same action may be there first).</summary>
    public async Task<JsonElement> AuditEntryAsync(SignInSetup setup, string action, Func<JsonElement, bool>? matching = null)
    {
        using var admin = Admin.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        // The entry travels outbox → RabbitMQ → admin; on two busy cores that can take a while, so wait up to 30 s.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var page = JsonDocument.Parse(await admin.GetStringAsync($"{setup.Tenant.Api}/admin/audit-logs?action={action}")).RootElement;
            foreach (var entry in page.GetProperty("data").EnumerateArray())
            {
                if (matching is null || matching(entry))
                {
                    return entry.Clone();
                }
            }

            await Task.Delay(200);
        }

        throw new Xunit.Sdk.XunitException($"no {action} entry in the audit log");
    }

    /// <summary>A detected attack: recorded as a failed, high-severity token_management entry with the client as actor.</summary>
    public async Task AssertSecurityEventAsync(SignInSetup setup, string action, string clientId, string actionTaken)
    {
        var entry = await AuditEntryAsync(setup, action);
        Assert.Equal("token_management", entry.GetProperty("category").GetString());
        Assert.Equal("failure", entry.GetProperty("outcome").GetString());
        Assert.Equal(clientId, entry.GetProperty("actor").GetProperty("id").GetString());
        Assert.Equal("high", entry.GetProperty("metadata").GetProperty("severity").GetString());
        Assert.Equal(actionTaken, entry.GetProperty("metadata").GetProperty("actionTaken").GetString());
    }

    /// <summary>Enrols (and confirms) a TOTP factor for the setup's user through the Admin API; the authenticator to compute codes with.</summary>
    public async Task<OtpNet.Totp> EnrolTotpAsync(SignInSetup setup)
    {
        using var admin = Admin.ClientFor(setup.Tenant);
        using var begun = await admin.PostAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/mfa/totp", null);
        var secret = JsonDocument.Parse(await begun.Content.ReadAsStringAsync()).RootElement.GetProperty("data").GetProperty("secret").GetString()!;
        var totp = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(secret));
        using var confirmed = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/mfa/totp/confirm", new { code = totp.ComputeTotp(DateTime.UtcNow) });
        Assert.True(confirmed.IsSuccessStatusCode, await confirmed.Content.ReadAsStringAsync());
        return totp;
    }

    public HttpClient Browser() => Token.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    /// <summary>Another client of the setup's tenant, through the Admin API; its data (with the secret, shown once).</summary>
    public async Task<JsonElement> CreateClientAsync(SignInSetup setup, object body)
    {
        using var admin = Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var created = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", body);
        return (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data");
    }

    /// <summary>Posts a form to the token service, with Basic client authentication and DPoP proofs when given.</summary>
    public async Task<HttpResponseMessage> PostFormAsync(
        string url, IEnumerable<KeyValuePair<string, string>> form, (string ClientId, string Secret)? basic = null, params string[] dpopProofs)
    {
        using var http = Token.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new FormUrlEncodedContent(form) };
        if (basic is { } credentials)
        {
            request.Headers.Authorization = HttpAssert.Basic(credentials.ClientId, credentials.Secret);
        }

        foreach (var proof in dpopProofs)
        {
            request.Headers.Add("DPoP", proof);
        }

        return await http.SendAsync(request);
    }
}

/// <summary>Fails every call while the link is cut, as a refused connection does.</summary>
internal sealed class CuttableLink(Func<bool> down) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        down()
            ? throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (test: admin is down)")
            : base.SendAsync(request, cancellationToken);
}

/// <summary>The token service with its internal admin client pointed at the in-process admin.</summary>
public sealed class AdminBackedTokenFactory(AdminFactory admin, IDictionary<string, string?> settings, Action<IServiceCollection>? configure = null)
    : ServiceFactory<TokenService::Program, TokenDbContext>(ServiceNames.TokenDb, admin.MessagingPrefix)
{
    protected override IDictionary<string, string?> Settings => settings;

    protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services => configure?.Invoke(services));
    }

    /// <summary>The tenants' MCP servers, as the agents service (not run here) would list them.</summary>
    public InMemoryMcpServers McpServers { get; } = new();

    protected override void ConfigureServices(IServiceCollection services)
    {
        services.AddHttpClient(InternalClients.Admin).ConfigurePrimaryHttpMessageHandler(admin.AdminHandler);
        services.Replace(ServiceDescriptor.Singleton<LumoAuth.Token.Protocol.IMcpResourceSource>(McpServers));
    }
}

public sealed record SignInSetup(AdminTenant Tenant, string Issuer, Guid UserId, string Email, string Password, string ClientId, string? ClientSecret)
{
    public const string RedirectUri = "https://spa.example.com/callback";
    public const string PostLogoutUri = "https://spa.example.com/signed-out";

    public string TokenEndpoint => Issuer + "/oauth/token";
}

/// <summary>A browser's walk through the hosted pages, by plain HTTP: login form, consent form, redirects.</summary>
public static partial class HostedFlow
{
    public static (string Verifier, string Challenge) Pkce()
    {
        var verifier = Microsoft.AspNetCore.WebUtilities.Base64UrlTextEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        return (verifier, Microsoft.AspNetCore.WebUtilities.Base64UrlTextEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))));
    }

    public static string AuthorizeUrl(SignInSetup setup, string challenge, Dictionary<string, string?>? overrides = null)
    {
        var query = new Dictionary<string, string?>
        {
            ["response_type"] = "code",
            ["client_id"] = setup.ClientId,
            ["redirect_uri"] = SignInSetup.RedirectUri,
            ["scope"] = "openid profile email offline_access",
            ["state"] = "state-" + Guid.NewGuid().ToString("N")[..8],
            ["nonce"] = "nonce-" + Guid.NewGuid().ToString("N")[..8],
            ["code_challenge"] = challenge,
            ["code_challenge_method"] = "S256",
        };
        foreach (var (key, value) in overrides ?? [])
        {
            query[key] = value;
        }

        return QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/authorize", query.Where(p => p.Value is not null));
    }

    /// <summary>Follows one redirect inside the service (relative Location), or returns null when it leaves for the client.</summary>
    public static string? LocalRedirect(HttpResponseMessage response) =>
        response.Headers.Location is { IsAbsoluteUri: false } location ? location.OriginalString : null;

    public static Dictionary<string, string> HiddenFields(string html) => LumoAuth.Testing.HostedForms.HiddenFields(html);

    /// <summary>From the login page: submits the credentials (and any extra fields); returns the answer.</summary>
    public static async Task<HttpResponseMessage> SubmitLoginAsync(HttpClient browser, string loginUrl, string email, string password)
    {
        using var page = await browser.GetAsync(loginUrl);
        var html = await page.Content.ReadAsStringAsync();
        Assert.True(page.StatusCode == HttpStatusCode.OK, html);
        var form = HiddenFields(html);
        form["email"] = email;
        form["password"] = password;
        return await browser.PostAsync(FormAction(html), new FormUrlEncodedContent(form));
    }

    /// <summary>
    /// Opens a hosted page, signing in as the setup's user when it sends the browser to the login page, and follows the
    /// redirects back; the page's HTML (asserted 200).
    /// </summary>
    public static async Task<string> OpenSignedInAsync(HttpClient browser, SignInSetup setup, string path)
    {
        var next = path;
        for (var hop = 0; hop < 5; hop++)
        {
            using var response = await browser.GetAsync(next);
            if (LocalRedirect(response) is { } location)
            {
                if (location.Contains("/login", StringComparison.Ordinal))
                {
                    using var login = await SubmitLoginAsync(browser, location, setup.Email, setup.Password);
                    location = LocalRedirect(login) ?? throw new InvalidOperationException("Login did not redirect: " + await login.Content.ReadAsStringAsync());
                }

                next = location;
                continue;
            }

            var html = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, html);
            return html;
        }

        throw new InvalidOperationException("Too many redirects");
    }

    /// <summary>Consent page → Allow (or Deny); returns the answer (a redirect to the client).</summary>
    public static async Task<HttpResponseMessage> DecideConsentAsync(HttpClient browser, string consentHtml, bool accept)
    {
        // Pairs, not a dictionary: a repeated parameter (resource, RFC 8707) comes back as often as it was sent.
        var form = LumoAuth.Testing.HostedForms.HiddenPairs(consentHtml)
            .Where(p => p.Key != "consent_decision")
            .Append(new("consent_decision", accept ? "accept" : "deny"));
        return await browser.PostAsync(FormAction(consentHtml), new FormUrlEncodedContent(form));
    }

    /// <summary>
    /// The whole interactive walk for a browser without a session: authorize → login → authorize → consent →
    /// redirect to the client. Returns the client's redirect (with <c>code</c> or an error).
    /// </summary>
    public static async Task<Uri> SignInAsync(HttpClient browser, SignInSetup setup, string authorizeUrl, bool expectConsent = true)
    {
        using var first = await browser.GetAsync(authorizeUrl);
        var next = LocalRedirect(first);
        if (next is not null && next.Contains("/login", StringComparison.Ordinal))
        {
            using var login = await SubmitLoginAsync(browser, next, setup.Email, setup.Password);
            next = LocalRedirect(login) ?? throw new InvalidOperationException("Login did not redirect: " + await login.Content.ReadAsStringAsync());
            using var back = await browser.GetAsync(next);
            return await AfterAuthorizeAsync(browser, back, expectConsent);
        }

        return await AfterAuthorizeAsync(browser, first, expectConsent);
    }

    private static async Task<Uri> AfterAuthorizeAsync(HttpClient browser, HttpResponseMessage response, bool expectConsent)
    {
        if (response.StatusCode == HttpStatusCode.OK)
        {
            var html = await response.Content.ReadAsStringAsync();
            Assert.True(expectConsent, "Unexpected page: " + html);
            Assert.Contains("consent_decision", html, StringComparison.Ordinal);
            using var decided = await DecideConsentAsync(browser, html, accept: true);
            return decided.Headers.Location ?? throw new InvalidOperationException("Consent did not redirect: " + await decided.Content.ReadAsStringAsync());
        }

        return response.Headers.Location ?? throw new InvalidOperationException($"{response.StatusCode}: " + await response.Content.ReadAsStringAsync());
    }

    public static Dictionary<string, string> Parameters(Uri redirect) =>
        QueryHelpers.ParseQuery(redirect.Query).ToDictionary(p => p.Key, p => p.Value.ToString());

    private static string FormAction(string html) => WebUtility.HtmlDecode(FormActionPattern().Match(html).Groups[1].Value);

    /// <summary>The one form of the page that contains <paramref name="marker"/>.</summary>
    public static string FormWith(string html, string marker) =>
        Regex.Matches(html, "<form[^>]*>.*?</form>", RegexOptions.Singleline).Select(m => m.Value).Single(f => f.Contains(marker, StringComparison.Ordinal));

    /// <summary>Posts one form of a page (its hidden fields, CSRF included) with <paramref name="fields"/> filled in.</summary>
    public static Task<HttpResponseMessage> SubmitFormAsync(HttpClient browser, string formHtml, Dictionary<string, string>? fields = null)
    {
        var form = HiddenFields(formHtml);
        foreach (var (key, value) in fields ?? [])
        {
            form[key] = value;
        }

        return browser.PostAsync(FormAction(formHtml), new FormUrlEncodedContent(form));
    }

    /// <summary>As <see cref="SubmitFormAsync(HttpClient, string, Dictionary{string, string}?)"/>, with one field posted once per value (ticked boxes).</summary>
    public static Task<HttpResponseMessage> SubmitFormAsync(HttpClient browser, string formHtml, Dictionary<string, string> fields, string repeated, params string[] values)
    {
        var form = HiddenFields(formHtml);
        foreach (var (key, value) in fields)
        {
            form[key] = value;
        }

        var pairs = form.Where(p => p.Key != repeated).Concat(values.Select(v => KeyValuePair.Create(repeated, v)));
        return browser.PostAsync(FormAction(formHtml), new FormUrlEncodedContent(pairs));
    }

    [GeneratedRegex("<form method=\"post\" action=\"([^\"]+)\"")]
    private static partial Regex FormActionPattern();
}
