using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LumoAuth.ServiceDefaults.Security;

public static class SecurityExtensions
{
    /// <summary>The API-key, bearer and internal-key schemes and the policies built on them.</summary>
    public static IServiceCollection AddLumoAuthentication(this IServiceCollection services)
    {
        services.TryAddSingleton<IApiKeySource, AdminApiKeySource>();
        services.TryAddSingleton<IJwksSource, TokenServiceJwksSource>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ApiKeyVerifier>();
        services.AddSingleton<JwksCache>();

        services.AddAuthentication(AuthSchemes.Tenant)
            .AddPolicyScheme(AuthSchemes.Tenant, "API key or bearer token", o =>
                o.ForwardDefaultSelector = context => ApiKeyAuthenticationHandler.ReadKey(context.Request) is not null
                    ? AuthSchemes.ApiKey
                    : AuthSchemes.Bearer)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(AuthSchemes.ApiKey, null)
            .AddScheme<AuthenticationSchemeOptions, TenantBearerHandler>(AuthSchemes.Bearer, null)
            .AddScheme<AuthenticationSchemeOptions, InternalKeyAuthenticationHandler>(AuthSchemes.Internal, null);

        services.AddSingleton<IAuthorizationHandler, AdminScopeHandler>();
        services.AddAuthorizationBuilder()
            .AddPolicy(Policies.TenantCaller, p => p.AddAuthenticationSchemes(AuthSchemes.Tenant).RequireAuthenticatedUser())
            .AddPolicy(Policies.TenantAdmin, p => p.AddAuthenticationSchemes(AuthSchemes.Tenant).RequireAuthenticatedUser()
                .AddRequirements(new AdminScopeRequirement()))
            .AddPolicy(Policies.Internal, p => p.AddAuthenticationSchemes(AuthSchemes.Internal).RequireAuthenticatedUser());
        return services;
    }
}

public sealed class AdminScopeRequirement : IAuthorizationRequirement;

/// <summary>
/// Reads need an admin scope of any kind, writes a writing one. Both vocabularies of the docs are
/// accepted: <c>admin</c>, <c>admin:read</c>/<c>admin.read</c>, <c>admin:write</c>/<c>admin.write</c> (C-48).
/// </summary>
public sealed class AdminScopeHandler : AuthorizationHandler<AdminScopeRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, AdminScopeRequirement requirement)
    {
        var scopes = ScopesOf(context.User);
        var method = (context.Resource as HttpContext)?.Request.Method ?? HttpMethods.Get;
        var isRead = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        if (scopes.Any(s => Grants(s, isRead)))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }

    public static IReadOnlyCollection<string> ScopesOf(System.Security.Claims.ClaimsPrincipal user) =>
        user.FindAll(LumoClaims.Scope)
            .SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToHashSet(StringComparer.Ordinal);

    private static bool Grants(string scope, bool isRead) => scope switch
    {
        "admin" or "admin:write" or "admin.write" => true,
        "admin:read" or "admin.read" => isRead,
        _ => false,
    };
}
