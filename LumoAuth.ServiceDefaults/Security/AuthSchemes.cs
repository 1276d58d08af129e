namespace LumoAuth.ServiceDefaults.Security;

public static class AuthSchemes
{
    /// <summary>Picks <see cref="ApiKey"/> or <see cref="Bearer"/> from the request's headers.</summary>
    public const string Tenant = "Tenant";
    public const string ApiKey = "ApiKey";
    public const string Bearer = "TenantBearer";
    public const string Internal = "Internal";
}

public static class Policies
{
    /// <summary>Any authenticated caller of the tenant in the path: an API key or a bearer token of that tenant.</summary>
    public const string TenantCaller = "tenant-caller";

    /// <summary>Tenant Admin API: an API key, or a bearer token with an admin scope (inventory C-01).</summary>
    public const string TenantAdmin = "tenant-admin";

    /// <summary>
    /// The relationship store's tuples (Zanzibar writes, reads, changes feed): an API key, or a bearer token with a
    /// relationship scope (<c>zanzibar.write</c>; <c>zanzibar.read</c> for reads) or an admin scope. Any token may
    /// check; only these may change who may do what.
    /// </summary>
    public const string RelationshipStore = "relationship-store";

    /// <summary>
    /// Questions that enumerate the relationship store (list-objects, list-users, expand): who may do what, for anyone.
    /// The scopes that read the tuples, whatever the method; a check about one relationship stays open to any caller.
    /// </summary>
    public const string RelationshipQueries = "relationship-queries";

    /// <summary>Service-to-service calls under <c>/internal/v1</c>.</summary>
    public const string Internal = "internal";
}

public static class LumoClaims
{
    public const string TenantId = "tenant_id";

    /// <summary>The tenant's slug, as the docs show it in tokens and userinfo (the id above is the stable key).</summary>
    public const string Tenant = "tenant";
    public const string Scope = "scope";
    public const string AuthMethod = "auth_method";
    public const string ApiKeyId = "api_key_id";

    /// <summary>The agent a request authenticated as (its own key); the agents service's registry id.</summary>
    public const string AgentId = "agent_id";

    /// <summary>The agent's registered name, in the tokens of its OAuth client (the docs' agent token).</summary>
    public const string AgentName = "agent_name";
    public const string ClientId = "client_id";
    public const string Subject = "sub";
}
