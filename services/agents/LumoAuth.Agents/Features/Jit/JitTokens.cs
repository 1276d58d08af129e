using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Agents.Data;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.EntityFrameworkCore;
using StackExchange.Redis;

namespace LumoAuth.Agents.Features.Jit;

/// <summary>
/// A JIT request's token: signed by the token service (the tenant's keys live there), revoked through the access-token
/// deny-list every service and introspection consult.
/// </summary>
public sealed class JitTokens(IHttpClientFactory httpClientFactory, RedisAccessTokenDenyList denyList)
{
    public async Task<JitTokenResponse> IssueAsync(JitTokenRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await httpClientFactory.CreateClient(InternalClients.Token).PostAsJsonAsync(InternalRoutes.JitTokens, request, cancellationToken);
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<JitTokenResponse>(cancellationToken)
                ?? throw new DependencyUnavailableException("The token service answered no token.");
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("A JIT token cannot be signed: the token service cannot be reached.", exception);
        }
    }

    /// <summary>
    /// Revokes every unexpired token the task's requests were given; how many. Throws <see cref="DependencyUnavailableException"/>
    /// while Redis is out, before anything is recorded, so the caller can try again.
    /// </summary>
    public async Task<int> RevokeTaskTokensAsync(AgentsDbContext db, JitTask task, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var tokens = await db.JitRequests.Where(r => r.TaskId == task.Id && r.TokenId != null && r.TokenExpiresAt > now)
            .Select(r => new { r.TokenId, r.TokenExpiresAt }).ToListAsync(cancellationToken);
        try
        {
            foreach (var token in tokens)
            {
                await denyList.RevokeAsync(task.TenantId, token.TokenId!, token.TokenExpiresAt!.Value);
            }
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            throw new DependencyUnavailableException("The task's tokens cannot be revoked now: Redis cannot be reached.", exception);
        }

        return tokens.Count;
    }

    /// <summary>
    /// How far past now the cut-off reaches: a token being signed for a call that passed the key check just before the
    /// change commits is void too.
    /// </summary>
    private static readonly TimeSpan InFlight = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Voids every JIT token the agent holds (tokens name the agent as their client): for an agent deleted, disabled or
    /// given a new key. Throws <see cref="DependencyUnavailableException"/> while Redis is out, before anything is recorded.
    /// </summary>
    public async Task RevokeAgentTokensAsync(Guid tenantId, Guid agentId)
    {
        try
        {
            await denyList.RevokeClientTokensAsync(tenantId, agentId.ToString(), TimeSpan.FromSeconds(JitTokenRequest.MaxLifetimeSeconds), InFlight);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            throw new DependencyUnavailableException("The agent's tokens cannot be revoked now: Redis cannot be reached.", exception);
        }
    }

    public static JsonElement ToElement(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
