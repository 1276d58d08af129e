using System.Text.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.Federation.Features.Login;
using StackExchange.Redis;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>
/// The SAML sign-ins in flight, in Redis: as IdP, a request waiting for the user to sign in (ten minutes, answered once)
/// and the request IDs an SP already used (a request replayed, signed or not, gets no second answer); as SP, our
/// requests to outside IdPs, the responses believed, the assertion IDs already used, and the logouts sent to IdPs.
/// </summary>
public sealed class SamlStates(IConnectionMultiplexer redis)
{
    public static readonly TimeSpan PendingLifetime = TimeSpan.FromMinutes(10);

    /// <param name="RequestId">The AuthnRequest's ID (the response's InResponseTo); null for a sign-in the IdP starts.</param>
    /// <param name="NameIdFormat">The short name of the format the response uses.</param>
    /// <param name="SessionBefore">With ForceAuthn, the session the browser had when the request came: only a new sign-in counts.</param>
    /// <param name="BrowserHash">SHA-256 of the cookie set on the browser sent to sign in: only that browser continues.</param>
    public sealed record PendingSignIn(
        Guid TenantId, Guid ServiceProviderId, string? RequestId, string? RelayState, string NameIdFormat, bool ForceAuthn, bool IsPassive,
        string? SessionBefore = null, string? BrowserHash = null);

    /// <summary>The cookie that binds a waiting request to its browser (not the social sign-in's: the login page may start one meanwhile).</summary>
    public const string BrowserCookie = "lumo_saml_request";

    public async Task<string> SaveAsync(PendingSignIn pending)
    {
        var id = LoginStates.NewSecret();
        await redis.GetDatabase().StringSetAsync(PendingKey(id), JsonSerializer.Serialize(pending), PendingLifetime);
        return id;
    }

    public async Task<PendingSignIn?> PeekAsync(string id) =>
        id.Length is > 0 and <= 100 && await redis.GetDatabase().StringGetAsync(PendingKey(id)) is { HasValue: true } json
            ? JsonSerializer.Deserialize<PendingSignIn>(json.ToString())
            : null;

    /// <summary>The pending sign-in, removed as it is read: only one response is ever made for it.</summary>
    public async Task<PendingSignIn?> TakeAsync(string id) =>
        id.Length is > 0 and <= 100 && await redis.GetDatabase().StringGetDeleteAsync(PendingKey(id)) is { HasValue: true } json
            ? JsonSerializer.Deserialize<PendingSignIn>(json.ToString())
            : null;

    /// <summary>An app a browser session signed in to, with the NameID its assertion gave (a LogoutRequest must repeat it).</summary>
    /// <param name="SessionId">The session itself and its user (records made before they were kept have neither): an app's back-channel logout names only the session's index.</param>
    public sealed record SessionApp(Guid AppId, string NameId, string NameIdFormat, string? SessionId = null, Guid? UserId = null);

    /// <summary>How long a session's apps are remembered: longer than any session lasts.</summary>
    private static readonly TimeSpan SessionAppsLifetime = TimeSpan.FromDays(31);

    /// <summary>Remembers that the session signed in to the app (the latest NameID per app), for logout.</summary>
    public async Task RememberAppAsync(Guid tenantId, string sessionId, SessionApp app)
    {
        var store = redis.GetDatabase();
        var key = SessionAppsKey(tenantId, sessionId);
        await store.HashSetAsync(key, app.AppId.ToString("N"), JsonSerializer.Serialize(app));
        await store.KeyExpireAsync(key, SessionAppsLifetime);
    }

    /// <summary>The apps the session signed in to, forgotten as they are read: each is told of the logout once.</summary>
    public async Task<IReadOnlyList<SessionApp>> TakeAppsAsync(Guid tenantId, string sessionId)
    {
        var store = redis.GetDatabase();
        var key = SessionAppsKey(tenantId, sessionId);
        var transaction = store.CreateTransaction();
        var read = transaction.HashGetAllAsync(key);
        _ = transaction.KeyDeleteAsync(key);
        await transaction.ExecuteAsync();
        return [.. (await read).Select(e => JsonSerializer.Deserialize<SessionApp>(e.Value.ToString())!)];
    }

    /// <summary>The apps the session signed in to, left in place (the back channel forgets each once it was told).</summary>
    public async Task<IReadOnlyList<SessionApp>> AppsAsync(Guid tenantId, string sessionId) =>
        [.. (await redis.GetDatabase().HashGetAllAsync(SessionAppsKey(tenantId, sessionId))).Select(e => JsonSerializer.Deserialize<SessionApp>(e.Value.ToString())!)];

    /// <summary>The app's record in the session whose SAML index is <paramref name="sessionIndex"/>, if that session signed in to it.</summary>
    public async Task<SessionApp?> AppOfIndexAsync(Guid tenantId, string sessionIndex, Guid appId) =>
        sessionIndex.Length is > 0 and <= 256
        && await redis.GetDatabase().HashGetAsync($"lumoauth:federation:saml-session-apps:{tenantId:N}:{sessionIndex}", appId.ToString("N")) is { HasValue: true } json
            ? JsonSerializer.Deserialize<SessionApp>(json.ToString())
            : null;

    /// <summary>Forgets one app of the session: it has been told of the logout.</summary>
    public Task ForgetAppAsync(Guid tenantId, string sessionId, Guid appId) =>
        redis.GetDatabase().HashDeleteAsync(SessionAppsKey(tenantId, sessionId), appId.ToString("N"));

