using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.AuditLogs;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Admin.Features.Email;
using LumoAuth.Admin.Features.Internal;
using LumoAuth.Admin.Features.Groups;
using LumoAuth.Admin.Features.Scim;
using LumoAuth.Admin.Features.Tenants;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Admin.Features.Webhooks;
using LumoAuth.Admin.Security;
using LumoAuth.Messaging;
using LumoAuth.Messaging.Data;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Geo;
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
        builder.Services.AddOptions<PasswordHashingOptions>()
            .BindConfiguration(PasswordHashingOptions.SectionName)
            .ValidateOnStart();
        builder.Services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<PasswordHashingOptions>, PasswordHashingOptionsValidation>();
        builder.Services.AddSingleton<PasswordHasher>();
        builder.Services.AddOptions<LumoAuth.Admin.Features.CustomDomains.CustomDomainOptions>()
            .BindConfiguration(LumoAuth.Admin.Features.CustomDomains.CustomDomainOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<LumoAuth.Admin.Features.CustomDomains.DomainVerifier>();
        builder.Services.AddHostedService<LumoAuth.Admin.Features.CustomDomains.CustomDomainRecheck>();
        builder.Services.AddOptions<BreachCheckOptions>().BindConfiguration(BreachCheckOptions.SectionName);
        builder.Services.AddHttpClient(BreachedPasswords.HttpClientName);
        builder.Services.AddSingleton<BreachedPasswords>();
        builder.Services.AddSingleton<LumoAuth.Admin.Features.Gdpr.DataHeldElsewhere>();
        builder.Services.AddScoped<UserCommands>();
        builder.Services.AddSingleton<LumoAuth.Admin.Features.Credentials.DirectoryPasswords>();
        builder.Services.AddSingleton<RoleHolderLookup>();
        builder.Services.AddSingleton<InitialRoles>();
        builder.Services.AddSingleton<AdministratorGuard>();
        builder.Services.AddScoped<ScimService>();
        builder.Services.AddSingleton<FailedSignInThrottle>();
        builder.Services.AddScoped<Authenticator>();
        builder.Services.AddScoped<SignInRisk>();
        builder.Services.AddGeoIp();
        builder.Services.AddOptions<LumoAuth.Admin.Features.Sms.SmsOptions>().BindConfiguration(LumoAuth.Admin.Features.Sms.SmsOptions.SectionName);
        builder.Services.AddHttpClient(LumoAuth.Admin.Features.Sms.SmsSender.HttpClientName);
        builder.Services.AddSingleton<LumoAuth.Admin.Features.Sms.SmsSender>();
        builder.Services.AddSingleton<LumoAuth.Admin.Features.Sms.SmsPhones>();
        builder.Services.AddScoped<TotpFactors>();
        builder.Services.AddScoped<SecondStepCodes>();
        // TOTP and webhook secrets are encrypted with keys every replica shares through the admin database.
        builder.AddDatabaseKeyRing<AdminDbContext>("lumoauth-admin");

        builder.AddServiceDatabase<AdminDbContext>(ServiceNames.AdminDb);
        builder.Services.AddOpenApi(o =>
        {
            o.AddDocumentTransformer((document, _, _) =>
            {
                // Service-to-service routes are not part of the public contract.
                foreach (var path in document.Paths.Keys.Where(p => p.StartsWith("/internal/", StringComparison.Ordinal)).ToList())
                {
                    document.Paths.Remove(path);
                }

                document.Info.Title = "LumoAuth Tenant Admin API";
                return Task.CompletedTask;
            });
            o.AddSchemaTransformer((schema, context, _) =>
            {
                // Instants go through ServiceDefaults' UtcInstantConverter, which the schema generator cannot look into.
                var type = context.JsonTypeInfo.Type;
                if (type == typeof(DateTimeOffset) || type == typeof(DateTimeOffset?))
                {
                    schema.Type = type == typeof(DateTimeOffset) ? Microsoft.OpenApi.JsonSchemaType.String
                        : Microsoft.OpenApi.JsonSchemaType.String | Microsoft.OpenApi.JsonSchemaType.Null;
                    schema.Format = "date-time";
                }

                return Task.CompletedTask;
            });
        });

        builder.Services.AddOptions<WebhookOptions>()
            .BindConfiguration(WebhookOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddScoped<WebhookSecrets>();
        builder.Services.AddSingleton<WebhookSender>();
        builder.Services.AddSingleton<WebhookSignal>();
        builder.Services.AddSingleton<WebhookDispatcher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<WebhookDispatcher>());
        // One instance: the erasure endpoint wakes it.
        builder.Services.AddSingleton<LumoAuth.Admin.Features.AuditLogs.AuditHousekeeping>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LumoAuth.Admin.Features.AuditLogs.AuditHousekeeping>());

        builder.AddEmailDelivery();

        builder.AddMessaging<AdminDbContext>(bus =>
        {
            bus.AddEmailConsumers(builder.Configuration);
            bus.AddAddressLinkConsumer(builder.Configuration);
            // Texted codes leave beside the mail, on the same delivery queue.
            bus.AddConsumer<LumoAuth.Admin.Features.Sms.SmsCodeConsumer>()
                .Endpoint(e => e.Name = $"{builder.Configuration["Messaging:Prefix"] ?? "lumoauth"}-admin-email");
            // Audit and webhooks take every event of every service, so they share one queue: each message is
            // delivered and deserialized once for both (token batches bring thousands of events a second).
            var everyEvent = $"{builder.Configuration["Messaging:Prefix"] ?? "lumoauth"}-admin-events";
            bus.AddAuditConsumers(everyEvent);
            bus.AddWebhookConsumers(everyEvent);
        });
        return builder;
    }
}
