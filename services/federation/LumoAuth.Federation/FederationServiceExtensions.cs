using LumoAuth.Federation.Data;
using LumoAuth.Federation.Features.Ldap;
using LumoAuth.Federation.Features.Links;
using LumoAuth.Federation.Features.Login;
using LumoAuth.Federation.Features.Providers;
using LumoAuth.Federation.Features.Saml;
using LumoAuth.Messaging;
using LumoAuth.Messaging.Data;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.Extensions.Options;

namespace LumoAuth.Federation;

public static class FederationServiceExtensions
{
    public static IHostApplicationBuilder AddFederationService(this IHostApplicationBuilder builder)
    {
        builder.AddTenantServices();
        builder.AddServiceDatabase<FederationDbContext>(ServiceNames.FederationDb);
        builder.AddMessaging<FederationDbContext>(x =>
        {
            x.AddConsumer<ExternalIdentitiesOfDeletedUsersConsumer>();
            x.AddConsumer<Features.Saml.SamlBackChannelLogoutConsumer>();
        });
        builder.AddDatabaseKeyRing<FederationDbContext>("LumoAuth.Federation");
        builder.Services.AddOptions<FederationOptions>().BindConfiguration(FederationOptions.SectionName);
        builder.Services.AddSingleton<ProviderSecrets>();
        static bool AllowPrivate(IServiceProvider sp) => sp.GetRequiredService<IOptions<FederationOptions>>().Value.AllowPrivateTargets;
        builder.Services.AddOpenIdProviders(AllowPrivate);
        // Code exchanges and GitHub's API: the provider's answer, a few kilobytes.
        builder.Services.AddOutsideTargetClient(UpstreamSignIn.HttpClientName, c => (c.Timeout, c.MaxResponseContentBufferSize) = (TimeSpan.FromSeconds(10), 256 * 1024), AllowPrivate);
        builder.Services.AddSingleton<UpstreamSignIn>();
        builder.Services.AddSingleton<LoginStates>();
        builder.Services.AddSingleton<ExternalUsers>();
        builder.Services.AddSocialLoginRateLimit();
        builder.Services.AddMemoryCache();
        builder.Services.AddSingleton<SamlSigningKeys>();
        builder.Services.AddSingleton<SamlStates>();
        builder.Services.AddSingleton<SamlMetadataImport>();
        builder.Services.AddHostedService<SamlMetadataRefresh>();
        builder.Services.AddSingleton<SamlSubjects>();
        builder.Services.AddSingleton<SamlAppLogout>();
        builder.Services.AddSingleton<LdapDirectory>();
        builder.Services.AddSingleton<LdapGroupRoleSync>();
        builder.Services.AddScoped<LdapSync>();
        builder.Services.AddHostedService<LdapSyncJob>();
        return builder;
    }
}
