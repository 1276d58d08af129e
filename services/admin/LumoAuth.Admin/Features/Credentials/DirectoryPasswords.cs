using System.Net;
using System.Net.Http.Json;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// New passwords of users an LDAP directory keeps (<see cref="User.DirectoryId"/>) go to that directory through
/// federation, which holds its settings — only where the directory takes them (<c>passwordWriteBack</c>).
/// </summary>
public sealed partial class DirectoryPasswords(IHttpClientFactory httpClientFactory, ILogger<DirectoryPasswords> logger)
{
    /// <summary>Null when the directory took the password; else the answer to give (in the shape of this service's errors).</summary>
    public async Task<IResult?> WriteAsync(User user, Guid directoryId, string? currentPassword, string newPassword, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await httpClientFactory.CreateClient(InternalClients.Federation).PostAsJsonAsync(
                InternalRoutes.DirectoryPasswords, new DirectoryPasswordRequest(user.TenantId, directoryId, user.Id, currentPassword, newPassword), cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return null;
            }

            var error = response.Content.Headers.ContentType?.MediaType == "application/json"
                ? await response.Content.ReadFromJsonAsync<ErrorBody>(cancellationToken)
                : null;
            return (response.StatusCode, error?.Code) switch
            {
                (HttpStatusCode.BadRequest, DirectoryPasswordErrors.WrongPassword) => ApiErrors.Validation("currentPassword", "is not your current password"),
                (HttpStatusCode.BadRequest, DirectoryPasswordErrors.Refused) => ApiErrors.Validation("password", "was refused by your organisation's directory"),
                (HttpStatusCode.Conflict or HttpStatusCode.NotFound, _) => UserCommands.DirectoryManagedPassword(),
                _ => Unavailable((int)response.StatusCode, null),
            };
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            return Unavailable(null, exception);
        }
    }

    /// <summary>Whether the directory takes new passwords from here; false when federation cannot say (no link is mailed then).</summary>
    public async Task<bool> IsWritableAsync(Guid tenantId, Guid directoryId, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await httpClientFactory.CreateClient(InternalClients.Federation).GetAsync(DirectoryPasswordPolicy.Route(directoryId, tenantId), cancellationToken);
            return response.IsSuccessStatusCode && (await response.Content.ReadFromJsonAsync<DirectoryPasswordPolicy>(cancellationToken))?.Writable == true;
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            LogUnavailable(logger, null, exception);
            return false;
        }
    }

    private IResult Unavailable(int? status, Exception? exception)
    {
        LogUnavailable(logger, status, exception);
        return ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "The directory cannot change passwords right now; try again later");
    }

    private sealed record ErrorBody(string? Code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A password could not be written to its LDAP directory (federation answered {Status})")]
    private static partial void LogUnavailable(ILogger logger, int? status, Exception? exception);
}
