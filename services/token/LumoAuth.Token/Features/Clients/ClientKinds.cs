namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// The kinds of application a client can be. The kind decides which secrets, grants and redirect URIs
/// make sense: only a native app may use a private-use URI scheme, only confidential kinds hold a secret.
/// </summary>
public static class ClientKinds
{
    /// <summary>A server-side web application: confidential, authorization code.</summary>
    public const string Web = "web";

    /// <summary>A browser application: public, authorization code with PKCE, CORS origins.</summary>
    public const string Spa = "spa";

    /// <summary>A desktop or mobile app: public, PKCE, loopback or private-use-scheme redirects (RFC 8252).</summary>
    public const string Native = "native";

    /// <summary>A machine-to-machine service: confidential, client credentials only.</summary>
    public const string Machine = "m2m";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal) { Web, Spa, Native, Machine };

    public static bool IsConfidential(string kind) => kind is Web or Machine;
}
