using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Features.Token;
using LumoAuth.Token.Keys;
using LumoAuth.Token.Protocol;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenIddict.Core;
using OpenIddict.Server;

namespace LumoAuth.Token.Extensions;

public static class TokenServiceExtensions
{
    /// <summary>Everything the token service registers: OpenIddict per tenant, keys, client cache, audit batching.</summary>
    public static IHostApplicationBuilder AddTokenService(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;

        // Data Protection protects tenant private keys at rest; the key ring lives in the token database
        // so every replica shares it.
        services.AddDataProtection().SetApplicationName("LumoAuth.Token");
        services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(sp =>
            new ConfigureOptions<KeyManagementOptions>(o => o.XmlRepository = new DbXmlRepository(sp.GetRequiredService<IServiceScopeFactory>())));

        services.AddSingleton<TenantKeyStore>();
        services.AddSingleton<ClientCache>();
        services.Replace(ServiceDescriptor.Singleton<IJwksSource, LocalJwksSource>());
        services.AddSingleton<EventBatcher<TokenDbContext>>();
        services.AddHostedService(sp => sp.GetRequiredService<EventBatcher<TokenDbContext>>());

        services.AddOpenIddict()
            .AddCore(core =>
            {
                core.UseEntityFrameworkCore()
                    .UseDbContext<TokenDbContext>()
                    .ReplaceDefaultEntities<TokenApplication, TokenAuthorization, TokenScope, TokenToken, Guid>();
                core.ReplaceApplicationManager<TokenApplication, TokenApplicationManager>();
                // Our manager caches clients per tenant; OpenIddict's per-request entity cache adds nothing.
                core.DisableEntityCaching();
            })
            .AddServer(server =>
            {
                // Endpoints: relative, no leading slash, so they resolve under the tenant's PathBase.
                server.SetConfigurationEndpointUris(".well-known/openid-configuration", ".well-known/oauth-authorization-server")
                    .SetJsonWebKeySetEndpointUris(".well-known/jwks.json")
                    .SetTokenEndpointUris("oauth/token");

                // Flows.
                server.AllowClientCredentialsFlow();

                // Scopes are per client (scp: permissions), checked by the token endpoint with invalid_scope.
                server.DisableScopeValidation()
                    .IgnoreScopePermissions();

                // Credentials: per tenant, swapped in by TenantServerOptionsMonitor. RFC 9068 JWTs are signed, not encrypted.
                server.DisableAccessTokenEncryption();

                // Extensions.
                server.AddEventHandler(PinBaseUriToIssuer.Descriptor);
                server.AddEventHandler(StatelessClientCredentialsTokens.Descriptor);
                server.AddEventHandler(RecordAccessTokenIssued.Descriptor);

                // Host: TLS ends at the gateway; the issuer is pinned per tenant, never taken from the request.
                server.UseAspNetCore()
                    .EnableTokenEndpointPassthrough()
                    .DisableTransportSecurityRequirement();
            });

        // Endpoints take our manager by its own type; it is the one OpenIddict resolves, too.
        services.AddScoped(sp => (TokenApplicationManager)sp.GetRequiredService<OpenIddictApplicationManager<TokenApplication>>());
        services.AddSingleton<TenantServerOptionsMonitor>();
        services.Replace(ServiceDescriptor.Singleton<IOptionsMonitor<OpenIddictServerOptions>>(sp => sp.GetRequiredService<TenantServerOptionsMonitor>()));
        return builder;
    }

    /// <summary>Routing, then the tenant PathBase rewrite, then authentication (OpenIddict) and authorization — in that order.</summary>
    public static WebApplication UseTokenServer(this WebApplication app)
    {
        app.UseRouting();
        app.UseMiddleware<TenantPathMiddleware>();
        app.UseAuthentication();
        app.UseAuthorization();
        return app;
    }

    public static WebApplication MapTokenServiceEndpoints(this WebApplication app)
    {
        app.MapTokenEndpoints();
        app.MapClientEndpoints();
        return app;
    }
}
