using System.Net.Http.Json;
using LumoAuth.Federation.Data;
using LumoAuth.Federation.Features.Login;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Testing;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.Tests.Support;

/// <summary>
/// The token service with the real federation service beside it (and admin behind both), and an upstream identity
/// provider on a local https site that both trust. A browser of this suite goes through one gateway in front of token
/// and federation with one cookie jar, as a real browser crosses from the login page to federation and back.
/// </summary>
public sealed class FederationSuite : TokenSuite
{
    private readonly Lock _gatewayLock = new();
    private readonly FederationReference _federation;
    private InProcessGateway? _gateway;

    /// <summary>
    /// Admin checks custom domains against the test's DNS server, so sign-ins can begin on a tenant's domain, and reaches
    /// federation (made after it) for directory passwords.
    /// </summary>
    public FederationSuite()
        : this(new FederationReference())
    {
    }

    private FederationSuite(FederationReference federation)
        : base(new AdminFactory
        {
            ExtraSettings = TestDomains.AdminSettings,
            ExtraServices = services => services.AddHttpClient(InternalClients.Federation)
                .ConfigurePrimaryHttpMessageHandler(() => federation.Factory!.Server.CreateHandler()),
        }) => _federation = federation;

    /// <summary>Federation for admin's client, set once it exists (admin asks only once tests run).</summary>
    private sealed class FederationReference
    {
        public FederationFactory? Factory { get; set; }
    }

    /// <summary>The upstream providers' sites: discovery documents, key sets, token endpoints, GitHub's API.</summary>
    public HttpsSite Providers { get; } = new();

    public FederationFactory Federation { get; private set; } = null!;

    protected override async Task BeforeTokenAsync()
    {
        await Providers.StartAsync();
        // Federation's SAML IdP asks the token service about browsers' sessions; the token service starts after it.
        Federation = new FederationFactory(Admin, Providers, () => Token.Server.CreateHandler());
        _federation.Factory = Federation;
        await Federation.InitializeAsync();
    }

    protected override void ConfigureTokenServices(IServiceCollection services) =>
        services.AddHttpClient(InternalClients.Federation).ConfigurePrimaryHttpMessageHandler(() => Federation.Server.CreateHandler());

    /// <summary>The gateway in front of the token, federation and admin services (admin's verified domains included).</summary>
    public InProcessGateway Gateway
    {
        get
        {
            lock (_gatewayLock)
            {
                return _gateway ??= new InProcessGateway(new Dictionary<string, GatewayBackend>
                {
                    [ServiceNames.Token] = GatewayBackend.InMemory(() => Token.Server.CreateHandler()),
                    [ServiceNames.Federation] = GatewayBackend.InMemory(() => Federation.Server.CreateHandler()),
                    [ServiceNames.Admin] = GatewayBackend.InMemory(Admin.AdminHandler),
                });
            }
        }
    }

    /// <summary>
    /// A browser (cookies kept, redirects not followed) in front of both the token and the federation service, addressing
    /// <paramref name="host"/> (the deployment's, or a tenant's verified domain).
    /// </summary>
    public HttpClient FederatedBrowser(string host = "localhost") =>
        new(new CookieContainerHandler { InnerHandler = Gateway.CreateHandler() }) { BaseAddress = new Uri($"http://{host}") };

    /// <summary>A verified custom domain of the tenant, known to the gateway; its name.</summary>
    public async Task<string> VerifiedDomainAsync(LumoAuth.Testing.TestTenant tenant)
    {
        var domain = TestDomains.NewName();
        await TestDomains.VerifyAsync(Admin, tenant, domain);
        await Gateway.RefreshCustomDomainsAsync();
        return domain;
    }

    /// <summary>The Admin API of federation (through the gateway) with the tenant's API key.</summary>
    public HttpClient FederationAdmin(LumoAuth.Testing.TestTenant tenant)
    {
        var client = Federation.CreateClient();
        client.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        return client;
    }

    /// <summary>Adds a provider to the tenant; its data (id, callbackUrl…).</summary>
    public async Task<System.Text.Json.JsonElement> AddProviderAsync(LumoAuth.Testing.TestTenant tenant, object body)
    {
        using var admin = FederationAdmin(tenant);
        using var created = await admin.PostAsJsonAsync($"{tenant.Api}/admin/social-providers", body);
        return (await HttpAssert.JsonAsync(created, System.Net.HttpStatusCode.Created)).GetProperty("data");
    }

    public override async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        await base.DisposeAsync();
        await Federation.DisposeAsync();
        await Providers.DisposeAsync();
    }
}

/// <summary>The federation service in-process: admin and token behind its internal clients, the providers' site trusted for outside calls.</summary>
public sealed class FederationFactory(AdminFactory admin, HttpsSite providers, Func<HttpMessageHandler> token)
    : ServiceFactory<FederationDbContext, FederationDbContext>(ServiceNames.FederationDb, admin.MessagingPrefix)
{
    /// <summary>The path of the providers' site where Sign in with Apple's stand-in issuer is (<c>TestProvider.Start(site, AppleStandIn)</c>).</summary>
    public const string AppleStandIn = "apple";

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Federation:AllowPrivateTargets"] = "true",
        ["Federation:Ldap:TrustedCertificatesDirectory"] = TestDirectory.TrustedCertificates,
        ["Federation:GitHub:AuthorizationEndpoint"] = providers.Origin + "/github/login/oauth/authorize",
        ["Federation:GitHub:TokenEndpoint"] = providers.Origin + "/github/login/oauth/access_token",
        ["Federation:GitHub:ApiBase"] = providers.Origin + "/github/api",
        ["Federation:Facebook:AuthorizationEndpoint"] = providers.Origin + "/facebook/dialog/oauth",
        ["Federation:Facebook:TokenEndpoint"] = providers.Origin + "/facebook/graph/oauth/access_token",
        ["Federation:Facebook:GraphApiBase"] = providers.Origin + "/facebook/graph",
        ["Federation:Apple:Issuer"] = providers.Origin + "/" + AppleStandIn,
    };

    protected override void ConfigureServices(IServiceCollection services)
    {
        services.AddHttpClient(InternalClients.Admin).ConfigurePrimaryHttpMessageHandler(admin.AdminHandler);
        services.AddHttpClient(InternalClients.Token).ConfigurePrimaryHttpMessageHandler(token);
        services.AddHttpClient(OpenIdProviders.HttpClientName).ConfigurePrimaryHttpMessageHandler(providers.TrustingHandler);
        services.AddHttpClient(UpstreamSignIn.HttpClientName).ConfigurePrimaryHttpMessageHandler(providers.TrustingHandler);
    }
}
