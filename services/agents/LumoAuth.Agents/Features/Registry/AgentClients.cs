using System.Net;
using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Agents.Features.Registry;

/// <summary>
/// The OAuth clients of client-credentials and workload agents, kept at the token service (it owns clients, with their
/// scopes and token lifetime, which the agent registry shows and changes through it).
/// </summary>
public sealed class AgentClients(IHttpClientFactory httpClientFactory)
{
    /// <summary>The client made, or the token service's refusal of its scopes or lifetime (400, 403) to answer with.</summary>
    public async Task<(AgentClientResponse? Client, IResult? Refusal)> CreateAsync(AgentClientRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Client().PostAsJsonAsync(InternalRoutes.AgentClients, request, cancellationToken);
            if (await RefusalOfAsync(response, cancellationToken) is { } refusal)
            {
                return (null, refusal);
            }

            response.EnsureSuccessStatusCode();
            return (await response.Content.ReadFromJsonAsync<AgentClientResponse>(cancellationToken)
                ?? throw new DependencyUnavailableException("The token service answered no client."), null);
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

    /// <summary>
    /// The client's scopes and token lifetime (the token service holds them); null when the client is gone (an
    /// administrator may delete it through the Admin API's clients).
    /// </summary>
    public async Task<AgentClientSettings?> SettingsAsync(string clientId, Guid tenantId, string tenantSlug, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Client().GetAsync(AgentClientSettings.Route(clientId, tenantId, tenantSlug), cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }

            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<AgentClientSettings>(cancellationToken);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("The agent's OAuth client cannot be read: the token service cannot be reached.", exception);
        }
    }

    /// <summary>Changes the client's scopes or token lifetime: the settings now, or the token service's refusal (400, 403) to answer with.</summary>
    public async Task<(AgentClientSettings? Settings, IResult? Refusal)> UpdateSettingsAsync(
        string clientId, AgentClientSettingsRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Client().PutAsJsonAsync(AgentClientSettingsRequest.Route(clientId), request, cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return (null, ApiErrors.Create(StatusCodes.Status409Conflict, "client_missing",
                    "The agent's OAuth client no longer exists (deleted through the Admin API's clients); make a new agent"));
            }

            if (await RefusalOfAsync(response, cancellationToken) is { } refusal)
            {
                return (null, refusal);
            }

            response.EnsureSuccessStatusCode();
            return (await response.Content.ReadFromJsonAsync<AgentClientSettings>(cancellationToken), null);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("The agent's OAuth client cannot be changed: the token service cannot be reached.", exception);
        }
    }

    // The token service words these for the agent registry's fields (allowedScopes, tokenLifetime): passed on as they are.
    private static async Task<IResult?> RefusalOfAsync(HttpResponseMessage response, CancellationToken cancellationToken) =>
        response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Forbidden
            ? Results.Json(await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(cancellationToken), statusCode: (int)response.StatusCode)
            : null;

    private HttpClient Client() => httpClientFactory.CreateClient(InternalClients.Token);
}
