using System.Text.Json;
using Fido2NetLib;
using Fido2NetLib.Objects;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.CustomDomains;
using LumoAuth.Admin.Features.Internal;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// Passkeys (WebAuthn Level 3, TOK-18…21) with Fido2NetLib: admin keeps the credentials and runs both ceremonies for
/// the token service's hosted pages. The relying party is the deployment's public host (<c>LumoAuth:PublicBaseUrl</c>),
/// the only accepted origin. Passkeys are discoverable credentials with user verification required; a sign-in with one
/// counts as two factors. The tenant's <see cref="PasskeyPolicy"/> says whether users may add them and sign in with them,
/// which attestation registration asks for (its statement is verified; its format and the AAGUID are kept, but no
/// device model is trusted or refused: that would need the FIDO metadata service) and which kind of authenticator.
/// </summary>
public static class Passkeys
{
    public const int MaxPerUser = 10;
    private const int MaxNameLength = 100;

    public static IEndpointRouteBuilder MapPasskeyEndpoints(this IEndpointRouteBuilder app)
    {
        var internalApi = app.MapGroup(string.Empty).RequireAuthorization(Policies.Internal).WithTags("Internal");
        internalApi.MapPost(PasskeyRoutes.RegistrationOptions, RegistrationOptions).WithName("InternalPasskeyRegistrationOptions");
        internalApi.MapPost(PasskeyRoutes.Register, Register).WithName("InternalRegisterPasskey");
        internalApi.MapPost(PasskeyRoutes.AssertionOptions, AssertionOptions).WithName("InternalPasskeyAssertionOptions");
        internalApi.MapPost(PasskeyRoutes.Authenticate, Authenticate).WithName("InternalAuthenticateWithPasskey");

        var admin = app.MapGroup("/t/{tenantSlug}/api/v1/admin/users/{userId}/passkeys").RequireAuthorization(Policies.TenantAdmin).GuardingAdministratorAccounts().WithTags("Users");
        admin.MapGet("/", List).WithName("ListUserPasskeys");
        admin.MapDelete("/{passkeyId:guid}", Delete).WithName("DeleteUserPasskey");
        return app;
    }

    /// <summary>
    /// The ceremony's settings: the relying party is this deployment's host, or the tenant's custom domain the ceremony
    /// runs on (<paramref name="domain"/>, checked by the caller), and its origin the only one accepted. A passkey belongs
    /// to the host it was made on: browsers offer it there only.
    /// </summary>
    public static Fido2 Ceremony(LumoAuthOptions options, string tenantName, string? domain = null)
    {
        var publicBase = new Uri(options.PublicBaseUrl);
        return new Fido2(new Fido2Configuration
        {
            RPID = domain ?? publicBase.Host,
            RPName = string.IsNullOrWhiteSpace(tenantName) ? CredentialEndpoints.TotpIssuerFallback : tenantName,
            Origins = new HashSet<string>(StringComparer.Ordinal) { domain is null ? publicBase.GetLeftPart(UriPartial.Authority) : options.OriginFor(domain) },
            TimestampDriftTolerance = 300_000,
        });
    }

    /// <summary>
    /// The relying party a ceremony names: null for the deployment's host, else the tenant's verified custom domain; false
    /// when the host is neither (a domain removed or not verified, or another tenant's).
    /// </summary>
    private static async Task<(bool Known, string? Domain)> RelyingPartyAsync(AdminDbContext db, LumoAuthOptions options, string? host, CancellationToken cancellationToken)
    {
        if (host is null || string.Equals(host, options.PublicHost, StringComparison.OrdinalIgnoreCase))
        {
            return (true, null);
        }

        var domain = host.ToLowerInvariant();
        return await db.IsVerifiedDomainAsync(domain, cancellationToken) ? (true, domain) : (false, null);
    }

    private static IResult UnknownHost() => ApiErrors.Validation("domain", "is not a verified domain of this tenant");

