using LumoAuth.Authorization.Consistency;
using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Features.Abac;
using LumoAuth.Authorization.Features.Rbac;
using LumoAuth.Authorization.Features.Relationships;
using LumoAuth.Authorization.Schemas;
using LumoAuth.Authorization.Storage;
using LumoAuth.Messaging;
using LumoAuth.ServiceDefaults;
using Npgsql;

namespace LumoAuth.Authorization;

public static class AuthorizationServiceExtensions
{
    public static IHostApplicationBuilder AddAuthorizationService(this IHostApplicationBuilder builder)
    {
        builder.AddTenantServices();
        builder.AddServiceDatabase<AuthorizationDbContext>(ServiceNames.AuthorizationDb);
        builder.AddMessaging<AuthorizationDbContext>(x =>
        {
            x.AddConsumer<GroupMembershipConsumer>();
            x.AddConsumer<GroupDeletedConsumer>();
            x.AddConsumer<UserDeletedConsumer>();
            x.AddConsumer<AgentDeletedConsumer>();
            x.AddConsumer<RoleDeletedConsumer>();
            x.AddConsumer<InvitationAcceptedConsumer>();
        });

        // The check path reads tuples with plain Npgsql (no change tracking, concurrent reads).
        var connectionString = builder.Configuration.GetConnectionString(ServiceNames.AuthorizationDb)!;
        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        builder.Services.AddOptions<TupleIndexOptions>().BindConfiguration(TupleIndexOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<ChangelogOptions>().BindConfiguration(ChangelogOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddHostedService<ChangelogRetention>();
        builder.Services.AddSingleton<TenantIndexes>();
        builder.Services.AddSingleton<TenantModels>();
        builder.Services.AddSingleton<ZanzibarReads>();
        builder.Services.AddSingleton<RbacStore>();
        builder.Services.AddSingleton<AdminDirectory>();
        builder.Services.AddScoped<AbacRequests>();
        builder.Services.AddScoped<SubjectAttributes>();
        builder.Services.AddSingleton<AbacPolicyCache>();
        return builder;
    }
}
