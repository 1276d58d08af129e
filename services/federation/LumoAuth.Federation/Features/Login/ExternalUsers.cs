using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Federation.Features.Login;

/// <summary>Admin's answer for an outside account signing in for the first time: the user, or why there is none.</summary>
public sealed record ExternalUserOutcome(ExternalUserResponse? User, string? Refusal);

/// <summary>Asks admin, which owns users, for the user a first-time outside account is (found by verified address, or made).</summary>
public sealed class ExternalUsers(IHttpClientFactory httpClientFactory)
{
    public async Task<ExternalUserOutcome> FindOrCreateAsync(ExternalUserRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await httpClientFactory.CreateClient(InternalClients.Admin).PostAsJsonAsync(InternalRoutes.ExternalUsers, request, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return new ExternalUserOutcome(await response.Content.ReadFromJsonAsync<ExternalUserResponse>(cancellationToken), null);
            }

            if ((int)response.StatusCode is >= 400 and < 500)
            {
                using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
                return new ExternalUserOutcome(null, error.RootElement.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String ? code.GetString() : "refused");
            }

            response.EnsureSuccessStatusCode();
            return new ExternalUserOutcome(null, "refused");
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("The user of an outside account cannot be looked up: admin cannot be reached.", exception);
        }
    }
}
