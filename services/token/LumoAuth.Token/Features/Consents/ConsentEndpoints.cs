using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.Sessions;

namespace LumoAuth.Token.Features.Consents;

/// <summary>
/// <c>/admin/users/{userId}/consents</c> (ours, as Auth0's user grants): the applications a user consented to, and taking
/// one's access away (<see cref="ApplicationAccess"/>).
/// </summary>
public static class ConsentEndpoints
{
    public static IEndpointRouteBuilder MapConsentEndpoints(this IEndpointRouteBuilder app)
    {
        // An administrator's access is taken away only by a full administrator (AdministratorGuard), as their tokens are.
        var consents = app.MapGroup("/t/{tenantSlug}/api/v1/admin/users/{userId}/consents")
            .RequireAuthorization(Policies.TenantAdmin).GuardingAdministratorAccounts().WithTags("Consents");
        consents.MapGet("/", ListConsents).WithName("ListUserConsents");
        consents.MapDelete("/{clientId}", RevokeConsent).WithName("RevokeUserConsent");
        return app;
    }

    public sealed record ConsentServices(ApplicationAccess Access, UserDirectory Users, TenantContext Tenant);

    public static async Task<IResult> ListConsents(string userId, [AsParameters] ConsentServices services, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(userId, out var id))
        {
            return ApiErrors.NotFound("User");
        }

        var applications = await services.Access.ListAsync(id, cancellationToken);
        if (applications.Count == 0 && await SessionEndpoints.UnknownUserAsync(services.Users, services.Tenant.TenantId, id, cancellationToken) is { } refusal)
        {
            return refusal;
        }

        return Results.Ok(new DataResponse<IReadOnlyList<GrantedApplication>>(applications));
    }

    public static async Task<IResult> RevokeConsent(string userId, string clientId, [AsParameters] ConsentServices services, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(userId, out var id) || clientId.Length > 2048)
        {
            return ApiErrors.NotFound(clientId.Length > 2048 ? "Consent" : "User");
        }

        if (await services.Access.RevokeAsync(id, clientId, ApplicationAccess.Reasons.Admin, cancellationToken))
        {
            return Results.NoContent();
        }

        return await SessionEndpoints.UnknownUserAsync(services.Users, services.Tenant.TenantId, id, cancellationToken) ?? ApiErrors.NotFound("Consent");
    }
}
