using System.Data.Common;
using System.Security.Claims;
using LumoAuth.Contracts;
using LumoAuth.Messaging.Consumers;
using LumoAuth.ServiceDefaults.Correlation;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace LumoAuth.Messaging.Outbox;

public static class OutboxDbContextExtensions
{
    /// <summary>Queues an event on this context; it is written by the next <c>SaveChanges</c>, with the state change.</summary>
    public static void AddEvent(this DbContext db, IntegrationEvent @event, Guid? messageId = null) =>
        db.Set<OutboxMessage>().Add(OutboxMessage.For(@event, messageId));
}

/// <summary>
/// At save time, stamps pending events with who caused them (actor, IP, user agent, correlation id,
/// from the current request when there is one) and serialises them; after the commit, wakes the relay.
/// </summary>
public sealed class OutboxInterceptor(IHttpContextAccessor httpContextAccessor, OutboxSignal signal) : SaveChangesInterceptor, IDbTransactionInterceptor
{
    // Contexts whose current save adds outbox rows: only those wake the relay. (Waking it on every save made the
    // relay's own empty batches wake it again, a busy loop of empty transactions.)
    // The interceptor is scoped, so a plain set (created on first use, gone with the scope) is enough; a
    // ConditionalWeakTable per scope would cost a finalizer per request.
    private readonly Lock _gate = new();
    private HashSet<DbContext>? _addingEvents;

    public override ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        Stamp(eventData.Context);
        return base.SavingChangesAsync(eventData, result, cancellationToken);
    }

    public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        Stamp(eventData.Context);
        return base.SavingChanges(eventData, result);
    }

    public override ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        WakeRelayIfEventsWereAdded(eventData.Context);
        return base.SavedChangesAsync(eventData, result, cancellationToken);
    }

    public override int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        WakeRelayIfEventsWereAdded(eventData.Context);
        return base.SavedChanges(eventData, result);
    }

    public override Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Forget(eventData.Context);
        return base.SaveChangesFailedAsync(eventData, cancellationToken);
    }

    public override void SaveChangesFailed(DbContextErrorEventData eventData)
    {
        Forget(eventData.Context);
        base.SaveChangesFailed(eventData);
    }

    // Inside an explicit transaction the rows are not visible yet: the commit wakes the relay instead.
    public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) =>
        WakeRelayIfEventsWereAdded(eventData.Context, committed: true);

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        WakeRelayIfEventsWereAdded(eventData.Context, committed: true);
        return Task.CompletedTask;
    }

    public void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) => Forget(eventData.Context);

    public Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Forget(eventData.Context);
        return Task.CompletedTask;
    }

    private void WakeRelayIfEventsWereAdded(DbContext? db, bool committed = false)
    {
        if (db is null || (!committed && db.Database.CurrentTransaction is not null))
        {
            return;
        }

        if (Remove(db))
        {
            signal.Notify();
        }
    }

    private void Forget(DbContext? db)
    {
        if (db is not null)
        {
            Remove(db);
        }
    }

    private bool Remove(DbContext db)
    {
        lock (_gate)
        {
            return _addingEvents?.Remove(db) == true;
        }
    }

    private void Stamp(DbContext? db)
    {
        if (db is null)
        {
            return;
        }

        var http = httpContextAccessor.HttpContext;
        foreach (var entry in db.ChangeTracker.Entries<OutboxMessage>())
        {
            if (entry.State != EntityState.Added)
            {
                continue;
            }

            lock (_gate)
            {
                (_addingEvents ??= new HashSet<DbContext>(ReferenceEqualityComparer.Instance)).Add(db);
            }

            if (entry.Entity.Pending is not { } pending)
            {
                continue;
            }

            var stamped = http is null ? WithOrigin(pending, EventOrigin.Current) : WithOrigin(pending, http);
            stamped = stamped.TraceParent is null ? stamped with { TraceParent = EventOrigin.CurrentTraceParent() } : stamped;
            entry.Entity.Body = OutboxMessage.Serialize(stamped);
            entry.Entity.Pending = null;
        }
    }

    /// <summary>
    /// The event with what the request says about its origin, where the event does not say it itself: the caller as
    /// actor, the client's address and user agent, the correlation id.
    /// </summary>
    public static T WithOrigin<T>(T pending, HttpContext http)
        where T : IntegrationEvent => pending with
        {
            Actor = pending.Actor ?? ActorOf(http.User),
            IpAddress = pending.IpAddress ?? http.Connection.RemoteIpAddress?.ToString(),
            UserAgent = pending.UserAgent ?? Truncate(http.Request.Headers.UserAgent.ToString(), 512),
            CorrelationId = pending.CorrelationId ?? CorrelationMiddleware.GetId(http),
        };

    /// <summary>An event raised while handling another (a consumer's work): it keeps that event's correlation id.</summary>
    public static T WithOrigin<T>(T pending, IntegrationEvent? cause)
        where T : IntegrationEvent =>
        cause?.CorrelationId is { } correlationId && pending.CorrelationId is null ? pending with { CorrelationId = correlationId } : pending;

    public static EventActor? ActorOf(ClaimsPrincipal user)
    {
        if (user.Identity?.IsAuthenticated != true)
        {
            return null;
        }

        if (user.FindFirst(LumoClaims.ApiKeyId)?.Value is { } keyId)
        {
            return new EventActor(ActorTypes.ApiKey, keyId);
        }

        if (user.FindFirst(LumoClaims.AgentId)?.Value is { } agentId)
        {
            return new EventActor(ActorTypes.Agent, agentId);
        }

        var sub = user.FindFirst(LumoClaims.Subject)?.Value;
        var clientId = user.FindFirst(LumoClaims.ClientId)?.Value ?? user.FindFirst("azp")?.Value;
        var chain = ActorChainOf(user);
        return sub is not null && sub != clientId
            ? new EventActor(ActorTypes.User, sub, user.FindFirst("email")?.Value, chain)
            : clientId is not null ? new EventActor(ActorTypes.Client, clientId, ActorChain: chain) : null;
    }

    /// <summary>
    /// The actors of a delegated token's <c>act</c> claim (RFC 8693 §4.1: the current actor outermost, earlier ones nested),
    /// earliest first; null for a token nobody acts with.
    /// </summary>
    public static IReadOnlyList<string>? ActorChainOf(ClaimsPrincipal user)
    {
        if (user.FindFirst("act")?.Value is not { Length: > 0 } json)
        {
            return null;
        }

        var chain = new List<string>();
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(json);
            var node = document.RootElement;
            while (node.ValueKind == System.Text.Json.JsonValueKind.Object && chain.Count < 10)
            {
                if (node.TryGetProperty("sub", out var sub) && sub.GetString() is { } actor)
                {
                    chain.Add(actor);
                }

                node = node.TryGetProperty("act", out var nested) ? nested : default;
            }
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }

        chain.Reverse();
        return chain.Count == 0 ? null : chain;
    }

    private static string? Truncate(string value, int max) =>
        value.Length == 0 ? null : value.Length <= max ? value : value[..max];
}

/// <summary>Wakes the relay right after a commit so events leave in milliseconds, not at the next poll.</summary>
public sealed class OutboxSignal : IDisposable
{
    private readonly SemaphoreSlim _semaphore = new(0, 1);

    public void Notify()
    {
        if (_semaphore.CurrentCount == 0)
        {
            try
            {
                _semaphore.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another commit woke the relay already.
            }
        }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        _semaphore.WaitAsync(timeout, cancellationToken);

    public void Dispose() => _semaphore.Dispose();
}
