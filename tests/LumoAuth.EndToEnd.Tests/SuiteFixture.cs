using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using LumoAuth.ServiceDefaults;
using LumoAuth.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.EndToEnd.Tests;

/// <summary>
/// The whole suite from the real AppHost (Aspire.Hosting.Testing): five services, the gateway and
/// their migration steps, against the PostgreSQL/Redis/RabbitMQ that <c>eng/infra.sh</c> started
/// (the AppHost's <c>external</c> mode), with databases and queues of its own.
/// </summary>
public sealed class SuiteFixture : IAsyncLifetime
{
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private DistributedApplication? _app;

    public HttpClient Gateway { get; private set; } = null!;

    /// <summary>The gateway's HTTPS endpoint (<c>https://127.0.0.1:port</c>), where OAuth clients may use mutual TLS.</summary>
    public string HttpsBaseUrl { get; private set; } = string.Empty;

    private readonly System.Security.Cryptography.X509Certificates.X509Certificate2 _gatewayCertificate = TestCertificates.Server();

    /// <summary>A client of the gateway's HTTPS endpoint presenting <paramref name="clientCertificate"/> (or none).</summary>
    public HttpClient MutualTls(System.Security.Cryptography.X509Certificates.X509Certificate2? clientCertificate)
    {
        var gateway = _gatewayCertificate.GetCertHashString();
        var handler = new SocketsHttpHandler
        {
            SslOptions =
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == gateway,
                LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate!,
            },
        };
        if (clientCertificate is not null)
        {
            handler.SslOptions.ClientCertificates = [clientCertificate];
        }
        else
        {
            handler.SslOptions.LocalCertificateSelectionCallback = null;
        }

