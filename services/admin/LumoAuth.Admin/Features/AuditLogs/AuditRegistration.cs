using LumoAuth.Messaging.Outbox;
using MassTransit;

namespace LumoAuth.Admin.Features.AuditLogs;

public static class AuditRegistration
{
    /// <summary>One <see cref="AuditConsumer{TEvent}"/> per contract type, all on <paramref name="queue"/>.</summary>
    public static void AddAuditConsumers(this IBusRegistrationConfigurator bus, string queue)
    {
        foreach (var type in ContractTypes.All)
        {
            bus.AddConsumer(typeof(AuditConsumer<>).MakeGenericType(type)).Endpoint(e => e.Name = queue);
        }
    }
}
