namespace LumoAuth.Contracts.Internal;

/// <summary>
/// An outside account (Google, GitHub, an OpenID Connect provider…) signing in for the first time: admin links it to the
/// user whose address it is, when the provider verified the address and the tenant's provider links automatically, or
/// makes a user for it when the provider allows sign-up. <paramref name="Provider"/> names the provider for the audit log.
/// </summary>
public sealed record ExternalUserRequest(
    Guid TenantId, string Provider, string? Email, bool EmailVerified, string? Name, string? GivenName, string? FamilyName, string? Picture,
    bool AllowSignup, bool AutoLink);

public sealed record ExternalUserResponse(Guid UserId, bool Created);

/// <summary>Why admin found no user for an outside account (the error code of its 4xx answer).</summary>
public static class ExternalUserErrors
{
    /// <summary>403: nobody has the address, and the provider does not let new people sign up.</summary>
    public const string SignupDisabled = "signup_disabled";

    /// <summary>409: someone has the address, and the provider did not verify it or does not link automatically.</summary>
    public const string AccountExists = "account_exists";

    /// <summary>400: the provider gave no e-mail address, which every user needs.</summary>
    public const string EmailRequired = "email_required";
}

/// <summary>
/// A sign-in an outside provider vouched for (federation checked its answer): admin applies what applies to every sign-in —
/// blocked and locked accounts, required verification, the user's second step, adaptive risk.
/// </summary>
public sealed record FederatedSignInRequest(Guid TenantId, string Provider, string? TotpCode, string? IpAddress, string? DeviceId, string? MfaMethod = null);

/// <summary>The token service redeems the one-time ticket federation's callback sent the browser with.</summary>
public sealed record LoginTicketRequest(Guid TenantId, string Ticket);

/// <summary>Who signed in, through which provider, and where the sign-in goes on to (a page of the token service).</summary>
public sealed record LoginTicket(Guid UserId, Guid ProviderId, string ProviderName, string? ReturnUrl);

/// <summary>A sign-in button of the hosted login page.</summary>
public sealed record LoginProvider(Guid Id, string Type, string Name)
{
    public static string Route(Guid tenantId) => InternalRoutes.LoginProviders + "?tenantId=" + tenantId;
}
