using LumoAuth.Authorization.Data;
using LumoAuth.Messaging;
using LumoAuth.ServiceDefaults;

namespace LumoAuth.Authorization;

public static class AuthorizationServiceExtensions
{
    public static IHostApplicationBuilder AddAuthorizationService(this IHostApplicationBuilder builder)
    {
        builder.AddTenantServices();
        builder.AddServiceDatabase<AuthorizationDbContext>(ServiceNames.AuthorizationDb);
        builder.AddMessaging<AuthorizationDbContext>();
        return builder;
    }
}
