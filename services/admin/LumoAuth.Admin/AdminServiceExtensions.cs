using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.AuditLogs;
using LumoAuth.Admin.Features.Internal;
using LumoAuth.Admin.Features.Tenants;
using LumoAuth.Admin.Security;
using LumoAuth.Messaging;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;

namespace LumoAuth.Admin;

public static class AdminServiceExtensions
{
    public static IHostApplicationBuilder AddAdminService(this IHostApplicationBuilder builder)
    {
        // Admin is the system of record for tenants and API keys: it answers lookups from its own database.
        builder.Services.AddSingleton<DatabaseTenantSource>();
        builder.Services.AddSingleton<ITenantSource>(sp => sp.GetRequiredService<DatabaseTenantSource>());
        builder.Services.AddSingleton<DatabaseApiKeySource>();
        builder.Services.AddSingleton<IApiKeySource>(sp => sp.GetRequiredService<DatabaseApiKeySource>());
        builder.AddTenantServices();

        builder.Services.AddOptions<PlatformOptions>()
            .BindConfiguration(PlatformOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<PasswordHasher>();

        builder.AddServiceDatabase<AdminDbContext>(ServiceNames.AdminDb);
        builder.AddMessaging<AdminDbContext>(bus => bus.AddAuditConsumers(builder.Configuration));
        return builder;
    }
}
