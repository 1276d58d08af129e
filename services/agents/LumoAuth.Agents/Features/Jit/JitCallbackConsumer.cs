using System.Net.Http.Json;
using LumoAuth.Agents.Data;
using LumoAuth.Contracts.Agents;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Agents.Features.Jit;

/// <summary>
/// Tells the agent's <c>callback_url</c> how a person decided its request: <c>{request_id, task_id, status, deny_reason,
/// token_url}</c>, POSTed once through the SSRF-checked client. A courtesy: the status endpoint stays the truth, so a
/// callback that fails is logged and not retried (an agent's server must not hold our queue).
/// </summary>
public sealed partial class JitCallbackConsumer(AgentsDbContext db, IHttpClientFactory httpClientFactory, ILogger<JitCallbackConsumer> logger) : IConsumer<JitRequestDecided>
{
    public const string HttpClientName = "jit-callbacks";

    public async Task Consume(ConsumeContext<JitRequestDecided> context)
    {
        var decided = context.Message;
        var entry = await db.JitRequests.IgnoreQueryFilters().AsNoTracking()
            .Where(r => r.Id == decided.RequestId && r.TenantId == decided.TenantId)
            .Select(r => new { r.CallbackUrl, r.TaskId })
            .FirstOrDefaultAsync(context.CancellationToken);
        if (entry?.CallbackUrl is not { } url)
        {
            return;
        }

        var body = new
        {
            request_id = JitIds.Request(decided.RequestId),
            task_id = JitIds.Task(entry.TaskId),
            status = decided.Status,
            deny_reason = decided.DenyReason,
            token_url = decided.Status == JitStatuses.Approved ? $"/t/{decided.TenantSlug}/api/v1/jit/request/{JitIds.Request(decided.RequestId)}/token" : null,
        };
        try
        {
            using var response = await httpClientFactory.CreateClient(HttpClientName).PostAsJsonAsync(url, body, context.CancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                LogRefused(logger, decided.RequestId, (int)response.StatusCode);
            }
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            LogFailed(logger, decided.RequestId, exception);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The callback of JIT request {RequestId} answered {Status}")]
    private static partial void LogRefused(ILogger logger, Guid requestId, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The callback of JIT request {RequestId} could not be delivered")]
    private static partial void LogFailed(ILogger logger, Guid requestId, Exception exception);
}