    public static async Task<IResult> RegistrationOptions(
        Guid userId, Guid? tenantId, string? domain, AdminDbContext db, TenantContext tenant, IOptions<LumoAuthOptions> lumo, CancellationToken cancellationToken)
    {
        if (await InternalTenantScope.FindUserAsync(db, tenant, tenantId, userId, cancellationToken) is not { } user)
        {
            return ApiErrors.NotFound("User");
        }

        if (await RelyingPartyAsync(db, lumo.Value, domain, cancellationToken) is not (true, var relyingParty))
        {
            return UnknownHost();
        }

        var settings = await TenantSettings.LoadAsync(db, user.TenantId, cancellationToken);
        if (!settings.PasskeysMayRegister)
        {
            return RegistrationDisabled();
        }

        var existing = await db.Passkeys.Where(p => p.UserId == user.Id).Select(p => p.CredentialId).ToListAsync(cancellationToken);
        if (existing.Count >= MaxPerUser)
        {
            return ApiErrors.Validation("passkeys", $"a user has at most {MaxPerUser} passkeys");
        }

        var policy = settings.PasskeyPolicy;
        var options = Ceremony(lumo.Value, tenant.Tenant!.Name, relyingParty).RequestNewCredential(new RequestNewCredentialParams
        {
            User = new Fido2User { Id = user.Id.ToByteArray(), Name = user.Email, DisplayName = user.Name ?? user.Email },
            ExcludeCredentials = [.. existing.Select(id => new PublicKeyCredentialDescriptor(id))],
            AuthenticatorSelection = new AuthenticatorSelection
            {
                ResidentKey = ResidentKeyRequirement.Required,
                UserVerification = UserVerificationRequirement.Required,
                AuthenticatorAttachment = AttachmentOf(policy),
            },
            AttestationPreference = policy.AttestationPreference switch
            {
                "direct" => AttestationConveyancePreference.Direct,
                "indirect" => AttestationConveyancePreference.Indirect,
                _ => AttestationConveyancePreference.None,
            },
        });
        return Results.Text(options.ToJson(), "application/json");
    }

