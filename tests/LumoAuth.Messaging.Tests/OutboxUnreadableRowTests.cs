using System.Runtime.CompilerServices;
using LumoAuth.Contracts;
using LumoAuth.Messaging.Outbox;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Messaging.Tests;

/// <summary>A contract System.Text.Json cannot bind (an interface-typed member): reading it throws NotSupportedException.</summary>
public sealed record GadgetCreated(IGadget Gadget) : IntegrationEvent;

public interface IGadget
{
    int Size { get; }
}

/// <summary>
/// Rows the relay of this build cannot read: written by a newer replica during a rolling deploy (a contract type or a
/// member this build does not have), or bodies that do not bind. They wait for a replica that can read them, and never
/// hold up the rows behind them.
/// </summary>
public sealed class OutboxUnreadableRowTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    /// <summary>A contract only a newer build has.</summary>
    private const string NewerContract = "LumoAuth.Messaging.Tests.WidgetRenamed, LumoAuth.Messaging.Tests";

    [Fact]
    public async Task UnknownType_IsLeftForALaterRound_NotParked_AndPublishedByAReplicaThatKnowsIt()
    {
        var widgetId = Guid.NewGuid();
        var rowId = await InsertRowAsync(NewerContract, OutboxMessage.Serialize(new WidgetCreated(widgetId, "from a newer replica")));

        var row = await WaitUntilTriedAsync(rowId);
        Assert.Null(row.ParkedAt);
        Assert.True(row.NextAttemptAt > DateTimeOffset.UtcNow.AddSeconds(30), $"retried at {row.NextAttemptAt}");
        Assert.Contains("not known", row.LastError, StringComparison.Ordinal);
        Assert.Null(ContractTypes.Find(NewerContract));

        // A replica whose build has the contract claims the row when it is due (played here by naming a type this build
        // has): the event goes out.
        await ExecuteAsync($"UPDATE outbox_messages SET message_type = {ContractTypes.NameOf(typeof(WidgetCreated))}, next_attempt_at = now() WHERE id = {rowId}");
        await host.WaitForEffectAsync(widgetId);
    }

    [Fact]
    public async Task UnknownType_StillUnreadAfterHours_IsParked()
    {
        var rowId = await InsertRowAsync(NewerContract, OutboxMessage.Serialize(new WidgetCreated(Guid.NewGuid(), "never read")), age: TimeSpan.FromHours(7));

        var row = await WaitUntilTriedAsync(rowId);
        Assert.NotNull(row.ParkedAt);
    }

    [Fact]
    public async Task BodyWithAMemberTheContractLacks_IsLeftForANewerReplica_NotPublishedWithoutIt()
    {
        var widgetId = Guid.NewGuid();
        var rowId = await InsertRowAsync(
            ContractTypes.NameOf(typeof(WidgetCreated)),
            $$"""{"widgetId":"{{widgetId}}","name":"newer","colour":"red","occurredAt":"2026-01-01T00:00:00+00:00"}""");

        var row = await WaitUntilTriedAsync(rowId);
        Assert.Null(row.ParkedAt);
        Assert.Contains("colour", row.LastError, StringComparison.Ordinal);
        Assert.DoesNotContain(widgetId, host.Host.Services.GetRequiredService<DeliveryLog>().Deliveries);
    }

    [Fact]
    public async Task RowThatCannotBeBound_DoesNotHoldUpTheRowsBehindIt()
    {
        // The oldest due rows come first in every round: before, a NotSupportedException here rolled back each round
        // and the relay published nothing again.
        var gadgetRow = await InsertRowAsync(ContractTypes.NameOf(typeof(GadgetCreated)), """{"gadget":{"size":1}}""", age: TimeSpan.FromMinutes(1));
        var widgetId = Guid.NewGuid();
        await using (var scope = host.Host.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<WidgetDbContext>();
            db.Widgets.Add(new Widget { Id = widgetId, Name = "behind-" + widgetId });
            db.AddEvent(new WidgetCreated(widgetId, "behind an unreadable row"));
            await db.SaveChangesAsync();
        }

        await host.WaitForEffectAsync(widgetId);
        var row = await WaitUntilTriedAsync(gadgetRow);
        Assert.Null(row.ParkedAt);
        Assert.StartsWith(nameof(NotSupportedException), row.LastError, StringComparison.Ordinal);
    }

    private async Task<Guid> InsertRowAsync(string messageType, string body, TimeSpan age = default)
    {
        var id = Guid.NewGuid();
        var createdAt = DateTimeOffset.UtcNow - age;
        await ExecuteAsync($"""
            INSERT INTO outbox_messages (id, message_type, body, created_at, attempts, next_attempt_at)
            VALUES ({id}, {messageType}, {body}::jsonb, {createdAt}, 0, {createdAt})
            """);
        host.Host.Services.GetRequiredService<OutboxSignal>().Notify();
        return id;
    }

    private Task<OutboxMessage> WaitUntilTriedAsync(Guid rowId) =>
        ApiAssert.EventuallyAsync(async () =>
        {
            await using var scope = host.Host.Services.CreateAsyncScope();
            var row = await scope.ServiceProvider.GetRequiredService<WidgetDbContext>().Set<OutboxMessage>().AsNoTracking().SingleAsync(m => m.Id == rowId);
            return row.Attempts > 0 ? row : null;
        });

    private async Task ExecuteAsync(FormattableString sql)
    {
        await using var scope = host.Host.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<WidgetDbContext>().Database.ExecuteSqlInterpolatedAsync(sql);
    }
}

/// <summary>The relay reads a body back strictly; every contract written by this build must read back the same.</summary>
public sealed class ContractTypesTests
{
    public static TheoryData<Type> Contracts => [.. ContractTypes.All];

    [Theory]
    [MemberData(nameof(Contracts))]
    public void EveryContract_WrittenByThisBuild_ReadsBack(Type contract)
    {
        // Every declared member present (the origin stamps too), with the values a fresh object has.
        var @event = (IntegrationEvent)RuntimeHelpers.GetUninitializedObject(contract);
        typeof(IntegrationEvent).GetProperty(nameof(IntegrationEvent.Actor))!.SetValue(@event, new EventActor(ActorTypes.User, "u1", "a@example.com", ["agent-1"]));
        typeof(IntegrationEvent).GetProperty(nameof(IntegrationEvent.CorrelationId))!.SetValue(@event, "c1");
        var row = OutboxMessage.For(@event);
        row.Body = OutboxMessage.Serialize(@event);

        Assert.True(ContractTypes.TryRead(row, out var read, out var type, out var error), error);
        Assert.Equal(contract, type);
        Assert.Equal(row.Body, OutboxMessage.Serialize((IntegrationEvent)read));
    }

    [Fact]
    public void BatchedTokens_ReadBackWithEveryItemMember()
    {
        var batch = new LumoAuth.Contracts.Clients.AccessTokensIssued(
        [
            new("client-1", "client_credentials", "user-1", "jti-1", ["read"], DateTimeOffset.UnixEpoch)
            {
                IpAddress = "192.0.2.1", UserAgent = "test", CorrelationId = "c1",
            },
        ]);
        var row = OutboxMessage.For(batch);
        row.Body = OutboxMessage.Serialize(batch);

        Assert.True(ContractTypes.TryRead(row, out var read, out _, out var error), error);
        Assert.Equal(row.Body, OutboxMessage.Serialize((IntegrationEvent)read));
    }
}
