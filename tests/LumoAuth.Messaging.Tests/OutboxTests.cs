using LumoAuth.Messaging.Inbox;
using LumoAuth.Messaging.Outbox;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Messaging.Tests;

[Collection(BrokerOutageCollection.Name)]
public sealed class OutboxTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    private AsyncServiceScope Scope() => host.Host.Services.CreateAsyncScope();

    [Fact]
    public async Task Event_IsPublishedWithItsStateChange()
    {
        var id = await CreateWidgetAsync("committed-" + Guid.NewGuid());
        await host.WaitForEffectAsync(id);
    }

    [Fact]
    public async Task RolledBackTransaction_LeavesNeitherStateNorEvent()
    {
        var id = Guid.NewGuid();
        await using (var scope = Scope())
        {
            var db = scope.ServiceProvider.GetRequiredService<WidgetDbContext>();
            await using var transaction = await db.Database.BeginTransactionAsync();
            db.Widgets.Add(new Widget { Id = id, Name = "rolled-back-" + id });
            db.AddEvent(new WidgetCreated(id, "rolled back"));
            await db.SaveChangesAsync();
            await transaction.RollbackAsync();
        }

        await using var check = Scope();
        var verify = check.ServiceProvider.GetRequiredService<WidgetDbContext>();
        Assert.False(await verify.Widgets.AnyAsync(w => w.Id == id));
        Assert.Equal(0, await host.OutboxRowsMentioningAsync(id));
        await Task.Delay(1500);
        Assert.DoesNotContain(id, host.Host.Services.GetRequiredService<DeliveryLog>().Deliveries);
    }

    [Fact]
    public async Task FailedSave_LeavesNeitherStateNorEvent()
    {
        var name = "duplicate-" + Guid.NewGuid();
        await CreateWidgetAsync(name);
        var second = Guid.NewGuid();
        await Assert.ThrowsAsync<DbUpdateException>(() => CreateWidgetAsync(name, second));

        Assert.Equal(0, await host.OutboxRowsMentioningAsync(second));
    }

    [Fact]
    public async Task EventsWrittenWhileBrokerIsDown_AreDeliveredWhenItIsBack()
    {
        await TestInfrastructure.InfraAsync("stop", "rabbitmq");
        Guid id;
        try
        {
            id = await CreateWidgetAsync("outage-" + Guid.NewGuid());
            // The relay tries, fails and keeps the row for a later attempt.
            await ApiAssert.EventuallyAsync(async () =>
            {
                await using var scope = Scope();
                var db = scope.ServiceProvider.GetRequiredService<WidgetDbContext>();
                var attempts = await db.Database.SqlQuery<int>(
                    $"SELECT attempts AS \"Value\" FROM outbox_messages WHERE body::text LIKE {"%" + id + "%"}").ToListAsync();
                return attempts is [> 0] ? "retrying" : null;
            }, TimeSpan.FromSeconds(30));
            Assert.DoesNotContain(id, host.Host.Services.GetRequiredService<DeliveryLog>().Deliveries);

            // However long the outage lasts: a hundred failed publishes do not give the event up.
            await ExecuteAsync($"UPDATE outbox_messages SET attempts = 99, next_attempt_at = now() WHERE body::text LIKE {"%" + id + "%"}");
            await ApiAssert.EventuallyAsync(async () =>
            {
                await using var scope = Scope();
                var db = scope.ServiceProvider.GetRequiredService<WidgetDbContext>();
                var attempts = await db.Database.SqlQuery<int>(
                    $"SELECT attempts AS \"Value\" FROM outbox_messages WHERE body::text LIKE {"%" + id + "%"} AND parked_at IS NULL").ToListAsync();
                return attempts is [>= 100] ? "still retrying" : null;
            }, TimeSpan.FromSeconds(30));
            await ExecuteAsync($"UPDATE outbox_messages SET next_attempt_at = now() WHERE body::text LIKE {"%" + id + "%"}");
        }
        finally
        {
            await TestInfrastructure.InfraAsync("start", "rabbitmq");
        }

        await host.WaitForEffectAsync(id, TimeSpan.FromSeconds(90));
        Assert.Equal(0, await host.OutboxRowsMentioningAsync(id));
    }

    [Fact]
    public async Task RedeliveredMessage_ChangesNothing()
    {
        var messageId = Guid.NewGuid();
        var widgetId = Guid.NewGuid();
        var runs = 0;
        for (var i = 0; i < 3; i++)
        {
            await using var scope = Scope();
            var db = scope.ServiceProvider.GetRequiredService<WidgetDbContext>();
            if (await db.HandleOnceAsync("redelivery-test", messageId, _ =>
                {
                    db.Effects.Add(new WidgetEffect { Id = Guid.NewGuid(), WidgetId = widgetId });
                    return Task.CompletedTask;
                }, CancellationToken.None))
            {
                runs++;
            }
        }

        Assert.Equal(1, runs);
        await using var check = Scope();
        Assert.Equal(1, await check.ServiceProvider.GetRequiredService<WidgetDbContext>().Effects.CountAsync(e => e.WidgetId == widgetId));
    }

    private async Task ExecuteAsync(FormattableString sql)
    {
        await using var scope = Scope();
        await scope.ServiceProvider.GetRequiredService<WidgetDbContext>().Database.ExecuteSqlInterpolatedAsync(sql);
    }

    private async Task<Guid> CreateWidgetAsync(string name, Guid? id = null)
    {
        var widgetId = id ?? Guid.NewGuid();
        await using var scope = Scope();
        var db = scope.ServiceProvider.GetRequiredService<WidgetDbContext>();
        db.Widgets.Add(new Widget { Id = widgetId, Name = name });
        db.AddEvent(new WidgetCreated(widgetId, name));
        await db.SaveChangesAsync();
        return widgetId;
    }
}

/// <summary>Tests that stop the shared broker must not run beside others that need it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrokerOutageCollection
{
    public const string Name = "broker-outage";
}
