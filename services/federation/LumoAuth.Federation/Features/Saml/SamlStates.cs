using System.Text.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.Federation.Features.Login;
using StackExchange.Redis;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>
/// A SAML sign-in waiting for the user to sign in (Redis, ten minutes, answered once), and the request IDs an SP already
/// used: a request replayed — signed or not — gets no second answer.
/// </summary>
public sealed class SamlStates(IConnectionMultiplexer redis)
{
    public static readonly TimeSpan PendingLifetime = TimeSpan.FromMinutes(10);

    /// <param name="RequestId">The AuthnRequest's ID (the response's InResponseTo).</param>
    /// <param name="NameIdFormat">The short name of the format the response uses.</param>
    /// <param name="SessionBefore">With ForceAuthn, the session the browser had when the request came: only a new sign-in counts.</param>
    public sealed record PendingSignIn(
        Guid TenantId, Guid ServiceProviderId, string RequestId, string? RelayState, string NameIdFormat, bool ForceAuthn, bool IsPassive, string? SessionBefore = null);

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

    /// <summary>Whether this is the first time the SP sent a request with this ID (remembered as long as the request could be current).</summary>
    public Task<bool> FirstUseAsync(Guid tenantId, Guid serviceProviderId, string requestId) =>
        redis.GetDatabase().StringSetAsync(
            $"lumoauth:federation:saml-request:{tenantId:N}:{serviceProviderId:N}:{LoginTicket.HashOf(requestId)}", "1",
            SamlMessages.IssueInstantSkew * 2, When.NotExists);

    private static RedisKey PendingKey(string id) => "lumoauth:federation:saml-pending:" + LoginTicket.HashOf(id);
}
