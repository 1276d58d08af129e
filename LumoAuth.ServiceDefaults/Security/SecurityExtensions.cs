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
        services.AddSingleton<IAuthorizationHandler, RelationshipScopeHandler>();
        services.AddAuthorizationBuilder()
            .AddPolicy(Policies.TenantCaller, p => p.AddAuthenticationSchemes(AuthSchemes.Tenant).RequireAuthenticatedUser())
            .AddPolicy(Policies.TenantAdmin, p => p.AddAuthenticationSchemes(AuthSchemes.Tenant).RequireAuthenticatedUser()
                .AddRequirements(new AdminScopeRequirement()))
            .AddPolicy(Policies.RelationshipStore, p => p.AddAuthenticationSchemes(AuthSchemes.Tenant).RequireAuthenticatedUser()
                .AddRequirements(new RelationshipScopeRequirement()))
            .AddPolicy(Policies.RelationshipQueries, p => p.AddAuthenticationSchemes(AuthSchemes.Tenant).RequireAuthenticatedUser()
                .AddRequirements(new RelationshipScopeRequirement { ReadsOnly = true }))
            .AddPolicy(Policies.Internal, p => p.AddAuthenticationSchemes(AuthSchemes.Internal).RequireAuthenticatedUser());
        return services;
    }
}

public sealed class AdminScopeRequirement : IAuthorizationRequirement;

public sealed class RelationshipScopeRequirement : IAuthorizationRequirement
{
    /// <summary>The endpoints only read, whatever their method (queries sent as POST bodies).</summary>
    public bool ReadsOnly { get; init; }
}

/// <summary>
/// Tuples change who may do what, so a token needs a scope for them: <c>zanzibar.write</c> (or <c>zanzibar:write</c>)
/// for everything, <c>zanzibar.read</c> for reads, or an admin scope as for the Admin API.
/// </summary>
public sealed class RelationshipScopeHandler : AuthorizationHandler<RelationshipScopeRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, RelationshipScopeRequirement requirement)
    {
        var request = (context.Resource as HttpContext)?.Request;
        var isRead = requirement.ReadsOnly || request is null || HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);
        if (AdminScopeHandler.ScopesOf(context.User).Any(s => Grants(s, isRead) || AdminScopeHandler.Grants(s, isRead)))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }

    private static bool Grants(string scope, bool isRead) => scope switch
    {
        "zanzibar.write" or "zanzibar:write" => true,
        "zanzibar.read" or "zanzibar:read" => isRead,
        _ => false,
    };
}

/// <summary>
/// Reads need an admin scope of any kind, writes a writing one. Both vocabularies of the docs are accepted:
/// <c>admin</c>, <c>admin:read</c>/<c>admin.read</c>, <c>admin:write</c>/<c>admin.write</c> (C-48). A resource scope
/// (<c>admin:users</c>, <c>admin:clients</c>…) reads and writes its own resources, named by the path segment after
/// <c>/admin/</c>, and nothing else.
/// </summary>
public sealed class AdminScopeHandler : AuthorizationHandler<AdminScopeRequirement>
{
    /// <summary>The first path segments of the documented aliases without <c>/admin</c> (inventory C-21), besides <c>users/{id}/roles</c>.</summary>
    private static readonly HashSet<string> AliasRoots = new(StringComparer.Ordinal) { "invitations", "roles", "permissions", "groups" };

    /// <summary>The admin resources (first path segment after <c>/admin/</c>) each resource scope manages.</summary>
    private static readonly Dictionary<string, string[]> ResourceScopes = new(StringComparer.Ordinal)
    {
        ["admin:users"] = ["users", "invitations", "sessions"],
        ["admin:roles"] = ["roles", "permissions"],
        ["admin:groups"] = ["groups"],
        ["admin:clients"] = ["clients", "scopes"],
        ["admin:webhooks"] = ["webhooks"],
        ["admin:audit"] = ["audit-logs"],
        // Writes of MCP servers also need a credential that writes everything (the agents service checks).
        ["admin:agents"] = ["agents", "mcp-servers"],
    };

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, AdminScopeRequirement requirement)
    {
        var scopes = ScopesOf(context.User);
        var request = (context.Resource as HttpContext)?.Request;
        var isRead = request is null || HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);
        if (scopes.Any(s => Grants(s, isRead)) || (request is not null && scopes.Any(s => GrantsResource(s, request.PathBase + request.Path))))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }

    public static IReadOnlyCollection<string> ScopesOf(System.Security.Claims.ClaimsPrincipal user) =>
        user.FindAll(LumoClaims.Scope)
            .SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToHashSet(StringComparer.Ordinal);

    public static bool Grants(string scope, bool isRead) => scope switch
    {
        "admin" or "admin:write" or "admin.write" => true,
        "admin:read" or "admin.read" => isRead,
        _ => false,
    };

    /// <summary>
    /// Whether a resource scope covers the request's full path: <c>/t/{slug}/api/v1/admin/{resource}…</c>, or one of the
    /// documented aliases without <c>/admin</c> (<see cref="AliasRoots"/>), which answer the same. Role assignments
    /// (<c>users/{id}/roles</c>, <c>groups/{id}/roles</c>) belong to <c>admin:roles</c>, not to the users or groups scope:
    /// whoever manages accounts does not thereby decide who holds which role.
    /// </summary>
    public static bool GrantsResource(string scope, PathString path)
    {
        if (!ResourceScopes.TryGetValue(scope, out var resources))
        {
            return false;
        }

        // Routing matches paths case-insensitively, so must this: `users/{id}/Roles` is a role assignment too.
        var value = (path.Value ?? string.Empty).ToLowerInvariant();
        const string marker = "/api/v1/";
        var api = value.IndexOf(marker, StringComparison.Ordinal);
        if (api < 0)
        {
            return false;
        }

        var segments = value[(api + marker.Length)..].Split('/');
        var alias = segments[0] != "admin";
        if (!alias)
        {
            segments = segments[1..];
        }

        if (segments.Length == 0)
        {
            return false;
        }

        var resource = segments.Length >= 3 && segments[0] is "users" or "groups" && segments[2] == "roles" ? "roles" : segments[0];
        return (!alias || AliasRoots.Contains(segments[0]) || resource == "roles") && resources.Contains(resource, StringComparer.Ordinal);
    }

    /// <summary>Whether the caller holds a scope that writes anything of the tenant's administration (not a resource scope).</summary>
    public static bool HasFullWrite(System.Security.Claims.ClaimsPrincipal user) => ScopesOf(user).Any(s => Grants(s, isRead: false));

    /// <summary>The system roles that administer a tenant: giving or taking them needs <see cref="HasFullWrite"/>.</summary>
    public static readonly IReadOnlyList<string> PrivilegedRoles = ["admin", "tenant_admin"];

    public static bool IsPrivilegedRole(string slug) => PrivilegedRoles.Contains(slug, StringComparer.Ordinal);
}
