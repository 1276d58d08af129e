using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Agents.Features.Registry;

/// <summary>
/// An agent's roles live in the authorization service's RBAC (as <c>agent:{id}</c>), so role checks, role deletion and
/// permission changes reach agents as they reach users. This is the agents service's link to it.
/// </summary>
public sealed class AgentRoles(IHttpClientFactory httpClientFactory)
{
    /// <summary>Replaces the agent's roles; the names that matched no role (nothing written then).</summary>
    public async Task<InitialRolesResponse> ReplaceAsync(Guid tenantId, Guid agentId, IReadOnlyList<string> roles, CancellationToken cancellationToken)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Put, AgentRolesRequest.Route(agentId))
            {
                Content = JsonContent.Create(new AgentRolesRequest(tenantId, roles)),
            };
            using var response = await Client().SendAsync(request, cancellationToken);
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<InitialRolesResponse>(cancellationToken)
                ?? throw new DependencyUnavailableException("The authorization service answered no roles.");
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("Agent roles cannot be written: the authorization service cannot be reached.", exception);
        }
    }

    /// <summary>The agent's roles and every permission they grant, as the authorization service holds them now.</summary>
    public async Task<RolesOfResponse> OfAsync(Guid tenantId, Guid agentId, CancellationToken cancellationToken)
    {
        try
        {
            using var request = RepeatableRequests.PostJson(InternalRoutes.RolesOf, new RolesOfRequest(tenantId, "agent:" + agentId));
            using var response = await Client().SendAsync(request, cancellationToken);
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<RolesOfResponse>(cancellationToken)
                ?? throw new DependencyUnavailableException("The authorization service answered no roles.");
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("Agent roles cannot be read: the authorization service cannot be reached.", exception);
        }
    }

    private HttpClient Client() => httpClientFactory.CreateClient(InternalClients.Authorization);
}
