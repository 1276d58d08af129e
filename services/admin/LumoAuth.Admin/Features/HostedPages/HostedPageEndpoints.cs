using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Internal;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.HostedPages;

/// <summary>
/// What the token service's hosted pages ask of admin: self-registration (<c>prompt=create</c>) and the tenant's
/// branding and registration switch. Internal key only; the gateway never routes <c>/internal</c>.
/// </summary>
public static class HostedPageEndpoints
{
    public static IEndpointRouteBuilder MapHostedPageEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(string.Empty).RequireAuthorization(Policies.Internal).WithTags("Internal");
        group.MapPost(InternalRoutes.RegisterUser, Register).WithName("InternalRegisterUser");
        group.MapGet(InternalRoutes.HostedPageSettings, GetSettings).WithName("InternalGetHostedPageSettings");
        return app;
    }

    /// <summary>
    /// Creates the account through the same <see cref="UserCommands"/> as the REST API (policy, uniqueness,
    /// <c>UserCreated</c> through the outbox), once the tenant's registration switch allows it.
    /// </summary>
    public static async Task<IResult> Register(
        RegisterUserRequest request, AdminDbContext db, TenantContext tenant, UserCommands users, CancellationToken cancellationToken)
    {
        if (!await InternalTenantScope.EnterAsync(db, tenant, request.TenantId, cancellationToken))
        {
            return ApiErrors.NotFound("Tenant");
        }

        var settings = await TenantSettings.LoadAsync(db, tenant.TenantId, cancellationToken);
        if (!settings.LoginPolicy.RegistrationEnabled)
        {
            return ApiErrors.Create(StatusCodes.Status403Forbidden, HostedPageErrorCodes.RegistrationDisabled, "Self-registration is disabled for this tenant");
        }

        // The REST API may create a user without a password (an invitation follows); a self-registered one needs it.
        var validation = new RequestValidator().Required("password", request.Password, PasswordPolicy.AbsoluteMaxLength);
        // The page showed the terms of the version it names; a version changed meanwhile is asked for again.
        var terms = settings.TermsOfService;
        validation.Check(!terms.IsSet || request.AcceptedTerms == terms.Version, "acceptedTerms",
            request.AcceptedTerms is null ? "the terms of service must be accepted" : "the terms of service have changed; accept the current ones");
        var attributes = ProfileAttributeValues.Apply(settings.UserProfile.Attributes, request.Attributes, atRegistration: true, "{}", validation);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var name = string.IsNullOrWhiteSpace(request.Name) ? null : request.Name.Trim();
        // Marked as a self-registration in the transaction that creates it: whoever registered may not own the address, so
        // its first proof by a link removes what it was set up with (UnprovenCredentials). Unmarked, it would be vouched for.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var (user, error) = await users.CreateAsync(
            new NewUser(request.Email?.Trim(), request.Password, new UserProfileFields(name, null, null, null, null, null) { Locale = request.Locale },
                EmailVerified: false, IsActive: true, Groups: null),
            cancellationToken);
        if (error is not null)
        {
            return error;
        }

        var acceptedAt = terms.IsSet ? DateTimeOffset.UtcNow : (DateTimeOffset?)null;
        await db.Users.Where(u => u.Id == user!.Id).ExecuteUpdateAsync(s => s
            .SetProperty(u => u.SelfRegisteredUnproven, true)
            .SetProperty(u => u.Attributes, attributes!)
            .SetProperty(u => u.TermsAcceptedVersion, terms.IsSet ? terms.Version : null)
            .SetProperty(u => u.TermsAcceptedAt, acceptedAt), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Created((string?)null, new RegisteredUser(user!.Id, user.Email, user.Name, settings.LoginPolicy.EmailVerificationRequired));
    }

    public static async Task<IResult> GetSettings(
        Guid tenantId, AdminDbContext db, Email.SmtpMailer mailer, Credentials.SecondStepCodes codes, CancellationToken cancellationToken)
    {
        var exists = await db.Tenants.AsNoTracking().AnyAsync(t => t.Id == tenantId, cancellationToken);
        if (!exists)
        {
            return ApiErrors.NotFound("Tenant");
        }

        var settings = await TenantSettings.LoadAsync(db, tenantId, cancellationToken);
        var branding = settings.Branding;
        var session = settings.SessionPolicy;
        return TypedResults.Ok(new HostedPageSettings(
            settings.LoginPolicy.RegistrationEnabled, branding.DisplayName, branding.LogoUrl, branding.PrimaryColor,
            session.MaxAge, session.IdleTimeout, session.SingleSession, settings.ClientRegistration.DynamicRegistrationEnabled,
            settings.LoginPolicy.MagicLinkEnabled || settings.LoginPolicy.MagicLinkOnly, settings.LoginPolicy.MagicLinkOnly, settings.LoginPolicy.EmailFirstLogin,
            settings.LoginPolicy.PasskeysEnabled, settings.ClientRegistration.ClientIdMetadataDocumentsEnabled, settings.MfaPolicy.RememberDeviceDays,
            mailer.IsEnabled && settings.MfaPolicy.AllowedMethods.Contains(MfaFactorTypes.Email), session.MaxSessions,
            codes.CanText(settings), settings.PasskeysMayRegister, settings.PasskeysMaySignIn,
            settings.Localization.Languages, settings.Localization.DefaultLanguage)
        {
            Texts = settings.Localization.Texts.Count == 0 ? null
                : settings.Localization.Texts.ToDictionary(l => l.Key, IReadOnlyDictionary<string, string> (l) => l.Value, StringComparer.Ordinal),
            Terms = settings.TermsOfService.IsSet ? new TermsOfService(settings.TermsOfService.Url!, settings.TermsOfService.Version!) : null,
            ProfileAttributes = settings.UserProfile.Attributes.Count == 0 ? null
                : settings.UserProfile.ToInfos(),
        });
    }
}
