using LumoAuth.Contracts;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Sessions;
using MassTransit;

namespace LumoAuth.Token.Messaging;

/// <summary>
/// A blocked, deactivated or deleted user is signed out everywhere: sessions ended, grants revoked. Only what existed when
/// the event happened (<see cref="EventCutOff"/>): a delivery late or repeated (a retry while Redis was out, the relay's
/// reordering) must not end a sign-in made after an unblock or a reactivation. Idempotent by nature (revoking what is
/// already revoked changes nothing). When Redis is out the access tokens cannot be denied: the consumer fails and the
/// event comes again. An account whose unproven credentials were removed loses only what started before that moment
/// (<see cref="UserUnprovenCredentialsRemoved"/>).
/// </summary>
public sealed class UserRevocationConsumer(TenantContext tenant, IServiceProvider services)
    : IConsumer<UserBlocked>, IConsumer<UserDeactivated>, IConsumer<UserDeleted>, IConsumer<UserUnprovenCredentialsRemoved>, IConsumer<UserPasswordChanged>
{
    public Task Consume(ConsumeContext<UserBlocked> context) =>
        RevokeAsync(context.Message, context.Message.UserId, SessionRevocation.Reasons.UserBlocked, context.CancellationToken);

    public Task Consume(ConsumeContext<UserDeactivated> context) =>
        RevokeAsync(context.Message, context.Message.UserId, SessionRevocation.Reasons.UserDeactivated, context.CancellationToken);

    /// <summary>A deleted user's sessions also lose the client address and browser they recorded (nothing personal is kept).</summary>
    public async Task Consume(ConsumeContext<UserDeleted> context)
    {
        if (await RevokeAsync(context.Message, context.Message.UserId, SessionRevocation.Reasons.UserDeleted, context.CancellationToken) is { } revocation)
        {
            await revocation.ForgetUserAsync(context.Message.UserId, context.CancellationToken);
        }
    }

    /// <summary>
    /// A link proved the address of a self-registered account and admin removed what it had: every session and grant that
    /// started before may be someone else's, who registered the address first (a browser, or a device-flow or refresh
    /// grant outside any browser session). The sign-in that proved it, opened later, stays. The hosted pages end the
    /// sessions at once when they can; this makes it certain.
    /// </summary>
    public async Task Consume(ConsumeContext<UserUnprovenCredentialsRemoved> context)
    {
        var message = context.Message;
        if (!Enter(message.TenantId))
        {
            return;
        }

        var cancellationToken = context.CancellationToken;
        var revocation = services.GetRequiredService<SessionRevocation>();
        await revocation.RevokeSessionsStartedBeforeAsync(message.UserId, message.OccurredAt, SessionRevocation.Reasons.UnprovenCredentialsRemoved, cancellationToken);
        await revocation.RevokeGrantsCreatedBeforeAsync(message.UserId, message.OccurredAt, cancellationToken);
    }

    /// <summary>
    /// A password reset whose user asked to sign out everywhere: what the user had before it ends, sessions, grants and
    /// access tokens, even when the reset page could not finish doing so itself (Redis or the database out, the request
    /// cut short). A sign-in with the new password, made after the change, stays: the cut-off is the change itself, without
    /// the skew allowance of the other events (the reset page already ended what existed then; this only makes it certain).
    /// </summary>
    public Task Consume(ConsumeContext<UserPasswordChanged> context) =>
        context.Message.SignOutEverywhere
            ? RevokeAsync(context.Message, context.Message.UserId, SessionRevocation.Reasons.PasswordReset, context.CancellationToken, context.Message.OccurredAt)
            : Task.CompletedTask;

    /// <summary>Ends what the user had when the event happened: a late or retried delivery spares a sign-in made since (an unblock, a reactivation).</summary>
    private async Task<SessionRevocation?> RevokeAsync(
        IntegrationEvent message, Guid userId, string reason, CancellationToken cancellationToken, DateTimeOffset? cutOff = null)
    {
        if (!Enter(message.TenantId))
        {
            return null;
        }

        var revocation = services.GetRequiredService<SessionRevocation>();
        await revocation.RevokeUserStateBeforeAsync(userId, cutOff ?? EventCutOff.Of(message), reason, cancellationToken);
        return revocation;
    }

    /// <summary>The queries are tenant-filtered: this work acts for the event's tenant (only its id matters here).</summary>
    private bool Enter(Guid? tenantId)
    {
        if (tenantId is not { } id)
        {
            return false;
        }

        tenant.Set(new TenantInfo(id, string.Empty, string.Empty, TenantStatuses.Active, string.Empty));
        return true;
    }
}
