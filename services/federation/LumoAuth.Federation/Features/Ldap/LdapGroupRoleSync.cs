using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.Federation.Data;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Federation.Features.Ldap;

/// <summary>
/// Sets a user's roles among those a directory's group mappings name to the ones their groups map to now (their other
/// roles stay), at the authorization service, which owns assignments: at each LDAP sign-in and each import.
/// </summary>
public sealed partial class LdapGroupRoleSync(IHttpClientFactory httpClientFactory, ILogger<LdapGroupRoleSync> logger)
{
    /// <summary>Whether the roles were set; false when the authorization service did not take them (logged).</summary>
    public async Task<bool> SetAsync(Guid tenantId, Guid userId, LdapSettings settings, IReadOnlyList<string> groups, CancellationToken cancellationToken)
    {
        var memberOf = groups.Select(LdapSignInEndpoints.NormalizeDn).ToHashSet(StringComparer.Ordinal);
        var managed = settings.GroupRoles.SelectMany(g => g.Roles).Distinct(StringComparer.Ordinal).ToList();
        var held = settings.GroupRoles.Where(g => memberOf.Contains(LdapSignInEndpoints.NormalizeDn(g.Group))).SelectMany(g => g.Roles).Distinct(StringComparer.Ordinal).ToList();
        try
        {
            using var response = await httpClientFactory.CreateClient(InternalClients.Authorization)
                .PutAsJsonAsync(DirectoryRolesRequest.Route(userId), new DirectoryRolesRequest(tenantId, managed, held), cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                LogRolesNotSet(logger, userId, (int)response.StatusCode, null);
                return false;
            }

            if (await response.Content.ReadFromJsonAsync<InitialRolesResponse>(cancellationToken) is { Unknown.Count: > 0 } answer)
            {
                LogUnknownRoles(logger, tenantId, string.Join(", ", answer.Unknown));
            }

            return true;
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            LogRolesNotSet(logger, userId, null, exception);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The directory roles of user {UserId} could not be set (status {Status})")]
    private static partial void LogRolesNotSet(ILogger logger, Guid userId, int? status, Exception? exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "LDAP group mappings of tenant {TenantId} name roles that do not exist: {Roles}")]
    private static partial void LogUnknownRoles(ILogger logger, Guid tenantId, string roles);
}
