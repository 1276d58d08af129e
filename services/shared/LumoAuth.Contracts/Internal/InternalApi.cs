namespace LumoAuth.Contracts.Internal;

/// <summary>Routes of the internal API (<c>/internal/v1/...</c>), never exposed by the gateway.</summary>
public static class InternalRoutes
{
    public const string Prefix = "/internal/v1";
    public const string TenantBySlug = Prefix + "/tenants/by-slug/{slug}";

    /// <summary>A tenant by its id, for jobs that work across tenants and know only the id they stored.</summary>
    public const string TenantById = Prefix + "/tenants/{id:guid}";
    public const string VerifyApiKey = Prefix + "/api-keys/verify";
    public const string Authenticate = Prefix + "/users/authenticate";
    public const string UserProfile = Prefix + "/users/{userId:guid}";
    public const string UserByLogin = Prefix + "/users/by-login";
    public const string RolesOf = Prefix + "/roles-of";
    public const string Group = Prefix + "/groups/{groupId:guid}";
    public const string RoleUsers = Prefix + "/roles/{role}/users";

    /// <summary>The roles (slug and name) each of a page of users or groups holds, for admin's user and group objects.</summary>
    public const string RolesOfMany = Prefix + "/roles-of-many";

    /// <summary>Which users and groups hold an administering role (exact, fully consistent), for admin's guards.</summary>
    public const string Administering = Prefix + "/administering";

    /// <summary>Gives a user or group that admin is about to create the roles its creation names (<see cref="InitialRolesRequest"/>).</summary>
    public const string InitialRoles = Prefix + "/initial-roles";
    public const string RegisterUser = Prefix + "/users/register";

    /// <summary>Replaces the roles an agent holds (<see cref="AgentRolesRequest"/>), for the agents service's registry.</summary>
    public const string AgentRoles = Prefix + "/agents/{agentId:guid}/roles";

    /// <summary>The token service signs a JIT access token for the agents service (<see cref="JitTokenRequest"/>).</summary>
    public const string JitTokens = Prefix + "/jit-tokens";

    /// <summary>
    /// The agents service claims a task's approved scopes for a token exchange with <c>jit_task_id</c>
    /// (<see cref="JitExchangeRequest"/> → <see cref="JitExchangeAnswer"/>), for the token service to sign.
    /// </summary>
    public const string JitExchanges = Prefix + "/jit-exchanges";

    /// <summary>A tenant's active OAuth-protected MCP servers (<see cref="McpResource"/>), for the token service; <c>?tenantId=</c>.</summary>
    public const string McpResources = Prefix + "/mcp-resources";

    /// <summary>The token service signs an AAuth token (<c>resource+jwt</c> or <c>auth+jwt</c>) for the agents service (<see cref="AAuthTokenRequest"/>).</summary>
    public const string AAuthTokens = Prefix + "/aauth-tokens";

    /// <summary>
    /// The agents service's AAuth requests waiting for a person: <c>GET …/{requestId}?tenantId=</c> shows one to the consent
    /// page (<see cref="AAuthConsentView"/>), <c>POST …/{requestId}/decision</c> records the answer (<see cref="AAuthDecision"/>).
    /// </summary>
    public const string AAuthRequests = Prefix + "/aauth-requests";

    /// <summary>The token service creates (POST) and deletes (DELETE <c>/{clientId}</c>) the OAuth client of an agent.</summary>
    public const string AgentClients = Prefix + "/agent-clients";

    /// <summary>The agent an OAuth client belongs to (<see cref="AgentOfClient"/>), for the token service's delegation checks; <c>?tenantId=</c>.</summary>
    public const string AgentByClient = Prefix + "/agents/by-client/{clientId}";

    /// <summary>
    /// The token service asks (POST <see cref="AgentTokenRequest"/>) whether an agent's OAuth client may have a token now: its
    /// address allow-list and budget, as for every call the agent makes (<see cref="AgentTokenVerdict"/>).
    /// </summary>
    public const string AgentTokenRequests = Prefix + "/agent-token-requests";

    /// <summary>The agent of an OAuth client described for the token service's userinfo (<c>{clientId}/userinfo?tenantId=</c>).</summary>
    public const string AgentUserInfo = AgentByClient + "/userinfo";

    /// <summary>The workload identities a tenant's agents trust for one issuer (<see cref="WorkloadTrust"/>), for the token service's exchange.</summary>
    public const string WorkloadTrusts = Prefix + "/workload-trusts";

    /// <summary>Admin finds or makes the user an outside account signs in as (<see cref="ExternalUserRequest"/>), for federation.</summary>
    public const string ExternalUsers = Prefix + "/users/external";

    /// <summary>Admin's checks of a sign-in an outside provider vouched for (<see cref="FederatedSignInRequest"/>), for the token service.</summary>
    public const string FederatedSignIn = Prefix + "/users/{userId:guid}/federated-sign-in";

    /// <summary>Federation brings a linked user's names up to date with what their IdP said at this sign-in (<see cref="ExternalProfileRequest"/>).</summary>
    public const string ExternalProfile = Prefix + "/users/{userId:guid}/external-profile";

    /// <summary>Federation's directory import tells admin which of the users a directory made it still lists.</summary>
    public const string DirectoryPresence = Prefix + "/directories/{directoryId:guid}/presence";

    /// <summary>Admin asks federation to write a new password to the LDAP directory that keeps the user's.</summary>
    public const string DirectoryPasswords = Prefix + "/directory-passwords";

    /// <summary>Federation hands the token service the sign-in behind a one-time ticket (<see cref="LoginTicketRequest"/>).</summary>
    public const string LoginTickets = Prefix + "/login-tickets/redeem";

