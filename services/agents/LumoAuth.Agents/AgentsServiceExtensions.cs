using LumoAuth.Agents.Data;
using LumoAuth.Agents.Features.AAuth;
using LumoAuth.Agents.Features.Jit;
using LumoAuth.Agents.Features.Registry;
using LumoAuth.Agents.Features.Runtime;
using LumoAuth.Messaging;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.AspNetCore.Authentication;

namespace LumoAuth.Agents;

public static class AgentsServiceExtensions
{
    public static IHostApplicationBuilder AddAgentsService(this IHostApplicationBuilder builder)
    {
        builder.AddTenantServices();
        builder.AddServiceDatabase<AgentsDbContext>(ServiceNames.AgentsDb);
        builder.AddMessaging<AgentsDbContext>(x =>
        {
            x.AddConsumer<AgentRoleRecordConsumer>();
            x.AddConsumer<JitCallbackConsumer>();
            x.AddConsumer<AAuthUserGrantRevocationConsumer>();
        });

        // Agents call with keys of their own, beside the tenant's API keys and bearer tokens the admin routes take.
        builder.Services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, AgentKeyAuthenticationHandler>(AgentAuth.KeyScheme, null)
            .AddPolicyScheme(AgentAuth.Scheme, "An agent key or an agent's bearer token", o => o.ForwardDefaultSelector =
                context => AgentKeys.Read(context.Request) is not null ? AgentAuth.KeyScheme : LumoAuth.ServiceDefaults.Security.AuthSchemes.Bearer);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(AgentAuth.Policy, p => p.AddAuthenticationSchemes(AgentAuth.Scheme).RequireAuthenticatedUser());
        builder.Services.AddScoped<AgentCallFilter>();
        builder.Services.AddScoped<AgentGate>();
        builder.Services.AddSingleton<AgentRoles>();
        builder.Services.AddSingleton<AgentClients>();
        builder.Services.AddSingleton<AgentBudget>();
        builder.Services.AddOptions<JitOptions>().BindConfiguration(JitOptions.SectionName);
        builder.Services.AddOptions<WorkloadIdentityOptions>().BindConfiguration(WorkloadIdentityOptions.SectionName);
        builder.Services.AddSingleton<JitTokens>();
        builder.Services.AddOptions<AAuthOptions>().BindConfiguration(AAuthOptions.SectionName);
        builder.Services.AddSingleton<AAuthCallers>();
        builder.Services.AddHostedService<AAuthHousekeeping>();
        builder.Services.AddOpenIdProviders(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<AAuthOptions>>().Value.AllowPrivateTargets);
        builder.Services.AddOutsideTargetClient(
            JitCallbackConsumer.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(5),
            sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<JitOptions>>().Value.AllowPrivateCallbackTargets);
        return builder;
    }
}
