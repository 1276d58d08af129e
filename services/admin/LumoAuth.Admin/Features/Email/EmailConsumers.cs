using System.Buffers.Text;
using System.Security.Cryptography;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Inbox;
using LumoAuth.ServiceDefaults;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Features.Email;

/// <summary>
/// Issues the link's token when the mail is sent, so the raw token lives only in this consumer's memory
/// and in the mail: the request stored an unguessable placeholder hash and the event carries only ids.
/// The new hash, the inbox row and the send share one transaction: a failed send rolls the token back
/// and the retry issues a fresh one; once committed, a redelivery finds the inbox row and sends nothing.
/// The inbox key is the reset or invitation id, so one request never yields two mails.
/// </summary>
public sealed class EmailLinkSender(AdminDbContext db, SmtpMailer mailer, IOptions<LumoAuthOptions> lumo)
{
    public const string InboxConsumer = "admin-email";

    public static string NewToken() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    public string Link(string tenantSlug, string path, string token) =>
        $"{lumo.Value.PublicBaseUrl.TrimEnd('/')}/t/{Uri.EscapeDataString(tenantSlug)}{path}?{EmailLinkPaths.TokenParameter}={Uri.EscapeDataString(token)}";

    /// <returns>false when there was nothing (any more) to send: withdrawn, used, expired, or handled before.</returns>
    public async Task<bool> SendPasswordResetAsync(Guid tenantId, Guid resetId, CancellationToken cancellationToken)
    {
        var sent = false;
        await db.HandleOnceAsync(InboxConsumer, resetId, async ct =>
        {
            var now = DateTimeOffset.UtcNow;
            var reset = await db.PasswordResetTokens.IgnoreQueryFilters()
                .FirstOrDefaultAsync(t => t.Id == resetId && t.TenantId == tenantId && t.UsedAt == null && t.ExpiresAt > now, ct);
            var user = reset is null ? null : await db.Users.IgnoreQueryFilters().AsNoTracking()
                .FirstOrDefaultAsync(u => u.Id == reset.UserId && u.TenantId == tenantId, ct);
            var tenant = await EmailTenant.LoadActiveAsync(db, tenantId, ct);
            if (reset is null || user is null || tenant is null)
            {
                return;
            }

            var token = NewToken();
            reset.TokenHash = TokenRedemptionEndpoints.HashOf(token);
            await db.SaveChangesAsync(ct);
            var mail = EmailTemplates.PasswordReset(tenant, user.Email, user.Name, Link(tenant.Slug, EmailLinkPaths.PasswordReset, token), reset.ExpiresAt);
            await mailer.SendAsync(mail, tenant.DisplayName, ct);
            sent = true;
        }, cancellationToken);
        return sent;
    }

    /// <inheritdoc cref="SendPasswordResetAsync"/>
    public async Task<bool> SendInvitationAsync(Guid tenantId, Guid invitationId, CancellationToken cancellationToken)
    {
        var sent = false;
        await db.HandleOnceAsync(InboxConsumer, invitationId, async ct =>
        {
            var now = DateTimeOffset.UtcNow;
            var invitation = await db.Invitations.IgnoreQueryFilters().FirstOrDefaultAsync(
                i => i.Id == invitationId && i.TenantId == tenantId && i.Status == InvitationStatuses.Pending && i.ExpiresAt > now, ct);
            var tenant = await EmailTenant.LoadActiveAsync(db, tenantId, ct);
            if (invitation is null || tenant is null)
            {
                return;
            }

            var token = NewToken();
            invitation.TokenHash = TokenRedemptionEndpoints.HashOf(token);
            await db.SaveChangesAsync(ct);
            var mail = EmailTemplates.Invitation(tenant, invitation.Email, Link(tenant.Slug, EmailLinkPaths.Invitation, token), invitation.ExpiresAt);
            await mailer.SendAsync(mail, tenant.DisplayName, ct);
            sent = true;
        }, cancellationToken);
        return sent;
    }
}

/// <summary>Thin consumers: skip (and say so, without any token) when delivery is off, else hand over to <see cref="EmailLinkSender"/>.</summary>
public sealed partial class PasswordResetEmailConsumer(SmtpMailer mailer, EmailLinkSender sender, ILogger<PasswordResetEmailConsumer> logger)
    : IConsumer<UserPasswordResetRequested>
{
    public async Task Consume(ConsumeContext<UserPasswordResetRequested> context)
    {
        if (context.Message is not { TenantId: { } tenantId, ResetId: { } resetId } message)
        {
            return;
        }

        if (!mailer.IsEnabled)
        {
            EmailLog.DeliveryDisabled(logger, "password reset", message.UserId);
            return;
        }

        if (!await sender.SendPasswordResetAsync(tenantId, resetId, context.CancellationToken))
        {
            EmailLog.NothingToSend(logger, "password reset", resetId);
        }
    }
}

/// <inheritdoc cref="PasswordResetEmailConsumer"/>
public sealed class InvitationEmailConsumer(SmtpMailer mailer, EmailLinkSender sender, ILogger<InvitationEmailConsumer> logger)
    : IConsumer<UserInvited>
{
    public async Task Consume(ConsumeContext<UserInvited> context)
    {
        if (context.Message is not { TenantId: { } tenantId } message)
        {
            return;
        }

        if (!mailer.IsEnabled)
        {
            EmailLog.DeliveryDisabled(logger, "invitation", message.InvitationId);
            return;
        }

        if (!await sender.SendInvitationAsync(tenantId, message.InvitationId, context.CancellationToken))
        {
            EmailLog.NothingToSend(logger, "invitation", message.InvitationId);
        }
    }
}

internal static partial class EmailLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "E-mail delivery is disabled (no Email:Host): the {Kind} mail for {Id} was not sent")]
    public static partial void DeliveryDisabled(ILogger logger, string kind, Guid id);

    [LoggerMessage(Level = LogLevel.Information, Message = "No {Kind} mail sent for {Id}: already sent, withdrawn, used or expired")]
    public static partial void NothingToSend(ILogger logger, string kind, Guid id);
}

public static class EmailRegistration
{
    public static IHostApplicationBuilder AddEmailDelivery(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<EmailOptions>()
            .BindConfiguration(EmailOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<SmtpMailer>();
        builder.Services.AddScoped<EmailLinkSender>();
        return builder;
    }

    /// <summary>The mail consumers, on the service's own e-mail queue (a failing SMTP server holds up nothing else).</summary>
    public static void AddEmailConsumers(this IBusRegistrationConfigurator bus, IConfiguration configuration)
    {
        var queue = $"{configuration["Messaging:Prefix"] ?? "lumoauth"}-admin-email";
        bus.AddConsumer<PasswordResetEmailConsumer>().Endpoint(e => e.Name = queue);
        bus.AddConsumer<InvitationEmailConsumer>().Endpoint(e => e.Name = queue);
    }
}
