using System.Net;
using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Agents.Features.Registry;

/// <summary>The OAuth clients of client-credentials agents, kept at the token service (it owns clients).</summary>
public sealed class AgentClients(IHttpClientFactory httpClientFactory)
{
    public async Task<AgentClientResponse> CreateAsync(AgentClientRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Client().PostAsJsonAsync(InternalRoutes.AgentClients, request, cancellationToken);
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<AgentClientResponse>(cancellationToken)
                ?? throw new DependencyUnavailableException("The token service answered no client.");
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("The agent's OAuth client cannot be made: the token service cannot be reached.", exception);
        }
    }

    /// <summary>
    /// Deletes the client (its tokens voided first); one already gone (404) counts as deleted. Any other refusal (a tenant
    /// the token service cannot confirm) is an error to retry, never taken for a deletion.
    /// </summary>
    public async Task DeleteAsync(string clientId, Guid tenantId, string tenantSlug, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Client().DeleteAsync(AgentClientRequest.DeleteRoute(clientId, tenantId, tenantSlug), cancellationToken);
            if (response.StatusCode != HttpStatusCode.NotFound)
            {
                response.EnsureSuccessStatusCode();
            }
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("The agent's OAuth client cannot be deleted: the token service cannot be reached.", exception);
        }
    }

    /// <summary>Turns the client off (its tokens voided) or on again, with its agent.</summary>
    public async Task SetActiveAsync(string clientId, Guid tenantId, string tenantSlug, bool isActive, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Client().PutAsJsonAsync(AgentClientStateRequest.Route(clientId), new AgentClientStateRequest(tenantId, tenantSlug, isActive), cancellationToken);
            response.EnsureSuccessStatusCode();
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("The agent's OAuth client cannot be switched: the token service cannot be reached.", exception);
        }
    }

    private HttpClient Client() => httpClientFactory.CreateClient(InternalClients.Token);
}
