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
}

public sealed class GitHubEndpoints
{
    public string AuthorizationEndpoint { get; set; } = "https://github.com/login/oauth/authorize";

    public string TokenEndpoint { get; set; } = "https://github.com/login/oauth/access_token";

    public string ApiBase { get; set; } = "https://api.github.com";
}
