using System.Security.Cryptography;
using System.Text.Json;
using LumoAuth.Contracts.Internal;
using StackExchange.Redis;

namespace LumoAuth.Federation.Features.Login;

/// <summary>
/// What a sign-in carries between its steps, in Redis, each used once: the state of a redirect to a provider (its PKCE
/// verifier, nonce, where it goes on, and a hash of the browser's binding cookie, so the callback completes only in the
/// browser that began it), and the ticket the callback gives the browser for the token service (DESIGN: 60 s, single use).
/// Keys are hashes of the values the browser holds: a copy of Redis gives no sign-in away.
/// </summary>
public sealed class LoginStates(IConnectionMultiplexer redis)
{
    public static readonly TimeSpan StateLifetime = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan TicketLifetime = TimeSpan.FromSeconds(60);

    /// <param name="BrowserHash">SHA-256 of the binding cookie the redirect set.</param>
    /// <param name="LinkUserId">Set when the signed-in user links one more account: the callback links it to them instead of signing in.</param>
    public sealed record State(Guid TenantId, Guid ProviderId, string CodeVerifier, string Nonce, string? ReturnUrl, string BrowserHash, Guid? LinkUserId = null)
    {
        /// <summary>The redirect URI the provider was sent (the code exchange must name it again); null in states saved before it was kept.</summary>
        public string? RedirectUri { get; init; }
    }

    public Task<string> SaveLinkIntentAsync(LinkIntentRequest intent) => SaveOnceAsync(IntentKey, intent, StateLifetime);

    /// <summary>The intent, removed as it is read.</summary>
    public async Task<LinkIntentRequest?> TakeLinkIntentAsync(string intent) =>
        intent.Length is > 0 and <= 100 && await redis.GetDatabase().StringGetDeleteAsync(IntentKey(intent)) is { HasValue: true } json
            ? JsonSerializer.Deserialize<LinkIntentRequest>(json.ToString())
            : null;

    private async Task<string> SaveOnceAsync<T>(Func<string, RedisKey> key, T value, TimeSpan lifetime)
    {
        var secret = NewSecret();
        await redis.GetDatabase().StringSetAsync(key(secret), JsonSerializer.Serialize(value), lifetime);
        return secret;
    }

    public static string NewSecret() => System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    public Task SaveStateAsync(string state, State value) =>
        redis.GetDatabase().StringSetAsync(StateKey(state), JsonSerializer.Serialize(value), StateLifetime);

    /// <summary>The state, removed as it is read: a callback replayed finds nothing.</summary>
    public async Task<State?> TakeStateAsync(string state) =>
        await redis.GetDatabase().StringGetDeleteAsync(StateKey(state)) is { HasValue: true } json ? JsonSerializer.Deserialize<State>(json.ToString()) : null;

    /// <summary>
    /// A provider's answer posted to the callback (<c>response_mode=form_post</c>, as Apple answers), kept until the browser
    /// comes back by GET with the binding cookie that a cross-site POST leaves behind. <paramref name="User"/> is what
    /// Apple tells of the person (their name) the first time only.
    /// </summary>
    public sealed record PostedAnswer(string? Code, string? State, string? Error, string? User);

    public Task<string> SavePostedAnswerAsync(PostedAnswer answer) => SaveOnceAsync(PostedKey, answer, TicketLifetime);

    /// <summary>The answer, removed as it is read.</summary>
    public async Task<PostedAnswer?> TakePostedAnswerAsync(string id) =>
        id.Length is > 0 and <= 100 && await redis.GetDatabase().StringGetDeleteAsync(PostedKey(id)) is { HasValue: true } json
            ? JsonSerializer.Deserialize<PostedAnswer>(json.ToString())
            : null;

    public Task<string> IssueTicketAsync(Guid tenantId, LoginTicket ticket) => SaveOnceAsync(value => TicketKey(tenantId, value), ticket, TicketLifetime);

    /// <summary>
    /// Whether an ID token presented for exchange is used for the first time, by its signed part (header and payload: a
    /// signature has other spellings that verify alike); remembered for <paramref name="validFor"/>. Across tenants: an
    /// ID token names the upstream client, not a tenant, so two tenants with the same client there would otherwise each
    /// take it once.
    /// </summary>
    public Task<bool> FirstIdTokenUseAsync(string signedPart, TimeSpan validFor) =>
        redis.GetDatabase().StringSetAsync(
            $"lumoauth:federation:exchanged-id-token:{LoginTicket.HashOf(signedPart)}", "1",
            validFor > TimeSpan.FromSeconds(1) ? validFor : TimeSpan.FromSeconds(1), When.NotExists);

    /// <summary>Whether a provider's notification (Apple's server-to-server ones) is seen for the first time, by its <c>jti</c>.</summary>
    public Task<bool> FirstNotificationAsync(Guid providerId, string jti, TimeSpan remember) =>
        redis.GetDatabase().StringSetAsync($"lumoauth:federation:notification:{providerId:N}:{LoginTicket.HashOf(jti)}", "1", remember, When.NotExists);

    /// <summary>The sign-in behind a ticket of the tenant, removed as it is read; null when unknown, used, expired or another tenant's.</summary>
    public async Task<LoginTicket?> RedeemTicketAsync(Guid tenantId, string ticket) =>
        ticket.Length is > 0 and <= 100 && await redis.GetDatabase().StringGetDeleteAsync(TicketKey(tenantId, ticket)) is { HasValue: true } json
            ? JsonSerializer.Deserialize<LoginTicket>(json.ToString())
            : null;

    private static RedisKey IntentKey(string intent) => "lumoauth:federation:link-intent:" + LoginTicket.HashOf(intent);

    private static RedisKey PostedKey(string id) => "lumoauth:federation:posted-answer:" + LoginTicket.HashOf(id);

    private static RedisKey StateKey(string state) => "lumoauth:federation:state:" + LoginTicket.HashOf(state);

    private static RedisKey TicketKey(Guid tenantId, string ticket) => $"lumoauth:federation:ticket:{tenantId:N}:{LoginTicket.HashOf(ticket)}";
}
