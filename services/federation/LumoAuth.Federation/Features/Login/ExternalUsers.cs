using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Federation.Features.Login;

/// <summary>Admin's answer for an outside account signing in for the first time: the user, or why there is none.</summary>
public sealed record ExternalUserOutcome(ExternalUserResponse? User, string? Refusal);

/// <summary>Asks admin, which owns users, for the user a first-time outside account is (found by verified address, or made).</summary>
public sealed partial class ExternalUsers(IHttpClientFactory httpClientFactory, ILogger<ExternalUsers> logger)
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

    /// <summary>
    /// Brings a linked user's names up to date with the IdP's (a SAML IdP with <c>updateUserOnLogin</c>). Best effort: the
    /// sign-in goes on without it, and the next one tries again.
    /// </summary>
    public async Task UpdateProfileAsync(Guid tenantId, Guid userId, UpstreamAccount account, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await httpClientFactory.CreateClient(InternalClients.Admin).PostAsJsonAsync(
                InternalRoutes.ExternalProfile.Replace("{userId:guid}", userId.ToString(), StringComparison.Ordinal),
                new ExternalProfileRequest(tenantId, account.Name, account.GivenName, account.FamilyName), cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                LogNotUpdated(logger, userId, (int)response.StatusCode, null);
            }
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            LogNotUpdated(logger, userId, null, exception);
        }
    }

    /// <summary>Tells admin which of the users <paramref name="directoryId"/> made it lists (and, after a complete listing, which it does not).</summary>
    public async Task<DirectoryPresenceResponse> ReportPresenceAsync(Guid directoryId, DirectoryPresenceRequest report, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await httpClientFactory.CreateClient(InternalClients.Admin).PutAsJsonAsync(
                InternalRoutes.DirectoryPresence.Replace("{directoryId:guid}", directoryId.ToString(), StringComparison.Ordinal), report, cancellationToken);
            response.EnsureSuccessStatusCode();
            return (await response.Content.ReadFromJsonAsync<DirectoryPresenceResponse>(cancellationToken))!;
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("The directory's users cannot be blocked or unblocked: admin cannot be reached.", exception);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The names of user {UserId} could not be updated from their IdP (status {Status})")]
    private static partial void LogNotUpdated(ILogger logger, Guid userId, int? status, Exception? exception);
}
