namespace LumoAuth.Contracts.Internal;

/// <summary>
/// <c>POST /internal/v1/users/password-reset/request</c> (admin): the hosted "forgot password" page asks for
/// a reset link for an address. The answer is 202 with the same body whether or not the address belongs to
/// an active user, so the page cannot be used to enumerate accounts; only a real user gets a mail.
/// </summary>
public sealed record RequestPasswordResetByEmail(Guid TenantId, string? Email)
{
    /// <summary>The page's language (a BCP 47 tag): the mail is in it when the user has no <c>locale</c> of their own.</summary>
    public string? Language { get; init; }
}

/// <summary>
/// <c>POST /internal/v1/users/email-verification/request</c> (admin): mail a new verification link. Like the
/// reset request it answers 202 with the same body for unknown, verified and unverified addresses.
/// </summary>
public sealed record RequestEmailVerification(Guid TenantId, string? Email)
{
    /// <inheritdoc cref="RequestPasswordResetByEmail.Language"/>
    public string? Language { get; init; }
}

/// <summary>
/// <c>POST /internal/v1/users/email-verification/complete</c> (admin): the link's token marks the address
/// verified (200, again 200 when already verified); a bad, expired or foreign token is 400 <c>invalid_token</c>.
/// </summary>
public sealed record CompleteEmailVerification(Guid TenantId, string? Token);

/// <summary>
/// <c>POST /internal/v1/users/password-reset/complete</c> (admin): the reset link's token sets a new password
/// (200); a bad, expired, used or foreign token is 400 <c>invalid_token</c>, a password the tenant's policy refuses
/// is 400 <c>validation_error</c> with the problems under <c>password</c> (the token stays usable).
/// <c>SignOutEverywhere</c> commits the user's wish to end every earlier session and grant with the password
/// (<see cref="Users.UserPasswordChanged.SignOutEverywhere"/>).
/// </summary>
public sealed record CompletePasswordResetRequest(Guid TenantId, string? Token, string? Password, bool SignOutEverywhere = false);

/// <summary>
/// <c>POST /internal/v1/invitations/accept</c> (admin): the invitation link's token creates the invitee's account
/// (201 with <c>userId</c> and <c>email</c>); errors as for <see cref="CompletePasswordResetRequest"/>. <see cref="Locale"/> is
/// the language the page was read in, which becomes the new user's.
/// </summary>
public sealed record AcceptInvitationRequest(Guid TenantId, string? Token, string? Password, string? Name, string? Locale = null);

/// <summary>
/// <c>POST /internal/v1/users/magic-link/request</c> (admin): mail a one-time sign-in link to an address, to continue at
/// <see cref="ReturnUrl"/> (checked again by the token service) once used. 202 with the same body for every address; only
/// an active user of a tenant with sign-in links on gets a mail.
/// </summary>
public sealed record RequestMagicLink(Guid TenantId, string? Email, string? ReturnUrl)
{
    /// <summary>The tenant's custom domain the request came in on, where the mailed link then points (its sign-in continues there).</summary>
    public string? Domain { get; init; }

    /// <inheritdoc cref="RequestPasswordResetByEmail.Language"/>
    public string? Language { get; init; }
}

/// <summary>
/// <c>POST /internal/v1/users/magic-link/complete</c> (admin): signs in with a link's token — and the user's TOTP code when
/// they have one (<c>mfa_required</c> first, the link stays usable). The link is used up only by a successful sign-in.
/// </summary>
public sealed record CompleteMagicLink(Guid TenantId, string? Token, string? TotpCode, string? IpAddress)
{
    /// <summary>The browser's device id, as on <see cref="AuthenticateRequest.DeviceId"/>.</summary>
    public string? DeviceId { get; init; }
}

/// <summary>The verdict of a sign-in link, as for a password (<see cref="AuthenticateResponse"/>), and where to continue.</summary>
public sealed record MagicLinkSignIn(AuthenticateResponse Verdict, string? ReturnUrl);

/// <summary>
/// Where e-mailed links point: <c>{PublicBaseUrl}/t/{tenantSlug}{path}?token={token}</c>. The gateway routes
/// these prefixes to the token service's hosted pages, which redeem the token through the admin internal API
/// (<c>/internal/v1/users/password-reset/complete</c>, <c>/internal/v1/invitations/accept</c>).
/// </summary>
public static class EmailLinkPaths
{
    public const string RequestPasswordReset = InternalRoutes.Prefix + "/users/password-reset/request";
    public const string RequestEmailVerification = InternalRoutes.Prefix + "/users/email-verification/request";
    public const string CompleteEmailVerification = InternalRoutes.Prefix + "/users/email-verification/complete";
    public const string CompletePasswordReset = InternalRoutes.Prefix + "/users/password-reset/complete";
    public const string AcceptInvitation = InternalRoutes.Prefix + "/invitations/accept";
    public const string RequestMagicLink = InternalRoutes.Prefix + "/users/magic-link/request";
    public const string CompleteMagicLink = InternalRoutes.Prefix + "/users/magic-link/complete";
    public const string MagicLink = "/magic-link/verify";
    public const string PasswordReset = "/forgot-password/reset";
    public const string Invitation = "/register/invitation";
    public const string EmailVerification = "/account/verify-email";
    public const string TokenParameter = "token";
}
