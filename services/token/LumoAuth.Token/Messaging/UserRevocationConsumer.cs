using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Sessions;
using MassTransit;

namespace LumoAuth.Token.Messaging;

/// <summary>
/// A blocked, deactivated or deleted user is signed out everywhere: sessions ended, grants revoked. Idempotent by nature
/// (revoking what is already revoked changes nothing), so a redelivered event is harmless. When Redis is out the
/// access tokens cannot be denied: the consumer fails and the event comes again.
/// </summary>
public sealed class UserRevocationConsumer(TenantContext tenant, IServiceProvider services)
    : IConsumer<UserBlocked>, IConsumer<UserDeactivated>, IConsumer<UserDeleted>
{
    public Task Consume(ConsumeContext<UserBlocked> context) =>
        RevokeAsync(context.Message.TenantId, context.Message.UserId, SessionRevocation.Reasons.UserBlocked, context.CancellationToken);

    public Task Consume(ConsumeContext<UserDeactivated> context) =>
        RevokeAsync(context.Message.TenantId, context.Message.UserId, SessionRevocation.Reasons.UserDeactivated, context.CancellationToken);

    /// <summary>A deleted user's sessions also lose the client address and browser they recorded (nothing personal is kept).</summary>
    public async Task Consume(ConsumeContext<UserDeleted> context)
    {
        if (await RevokeAsync(context.Message.TenantId, context.Message.UserId, SessionRevocation.Reasons.UserDeleted, context.CancellationToken) is { } revocation)
        {
            await revocation.ForgetUserAsync(context.Message.UserId, context.CancellationToken);
        }
    }

    private async Task<SessionRevocation?> RevokeAsync(Guid? tenantId, Guid userId, string reason, CancellationToken cancellationToken)
    {
        if (tenantId is not { } id)
        {
            return null;
        }

        // The queries are tenant-filtered: this work acts for the event's tenant (only its id matters here).
        tenant.Set(new TenantInfo(id, string.Empty, string.Empty, TenantStatuses.Active, string.Empty));
        var revocation = services.GetRequiredService<SessionRevocation>();
        await revocation.RevokeUserAsync(userId, reason, cancellationToken);
        return revocation;
    }
}
