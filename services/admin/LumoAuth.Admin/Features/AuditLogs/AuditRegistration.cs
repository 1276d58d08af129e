using LumoAuth.Contracts.Internal;
using LumoAuth.Messaging.Outbox;
using MassTransit;

namespace LumoAuth.Admin.Features.AuditLogs;

public static class AuditRegistration
{
    /// <summary>
    /// One <see cref="AuditConsumer{TEvent}"/> per contract type, all on <paramref name="queue"/>; a service's messages to
    /// itself (<see cref="IInternalMessage"/>) record no fact and are left out.
    /// </summary>
    public static void AddAuditConsumers(this IBusRegistrationConfigurator bus, string queue)
    {
        foreach (var type in ContractTypes.All.Where(t => !t.IsAssignableTo(typeof(IInternalMessage))))
        {
            bus.AddConsumer(typeof(AuditConsumer<>).MakeGenericType(type)).Endpoint(e => e.Name = queue);
        }
    }
}