    /// <summary>The token service asks how to end an outside SAML IdP's session at logout (<see cref="SamlLogoutRequest"/>).</summary>
    public const string SamlLogouts = Prefix + "/saml-logouts";

    /// <summary>Federation asks the token service to end the sessions an outside SAML IdP's back-channel logout names.</summary>
    public const string IdpSessionLogouts = Prefix + "/idp-session-logouts";

    /// <summary>Federation asks the token service to end the session a SAML app's back-channel logout named.</summary>
    public const string AppSessionLogouts = Prefix + "/app-session-logouts";

    /// <summary>
    /// The token service asks, as a browser signs out, for the pages that sign it out of the SAML apps its session signed
    /// in to (<see cref="SamlAppLogoutRequest"/> → <see cref="SamlAppLogoutFrames"/>).
    /// </summary>
    public const string SamlAppLogouts = Prefix + "/saml-app-logouts";

    /// <summary>A tenant's enabled sign-in providers (<see cref="LoginProvider"/>) for the hosted login page; <c>?tenantId=</c>.</summary>
    public const string LoginProviders = Prefix + "/login-providers";

    /// <summary>A user's linked outside accounts (<see cref="ExternalIdentityRecord"/>), for admin's GDPR export; <c>?tenantId=</c>.</summary>
    public const string UserExternalIdentities = Prefix + "/users/{userId:guid}/external-identities";
    public const string HostedPageSettings = Prefix + "/tenants/{tenantId:guid}/hosted-pages";

    /// <summary>The sign-in a browser's session cookie stands for (<see cref="BrowserSessionRequest"/>), for federation's SAML IdP.</summary>
    public const string BrowserSession = Prefix + "/browser-sessions/current";

    /// <summary>Ends the session a browser's cookie stands for (SAML single logout).</summary>
    public const string EndBrowserSession = Prefix + "/browser-sessions/current/end";

    /// <summary>The token service's records of a user (sessions, remembered consents), for admin's GDPR export; <c>?tenantId=</c>.</summary>
    public const string UserSessionData = Prefix + "/users/{userId:guid}/session-data";

    /// <summary>Every verified custom domain and its tenant, for the gateway's host map (ETag / If-None-Match).</summary>
    public const string CustomDomains = Prefix + "/custom-domains";

    /// <summary>Federation: who an outside token presented for exchange at the token endpoint names (<see cref="ExternalSubjectRequest"/>).</summary>
    public const string ExternalSubjects = Prefix + "/external-subjects";

    /// <summary>Federation: a sign-in with an LDAP directory's name and password (the token service's form asks).</summary>
    public const string LdapSignIns = Prefix + "/ldap-sign-ins";

    /// <summary>Authorization: the roles an outside directory's groups give a user, replaced within the set it manages.</summary>
    public const string DirectoryRoles = Prefix + "/users/{userId:guid}/directory-roles";

    /// <summary>Federation: the account page's request to link one more outside account (<see cref="LinkIntentRequest"/>).</summary>
    public const string LinkIntents = Prefix + "/link-intents";

    public const string InternalKeyHeader = "X-Internal-Key";

    /// <summary>Carries <c>LumoAuth:GatewayKey</c>, accepted on <see cref="CustomDomains"/> only.</summary>
    public const string GatewayKeyHeader = "X-Gateway-Key";
}

/// <param name="PrimaryDomain">The verified domain the tenant's links and notifications point at, if any.</param>
/// <param name="Domains">The tenant's verified custom domains (lower-case ASCII); none when null.</param>
public sealed record TenantInfo(
    Guid Id, string Slug, string Name, string Status, string Region, string? PrimaryDomain = null, IReadOnlyList<string>? Domains = null)
{
    /// <summary>Whether <paramref name="domain"/> is one of the tenant's verified custom domains.</summary>
    public bool Serves(string domain) => Domains?.Contains(domain, StringComparer.OrdinalIgnoreCase) == true;
}

/// <summary>A verified custom domain: requests for <see cref="Domain"/> are the tenant's.</summary>
public sealed record CustomDomainRoute(string Domain, string TenantSlug)
{
    /// <summary>Whether <paramref name="domain"/> is <paramref name="parent"/> or a name under it (any case).</summary>
    public static bool IsAtOrUnder(string domain, string parent) =>
        domain.Equals(parent, StringComparison.OrdinalIgnoreCase) || domain.EndsWith("." + parent, StringComparison.OrdinalIgnoreCase);
}

public static class TenantStatuses
{
    public const string Active = "active";
    public const string Suspended = "suspended";
}

public sealed record VerifyApiKeyRequest(Guid TenantId, string Key);

public sealed record VerifiedApiKey(Guid ApiKeyId, Guid TenantId, string Name, IReadOnlyList<string> Scopes, DateTimeOffset? ExpiresAt);

/// <summary>What the token service holds about a user: every session (with where it came from) and every remembered consent.</summary>
public sealed record UserSessionData(IReadOnlyList<UserSessionRecord> Sessions, IReadOnlyList<UserConsentRecord> Consents)
{
    public static string Route(Guid userId, Guid tenantId) =>
        InternalRoutes.UserSessionData.Replace("{userId:guid}", userId.ToString(), StringComparison.Ordinal) + "?tenantId=" + tenantId;
}

public sealed record UserSessionRecord(
    string Id, DateTimeOffset CreatedAt, DateTimeOffset LastActiveAt, DateTimeOffset ExpiresAt, DateTimeOffset? RevokedAt,
    string? IpAddress, string? UserAgent, string AuthMethod, bool MfaVerified, IReadOnlyList<string> Clients);

public sealed record UserConsentRecord(string ClientId, IReadOnlyList<string> Scopes, string Status, DateTimeOffset? GrantedAt);
