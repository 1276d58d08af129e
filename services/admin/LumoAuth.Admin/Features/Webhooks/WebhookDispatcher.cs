using LumoAuth.Admin.Data;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Webhooks;
using LumoAuth.Messaging.Outbox;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Features.Webhooks;

/// <summary>Wakes the dispatcher when a delivery is queued, so it leaves at once rather than at the next poll.</summary>
public sealed class WebhookSignal : IDisposable
{
    private readonly SemaphoreSlim _semaphore = new(0, 1);

    public void Notify()
    {
        try
        {
            if (_semaphore.CurrentCount == 0)
            {
                _semaphore.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _semaphore.WaitAsync(timeout, cancellationToken);

    public void Dispose() => _semaphore.Dispose();
}

/// <summary>
/// Sends due deliveries, in every replica. Rows are claimed with a short lease (<c>FOR UPDATE SKIP LOCKED</c>
/// then a <c>LockedUntil</c>), so replicas never send the same attempt twice and a crashed replica's claims
/// come back. Each attempt is logged; failures retry with exponential backoff until the attempt limit, and
/// enough failures in a row switch the webhook off. All state is in the database: a restart loses nothing.
/// </summary>
public sealed partial class WebhookDispatcher(
    IServiceScopeFactory scopeFactory,
    WebhookSender sender,
    WebhookSignal signal,
    IOptions<WebhookOptions> options,
    TimeProvider time,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    // As many as are sent at once, so a batch takes one timeout at most and its lease cannot run out under it (a claim
    // that outlived its lease would be taken again by another replica and sent twice).
    private const int BatchSize = 8;

    private TimeSpan Lease => options.Value.Timeout + TimeSpan.FromSeconds(60);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await signal.WaitAsync(options.Value.PollInterval, stoppingToken);
                while (await DispatchBatchAsync(stoppingToken) == BatchSize)
                {
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogRoundFailed(logger, ex);
                await Task.Delay(options.Value.PollInterval, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    public async Task<int> DispatchBatchAsync(CancellationToken cancellationToken)
    {
        List<WebhookDelivery> claimed;
        await using (var scope = scopeFactory.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            var now = time.GetUtcNow();
            var until = now + Lease;
            // Raw SQL that is not composed (UPDATE … RETURNING): filters are ignored and the tenant is not involved.
            claimed = await db.WebhookDeliveries.FromSqlInterpolated($"""
                UPDATE webhook_deliveries SET "LockedUntil" = {until}
                WHERE "Id" IN (
                    SELECT d."Id" FROM webhook_deliveries d JOIN webhooks w ON w."Id" = d."WebhookId"
                    WHERE d."Status" = 'pending' AND d."NextAttemptAt" <= {now} AND (d."LockedUntil" IS NULL OR d."LockedUntil" < {now})
                      AND w."IsActive"
                    ORDER BY d."NextAttemptAt"
                    LIMIT {BatchSize}
                    FOR UPDATE OF d SKIP LOCKED)
                RETURNING *
                """).IgnoreQueryFilters().AsNoTracking().ToListAsync(cancellationToken);
        }

        await Parallel.ForEachAsync(claimed, new ParallelOptions { MaxDegreeOfParallelism = BatchSize, CancellationToken = cancellationToken },
            async (delivery, ct) => await AttemptAsync(delivery.Id, ct));
        return claimed.Count;
    }

    /// <summary>Makes one attempt of a delivery and records it (also used by the test endpoint).</summary>
    public async Task<WebhookAttemptResult?> AttemptAsync(Guid deliveryId, CancellationToken cancellationToken)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        var secrets = scope.ServiceProvider.GetRequiredService<WebhookSecrets>();
        var delivery = await db.WebhookDeliveries.IgnoreQueryFilters().FirstOrDefaultAsync(d => d.Id == deliveryId, cancellationToken);
        var webhook = delivery is null ? null : await db.Webhooks.IgnoreQueryFilters().AsNoTracking().FirstOrDefaultAsync(w => w.Id == delivery.WebhookId, cancellationToken);
        if (delivery is null || webhook is null || delivery.Status != WebhookDeliveryStatuses.Pending)
        {
            return null;
        }

        var result = await sender.SendAsync(webhook.Url, secrets.Reveal(webhook.ProtectedSecret), delivery.Payload, delivery.EventId, delivery.EventType, delivery.Id, cancellationToken);
        var now = time.GetUtcNow();
        delivery.Attempts++;
        delivery.LockedUntil = null;
        delivery.LastStatusCode = result.StatusCode;
        delivery.LastError = result.Error;
        db.WebhookDeliveryAttempts.Add(new WebhookDeliveryAttempt
        {
            Id = Guid.CreateVersion7(), TenantId = delivery.TenantId, DeliveryId = delivery.Id, Number = delivery.Attempts,
            AttemptedAt = now, StatusCode = result.StatusCode, Error = result.Error, DurationMs = result.DurationMs,
        });

        // The webhook's counters change with atomic statements: attempts of several deliveries run in parallel.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var hooks = db.Webhooks.IgnoreQueryFilters().Where(w => w.Id == webhook.Id);
        if (result.Succeeded)
        {
            delivery.Status = WebhookDeliveryStatuses.Succeeded;
            delivery.CompletedAt = now;
            await hooks.ExecuteUpdateAsync(u => u.SetProperty(w => w.FailureCount, 0).SetProperty(w => w.LastDeliveredAt, now), cancellationToken);
        }
        else
        {
            var limits = options.Value;
            if (delivery.Attempts >= limits.MaxAttempts)
            {
                delivery.Status = WebhookDeliveryStatuses.Failed;
                delivery.CompletedAt = now;
            }
            else
            {
                delivery.NextAttemptAt = now + limits.RetryDelayAfter(delivery.Attempts);
            }

            await hooks.ExecuteUpdateAsync(u => u.SetProperty(w => w.FailureCount, w => w.FailureCount + 1), cancellationToken);
            var disabled = await hooks.Where(w => w.IsActive && w.FailureCount >= limits.DisableAfterConsecutiveFailures)
                .ExecuteUpdateAsync(u => u.SetProperty(w => w.IsActive, false).SetProperty(w => w.DisabledAt, now), cancellationToken);
            if (disabled == 1)
            {
                db.AddEvent(new WebhookDisabled(webhook.Id, webhook.Url, limits.DisableAfterConsecutiveFailures)
                {
                    TenantId = webhook.TenantId,
                    Actor = new EventActor(ActorTypes.System, "webhooks"),
                });
                LogDisabled(logger, webhook.Id, limits.DisableAfterConsecutiveFailures);
            }
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook dispatch round failed")]
    private static partial void LogRoundFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {WebhookId} disabled after {Failures} failed attempts in a row")]
    private static partial void LogDisabled(ILogger logger, Guid webhookId, int failures);
}
