using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Admin.Features.Gdpr;

/// <summary>
/// The parts of a user's data that other services keep, for the GDPR export: sessions and remembered consents (token
/// service), roles and permissions (authorization service), linked outside accounts (federation service). Each is asked in parallel with a bound; a part that does not
/// come back is named in the bundle's <c>unavailable</c>, never left out silently.
/// </summary>
public sealed partial class DataHeldElsewhere(IHttpClientFactory httpClientFactory, ILogger<DataHeldElsewhere> logger)
{
    public const string SessionsPart = "sessions and consents (token service)";
    public const string RolesPart = "roles and permissions (authorization service)";
    public const string SocialLinksPart = "linked social and OpenID Connect accounts (federation service)";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<(UserSessionData? Sessions, RolesOfResponse? Roles, List<ExternalIdentityRecord>? SocialLinks)> FetchAsync(
        Guid tenantId, Guid userId, CancellationToken cancellationToken)
    {
        var sessions = AskAsync<UserSessionData>(InternalClients.Token, SessionsPart,
            (client, ct) => client.GetAsync(UserSessionData.Route(userId, tenantId), ct), cancellationToken);
        var roles = AskAsync<RolesOfResponse>(InternalClients.Authorization, RolesPart,
            (client, ct) => client.SendAsync(RepeatableRequests.PostJson(InternalRoutes.RolesOf, new RolesOfRequest(tenantId, userId.ToString())), ct),
            cancellationToken);
        var links = AskAsync<List<ExternalIdentityRecord>>(InternalClients.Federation, SocialLinksPart,
            (client, ct) => client.GetAsync(ExternalIdentityRecord.Route(userId, tenantId), ct), cancellationToken);
        return (await sessions, await roles, await links);
    }

    private async Task<T?> AskAsync<T>(string clientName, string part, Func<HttpClient, CancellationToken, Task<HttpResponseMessage>> send, CancellationToken cancellationToken)
        where T : class
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            using var client = httpClientFactory.CreateClient(clientName);
            using var response = await send(client, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                LogUnavailable(logger, part, (int)response.StatusCode, null);
                return null;
            }

            return await response.Content.ReadFromJsonAsync<T>(timeout.Token);
        }
        catch (Exception ex) when (ex.IsRemoteFailure(cancellationToken))
        {
            LogUnavailable(logger, part, null, ex);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "GDPR export: {Part} unavailable (status {Status}); the bundle names it as missing")]
    private static partial void LogUnavailable(ILogger logger, string part, int? status, Exception? exception);
}
