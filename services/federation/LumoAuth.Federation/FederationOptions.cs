namespace LumoAuth.Federation;

public sealed class FederationOptions
{
    public const string SectionName = "Federation";

    /// <summary>
    /// Whether providers may be on loopback and private addresses. Off in production: a tenant's provider must not make
    /// this service call into the deployment's own network (SSRF). Tests turn it on for providers on 127.0.0.1.
    /// </summary>
    public bool AllowPrivateTargets { get; set; }

    /// <summary>GitHub's endpoints (it publishes no discovery document); changed only to point tests at a stand-in.</summary>
    public GitHubEndpoints GitHub { get; set; } = new();

    /// <summary>Facebook's endpoints and Graph API version (it publishes no discovery document); changed to move to a newer Graph version, or to point tests at a stand-in.</summary>
    public FacebookEndpoints Facebook { get; set; } = new();

    /// <summary>Sign in with Apple's issuer; changed only to point tests at a stand-in.</summary>
    public AppleEndpoints Apple { get; set; } = new();

    public LdapDeploymentOptions Ldap { get; set; } = new();

    public SamlDeploymentOptions Saml { get; set; } = new();
}

/// <summary>What the deployment decides for every tenant's SAML IdPs.</summary>
public sealed class SamlDeploymentOptions
{
    /// <summary>How often the metadata of IdPs set up from a metadata URL is read again (new keys, moved endpoints).</summary>
    public TimeSpan MetadataRefreshInterval { get; set; } = TimeSpan.FromHours(12);
}

/// <summary>What the deployment decides for every tenant's LDAP directories.</summary>
public sealed class LdapDeploymentOptions
{
    /// <summary>
    /// Directory hosts on private networks that tenants may name (a company's own Active Directory, reached over its
    /// network): any other host must resolve to public addresses only, as every outside target of this service must.
    /// </summary>
    public List<string> PrivateHosts { get; set; } = [];

    /// <summary>
    /// A folder of CA certificates (PEM, named by subject hash as <c>openssl rehash</c> makes them) that directories'
    /// TLS certificates are checked against; none: the system's (OpenLDAP's <c>ldap.conf</c>).
    /// </summary>
    public string? TrustedCertificatesDirectory { get; set; }

    /// <summary>
    /// Whether a directory may be set up without TLS (LDAPS or StartTLS). Off: the password a person types would cross
    /// the network in the clear. A deployment whose directories are on its own trusted network may turn it on.
    /// </summary>
    public bool AllowUnencrypted { get; set; }

    /// <summary>Entries one import of a directory's people takes at most; a larger directory is cut short (and says so).</summary>
    public int SyncMaxEntries { get; set; } = 5000;
}

public sealed class GitHubEndpoints
{
    public string AuthorizationEndpoint { get; set; } = "https://github.com/login/oauth/authorize";

    public string TokenEndpoint { get; set; } = "https://github.com/login/oauth/access_token";

    public string ApiBase { get; set; } = "https://api.github.com";
}

public sealed class FacebookEndpoints
{
    public string AuthorizationEndpoint { get; set; } = "https://www.facebook.com/v23.0/dialog/oauth";

    public string TokenEndpoint { get; set; } = "https://graph.facebook.com/v23.0/oauth/access_token";

    public string GraphApiBase { get; set; } = "https://graph.facebook.com/v23.0";
}

public sealed class AppleEndpoints
{
    /// <summary>The issuer: its discovery document names the endpoints and keys, and it is the audience of our client secrets.</summary>
    public string Issuer { get; set; } = "https://appleid.apple.com";
}