    public static async Task<IResult> Register(
        Guid userId, Guid? tenantId, RegisterPasskey request, AdminDbContext db, TenantContext tenant, IOptions<LumoAuthOptions> lumo, CancellationToken cancellationToken)
    {
        if (await InternalTenantScope.FindUserAsync(db, tenant, tenantId, userId, cancellationToken) is not { } user)
        {
            return ApiErrors.NotFound("User");
        }

        var name = string.IsNullOrWhiteSpace(request.Name) ? "Passkey" : request.Name.Trim();
        if (name.Length > MaxNameLength || await db.Passkeys.CountAsync(p => p.UserId == user.Id, cancellationToken) >= MaxPerUser)
        {
            return ApiErrors.Validation("name", $"at most {MaxNameLength} characters, and at most {MaxPerUser} passkeys a user");
        }

        var settings = await TenantSettings.LoadAsync(db, user.TenantId, cancellationToken);
        if (!settings.PasskeysMayRegister)
        {
            return RegistrationDisabled();
        }

        // Level 3 browsers say which kind of authenticator answered. Only a hint (the browser reports it, nothing signs it),
        // but one that contradicts the tenant's choice is refused rather than kept.
        var attachment = request.Response.ValueKind == JsonValueKind.Object
            && request.Response.TryGetProperty("authenticatorAttachment", out var reported) && reported.ValueKind == JsonValueKind.String
                ? reported.GetString() : null;
        if (attachment is not (null or "platform" or "cross-platform"))
        {
            attachment = null;
        }

        if (AttachmentOf(settings.PasskeyPolicy) is { } wanted && attachment is not null
            && attachment != (wanted == AuthenticatorAttachment.Platform ? "platform" : "cross-platform"))
        {
            return Refused(wanted == AuthenticatorAttachment.Platform
                ? "Only passkeys kept on this device (its screen lock) can be added here."
                : "Only security keys and passkeys on another device can be added here.");
        }

        RegisteredPublicKeyCredential credential;
        try
        {
            var options = CredentialCreateOptions.FromJson(request.Options ?? string.Empty);
            if (options.User.Id is not { } handle || !handle.AsSpan().SequenceEqual(user.Id.ToByteArray()))
            {
                return Refused("The options were made for another user.");
            }

            // The options name the host the ceremony began on; it must still be the deployment's or one of the tenant's domains.
            if (await RelyingPartyAsync(db, lumo.Value, options.Rp.Id, cancellationToken) is not (true, var relyingParty))
            {
                return Refused("The passkey was made for a host this tenant does not serve.");
            }

            credential = await Ceremony(lumo.Value, tenant.Tenant!.Name, relyingParty).MakeNewCredentialAsync(new MakeNewCredentialParams
            {
                AttestationResponse = request.Response.Deserialize<AuthenticatorAttestationRawResponse>()!,
                OriginalOptions = options,
                IsCredentialIdUniqueToUserCallback = async (args, ct) => !await db.Passkeys.IgnoreQueryFilters()
                    .AnyAsync(p => p.TenantId == user.TenantId && p.CredentialId == args.CredentialId, ct),
            }, cancellationToken);
        }
        catch (Exception ex) when (ex is Fido2VerificationException or JsonException or ArgumentException or InvalidOperationException or FormatException)
        {
            return Refused("The passkey could not be verified.");
        }

        var passkey = new PasskeyCredential
        {
            Id = Guid.CreateVersion7(), TenantId = user.TenantId, UserId = user.Id, CredentialId = credential.Id, PublicKey = credential.PublicKey,
            UserHandle = credential.User.Id, SignCount = credential.SignCount, AaGuid = credential.AaGuid, Name = name,
            BackedUp = credential.IsBackedUp, CreatedAt = DateTimeOffset.UtcNow,
            AttestationFormat = credential.AttestationFormat is { Length: > 0 and <= 32 } format ? format : null, AuthenticatorAttachment = attachment,
        };
        db.Passkeys.Add(passkey);
        db.AddEvent(new UserMfaEnrolled(user.Id, "webauthn") { TenantId = user.TenantId });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.IsUniqueViolation())
        {
            // The same credential registered by a parallel request first.
            return Refused("This passkey is already registered.");
        }

