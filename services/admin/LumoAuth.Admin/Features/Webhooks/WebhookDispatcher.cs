using System.Security.Cryptography;
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
/// Sending slots are shared fairly: claims take webhooks and tenants in turn, and a tenant or a webhook never has
/// more than its cap in flight, so one slow receiver cannot hold back everyone else's deliveries.
/// </summary>
public sealed partial class WebhookDispatcher(
    IServiceScopeFactory scopeFactory,
    WebhookSender sender,
    WebhookSignal signal,
    IOptions<WebhookOptions> options,
    TimeProvider time,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    // A claim is sent at once, so it ends within one timeout; the lease must outlast it, or another replica would
    // take the delivery again and send it twice.
    private TimeSpan Lease => options.Value.Timeout + TimeSpan.FromSeconds(60);

    /// <summary>An attempt's error when the webhook's secret cannot be read: nothing was sent.</summary>
    public const string SecretUnreadable = "The webhook's signing secret could not be read (the key that sealed it is unavailable); nothing was sent. Rotate the secret.";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var sending = new List<Task>();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                sending.RemoveAll(task => task.IsCompleted);
                var free = options.Value.MaxConcurrentDeliveries - sending.Count;
                var claimed = free > 0 ? await ClaimAsync(free, stoppingToken) : [];
                sending.AddRange(claimed.Select(id => SendAsync(id, stoppingToken)));
                if (free > 0 && claimed.Count == free)
                {
                    continue; // more may be due
                }

                await WaitForWorkAsync(sending, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                LogRoundFailed(logger, ex);
                await Task.Delay(options.Value.PollInterval, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        await Task.WhenAll(sending).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>Until a delivery is queued, a send ends (freeing a slot or a cap), or the poll interval passes.</summary>
    private async Task WaitForWorkAsync(List<Task> sending, CancellationToken stoppingToken)
    {
        using var wake = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var signalled = signal.WaitAsync(options.Value.PollInterval, wake.Token);
        await (sending.Count > 0 ? Task.WhenAny(signalled, Task.WhenAny(sending)) : (Task)signalled);

        // Cancelled, an unfinished wait gives up its place, so it cannot swallow a later signal.
        wake.Cancel();
        await ((Task)signalled).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task SendAsync(Guid deliveryId, CancellationToken stoppingToken)
    {
        try
        {
            await AttemptAsync(deliveryId, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The lease runs out and the attempt is made again after the restart.
        }
        catch (Exception ex)
        {
            LogAttemptFailed(logger, ex, deliveryId);
        }
    }

    /// <summary>
    /// Claims up to <paramref name="slots"/> due deliveries. Each active webhook offers its oldest due deliveries up to its
    /// cap less what it has in flight; they are taken round-robin (every webhook's first, then every second…) and
    /// within a tenant's cap. The caps are counted from the leases, so they hold across replicas too, give or take a race.
    /// </summary>
    public async Task<IReadOnlyList<Guid>> ClaimAsync(int slots, CancellationToken cancellationToken)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        var limits = options.Value;
        var now = time.GetUtcNow();
        var until = now + Lease;
        // Raw SQL on the tables themselves: tenant filters do not apply, the dispatcher serves every tenant.
        return await db.Database.SqlQuery<Guid>($"""
            WITH in_flight AS (
                SELECT "WebhookId", "TenantId" FROM webhook_deliveries
                WHERE "Status" = 'pending' AND "LockedUntil" IS NOT NULL AND "LockedUntil" >= {now}
            ), offered AS (
                SELECT due."Id", due."NextAttemptAt", due.turn, w."TenantId" AS tenant_id
                FROM webhooks w
                CROSS JOIN LATERAL (
                    SELECT d."Id", d."NextAttemptAt", row_number() OVER (ORDER BY d."NextAttemptAt") AS turn
                    FROM webhook_deliveries d
                    WHERE d."WebhookId" = w."Id" AND d."Status" = 'pending' AND d."NextAttemptAt" <= {now}
                      AND (d."LockedUntil" IS NULL OR d."LockedUntil" < {now})
                    ORDER BY d."NextAttemptAt"
                    LIMIT {limits.MaxConcurrentPerWebhook}) due
                WHERE w."IsActive"
                  AND due.turn + (SELECT count(*) FROM in_flight f WHERE f."WebhookId" = w."Id") <= {limits.MaxConcurrentPerWebhook}
            ), ranked AS (
                SELECT o.*, row_number() OVER (PARTITION BY o.tenant_id ORDER BY o.turn, o."NextAttemptAt")
                    + (SELECT count(*) FROM in_flight f WHERE f."TenantId" = o.tenant_id) AS tenant_turn
                FROM offered o
            ), picked AS (
                -- A tenant's turn counts what it already has in flight: the tenants with least in flight go first.
                SELECT r."Id" FROM ranked r
                WHERE r.tenant_turn <= {limits.MaxConcurrentPerTenant}
                ORDER BY r.tenant_turn, r."NextAttemptAt"
                LIMIT {slots}
            )
            UPDATE webhook_deliveries SET "LockedUntil" = {until}
            WHERE "Id" IN (
                SELECT d."Id" FROM webhook_deliveries d
                WHERE d."Id" IN (SELECT "Id" FROM picked) AND d."Status" = 'pending' AND (d."LockedUntil" IS NULL OR d."LockedUntil" < {now})
                FOR UPDATE SKIP LOCKED)
            RETURNING "Id" AS "Value"
            """).ToListAsync(cancellationToken);
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

        // Every attempt (retries of older deliveries and replays too) is signed with the secrets live at that moment.
        var sendingAt = time.GetUtcNow();
        var previousSecret = webhook.PreviousProtectedSecret is { } previous && webhook.PreviousSecretExpiresAt > sendingAt ? TryReveal(secrets, previous, webhook.Id) : null;
        var secret = TryReveal(secrets, webhook.ProtectedSecret, webhook.Id);
        // A secret that cannot be read is a failed attempt like a refused one, so the delivery retries, backs off and is
        // given up at the limit; otherwise it would be claimed again at every lease's end, for ever, holding a slot.
        var result = secret is null
            ? new WebhookAttemptResult(false, null, SecretUnreadable, 0)
            : await sender.SendAsync(webhook.Url, secret, previousSecret, delivery.Payload, delivery.EventId, delivery.EventType, delivery.Id, cancellationToken);
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
        if (webhook.PreviousProtectedSecret is not null && previousSecret is null)
        {
            // Its overlap is over: the rotated-out secret is not kept at rest any longer (unless a rotation just replaced it).
            await hooks.Where(w => w.PreviousSecretExpiresAt <= now).ExecuteUpdateAsync(
                u => u.SetProperty(w => w.PreviousProtectedSecret, (string?)null).SetProperty(w => w.PreviousSecretExpiresAt, (DateTimeOffset?)null), cancellationToken);
        }

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
                db.AddEvent(new WebhookDisabled(webhook.Id, WebhookUrls.OriginOf(webhook.Url), limits.DisableAfterConsecutiveFailures)
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

    /// <summary>
    /// A secret sealed under a key this replica cannot read (a lost or unshared key ring) is null. A previous secret that
    /// cannot be read only loses its second signature: it could not sign before the rotation either, and the rotation that
    /// mends an unreadable secret makes it the previous one.
    /// </summary>
    private string? TryReveal(WebhookSecrets secrets, string protectedSecret, Guid webhookId)
    {
        try
        {
            return secrets.Reveal(protectedSecret);
        }
        catch (CryptographicException ex)
        {
            LogSecretUnreadable(logger, ex, webhookId);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook dispatch round failed")]
    private static partial void LogRoundFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {DeliveryId} attempt failed; it is made again when its lease runs out")]
    private static partial void LogAttemptFailed(ILogger logger, Exception exception, Guid deliveryId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook {WebhookId} has a signing secret this replica cannot read (is the data protection key ring shared?)")]
    private static partial void LogSecretUnreadable(ILogger logger, Exception exception, Guid webhookId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook {WebhookId} disabled after {Failures} failed attempts in a row")]
    private static partial void LogDisabled(ILogger logger, Guid webhookId, int failures);
}
