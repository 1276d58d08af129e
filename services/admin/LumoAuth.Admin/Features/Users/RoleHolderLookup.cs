using System.Net;
using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Admin.Features.Users;

/// <summary>
/// Roles live in the authorization service, so <c>GET /admin/users?role=</c> asks it which users hold the role
/// and filters by those ids. Anything short of a complete answer is an error, never a silently wrong list:
/// authorization unreachable is a 503, a role with more holders than one answer carries is a 400. It also asks, for a
/// page of user objects, which roles each user holds.
/// </summary>
public sealed partial class RoleHolderLookup(IHttpClientFactory http, IConfiguration configuration, ILogger<RoleHolderLookup> logger)
{
    /// <summary>Bounds the resilience pipeline's retries, so an outage answers 503 promptly rather than after every retry.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>How long a user read waits for roles (<c>RoleLookup:Timeout</c>), and how long it stops asking after the service failed (<c>RoleLookup:Pause</c>).</summary>
    private readonly TimeSpan _rolesTimeout = configuration.GetValue("RoleLookup:Timeout", TimeSpan.FromSeconds(1));
    private readonly TimeSpan _rolesPause = configuration.GetValue("RoleLookup:Pause", TimeSpan.FromSeconds(30));

    private long _rolesUnavailableUntil;

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
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            LogUnavailable(logger, null, exception);
            return (null, Unavailable());
        }
    }

    /// <summary>
    /// The roles each user holds (and each group is given), for the user and group objects admin returns; null when the authorization service does not answer
    /// (the objects then say <c>roles: null</c>, "not known now", rather than an empty list that would read as "none").
    /// </summary>
    public async Task<IReadOnlyDictionary<Guid, IReadOnlyList<NamedRole>>?> RolesOfManyAsync(Guid tenantId, IReadOnlyList<Guid> userIds, IReadOnlyList<Guid> groupIds, CancellationToken cancellationToken)
    {
        if (userIds.Count + groupIds.Count == 0)
        {
            return new Dictionary<Guid, IReadOnlyList<NamedRole>>();
        }

        // Roles only decorate the objects: after a failure, user reads stop waiting on the authorization service for a while.
        if (Environment.TickCount64 < Interlocked.Read(ref _rolesUnavailableUntil))
        {
            return null;
        }

        return await AskRolesOfManyAsync(tenantId, userIds, groupIds, _rolesTimeout, fullyConsistent: false, cancellationToken);
    }

    /// <summary>
    /// The roles of a user or group whose creation just gave it roles: the authorization service has just answered, and an
    /// answer without the roles it was asked to give would read as a failed assignment. Not held back by a pause after an
    /// earlier miss (a slow first request on a cold start), given the deadline of a write rather than of a decoration, and read
    /// fully consistent (the replica answering may not be the one that took the write).
    /// </summary>
    public Task<IReadOnlyDictionary<Guid, IReadOnlyList<NamedRole>>?> RolesJustGivenAsync(Guid tenantId, IReadOnlyList<Guid> userIds, IReadOnlyList<Guid> groupIds, CancellationToken cancellationToken) =>
        AskRolesOfManyAsync(tenantId, userIds, groupIds, Timeout, fullyConsistent: true, cancellationToken);

    private async Task<IReadOnlyDictionary<Guid, IReadOnlyList<NamedRole>>?> AskRolesOfManyAsync(
        Guid tenantId, IReadOnlyList<Guid> userIds, IReadOnlyList<Guid> groupIds, TimeSpan deadline, bool fullyConsistent, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(deadline);
            using var client = http.CreateClient(InternalClients.Authorization);
            using var request = RepeatableRequests.PostJson(InternalRoutes.RolesOfMany, new RolesOfManyRequest(tenantId, userIds) { GroupIds = groupIds, FullyConsistent = fullyConsistent });
            using var response = await client.SendAsync(request, timeout.Token);
            if (response.IsSuccessStatusCode && await response.Content.ReadFromJsonAsync<RolesOfManyResponse>(timeout.Token) is { Roles: not null } answer)
            {
                return answer.Roles;
            }

            LogRolesUnavailable(logger, (int)response.StatusCode, null);
            if ((int)response.StatusCode < 500)
            {
                return null;
            }
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            LogRolesUnavailable(logger, null, exception);
        }

        // Unreachable, failing or too slow: the service is down for every tenant, so every read skips it for a while.
        Interlocked.Exchange(ref _rolesUnavailableUntil, Environment.TickCount64 + (long)_rolesPause.TotalMilliseconds);
        return null;
    }

    /// <summary>
    /// Which of these users and groups hold an administering role, for <see cref="AdministratorGuard"/>: asked every time
    /// (no pause shared with the decorative lookups) and null whenever the answer is not complete.
    /// </summary>
    public async Task<IReadOnlySet<Guid>?> AdministeringAsync(Guid tenantId, IReadOnlyList<Guid> userIds, IReadOnlyList<Guid> groupIds, CancellationToken cancellationToken)
    {
        // One question holds at most MaxSubjects ids; a longer list (a user in many groups, a bulk invitation) takes several.
        var subjects = userIds.Distinct().Select(id => (Id: id, IsUser: true)).Concat(groupIds.Distinct().Select(id => (Id: id, IsUser: false))).ToList();
        var administering = new HashSet<Guid>();
        foreach (var batch in subjects.Chunk(RolesOfManyRequest.MaxSubjects))
        {
            var answer = await AdministeringBatchAsync(
                tenantId, [.. batch.Where(s => s.IsUser).Select(s => s.Id)], [.. batch.Where(s => !s.IsUser).Select(s => s.Id)], cancellationToken);
            if (answer is null)
            {
                return null;
            }

            administering.UnionWith(answer);
        }

        return administering;
    }

    private async Task<IReadOnlyList<Guid>?> AdministeringBatchAsync(Guid tenantId, IReadOnlyList<Guid> userIds, IReadOnlyList<Guid> groupIds, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            using var client = http.CreateClient(InternalClients.Authorization);
            using var request = RepeatableRequests.PostJson(InternalRoutes.Administering, new AdministeringRequest(tenantId, userIds, groupIds));
            using var response = await client.SendAsync(request, timeout.Token);
            if (response.IsSuccessStatusCode && await response.Content.ReadFromJsonAsync<AdministeringResponse>(timeout.Token) is { Administering: not null } answer)
            {
                return answer.Administering;
            }

            LogRolesUnavailable(logger, (int)response.StatusCode, null);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            LogRolesUnavailable(logger, null, exception);
        }

        return null;
    }

    private static IResult Unavailable() =>
        ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "Role filtering is unavailable right now; try again shortly");

    [LoggerMessage(Level = LogLevel.Warning, Message = "The authorization service could not list role holders (status {Status}); the user list fails closed")]
    private static partial void LogUnavailable(ILogger logger, int? status, Exception? exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The authorization service could not say which roles users hold (status {Status}); their objects show roles as unknown")]
    private static partial void LogRolesUnavailable(ILogger logger, int? status, Exception? exception);
}
