using LumoAuth.Agents.Data;
using LumoAuth.Contracts.Authorization;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Agents.Features.Registry;

/// <summary>
/// A deleted role is no longer held by anyone (the authorization service removed its tuples): the registry's record of
/// agents' roles drops it too. Idempotent: removing an absent slug changes nothing. (Named apart from the authorization
/// service's own RoleDeleted consumer: queues are named after consumers, and two services on one queue would share its messages.)
/// </summary>
public sealed class AgentRoleRecordConsumer(AgentsDbContext db) : IConsumer<RoleDeleted>
{
    public Task Consume(ConsumeContext<RoleDeleted> context) => context.Message.TenantId is { } tenantId
        ? db.Database.ExecuteSqlInterpolatedAsync(
            $"""UPDATE agents SET "Roles" = array_remove("Roles", {context.Message.Slug}) WHERE "TenantId" = {tenantId} AND {context.Message.Slug} = ANY("Roles")""",
            context.CancellationToken)
        : Task.CompletedTask;
}
