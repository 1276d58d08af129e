using LumoAuth.Messaging.Outbox;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Messaging.Tests;

/// <summary>
/// The relay is woken only by saves that add events, once they are visible: a save without events (such as the
/// relay's own) must not wake it, or it spins through empty transactions.
/// </summary>
[Collection(BrokerOutageCollection.Name)]
public sealed class OutboxSignalTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task OnlySavesThatAddEvents_WakeTheRelay_AndInATransactionOnlyAtCommit()
    {
        using var signal = new OutboxSignal();
        await using var db = Context(signal);

        db.Widgets.Add(new Widget { Id = Guid.NewGuid(), Name = "no-event-" + Guid.NewGuid() });
        await db.SaveChangesAsync();
        Assert.False(await signal.WaitAsync(TimeSpan.Zero, CancellationToken.None));

        var id = Guid.NewGuid();
        db.Widgets.Add(new Widget { Id = id, Name = "event-" + id });
        db.AddEvent(new WidgetCreated(id, "signalled"));
        await db.SaveChangesAsync();
        Assert.True(await signal.WaitAsync(TimeSpan.Zero, CancellationToken.None));

        await using (var transaction = await db.Database.BeginTransactionAsync())
        {
            var inTransaction = Guid.NewGuid();
            db.Widgets.Add(new Widget { Id = inTransaction, Name = "tx-" + inTransaction });
            db.AddEvent(new WidgetCreated(inTransaction, "at commit"));
            await db.SaveChangesAsync();
            Assert.False(await signal.WaitAsync(TimeSpan.Zero, CancellationToken.None));
            await transaction.CommitAsync();
        }

        Assert.True(await signal.WaitAsync(TimeSpan.Zero, CancellationToken.None));

        await using (var transaction = await db.Database.BeginTransactionAsync())
        {
            var rolledBack = Guid.NewGuid();
            db.Widgets.Add(new Widget { Id = rolledBack, Name = "rb-" + rolledBack });
            db.AddEvent(new WidgetCreated(rolledBack, "never"));
            await db.SaveChangesAsync();
            await transaction.RollbackAsync();
        }

        Assert.False(await signal.WaitAsync(TimeSpan.Zero, CancellationToken.None));
    }

    // A context of its own with its own signal, so the running relay does not consume the wake-ups.
    private WidgetDbContext Context(OutboxSignal signal)
    {
        var connectionString = host.Host.Services.GetRequiredService<IConfiguration>().GetConnectionString("widgets");
        var options = new DbContextOptionsBuilder<WidgetDbContext>()
            .UseNpgsql(connectionString)
            .AddInterceptors(new OutboxInterceptor(new HttpContextAccessor(), signal))
            .Options;
        return new WidgetDbContext(options);
    }
}
