using LumoAuth.AppHost.Infrastructure;
using LumoAuth.ServiceDefaults;

var builder = DistributedApplication.CreateBuilder(args);

var infra = InfrastructureFactory.Create(builder);
var settings = DeploymentSettings.Load(builder);

var admin = builder.AddLumoService<Projects.LumoAuth_Admin>(ServiceNames.Admin, ServiceNames.AdminDb, infra, settings)
    .WithEmailSettings(builder);
var token = builder.AddLumoService<Projects.LumoAuth_Token>(ServiceNames.Token, ServiceNames.TokenDb, infra, settings);
var authorization = builder.AddLumoService<Projects.LumoAuth_Authorization>(ServiceNames.Authorization, ServiceNames.AuthorizationDb, infra, settings);
var agents = builder.AddLumoService<Projects.LumoAuth_Agents>(ServiceNames.Agents, ServiceNames.AgentsDb, infra, settings);
var federation = builder.AddLumoService<Projects.LumoAuth_Federation>(ServiceNames.Federation, ServiceNames.FederationDb, infra, settings);

// Every service asks admin for tenants and API keys; services validate bearer tokens with token's JWKS.
foreach (var service in new[] { token, authorization, agents, federation })
{
    service.WithReference(admin).WaitFor(admin);
}

foreach (var service in new[] { admin, authorization, agents, federation })
{
    service.WithReference(token);
}

token.WithReference(authorization);
// The token service reads the tenants' MCP servers from agents; agents asks token to sign JIT tokens (above).
token.WithReference(agents);
// The hosted login page shows the tenant's sign-in providers and redeems federation's login tickets.
token.WithReference(federation);
// Federation's SAML IdP asks token for the sign-in behind a browser's session cookie (and ends it at single logout).
federation.WithReference(token);
// Federation sets the roles an LDAP directory's groups give a user at each sign-in.
federation.WithReference(authorization);
agents.WithReference(authorization);
admin.WithEnvironment("LumoAuth__GatewayKey", ServiceResources.Secret(builder, "gateway-key", settings.GatewayKey));

// Admin asks authorization who holds a role (GET /admin/users?role=) and gathers roles, sessions and social links for
// GDPR exports.
admin.WithReference(authorization);
admin.WithReference(federation);

var gateway = builder.AddProject<Projects.LumoAuth_Gateway>(ServiceNames.Gateway, o => o.ExcludeLaunchProfile = true)
    .WithHttpEndpoint(port: settings.GatewayPort, name: "http", isProxied: false)
    .WithLoopbackUrls()
    .WithEnvironment("LumoAuth__PublicBaseUrl", settings.PublicBaseUrl)
    // It asks admin for the verified custom domains (CustomDomainMap) with a key good for that alone.
    .WithEnvironment("LumoAuth__GatewayKey", ServiceResources.Secret(builder, "gateway-key", settings.GatewayKey))
    // The gateway only awaits I/O, so socket completions can run on the epoll threads instead of waking a thread-pool
    // worker for every read: ≈ 20% less gateway CPU per request (bench/README.md, step 7). The runtime reads this once,
    // from the environment only.
    .WithEnvironment("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1")
    .WithReference(token).WithReference(authorization).WithReference(agents).WithReference(federation).WithReference(admin)
    .WaitFor(token).WaitFor(authorization).WaitFor(agents).WaitFor(federation).WaitFor(admin)
    .WithHttpHealthCheck("/health");

if (settings.SeedDemo)
{
    DemoTenant.Configure(builder, gateway, settings);
}

builder.Build().Run();
