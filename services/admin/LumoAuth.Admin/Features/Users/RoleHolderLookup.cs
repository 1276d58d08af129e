using System.Net;
using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Admin.Features.Users;

/// <summary>
/// Roles live in the authorization service, so <c>GET /admin/users?role=</c> asks it which users hold the role
/// and filters by those ids. Anything short of a complete answer is an error, never a silently wrong list:
/// authorization unreachable is a 503, a role with more holders than one answer carries is a 400.
/// </summary>
public sealed partial class RoleHolderLookup(IHttpClientFactory http, ILogger<RoleHolderLookup> logger)
{
    /// <summary>Bounds the resilience pipeline's retries, so an outage answers 503 promptly rather than after every retry.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<(IReadOnlyList<Guid>? UserIds, IResult? Error)> FindAsync(Guid tenantId, string role, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            using var client = http.CreateClient(InternalClients.Authorization);
            var path = InternalRoutes.RoleUsers.Replace("{role}", Uri.EscapeDataString(role), StringComparison.Ordinal);
            using var response = await client.GetAsync($"{path}?tenantId={tenantId}", timeout.Token);
            if (response.StatusCode == HttpStatusCode.BadRequest)
            {
                return (null, ApiErrors.Validation("role", "must be a role slug"));
            }

            if (!response.IsSuccessStatusCode)
            {
                LogUnavailable(logger, (int)response.StatusCode, null);
                return (null, Unavailable());
            }

            var holders = await response.Content.ReadFromJsonAsync<RoleHolders>(timeout.Token);
            if (holders is null)
            {
                LogUnavailable(logger, (int)response.StatusCode, null);
                return (null, Unavailable());
            }

            return holders.IsComplete
                ? (holders.UserIds, null)
                : (null, ApiErrors.Validation("role", $"has more than {holders.UserIds.Count} holders, too many to filter users by; page through GET /admin/roles/{{id}}/users instead"));
        }
        catch (Exception exception) when (exception is HttpRequestException or System.Text.Json.JsonException || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            LogUnavailable(logger, null, exception);
            return (null, Unavailable());
        }
    }

    private static IResult Unavailable() =>
        ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "Role filtering is unavailable right now; try again shortly");

    [LoggerMessage(Level = LogLevel.Warning, Message = "The authorization service could not list role holders (status {Status}); the user list fails closed")]
    private static partial void LogUnavailable(ILogger logger, int? status, Exception? exception);
}
