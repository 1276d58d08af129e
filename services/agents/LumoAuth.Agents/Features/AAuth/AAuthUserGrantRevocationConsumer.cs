using LumoAuth.Agents.Data;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Agents;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Outbox;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Agents.Features.AAuth;

/// <summary>
/// A person blocked, deactivated or deleted: the AAuth grants they consented to end with them (refresh tokens and codes
/// stop working), each with its audit event, in one transaction. Idempotent: a grant already revoked is left alone.
/// (Named apart from the token service's user revocation consumer: queues are named after consumers.)
/// </summary>
public sealed class AAuthUserGrantRevocationConsumer(AgentsDbContext db, TimeProvider time)
    : IConsumer<UserBlocked>, IConsumer<UserDeactivated>, IConsumer<UserDeleted>
{
    public Task Consume(ConsumeContext<UserBlocked> context) => RevokeAsync(context.Message, context.Message.UserId, "user_blocked", context.CancellationToken);

    public Task Consume(ConsumeContext<UserDeactivated> context) => RevokeAsync(context.Message, context.Message.UserId, "user_deactivated", context.CancellationToken);

    public Task Consume(ConsumeContext<UserDeleted> context) => RevokeAsync(context.Message, context.Message.UserId, "user_deleted", context.CancellationToken);

    private async Task RevokeAsync(IntegrationEvent message, Guid userId, string reason, CancellationToken cancellationToken)
    {
        if (message.TenantId is not { } tenantId)
        {
            return;
        }

        var grants = await db.AAuthGrants.IgnoreQueryFilters()
            .Where(g => g.TenantId == tenantId && g.UserId == userId && g.State != AAuthGrantStates.Revoked)
            .ToListAsync(cancellationToken);
        var now = time.GetUtcNow();
        foreach (var grant in grants)
        {
            (grant.State, grant.RefreshTokenHash, grant.CodeHash, grant.UpdatedAt) = (AAuthGrantStates.Revoked, null, null, now);
            db.AddEvent(new AgentAuthGrantRevoked(grant.Id, grant.AgentId, reason) { TenantId = tenantId });
        }

        if (grants.Count > 0)
        {
            await db.SaveChangesAsync(cancellationToken);
        }
    }
}
