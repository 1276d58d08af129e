using System.Net;
using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Authorization.Features.Rbac;

public enum DirectoryAnswer
{
    Found,
    NotFound,
    Unavailable,
}

/// <summary>
/// Users and groups belong to admin: before roles are read or assigned for one, ask admin whether the tenant
/// has it (another tenant's id is a 404 here too). When admin cannot answer the request fails closed with a
/// 503: assigning roles to an id nobody vouched for would outlive the outage.
/// </summary>
public sealed partial class AdminDirectory(IHttpClientFactory http, ILogger<AdminDirectory> logger)
{
    /// <summary>Bounds the resilience pipeline's retries, so an outage answers 503 promptly rather than after every retry.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<DirectoryAnswer> UserExistsAsync(Guid tenantId, Guid userId, CancellationToken cancellationToken) =>
        (await UserProfileAsync(tenantId, userId, cancellationToken)).Answer;

    public async Task<DirectoryAnswer> GroupExistsAsync(Guid tenantId, Guid groupId, CancellationToken cancellationToken) =>
        (await GetAsync<object>(InternalRoutes.Group.Replace("{groupId:guid}", groupId.ToString(), StringComparison.Ordinal), tenantId, cancellationToken)).Answer;

    /// <summary>The user's profile as admin holds it (the facts ABAC's built-in user attributes come from).</summary>
    public Task<(DirectoryAnswer Answer, UserProfile? Profile)> UserProfileAsync(Guid tenantId, Guid userId, CancellationToken cancellationToken) =>
        GetAsync<UserProfile>(InternalRoutes.UserProfile.Replace("{userId:guid}", userId.ToString(), StringComparison.Ordinal), tenantId, cancellationToken);

    /// <summary>The envelope for <see cref="DirectoryAnswer.NotFound"/> and <see cref="DirectoryAnswer.Unavailable"/>.</summary>
    public static IResult Error(DirectoryAnswer answer, string what) => answer == DirectoryAnswer.NotFound
        ? ApiErrors.NotFound(what)
        : ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "The directory is unavailable; try again shortly");

    private async Task<(DirectoryAnswer Answer, T? Body)> GetAsync<T>(string path, Guid tenantId, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            using var client = http.CreateClient(InternalClients.Admin);
            using var response = await client.GetAsync($"{path}?tenantId={tenantId}", timeout.Token);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return (DirectoryAnswer.NotFound, null);
            }

            if (response.IsSuccessStatusCode)
            {
                return (DirectoryAnswer.Found, await response.Content.ReadFromJsonAsync<T>(timeout.Token));
            }

            LogAdminStatus(logger, (int)response.StatusCode, null);
            return (DirectoryAnswer.Unavailable, null);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            LogAdminStatus(logger, null, exception);
            return (DirectoryAnswer.Unavailable, null);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Admin could not answer a directory lookup (status {Status}); the request fails closed")]
    private static partial void LogAdminStatus(ILogger logger, int? status, Exception? exception);
}
