namespace LumoAuth.Contracts.Internal;

/// <summary>
/// A message a service sends itself through the outbox, to do later what a request must not be seen doing. It states no
/// fact about the tenant, so it is neither audited nor offered to webhooks.
/// </summary>
public interface IInternalMessage;

/// <summary>What <see cref="AddressLinkRequested"/> asks for.</summary>
public static class AddressLinkKinds
{
    public const string PasswordReset = "password_reset";
    public const string MagicLink = "magic_link";
    public const string EmailVerification = "email_verification";
}

/// <summary>
/// A hosted page asked admin for a link by e-mail address (<see cref="RequestPasswordResetByEmail"/>,
/// <see cref="RequestMagicLink"/>, <see cref="RequestEmailVerification"/>). The request records only this, whatever the
/// address, and answers 202; admin's consumer then looks the address up and stages the link, so the time of the answer
/// says nothing about whether the address has an account. Admin's own message: the address travels here only because
/// the lookup needs it.
/// </summary>
/// <param name="Kind">One of <see cref="AddressLinkKinds"/>.</param>
/// <param name="Email">The address as asked for, in lower case.</param>
public sealed record AddressLinkRequested(string Kind, string Email) : IntegrationEvent, IInternalMessage
{
    /// <summary>A sign-in link's continuation, as the page passed it (checked again by the token service when used).</summary>
    public string? ReturnUrl { get; init; }

    /// <summary>The tenant's custom domain the page was on (<see cref="RequestMagicLink.Domain"/>).</summary>
    public string? Domain { get; init; }

    /// <summary>The page's language (<see cref="RequestPasswordResetByEmail.Language"/>).</summary>
    public string? Language { get; init; }
}