        return TypedResults.Created((string?)null, new DataResponse<PasskeyInfo>(Info(passkey), "Passkey registered"));
    }

    public static async Task<IResult> AssertionOptions(
        PasskeyAssertionOptionsRequest request, AdminDbContext db, TenantContext tenant, IOptions<LumoAuthOptions> lumo, CancellationToken cancellationToken)
    {
        if (!await InternalTenantScope.EnterAsync(db, tenant, request.TenantId, cancellationToken))
        {
            return ApiErrors.NotFound("Tenant");
        }

        if (!(await TenantSettings.LoadAsync(db, request.TenantId, cancellationToken)).PasskeysMaySignIn)
        {
            return LoginDisabled();
        }

        if (await RelyingPartyAsync(db, lumo.Value, request.Domain, cancellationToken) is not (true, var relyingParty))
        {
            return UnknownHost();
        }

        // Discoverable credentials: the authenticator offers the user's passkeys for this site; nobody is named first.
        var options = Ceremony(lumo.Value, tenant.Tenant!.Name, relyingParty).GetAssertionOptions(new GetAssertionOptionsParams
        {
            AllowedCredentials = [],
            UserVerification = UserVerificationRequirement.Required,
        });
        return Results.Text(options.ToJson(), "application/json");
    }

    public static async Task<IResult> Authenticate(
        AuthenticateWithPasskey request, AdminDbContext db, TenantContext tenant, Authenticator authenticator, IOptions<LumoAuthOptions> lumo,
        CancellationToken cancellationToken)
    {
        var refused = TypedResults.Ok(new AuthenticateResponse(AuthenticationOutcomes.InvalidCredentials, null, null, null, false, null, []));
        if (!await InternalTenantScope.EnterAsync(db, tenant, request.TenantId, cancellationToken)
            || !(await TenantSettings.LoadAsync(db, request.TenantId, cancellationToken)).PasskeysMaySignIn)
        {
            return refused;
        }

        try
        {
            if (request.Response.Deserialize<AuthenticatorAssertionRawResponse>() is not { } assertion)
            {
                return refused;
            }

            var passkey = await db.Passkeys.FirstOrDefaultAsync(p => p.CredentialId == assertion.RawId, cancellationToken);
            var user = passkey is null ? null : await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == passkey.UserId, cancellationToken);
            if (passkey is null || user is null)
            {
                return refused;
            }

            var original = Fido2NetLib.AssertionOptions.FromJson(request.Options ?? string.Empty);
            if (await RelyingPartyAsync(db, lumo.Value, original.RpId, cancellationToken) is not (true, var relyingParty))
            {
                return refused;
            }

            var verified = await Ceremony(lumo.Value, tenant.Tenant!.Name, relyingParty).MakeAssertionAsync(new MakeAssertionParams
            {
                AssertionResponse = assertion,
                OriginalOptions = original,
                StoredPublicKey = passkey.PublicKey,
                StoredSignatureCounter = (uint)passkey.SignCount,
                IsUserHandleOwnerOfCredentialIdCallback = (args, _) =>
                    Task.FromResult(args.UserHandle.AsSpan().SequenceEqual(passkey.UserHandle) && args.CredentialId.AsSpan().SequenceEqual(passkey.CredentialId)),
            }, cancellationToken);

            // The counter only grows: a clone of the key that signs with an old count is refused by the check above.
            passkey.SignCount = verified.SignCount;
            passkey.BackedUp = verified.IsBackedUp;
            passkey.LastUsedAt = DateTimeOffset.UtcNow;
            await db.SaveChangesAsync(cancellationToken);
            return TypedResults.Ok(await authenticator.SignInWithPasskeyAsync(request.TenantId, user, request.IpAddress, cancellationToken));
        }
        catch (Exception ex) when (ex is Fido2VerificationException or JsonException or ArgumentException or InvalidOperationException or FormatException)
        {
            return refused;
        }
    }

    public static async Task<IResult> List(string userId, AdminDbContext db, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken, tracking: false);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        var passkeys = await db.Passkeys.AsNoTracking().Where(p => p.UserId == user.Id).OrderBy(p => p.CreatedAt).ToListAsync(cancellationToken);
        return TypedResults.Ok(new DataResponse<IReadOnlyList<PasskeyInfo>>([.. passkeys.Select(Info)]));
    }

    public static async Task<IResult> Delete(string userId, Guid passkeyId, AdminDbContext db, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken, tracking: false);
        var deleted = user is null ? 0 : await db.Passkeys.Where(p => p.UserId == user.Id && p.Id == passkeyId).ExecuteDeleteAsync(cancellationToken);
        return deleted == 0 ? ApiErrors.NotFound("Passkey") : TypedResults.NoContent();
    }

    private static PasskeyInfo Info(PasskeyCredential p) =>
        new(p.Id, p.Name, p.CreatedAt, p.LastUsedAt, p.BackedUp, p.AaGuid, p.AttestationFormat, p.AuthenticatorAttachment);

    private static AuthenticatorAttachment? AttachmentOf(PasskeyPolicy policy) => policy.AuthenticatorTypes switch
    {
        "platform" => AuthenticatorAttachment.Platform,
        "roaming" => AuthenticatorAttachment.CrossPlatform,
        _ => null,
    };

    private static IResult RegistrationDisabled() =>
        ApiErrors.Create(StatusCodes.Status403Forbidden, PasskeyRefusals.RegistrationDisabled, PasskeyRefusals.RegistrationDisabledMessage);

    private static IResult LoginDisabled() =>
        ApiErrors.Create(StatusCodes.Status403Forbidden, PasskeyRefusals.LoginDisabled, PasskeyRefusals.LoginDisabledMessage);

    private static IResult Refused(string message) => ApiErrors.BadRequest("invalid_passkey", message);
}
