using LumoAuth.Contracts.Internal;
using LumoAuth.Messaging.Outbox;
using MassTransit;

namespace LumoAuth.Admin.Features.AuditLogs;

public static class AuditRegistration
{
    /// <summary>The contracts the audit log records: all but a service's messages to itself (<see cref="IInternalMessage"/>), which state no fact.</summary>
    public static IEnumerable<Type> AuditedTypes => ContractTypes.All.Where(t => !t.IsAssignableTo(typeof(IInternalMessage)));

    /// <summary>
    /// One <see cref="AuditConsumer{TEvent}"/> per audited contract type (<see cref="AuditedTypes"/>), all on <paramref name="queue"/>.
    /// </summary>
    public static void AddAuditConsumers(this IBusRegistrationConfigurator bus, string queue)
    {
        foreach (var type in AuditedTypes)
        {
            bus.AddConsumer(typeof(AuditConsumer<>).MakeGenericType(type)).Endpoint(e => e.Name = queue);
        }
    }
}