        return new HttpClient(handler) { BaseAddress = new Uri(HttpsBaseUrl) };
    }

    /// <summary>The DNS that admin's custom-domain checks ask (loopback UDP), with the records a test publishes.</summary>
    public TestDnsServer Dns { get; } = new();

    /// <summary>What a tenant's custom domain must point at here.</summary>
    public const string DomainTarget = "edge.e2e.lumoauth.test";

    /// <summary>A third party's https site (Client ID Metadata Documents), trusted and reachable by the token service only.</summary>
    public HttpsSite Site { get; } = new();

    /// <summary>Where on <see cref="Site"/> Sign in with Apple's stand-in issuer is.</summary>
    public const string AppleIssuerPath = "/apple";

    public string BaseUrl { get; private set; } = string.Empty;

    /// <summary>Where one of a resource's endpoints listens, as the AppHost allocated it.</summary>
    public Uri EndpointOf(string resource, string endpoint) => _app!.GetEndpoint(resource, endpoint);

    /// <summary>The names of the environment variables the AppHost gives a resource's process.</summary>
    public async Task<IReadOnlyCollection<string>> EnvironmentNamesOf(string resource)
    {
        var project = _app!.Services.GetRequiredService<DistributedApplicationModel>().Resources.OfType<ProjectResource>().Single(r => r.Name == resource);
        var configuration = await ExecutionConfigurationBuilder.Create(project).WithEnvironmentVariablesConfig()
            .BuildAsync(_app.Services.GetRequiredService<DistributedApplicationExecutionContext>());
        return [.. configuration.EnvironmentVariables.Select(variable => variable.Key)];
    }

    public async Task InitializeAsync()
    {
        var port = LoopbackApp.FreePort();
        BaseUrl = $"http://127.0.0.1:{port}";
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.LumoAuth_AppHost>(
        [
            "--environment=Testing",
            "--LumoAuth:Infrastructure=external",
            $"--ConnectionStrings:postgres={PostgresServer.ConnectionString}",
            $"--ConnectionStrings:redis={TestInfrastructure.Redis}",
            $"--ConnectionStrings:rabbitmq={TestInfrastructure.RabbitMq}",
            $"--LumoAuth:DatabasePrefix=e2e{_run}_",
            $"--LumoAuth:MessagingPrefix=e2e-{_run}",
            $"--LumoAuth:GatewayPort={port}",
            "--LumoAuth:SeedDemo=false",
            $"--LumoAuth:InternalKey={TestInfrastructure.InternalKey}",
            $"--LumoAuth:PlatformKey={TestInfrastructure.PlatformKey}",
            $"--LumoAuth:KeyEncryptionKey={TestInfrastructure.KeyEncryptionKey}",
        ]);
        // The token service fetches from the site on 127.0.0.1: private targets allowed, and its certificate added to
        // the CA bundle that OpenSSL (hence .NET on Linux) reads for that process alone.
        await Site.StartAsync();
        var httpsPort = LoopbackApp.FreePort();
        HttpsBaseUrl = $"https://127.0.0.1:{httpsPort}";
        var gatewayPfx = Path.Combine(Path.GetTempPath(), $"lumoauth-e2e-{_run}-gateway.pfx");
        await File.WriteAllBytesAsync(gatewayPfx, _gatewayCertificate.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12));
        // Explicit Kestrel endpoints replace the URLs the AppHost gives, so the HTTP one is named again beside HTTPS.
        builder.CreateResourceBuilder<ProjectResource>(ServiceNames.Gateway)
            .WithEnvironment("Kestrel__Endpoints__Http__Url", BaseUrl)
            .WithEnvironment("Kestrel__Endpoints__Https__Url", HttpsBaseUrl)
            .WithEnvironment("Kestrel__Endpoints__Https__Certificate__Path", gatewayPfx)
            // A verified domain is served within a second, not the default ten.
            .WithEnvironment("Gateway__CustomDomains__RefreshInterval", "00:00:01");
        // Roles decorate user objects with a 1 s deadline and a 30 s pause after a miss; a cold, loaded two-core run of six
        // processes can miss the first, and every answer of the next 30 s would say "roles: null" (as the other suites do).
        builder.CreateResourceBuilder<ProjectResource>(ServiceNames.Admin)
            .WithEnvironment("RoleLookup__Timeout", "00:00:20")
            .WithEnvironment("RoleLookup__Pause", "00:00:00")
            .WithEnvironment("CustomDomains__NameServers__0", Dns.Endpoint)
            .WithEnvironment("CustomDomains__Target", DomainTarget);
        builder.CreateResourceBuilder<ProjectResource>(ServiceNames.Token)
            .WithEnvironment("Token__AllowPrivateLogoutTargets", "true")
            .WithEnvironment("Token__SettingsLookupTimeout", "00:00:20")
            .WithEnvironment("Token__RolesLookupTimeout", "00:00:20")
            .WithEnvironment("SSL_CERT_FILE", TrustBundle());
        // Federation reaches the site too, as an upstream identity provider.
        builder.CreateResourceBuilder<ProjectResource>(ServiceNames.Federation)
            .WithEnvironment("Federation__AllowPrivateTargets", "true")
            .WithEnvironment("Federation__Ldap__TrustedCertificatesDirectory", TestDirectory.TrustedCertificates)
            .WithEnvironment("Federation__Apple__Issuer", Site.Origin + AppleIssuerPath)
            .WithEnvironment("SSL_CERT_FILE", TrustBundle());
        _app = await builder.BuildAsync();
        using var startup = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await _app.StartAsync(startup.Token);
        await _app.ResourceNotifications.WaitForResourceHealthyAsync(ServiceNames.Gateway, startup.Token);
        Gateway = new HttpClient { BaseAddress = new Uri(BaseUrl) };
    }

    public async Task DisposeAsync()
    {
        Gateway.Dispose();
        Dns.Dispose();
        await Site.DisposeAsync();
        File.Delete(Path.Combine(Path.GetTempPath(), $"lumoauth-e2e-{_run}-ca.pem"));
        File.Delete(Path.Combine(Path.GetTempPath(), $"lumoauth-e2e-{_run}-gateway.pfx"));
        _gatewayCertificate.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        foreach (var database in new[] { ServiceNames.AdminDb, ServiceNames.TokenDb, ServiceNames.AuthorizationDb, ServiceNames.AgentsDb, ServiceNames.FederationDb })
        {
            await TestInfrastructure.DropDatabaseAsync(DatabaseOf(database));
        }
    }

    /// <summary>The connection string of one service's database in this run (for what a test must read or set behind the APIs).</summary>
    public string DatabaseOf(string database) =>
        new Npgsql.NpgsqlConnectionStringBuilder(PostgresServer.ConnectionString) { Database = $"e2e{_run}_{database}" }.ConnectionString;

    /// <summary>A client of the gateway that keeps cookies and does not follow redirects, as a browser's hosted-page visit.</summary>
    public HttpClient Browser() =>
        new(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = new Uri(BaseUrl) };

    /// <summary>A new tenant through the platform API, as an operator would create it.</summary>
    public async Task<TestTenant> CreateTenantAsync()
    {
        var slug = "e2e" + Guid.NewGuid().ToString("N")[..10];
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/tenants")
        {
            Content = JsonContent.Create(new { slug, name = "E2E " + slug, adminEmail = $"admin@{slug}.example.com" }),
        };
        request.Headers.Add("X-Platform-Key", TestInfrastructure.PlatformKey);
        using var response = await Gateway.SendAsync(request);
        var data = (await ApiAssert.OkAsync(response, 201))["data"]!;
        return new TestTenant(slug, Guid.Parse(data["tenant"]!["id"]!.GetValue<string>()), data["apiKey"]!["key"]!.GetValue<string>());
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body = null, Action<HttpRequestMessage>? configure = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        configure?.Invoke(request);
        return await Gateway.SendAsync(request);
    }

    /// <summary>A user of the tenant who signs in with a password, created through the Admin API; their address and password.</summary>
    public async Task<(string Email, string Password)> CreateUserAsync(TestTenant tenant, string name)
    {
        var email = $"{name.ToLowerInvariant()}-{Guid.NewGuid():N}"[..(name.Length + 9)] + "@example.com";
        const string password = "Corr3ct-Horse-Battery!";
        using var user = await SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/users", new { email, password, name }, ApiKey(tenant.ApiKey));
        await ApiAssert.OkAsync(user, 201);
        return (email, password);
    }

    /// <summary>
    /// A user's access token as an ordinary application gets one: a public native client of the tenant, the code flow with
    /// PKCE through the hosted login and consent pages, all through the gateway.
    /// </summary>
    public async Task<string> UserAccessTokenAsync(TestTenant tenant, string email, string password, string scope = "openid")
    {
        const string loopback = "http://127.0.0.1:7777/callback";
        using var created = await SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients", new
        {
            name = "User's app", applicationType = "native", redirectUris = new[] { loopback }, grantTypes = new[] { "authorization_code" },
            allowedScopes = scope.Split(' '),
        }, ApiKey(tenant.ApiKey));
        var clientId = (await ApiAssert.OkAsync(created, 201))["data"]!["clientId"]!.GetValue<string>();
        var verifier = Base64Url(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier)));
        var authorize = Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString($"{tenant.Api}/oauth/authorize", new Dictionary<string, string?>
        {
            ["response_type"] = "code", ["client_id"] = clientId, ["redirect_uri"] = loopback, ["scope"] = scope,
            ["state"] = "s", ["code_challenge"] = challenge, ["code_challenge_method"] = "S256",
        });
        var code = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery((await SignInAndConsentAsync(tenant, authorize, email, password)).Query)["code"].ToString();
        using var redeemed = await Gateway.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = loopback, ["client_id"] = clientId, ["code_verifier"] = verifier,
        }));
        return (await ApiAssert.OkAsync(redeemed))["access_token"]!.GetValue<string>();
    }

    /// <summary>
    /// A new browser through the gateway: the authorization request, the hosted login with the password, consent given;
    /// where the authorization endpoint then sends the browser (the client's redirect URI with the answer).
    /// </summary>
    public async Task<Uri> SignInAndConsentAsync(TestTenant tenant, string authorizeUrl, string email, string password)
    {
        using var browser = Browser();
        using var toLogin = await browser.GetAsync(authorizeUrl);
        Assert.Equal(System.Net.HttpStatusCode.SeeOther, toLogin.StatusCode);
        var login = HostedForms.HiddenFields(await browser.GetStringAsync(toLogin.Headers.Location!.OriginalString));
        login["email"] = email;
        login["password"] = password;
        using var signedIn = await browser.PostAsync($"/t/{tenant.Slug}/login", new FormUrlEncodedContent(login));
        using var consent = await browser.GetAsync(signedIn.Headers.Location!.OriginalString);
        var decision = HostedForms.HiddenPairs(await consent.Content.ReadAsStringAsync()).Where(p => p.Key != "consent_decision").Append(new("consent_decision", "accept"));
        using var decided = await browser.PostAsync($"{tenant.Api}/oauth/authorize", new FormUrlEncodedContent(decision));
        return decided.Headers.Location ?? throw new InvalidOperationException($"{decided.StatusCode}: {await decided.Content.ReadAsStringAsync()}");
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static Action<HttpRequestMessage> ApiKey(string key) => r => r.Headers.Add("X-API-Key", key);

    public static Action<HttpRequestMessage> Bearer(string token) => r => r.Headers.Authorization = new("Bearer", token);

    /// <summary>A confidential machine client of the tenant and a client-credentials token of it that may write relationship tuples.</summary>
    public async Task<(string ClientId, string Secret, string AccessToken)> ClientTokenAsync(TestTenant tenant)
    {
        using var created = await SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients",
            new { name = "e2e client", isConfidential = true, grantTypes = new[] { "client_credentials" }, allowedScopes = new[] { "zanzibar.write" } },
            ApiKey(tenant.ApiKey));
        var client = (await ApiAssert.OkAsync(created, 201))["data"]!;
        var clientId = client["clientId"]!.GetValue<string>();
        var secret = client["secret"]!.GetValue<string>();
        using var tokenRequest = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/oauth/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = secret, ["scope"] = "zanzibar.write",
            }),
        };
        using var tokenResponse = await Gateway.SendAsync(tokenRequest);
        var body = await tokenResponse.Content.ReadAsStringAsync();
        Assert.True(tokenResponse.StatusCode == HttpStatusCode.OK, body);
        return (clientId, secret, JsonNode.Parse(body)!["access_token"]!.GetValue<string>());
    }

    /// <summary>
    /// A confidential client of the tenant made from <paramref name="body"/> (its Admin API data, secret included), and a way
    /// to post forms through the gateway as it (HTTP Basic), as a back-channel client does.
    /// </summary>
    public async Task<(JsonNode Client, Func<string, Dictionary<string, string>, Task<HttpResponseMessage>> PostAsync)> BasicClientAsync(TestTenant tenant, object body)
    {
        using var created = await SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients", body, ApiKey(tenant.ApiKey));
        var client = (await ApiAssert.OkAsync(created, 201))["data"]!;
        var basic = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{client["clientId"]!.GetValue<string>()}:{client["secret"]!.GetValue<string>()}")));
        async Task<HttpResponseMessage> PostAsync(string path, Dictionary<string, string> form)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/{path}") { Content = new FormUrlEncodedContent(form) };
            request.Headers.Authorization = basic;
            return await Gateway.SendAsync(request);
        }

        return (client, PostAsync);
    }

    private string TrustBundle()
    {
        const string system = "/etc/ssl/certs/ca-certificates.crt";
        var path = Path.Combine(Path.GetTempPath(), $"lumoauth-e2e-{_run}-ca.pem");
        File.WriteAllText(path, (File.Exists(system) ? File.ReadAllText(system) + "\n" : string.Empty) + Site.Certificate.ExportCertificatePem() + "\n");
        return path;
    }
}

[CollectionDefinition(Name)]
public sealed class SuiteCollection : ICollectionFixture<SuiteFixture>
{
    public const string Name = "suite";
}
