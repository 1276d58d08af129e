using System.Net;
using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Token.Features.Token;

/// <summary>
/// Whether an agent's OAuth client may be the actor of a delegation: the agents service knows the agent's state and
/// capabilities (<c>delegate:on_behalf</c>). Asked only for clients whose id marks them as an agent's, when they act.
/// </summary>
public sealed class AgentActors(IHttpClientFactory httpClientFactory)
{
    public const string CapabilityDenied = "capability_denied";

    public static bool IsAgentClient(string? clientId) => clientId?.StartsWith(AgentClientRequest.ClientIdPrefix, StringComparison.Ordinal) == true;

    /// <summary>The agent behind the client; null when the agents service knows none. Throws <see cref="DependencyUnavailableException"/> when it cannot say.</summary>
    public async Task<AgentOfClient?> FindAsync(Guid tenantId, string clientId, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await httpClientFactory.CreateClient(InternalClients.Agents).GetAsync(AgentOfClient.Route(clientId, tenantId), cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }

            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<AgentOfClient>(cancellationToken);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("The agent of an OAuth client cannot be asked for: the agents service cannot be reached.", exception);
        }
    }
}
