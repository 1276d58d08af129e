using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Token.Features.Token;

/// <summary>
/// What the agents service, which owns agents, says about them: whether an agent's OAuth client may be the actor of a
/// delegation (active, <c>delegate:on_behalf</c>), how an agent is described at userinfo, and which agents trust a
/// workload issuer. Asked only for clients whose id marks them as an agent's, or for a workload token's issuer.
/// Every call throws <see cref="DependencyUnavailableException"/> when the agents service cannot answer.
/// </summary>
public sealed class AgentDirectory(IHttpClientFactory httpClientFactory)
{
    public const string CapabilityDenied = "capability_denied";

    public static bool IsAgentClient(string? clientId) => clientId?.StartsWith(AgentClientRequest.ClientIdPrefix, StringComparison.Ordinal) == true;

    /// <summary>The agent behind the client; null when the agents service knows none.</summary>
    public Task<AgentOfClient?> FindAsync(Guid tenantId, string clientId, CancellationToken cancellationToken) =>
        GetAsync<AgentOfClient>(AgentOfClient.Route(clientId, tenantId), "The agent of an OAuth client", cancellationToken);

    /// <summary>The active agent behind the client as userinfo shows it (without <c>sub</c> and <c>tenant</c>); null when there is none.</summary>
    public Task<JsonObject?> UserInfoAsync(Guid tenantId, string clientId, CancellationToken cancellationToken) =>
        GetAsync<JsonObject>(
            InternalRoutes.AgentUserInfo.Replace("{clientId}", Uri.EscapeDataString(clientId), StringComparison.Ordinal) + "?tenantId=" + tenantId,
            "The agent of an access token", cancellationToken);

    /// <summary>The tenant's agents that answer to tokens of this provider's issuer; empty when none.</summary>
    public async Task<IReadOnlyList<WorkloadTrust>> WorkloadTrustsAsync(Guid tenantId, string provider, string issuer, CancellationToken cancellationToken) =>
        await GetAsync<List<WorkloadTrust>>(WorkloadTrust.Route(tenantId, provider, issuer), "The agents trusting a workload issuer", cancellationToken) ?? [];

    /// <summary>Whether the agent behind the client may have a token now (its address allow-list and budget; the request counts as a call).</summary>
    public Task<AgentTokenVerdict?> PassTokenRequestAsync(AgentTokenRequest request, CancellationToken cancellationToken) =>
        PostAsync<AgentTokenRequest, AgentTokenVerdict>(InternalRoutes.AgentTokenRequests, request, "An agent's token request cannot be checked", cancellationToken);

    /// <summary>The agents service's claim of a task's approved scopes for a JIT token exchange: the token to sign, or the OAuth error.</summary>
    public Task<JitExchangeAnswer?> ClaimJitTaskAsync(JitExchangeRequest request, CancellationToken cancellationToken) =>
        PostAsync<JitExchangeRequest, JitExchangeAnswer>(InternalRoutes.JitExchanges, request, "A JIT task cannot be claimed", cancellationToken);

    private async Task<TAnswer?> PostAsync<TRequest, TAnswer>(string route, TRequest request, string what, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await httpClientFactory.CreateClient(InternalClients.Agents).PostAsJsonAsync(route, request, cancellationToken);
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<TAnswer>(cancellationToken);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException($"{what}: the agents service cannot be reached.", exception);
        }
    }

    private async Task<T?> GetAsync<T>(string route, string what, CancellationToken cancellationToken) where T : class
    {
        try
        {
            using var response = await httpClientFactory.CreateClient(InternalClients.Agents).GetAsync(route, cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }

            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<T>(cancellationToken);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException($"{what} cannot be asked for: the agents service cannot be reached.", exception);
        }
    }
}
