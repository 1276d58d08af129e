using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Contracts.Tokens;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Protocol;
using MassTransit;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Token.Features.Ciba;

/// <summary>
/// Ping mode (CIBA Core §10.2): once the user has answered, the client's notification endpoint gets
/// <c>{"auth_req_id": …}</c> with its own <c>client_notification_token</c> as the bearer token, and fetches the result
/// from the token endpoint. Runs from the <see cref="CibaAuthenticationDecided"/> event, so the ping is retried when
/// the client is briefly unreachable; a repeated ping only makes the client ask once more.
/// </summary>
public sealed partial class CibaPingConsumer(
    TokenDbContext db,
    IDataProtectionProvider protection,
    ClientCallbacks callbacks,
    ILogger<CibaPingConsumer> logger) : IConsumer<CibaAuthenticationDecided>
{
    public async Task Consume(ConsumeContext<CibaAuthenticationDecided> context)
    {
        var message = context.Message;
        var request = await db.BackchannelAuthentications.IgnoreQueryFilters().AsNoTracking()
            .FirstOrDefaultAsync(x => x.TenantId == message.TenantId && x.Id == message.RequestId, context.CancellationToken);
        if (request is not { DeliveryMode: CibaDelivery.Ping, ProtectedPing: { } protectedPing })
        {
            return;
        }

        var client = await db.Applications.IgnoreQueryFilters().AsNoTracking()
            .FirstOrDefaultAsync(a => a.TenantId == request.TenantId && a.ClientId == request.ClientId, context.CancellationToken);
        if (client is null || ClientMapping.Read(client).BackchannelClientNotificationEndpoint is not { } endpoint)
        {
            return;
        }

        var secrets = JsonSerializer.Deserialize<BackchannelAuthenticationEndpoints.PingSecrets>(
            BackchannelAuthenticationEndpoints.PingProtector(protection).Unprotect(protectedPing))!;
        using var ping = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = JsonContent.Create(new Dictionary<string, string> { ["auth_req_id"] = secrets.AuthReqId }),
        };
        ping.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secrets.ClientNotificationToken);
        using var response = await callbacks.SendAsync(ping, context.CancellationToken);
        if (response is null)
        {
            LogSkipped(logger, request.ClientId);
        }
        else if (!response.IsSuccessStatusCode)
        {
            // The client answered and refused; asking again would not change its mind.
            LogRefused(logger, request.ClientId, (int)response.StatusCode);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Client {ClientId} refused a CIBA ping with status {Status}")]
    private static partial void LogRefused(ILogger logger, string clientId, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Client {ClientId} was not sent a CIBA ping: its server has stopped answering (it can still poll)")]
    private static partial void LogSkipped(ILogger logger, string clientId);
}
