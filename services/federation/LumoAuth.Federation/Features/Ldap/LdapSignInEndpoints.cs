using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.Federation.Data;
using LumoAuth.Federation.Features.Login;
using LumoAuth.Federation.Features.Providers;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Federation.Features.Ldap;

/// <summary>
/// A sign-in with an LDAP directory's name and password, asked by the token service's form (which throttles failures and
/// then opens the session under the same rules as any outside sign-in: blocked, locked, second step). Here the directory
/// checks the password (<see cref="LdapDirectory"/>), the entry is linked to its user, or the user is found by verified
/// address or made (JIT, with the provider's default roles), and the roles the entry's groups map to are set again.
/// </summary>
public static partial class LdapSignInEndpoints
{
    public static IEndpointRouteBuilder MapLdapSignInEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGroup(string.Empty).RequireAuthorization(Policies.Internal).WithTags("Internal")
            .MapPost(InternalRoutes.LdapSignIns, SignInAsync).WithName("InternalLdapSignIn");
        app.MapGroup(string.Empty).RequireAuthorization(Policies.Internal).WithTags("Internal")
            .MapPost(InternalRoutes.DirectoryPasswords, SetPasswordAsync).WithName("InternalDirectoryPassword");
        app.MapGroup(string.Empty).RequireAuthorization(Policies.Internal).WithTags("Internal")
            .MapGet(InternalRoutes.DirectoryPasswords + "/{directoryId:guid}", PasswordPolicyAsync).WithName("InternalDirectoryPasswordPolicy");
        return app;
    }

    public sealed record SignInServices(
        FederationDbContext Db, TenantDirectory Tenants, TenantContext Tenant, LdapDirectory Directory, ProviderSecrets Secrets, ExternalUsers Users,
        LoginStates States, LdapGroupRoleSync GroupRoles, ILogger<LdapDirectory> Logger);

    public static async Task<IResult> SignInAsync(LdapSignInRequest request, [AsParameters] SignInServices services, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty || await services.Tenants.FindAsync(request.TenantId, request.TenantSlug, cancellationToken) is not { } tenant)
        {
            return ApiErrors.NotFound("Tenant");
        }

        services.Tenant.Set(tenant);
        var provider = await services.Db.IdentityProviders.AsNoTracking()
            .FirstOrDefaultAsync(p => p.Id == request.ProviderId && p.Type == ProviderTypes.Ldap, cancellationToken);
        if (provider?.Ldap is not { } settings)
        {
            return ApiErrors.NotFound("LDAP provider");
        }

        if (!provider.IsEnabled)
        {
            return ApiErrors.Create(StatusCodes.Status403Forbidden, LdapSignInErrors.ProviderDisabled, "This directory is not used for sign-in now");
        }

        var bindPassword = settings.ProtectedBindPassword is { } sealedPassword ? services.Secrets.Reveal(sealedPassword) : null;
        var outcome = await services.Directory.AuthenticateAsync(settings, bindPassword, request.Username ?? string.Empty, request.Password ?? string.Empty, cancellationToken);
        switch (outcome.Verdict)
        {
            case LdapVerdict.InvalidCredentials:
                return ApiErrors.Create(StatusCodes.Status401Unauthorized, LdapSignInErrors.InvalidCredentials, "The name or password is not the directory's");
            case LdapVerdict.Misconfigured or LdapVerdict.Unavailable:
                // The person can do nothing about either; the log says which (LdapDirectory).
                return ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "The directory cannot sign people in right now");
        }

        var entry = outcome.Account!;
        var account = entry.ToUpstream(settings);
        SignInSteps.LinkOutcome link;
        try
        {
            link = await SignInSteps.LinkAsync(new SignInSteps.Context(services.Db, services.Tenant, services.Users, services.States), provider, account, cancellationToken);
        }
        catch (DependencyUnavailableException)
        {
            return ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "Users cannot be looked up right now");
        }

        if (link.Refusal is { } refusal)
        {
            LogRefused(services.Logger, tenant.Id, provider.Id, refusal);
            return ApiErrors.Create(refusal == ExternalUserErrors.AccountExists ? StatusCodes.Status409Conflict : StatusCodes.Status403Forbidden, refusal,
                "The directory's person has no user here");
        }

        if (settings.GroupRoles.Count > 0 && !await services.GroupRoles.SetAsync(tenant.Id, link.UserId, settings, entry.Groups, cancellationToken))
        {
            // A person the directory took out of a group must not sign in with the role it gave: no sign-in until it is set.
            return ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "Roles cannot be brought up to date right now");
        }

        // The directory has just vouched for the person (the user filter found them and their password held): a block it
        // made because an import missed them ends now, not at the next import.
        if (!link.UserCreated)
        {
            try
            {
                await services.Users.ReportPresenceAsync(provider.Id, new DirectoryPresenceRequest(tenant.Id, [link.UserId], null), cancellationToken);
            }
            catch (DependencyUnavailableException)
            {
                return ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "Users cannot be looked up right now");
            }
        }

        return TypedResults.Ok(new LdapSignInResponse(link.UserId, provider.Name));
    }

    /// <summary>
    /// Writes a user's new password to the directory that made them (admin checked the tenant's password policy first):
    /// only with the directory's <c>passwordWriteBack</c> on and the directory enabled, and only for the entry the user is
    /// linked to. 204; 400 with the current password wrong or the directory's policy refusing; 409 when the directory takes
    /// no passwords from here; 503 when it cannot be reached or refuses the service account.
    /// </summary>
    public static async Task<IResult> SetPasswordAsync(DirectoryPasswordRequest request, [AsParameters] SignInServices services, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty || await services.Tenants.FindByIdAsync(request.TenantId, cancellationToken) is not { } tenant)
        {
            return ApiErrors.NotFound("Tenant");
        }

        services.Tenant.Set(tenant);
        var provider = await services.Db.IdentityProviders.AsNoTracking()
            .FirstOrDefaultAsync(p => p.Id == request.DirectoryId && p.Type == ProviderTypes.Ldap, cancellationToken);
        if (provider is not { IsEnabled: true, Ldap.PasswordWriteBack: true } || request.NewPassword is not { Length: > 0 } newPassword)
        {
            return ApiErrors.Create(StatusCodes.Status409Conflict, DirectoryPasswordErrors.NotWritable,
                "This account's password is kept by its LDAP directory: change it there");
        }

        var subject = await services.Db.ExternalIdentities.AsNoTracking()
            .Where(i => i.ProviderId == provider.Id && i.UserId == request.UserId).Select(i => i.Subject).FirstOrDefaultAsync(cancellationToken);
        if (subject is null)
        {
            return ApiErrors.NotFound("Directory entry");
        }

        var settings = provider.Ldap!;
        var bindPassword = settings.ProtectedBindPassword is { } sealedPassword ? services.Secrets.Reveal(sealedPassword) : null;
        var outcome = await services.Directory.ChangePasswordAsync(settings, bindPassword, subject, request.CurrentPassword, newPassword, cancellationToken);
        return outcome.Verdict switch
        {
            LdapVerdict.Success => TypedResults.NoContent(),
            LdapVerdict.InvalidCredentials when outcome.Problem is null =>
                ApiErrors.Create(StatusCodes.Status400BadRequest, DirectoryPasswordErrors.WrongPassword, "The current password is not the directory's"),
            LdapVerdict.InvalidCredentials => ApiErrors.NotFound("Directory entry"),
            LdapVerdict.Refused => ApiErrors.Create(StatusCodes.Status400BadRequest, DirectoryPasswordErrors.Refused,
                "The directory refused the new password" + (outcome.Problem is { Length: > 0 and <= 200 } why ? $": {why}" : string.Empty)),
            _ => ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "The directory cannot change passwords right now"),
        };
    }

    /// <summary>Whether the directory takes new passwords from here (admin asks before it mails a reset link to one of its users).</summary>
    public static async Task<IResult> PasswordPolicyAsync(Guid directoryId, Guid tenantId, [AsParameters] SignInServices services, CancellationToken cancellationToken)
    {
        if (tenantId == Guid.Empty || await services.Tenants.FindByIdAsync(tenantId, cancellationToken) is not { } tenant)
        {
            return ApiErrors.NotFound("Tenant");
        }

        services.Tenant.Set(tenant);
        return TypedResults.Ok(new DirectoryPasswordPolicy(await services.Db.IdentityProviders.AsNoTracking().AnyAsync(
            p => p.Id == directoryId && p.Type == ProviderTypes.Ldap && p.IsEnabled && p.Ldap!.PasswordWriteBack, cancellationToken)));
    }

    /// <summary>A DN compared as directories do for the common case: attribute names and values without case, no spaces between parts.</summary>
    public static string NormalizeDn(string dn) => string.Join(',', dn.Split(',').Select(part => part.Trim())).ToLowerInvariant();

    [LoggerMessage(Level = LogLevel.Information, Message = "An LDAP sign-in at tenant {TenantId} through provider {ProviderId} has no user: {Refusal}")]
    private static partial void LogRefused(ILogger logger, Guid tenantId, Guid providerId, string refusal);
}
