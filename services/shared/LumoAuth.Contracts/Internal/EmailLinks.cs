namespace LumoAuth.Contracts.Internal;

/// <summary>
/// <c>POST /internal/v1/users/password-reset/request</c> (admin): the hosted "forgot password" page asks for
/// a reset link for an address. The answer is 202 with the same body whether or not the address belongs to
/// an active user, so the page cannot be used to enumerate accounts; only a real user gets a mail.
/// </summary>
public sealed record RequestPasswordResetByEmail(Guid TenantId, string? Email);

/// <summary>
/// Where e-mailed links point: <c>{PublicBaseUrl}/t/{tenantSlug}{path}?token={token}</c>. The gateway routes
/// these prefixes to the token service's hosted pages, which redeem the token through the admin internal API
/// (<c>/internal/v1/users/password-reset/complete</c>, <c>/internal/v1/invitations/accept</c>).
/// </summary>
public static class EmailLinkPaths
{
    public const string RequestPasswordReset = InternalRoutes.Prefix + "/users/password-reset/request";
    public const string PasswordReset = "/forgot-password/reset";
    public const string Invitation = "/register/invitation";
    public const string TokenParameter = "token";
}
