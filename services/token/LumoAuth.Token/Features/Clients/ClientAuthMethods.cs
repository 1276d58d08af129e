using LumoAuth.ServiceDefaults.Errors;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// The one way a confidential client authenticates, when it registered one (<c>tokenEndpointAuthMethod</c>; RFC 7591
/// §2 <c>token_endpoint_auth_method</c>, Keycloak's "Client Authenticator"). Without one, a client may use every method it
/// is set up for: its secret (Basic or in the form), its keys (<c>private_key_jwt</c>), its certificate. With one, the
/// others authenticate nothing — a client that moved to keys or certificates is not still open to its old secret.
/// FAPI 2.0 clients are held to <c>private_key_jwt</c> whatever they registered (§5.3.2.1).
/// </summary>
public static class ClientAuthMethods
{
    public const string Property = "token_endpoint_auth_method";

    /// <summary>The methods a confidential client may register, as RFC 7591 and RFC 8705 name them.</summary>
    public static readonly string[] Registrable =
    [
        ClientAuthenticationMethods.ClientSecretBasic, ClientAuthenticationMethods.ClientSecretPost, ClientAuthenticationMethods.PrivateKeyJwt,
        ClientAuthenticationMethods.TlsClientAuth, ClientAuthenticationMethods.SelfSignedTlsClientAuth,
    ];

    /// <summary>The method the client is held to: the registered one, <c>private_key_jwt</c> for FAPI 2.0 clients, else null (any).</summary>
    public static string? Required(ClientSettings settings) =>
        settings.FapiProfile != FapiProfiles.Disabled ? ClientAuthenticationMethods.PrivateKeyJwt : settings.TokenEndpointAuthMethod;

    /// <summary>
    /// How a request authenticated: with an assertion, a secret (Basic header or form) or, with neither, the certificate it
    /// came with (mutual TLS); null when none of these.
    /// </summary>
    public static string? Used(bool assertion, bool secret, bool basicHeader, bool certificate) =>
        assertion ? ClientAuthenticationMethods.PrivateKeyJwt
        : secret ? basicHeader ? ClientAuthenticationMethods.ClientSecretBasic : ClientAuthenticationMethods.ClientSecretPost
        : certificate ? ClientAuthenticationMethods.TlsClientAuth
        : null;

    /// <summary>
    /// Whether a client held to <paramref name="required"/> may authenticate as it did. The two certificate methods are one
    /// here: either way the certificate was checked against what the client registered (its authorities and subject, or its keys).
    /// </summary>
    public static bool Allows(string? required, string? used) =>
        required is null
        || required == used
        || IsCertificate(required) && IsCertificate(used);

    /// <summary>The refusal's description, naming what the client must use.</summary>
    public static string Refusal(ClientSettings settings) =>
        settings.FapiProfile != FapiProfiles.Disabled
            ? "FAPI 2.0 clients authenticate with private_key_jwt."
            : $"This client authenticates with {settings.TokenEndpointAuthMethod} only.";

    /// <summary>
    /// The registered method after a create or update: absent keeps it, empty (or <c>none</c> for a public client) clears it;
    /// the client must be able to use it, and a FAPI 2.0 client can only register <c>private_key_jwt</c>.
    /// </summary>
    public static string? Validate(
        string? requested, ClientSettings? current, bool isConfidential, bool hasKeys, string? tlsSubjectDn, bool fapi, RequestValidator validator)
    {
        var method = requested is null ? isConfidential ? current?.TokenEndpointAuthMethod : null
            : requested.Trim() is { Length: 0 } ? null
            : requested.Trim();
        if (method == ClientAuthenticationMethods.None)
        {
            validator.Check(!isConfidential, "tokenEndpointAuthMethod", "a confidential client authenticates: choose one of " + string.Join(", ", Registrable));
            return null;
        }

        if (method is null)
        {
            return null;
        }

        if (!Registrable.Contains(method, StringComparer.Ordinal))
        {
            validator.Add("tokenEndpointAuthMethod", "must be one of " + string.Join(", ", Registrable) + " (or none for a public client)");
            return null;
        }

        validator.Check(isConfidential, "tokenEndpointAuthMethod", "a public client does not authenticate: leave it out or send none");
        validator.Check(!fapi || method == ClientAuthenticationMethods.PrivateKeyJwt, "tokenEndpointAuthMethod",
            "FAPI 2.0 clients authenticate with private_key_jwt");
        validator.Check(method is not (ClientAuthenticationMethods.PrivateKeyJwt or ClientAuthenticationMethods.SelfSignedTlsClientAuth) || hasKeys,
            "tokenEndpointAuthMethod", $"{method} needs the client's public keys in jwks or at jwksUri");
        validator.Check(method != ClientAuthenticationMethods.TlsClientAuth || tlsSubjectDn is not null, "tokenEndpointAuthMethod",
            "tls_client_auth needs tlsClientAuthSubjectDn and tlsClientCertificateAuthorities");
        return method;
    }

    private static bool IsCertificate(string? method) =>
        method is ClientAuthenticationMethods.TlsClientAuth or ClientAuthenticationMethods.SelfSignedTlsClientAuth;
}
