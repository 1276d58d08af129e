using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Token.Protocol;

namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// Where a client's cut-off goes on the deny-list when the client can no longer get tokens, or can again.
/// <see cref="Deactivated"/> (or deleted): past every token it could still be issued, including by replicas that hold it,
/// active, in their <see cref="ClientCache"/> until its change event reaches them or the entry expires
/// (<see cref="ClientCache.FoundLifetime"/>, plus <see cref="StaleAllowance"/>). <see cref="Reactivated"/>: back to now,
/// so that its new tokens are accepted while everything issued up to the reactivation stays void.
/// </summary>
public sealed class ClientTokenCutOff
{
    /// <summary>
    /// Beyond the cache's lifetime: the change commits a moment after the cut-off is written (a replica may still load the
    /// old row until then), and the replicas' clocks, which stamp <c>iat</c>, may differ by a few seconds.
    /// </summary>
    public static readonly TimeSpan StaleAllowance = TimeSpan.FromSeconds(30);

    public static ClientTokenCutOff Deactivated { get; } = new(ClientCache.FoundLifetime + StaleAllowance);

    public static ClientTokenCutOff Reactivated { get; } = new(TimeSpan.Zero);

    private ClientTokenCutOff(TimeSpan ahead) => Ahead = ahead;

    /// <summary>How far past now the cut-off lies.</summary>
    public TimeSpan Ahead { get; }

    /// <summary>Writes the cut-off for every service. Throws <see cref="StackExchange.Redis.RedisException"/> when Redis is unreachable.</summary>
    public Task WriteAsync(RedisAccessTokenDenyList denyList, Guid tenantId, string clientId) =>
        denyList.RevokeClientTokensAsync(tenantId, clientId, ClientValidation.LongestAccessTokenLifetime, Ahead);
}
