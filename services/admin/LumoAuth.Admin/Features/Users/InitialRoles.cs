using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Security;

namespace LumoAuth.Admin.Features.Users;

/// <summary>
/// The roles named when a user or group is created (ADM-02, ADM-33). Roles belong to the authorization service, so they are
/// written there first, under the id the new object will have, and the object is saved only once they are: a read or a token
/// right after the creation sees them, and an unknown role or an unreachable service saves nothing. If the save then fails,
/// they are taken back; should that fail too, they stay on an id that no user or group will ever have.
/// </summary>
public sealed partial class InitialRoles(IHttpClientFactory http, ILogger<InitialRoles> logger)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>Checks the shape of the list and who names it, before anything else is looked up.</summary>
    public static IResult? Refuse(IReadOnlyList<string>? roles, System.Security.Claims.ClaimsPrincipal caller, string what)
    {
        if (roles is not { Count: > 0 })
        {
            return null;
        }

        if (roles.Count > InitialRolesRequest.MaxRoles || roles.Any(r => string.IsNullOrWhiteSpace(r) || r.Length > 100))
        {
            return ApiErrors.Validation("roles", $"must be at most {InitialRolesRequest.MaxRoles} role slugs or ids, each 1 to 100 characters");
        }

        // Like an invitation's: the roles may be admin or tenant_admin, by slug or id, so naming any is for full administrators.
        return AdminScopeHandler.HasFullWrite(caller) ? null : ApiErrors.NeedsFullWrite(what);
    }

    /// <summary>
    /// Null once the roles are held; otherwise the error to answer (400 for an unknown role, 503 when unreachable). Only an
    /// unknown role is known to have written nothing: after any other outcome (a timeout may come after the write) the caller
    /// that does not save the object takes the roles back.
    /// </summary>
    public async Task<(IResult? Error, bool MayHaveWritten)> GiveAsync(Guid tenantId, Guid? userId, Guid? groupId, IReadOnlyList<string> roles, CancellationToken cancellationToken)
    {
        var answer = await SendAsync(new InitialRolesRequest(tenantId, userId, groupId, roles), cancellationToken);
        return answer switch
        {
            null => (ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "Roles cannot be assigned right now; nothing was created, try again shortly"), true),
            { Unknown.Count: > 0 } => (ApiErrors.Validation("roles", $"unknown roles: {string.Join(", ", answer.Unknown)}"), false),
            _ => (null, true),
        };
    }

    /// <summary>
    /// Like <see cref="GiveAsync"/>, for roles set up earlier (a SAML IdP's default roles), which may have been deleted
    /// since: those are left out (logged) rather than refuse the sign-up; the rest are given.
    /// </summary>
    public async Task<(IResult? Error, bool MayHaveWritten)> GiveExistingAsync(Guid tenantId, Guid userId, IReadOnlyList<string> roles, CancellationToken cancellationToken)
    {
        var answer = await SendAsync(new InitialRolesRequest(tenantId, userId, null, roles), cancellationToken);
        if (answer is { Unknown.Count: > 0 })
        {
            LogLeftOut(logger, answer.Unknown.Count, userId);
            var known = roles.Except(answer.Unknown, StringComparer.Ordinal).ToList();
            answer = known.Count == 0 ? answer with { Unknown = [] } : await SendAsync(new InitialRolesRequest(tenantId, userId, null, known), cancellationToken);
        }

        return answer is { Unknown.Count: 0 }
            ? (null, true)
            : (ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "Roles cannot be assigned right now; nothing was created, try again shortly"), true);
    }

    /// <summary>Takes the roles back after the object's save failed.</summary>
    public async Task TakeBackAsync(Guid tenantId, Guid? userId, Guid? groupId)
    {
        if (await SendAsync(new InitialRolesRequest(tenantId, userId, groupId, []), CancellationToken.None) is null)
        {
            LogLeftBehind(logger, userId ?? groupId);
        }
    }

    private async Task<InitialRolesResponse?> SendAsync(InitialRolesRequest question, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            using var client = http.CreateClient(InternalClients.Authorization);
            // Replacing a subject's roles with the same list twice changes nothing, so the call may be retried.
            using var request = RepeatableRequests.PostJson(InternalRoutes.InitialRoles, question);
            using var response = await client.SendAsync(request, timeout.Token);
            if (response.IsSuccessStatusCode && await response.Content.ReadFromJsonAsync<InitialRolesResponse>(timeout.Token) is { Roles: not null, Unknown: not null } answer)
            {
                return answer;
            }

            LogUnavailable(logger, (int)response.StatusCode, null);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            LogUnavailable(logger, null, exception);
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The authorization service could not assign a new object's roles (status {Status}); nothing was created")]
    private static partial void LogUnavailable(ILogger logger, int? status, Exception? exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} default roles for new user {UserId} no longer exist and were left out")]
    private static partial void LogLeftOut(ILogger logger, int count, Guid userId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Roles assigned to {SubjectId}, whose creation then failed, could not be taken back; no user or group has that id")]
    private static partial void LogLeftBehind(ILogger logger, Guid? subjectId);
}
