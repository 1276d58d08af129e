namespace LumoAuth.Federation.Features.Providers;

/// <summary>
/// The upstream providers a tenant may sign its users in with. Google, Microsoft, LinkedIn and Apple are OpenID Connect
/// issuers with a known address (their ID tokens are verified like any issuer's; Apple's client secret is a JWT signed
/// for each code exchange); GitHub and Facebook speak plain OAuth 2.0, so the account comes from their APIs; <c>oidc</c>
/// is any OpenID Connect issuer the tenant names.
/// </summary>
public static class ProviderTypes
{
    public const string Google = "google";
    public const string Microsoft = "microsoft";
    public const string LinkedIn = "linkedin";
    public const string GitHub = "github";
    public const string Apple = "apple";
    public const string Facebook = "facebook";
    public const string Oidc = "oidc";

    /// <summary>A SAML identity provider: kept with the others (its links, buttons and data export are the same), managed at <c>/admin/identity-providers</c>.</summary>
    public const string Saml = "saml";

    /// <summary>An LDAP directory (or Active Directory) whose users sign in with their directory password, managed at <c>/admin/ldap-providers</c>.</summary>
    public const string Ldap = "ldap";

    /// <summary>The social and OpenID Connect types: those the browser is sent away to, managed at <c>/admin/social-providers</c>.</summary>
    public static readonly IReadOnlyList<string> All = [Google, Microsoft, LinkedIn, GitHub, Apple, Facebook, Oidc];

    /// <summary>Types the docs name that are not offered (yet), with why, for a clear 400.</summary>
    public static readonly IReadOnlyDictionary<string, string> NotOffered = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["saml"] = "SAML identity providers are added at /admin/identity-providers",
        ["ldap"] = "LDAP directories are added at /admin/ldap-providers",
    };

    /// <summary>The display name when none is given.</summary>
    public static string DefaultName(string type) => type switch
    {
        Google => "Google",
        Microsoft => "Microsoft",
        LinkedIn => "LinkedIn",
        GitHub => "GitHub",
        Apple => "Apple",
        Facebook => "Facebook",
        _ => "Single sign-on",
    };

    /// <summary>What is asked when the tenant names no scopes: who the person is and a verified address.</summary>
    public static IReadOnlyList<string> DefaultScopes(string type) => type switch
    {
        GitHub => ["read:user", "user:email"],
        Facebook => ["email", "public_profile"],
        // Apple has no profile scope; it tells the name once, at the first sign-in, beside the code.
        Apple => ["openid", "name", "email"],
        _ => ["openid", "email", "profile"],
    };

    /// <summary>Whether the type's sign-in ends with an ID token to verify (else the account comes from the provider's API).</summary>
    public static bool IsOpenIdConnect(string type) => type is not (GitHub or Facebook);

    /// <summary>
    /// Whether the provider is sent PKCE. Apple documents none and may refuse a token request carrying a verifier; its
    /// sign-ins are held to the nonce instead (RFC 9700 §2.1.1 allows that for confidential OpenID Connect clients).
    /// </summary>
    public static bool UsesPkce(string type) => type != Apple;

    /// <summary>The issuer of a preset, unless the tenant pins another (a Microsoft directory); null for GitHub, Facebook and <c>oidc</c>, which names its own.</summary>
    public static string? DefaultIssuer(string type, FederationOptions options) => type switch
    {
        Google => "https://accounts.google.com",
        Microsoft => MicrosoftCommonIssuer,
        LinkedIn => "https://www.linkedin.com/oauth",
        Apple => options.Apple.Issuer,
        _ => null,
    };

    /// <summary>Microsoft's multi-tenant endpoint: any work, school or personal account; each token names its directory.</summary>
    public const string MicrosoftCommonIssuer = "https://login.microsoftonline.com/common/v2.0";

    /// <summary>
    /// Whether <paramref name="tokenIssuer"/> is one the configured issuer stands for. Microsoft's shared endpoints
    /// (<c>common</c>, <c>organizations</c>) publish a template (<c>…/{tenantid}/v2.0</c>) and sign each
    /// token as the user's directory, which the token names in <c>tid</c>; every other issuer is itself.
    /// </summary>
    public static bool IssuerMatches(string configured, string tokenIssuer, string? tenantIdClaim)
    {
        if (string.Equals(configured, tokenIssuer, StringComparison.Ordinal))
        {
            return true;
        }

        return IsMicrosoftShared(configured) && Guid.TryParse(tenantIdClaim, out var tid)
            && tokenIssuer == $"https://login.microsoftonline.com/{tid:D}/v2.0";
    }

    /// <summary>The discovery document's issuer a configured issuer accepts (Microsoft's shared ones publish a template).</summary>
    public static Func<string, bool>? DiscoveryIssuerRule(string configured) =>
        IsMicrosoftShared(configured) ? named => named == "https://login.microsoftonline.com/{tenantid}/v2.0" : null;

    private static bool IsMicrosoftShared(string issuer) =>
        issuer is MicrosoftCommonIssuer or "https://login.microsoftonline.com/organizations/v2.0";
}