    /// <summary>Keyed by the session's SAML index (a hash), never the session id itself.</summary>
    private static string SessionAppsKey(Guid tenantId, string sessionId) => $"lumoauth:federation:saml-session-apps:{tenantId:N}:{SamlDocuments.SessionIndex(sessionId)}";

    /// <summary>Whether this is the first time the SP sent a request with this ID (remembered as long as the request could be current).</summary>
    public Task<bool> FirstUseAsync(Guid tenantId, Guid serviceProviderId, string requestId) =>
        redis.GetDatabase().StringSetAsync(
            $"lumoauth:federation:saml-request:{tenantId:N}:{serviceProviderId:N}:{LoginTicket.HashOf(requestId)}", "1",
            SamlMessages.IssueInstantSkew * 2, When.NotExists);

    /// <summary>Our AuthnRequest to an outside IdP, by the RelayState it carries: answered once, in the browser that sent it.</summary>
    public sealed record SpSignIn(Guid TenantId, Guid ProviderId, string RequestId, string? ReturnUrl, string BrowserHash);

    /// <summary>
    /// A response the ACS believed, waiting for the browser to come back by GET: the IdP posts the response cross-site,
    /// so the browser's binding cookie (SameSite=Lax) only comes with the redirect that follows.
    /// </summary>
    public sealed record AcceptedSignIn(Guid TenantId, Guid ProviderId, UpstreamAccount Account, string? ReturnUrl, string BrowserHash, SamlIdpSession? Session = null);

    /// <summary>A logout at the IdP the token service asked for: whose session to name, and where the browser goes after.</summary>
    public sealed record SpLogout(Guid TenantId, SamlIdpSession Session, string? ReturnUrl);

    /// <summary>Our LogoutRequest to the IdP, by the RelayState it carries: its answer must name this request.</summary>
    public sealed record SpLogoutSent(Guid TenantId, Guid ProviderId, string RequestId, string? ReturnUrl);

    public async Task<string> SaveSpLogoutAsync(SpLogout value)
    {
        var id = LoginStates.NewSecret();
        await redis.GetDatabase().StringSetAsync(SpLogoutKey(id), JsonSerializer.Serialize(value), LoginStates.StateLifetime);
        return id;
    }

    public async Task<SpLogout?> TakeSpLogoutAsync(string id) =>
        id.Length is > 0 and <= 100 && await redis.GetDatabase().StringGetDeleteAsync(SpLogoutKey(id)) is { HasValue: true } json
            ? JsonSerializer.Deserialize<SpLogout>(json.ToString())
            : null;

    public Task SaveSpLogoutSentAsync(string relayState, SpLogoutSent value) =>
        redis.GetDatabase().StringSetAsync(SpLogoutSentKey(relayState), JsonSerializer.Serialize(value), LoginStates.StateLifetime);

    public async Task<SpLogoutSent?> TakeSpLogoutSentAsync(string relayState) =>
        relayState.Length is > 0 and <= 100 && await redis.GetDatabase().StringGetDeleteAsync(SpLogoutSentKey(relayState)) is { HasValue: true } json
            ? JsonSerializer.Deserialize<SpLogoutSent>(json.ToString())
            : null;

    public Task SaveSpSignInAsync(string relayState, SpSignIn value) =>
        redis.GetDatabase().StringSetAsync(SpKey(relayState), JsonSerializer.Serialize(value), LoginStates.StateLifetime);

    public async Task<SpSignIn?> TakeSpSignInAsync(string relayState) =>
        relayState.Length is > 0 and <= 100 && await redis.GetDatabase().StringGetDeleteAsync(SpKey(relayState)) is { HasValue: true } json
            ? JsonSerializer.Deserialize<SpSignIn>(json.ToString())
            : null;

    public async Task<string> SaveAcceptedAsync(AcceptedSignIn value)
    {
        var id = LoginStates.NewSecret();
        await redis.GetDatabase().StringSetAsync(AcceptedKey(id), JsonSerializer.Serialize(value), LoginStates.TicketLifetime);
        return id;
    }

    public async Task<AcceptedSignIn?> TakeAcceptedAsync(string id) =>
        id.Length is > 0 and <= 100 && await redis.GetDatabase().StringGetDeleteAsync(AcceptedKey(id)) is { HasValue: true } json
            ? JsonSerializer.Deserialize<AcceptedSignIn>(json.ToString())
            : null;

    /// <summary>Whether this is the first time the IdP's assertion is used (remembered while it could still be valid).</summary>
    public Task<bool> FirstAssertionUseAsync(Guid tenantId, Guid providerId, string assertionId, TimeSpan validFor) =>
        redis.GetDatabase().StringSetAsync(
            $"lumoauth:federation:saml-assertion:{tenantId:N}:{providerId:N}:{LoginTicket.HashOf(assertionId)}", "1",
            validFor > TimeSpan.FromSeconds(1) ? validFor : TimeSpan.FromSeconds(1), When.NotExists);

    private static RedisKey SpKey(string relayState) => "lumoauth:federation:saml-sp:" + LoginTicket.HashOf(relayState);

    private static RedisKey AcceptedKey(string id) => "lumoauth:federation:saml-accepted:" + LoginTicket.HashOf(id);

    private static RedisKey SpLogoutKey(string id) => "lumoauth:federation:saml-sp-logout:" + LoginTicket.HashOf(id);

    private static RedisKey SpLogoutSentKey(string relayState) => "lumoauth:federation:saml-sp-logout-sent:" + LoginTicket.HashOf(relayState);

    private static RedisKey PendingKey(string id) => "lumoauth:federation:saml-pending:" + LoginTicket.HashOf(id);
}
