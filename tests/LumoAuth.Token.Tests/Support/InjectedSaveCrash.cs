using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace LumoAuth.Token.Tests.Support;

/// <summary>
/// A save that fails as a crash would, while armed, when the changes it would write match (e.g. an outbox row of one event,
/// or a stored token): how a test shows that what went before it in the transaction is undone.
/// </summary>
public sealed class InjectedSaveCrash(Func<ChangeTracker, bool> when, string message) : SaveChangesInterceptor
{
    private volatile bool _armed;

    public void Arm() => _armed = true;

    public void Disarm() => _armed = false;

    public override ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default) =>
        _armed && when(eventData.Context!.ChangeTracker)
            ? throw new InvalidOperationException(message)
            : base.SavingChangesAsync(eventData, result, cancellationToken);
}
