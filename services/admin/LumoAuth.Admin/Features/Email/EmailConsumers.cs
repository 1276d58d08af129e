using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Users;
using LumoAuth.Contracts.Webhooks;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Email;

/// <summary>Thin consumers: skip (and say so, without any token) when delivery is off, else hand over to <see cref="UserEmailSender"/>.</summary>
public sealed class PasswordResetEmailConsumer(SmtpMailer mailer, UserEmailSender sender, ILogger<PasswordResetEmailConsumer> logger)
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

        if (!await sender.SendPasswordResetAsync(tenantId, resetId, message.Language, context.CancellationToken))
        {
            EmailLog.NothingToSend(logger, "password reset", resetId);
        }
    }
}

/// <inheritdoc cref="PasswordResetEmailConsumer"/>
public sealed class MagicLinkEmailConsumer(SmtpMailer mailer, UserEmailSender sender, ILogger<MagicLinkEmailConsumer> logger)
    : IConsumer<UserMagicLinkRequested>
{
    public async Task Consume(ConsumeContext<UserMagicLinkRequested> context)
    {
        if (context.Message is not { TenantId: { } tenantId, LinkId: { } linkId } message)
        {
            return;
        }

        if (!mailer.IsEnabled)
        {
            EmailLog.DeliveryDisabled(logger, "sign-in link", message.UserId);
            return;
        }

        if (!await sender.SendMagicLinkAsync(tenantId, linkId, message.Language, context.CancellationToken))
        {
            EmailLog.NothingToSend(logger, "sign-in link", linkId);
        }
    }
}

/// <inheritdoc cref="PasswordResetEmailConsumer"/>
public sealed class MfaCodeEmailConsumer(SmtpMailer mailer, UserEmailSender sender, ILogger<MfaCodeEmailConsumer> logger)
    : IConsumer<UserMfaEmailCodeRequested>
{
    public async Task Consume(ConsumeContext<UserMfaEmailCodeRequested> context)
    {
        if (context.Message is not { TenantId: { } tenantId, CodeId: { } codeId } message)
        {
            return;
        }

        if (!mailer.IsEnabled)
        {
            EmailLog.DeliveryDisabled(logger, "sign-in code", message.UserId);
            return;
        }

        if (!await sender.SendMfaCodeAsync(tenantId, codeId, context.CancellationToken))
        {
            EmailLog.NothingToSend(logger, "sign-in code", codeId);
        }
    }
}

/// <inheritdoc cref="PasswordResetEmailConsumer"/>
public sealed class InvitationEmailConsumer(SmtpMailer mailer, UserEmailSender sender, ILogger<InvitationEmailConsumer> logger)
    : IConsumer<UserInvited>, IConsumer<UserInvitationResent>
{
    public Task Consume(ConsumeContext<UserInvited> context) =>
        SendAsync(context.Message.TenantId, context.Message.InvitationId, context.Message.InvitationId, context.CancellationToken);

    public Task Consume(ConsumeContext<UserInvitationResent> context) =>
        context.MessageId is { } messageId
            ? SendAsync(context.Message.TenantId, context.Message.InvitationId, messageId, context.CancellationToken)
            : Task.CompletedTask;

    private async Task SendAsync(Guid? tenantId, Guid invitationId, Guid inboxKey, CancellationToken cancellationToken)
    {
        if (tenantId is null)
        {
            return;
        }

        if (!mailer.IsEnabled)
        {
            EmailLog.DeliveryDisabled(logger, "invitation", invitationId);
            return;
        }

        if (!await sender.SendInvitationAsync(tenantId.Value, invitationId, inboxKey, cancellationToken))
        {
            EmailLog.NothingToSend(logger, "invitation", invitationId);
        }
    }
}

/// <summary>
/// Verification links: after a registration (any new unverified user, when the tenant requires verification)
/// and whenever the user asks for a new one.
/// </summary>
public sealed class EmailVerificationEmailConsumer(SmtpMailer mailer, UserEmailSender sender, ILogger<EmailVerificationEmailConsumer> logger)
    : IConsumer<UserCreated>, IConsumer<UserEmailVerificationRequested>
{
    public Task Consume(ConsumeContext<UserCreated> context) =>
        SendAsync(context, context.Message.TenantId, context.Message.UserId, onlyWhenRequired: true, pageLanguage: null);

    public Task Consume(ConsumeContext<UserEmailVerificationRequested> context) =>
        SendAsync(context, context.Message.TenantId, context.Message.UserId, onlyWhenRequired: false, context.Message.Language);

    private async Task SendAsync(ConsumeContext context, Guid? tenantId, Guid userId, bool onlyWhenRequired, string? pageLanguage)
    {
        if (tenantId is null || context.MessageId is not { } messageId)
        {
            return;
        }

        if (!mailer.IsEnabled)
        {
            // A new user is not a mail by itself; only an explicit request is worth a warning.
            if (!onlyWhenRequired)
            {
                EmailLog.DeliveryDisabled(logger, "email verification", userId);
            }

            return;
        }

        await sender.SendEmailVerificationAsync(tenantId.Value, userId, messageId, onlyWhenRequired, pageLanguage, context.CancellationToken);
    }
}

/// <summary>Notices without a link (account locked, password changed); otherwise as <see cref="PasswordResetEmailConsumer"/>.</summary>
public sealed class AccountNoticeEmailConsumer(SmtpMailer mailer, UserEmailSender sender, ILogger<AccountNoticeEmailConsumer> logger)
    : IConsumer<UserLockedOut>, IConsumer<UserPasswordChanged>
{
    public Task Consume(ConsumeContext<UserLockedOut> context) =>
        SendAsync(context, EmailKinds.AccountLocked, "account locked", context.Message.TenantId, context.Message.UserId,
            (tenant, t, user) => EmailTemplates.AccountLocked(tenant, t, user.Email, user.Name, context.Message.LockedUntil));

    public Task Consume(ConsumeContext<UserPasswordChanged> context) =>
        SendAsync(context, EmailKinds.PasswordChanged, "password changed", context.Message.TenantId, context.Message.UserId,
            (tenant, t, user) => EmailTemplates.PasswordChanged(tenant, t, user.Email, user.Name, context.Message.OccurredAt));

    private async Task SendAsync(
        ConsumeContext context, string kind, string description, Guid? tenantId, Guid userId, Func<EmailTenant, MailText, User, OutgoingEmail> render)
    {
        if (tenantId is null || context.MessageId is not { } messageId)
        {
            return;
        }

        if (!mailer.IsEnabled)
        {
            EmailLog.DeliveryDisabled(logger, description, userId);
            return;
        }

        await sender.SendNoticeAsync(kind, tenantId.Value, userId, messageId, render, context.CancellationToken);
    }
}

/// <summary>
/// Notices about the tenant rather than one account, to several people: one notice per recipient and event (each has its
/// own inbox key, so a retry after a failed send mails only those still waiting).
/// </summary>
public sealed class TenantNoticeEmailConsumer(SmtpMailer mailer, UserEmailSender sender, AdminDbContext db, ILogger<TenantNoticeEmailConsumer> logger)
    : IConsumer<WebhookDisabled>, IConsumer<AdaptiveAuthHighRisk>
{
    /// <summary>A webhook was switched off: its tenant's administrators are told.</summary>
    public Task Consume(ConsumeContext<WebhookDisabled> context) =>
        SendAsync(context, context.Message, EmailKinds.WebhookDisabled, context.Message.WebhookId, [],
            (tenant, t, user) => EmailTemplates.WebhookDisabled(tenant, t, user.Email, user.Name, context.Message.Url, context.Message.ConsecutiveFailures, context.Message.OccurredAt));

    /// <summary>A sign-in was refused as too risky: the account's owner and the tenant's administrators are told.</summary>
    public async Task Consume(ConsumeContext<AdaptiveAuthHighRisk> context)
    {
        var message = context.Message;
        var account = await db.Users.IgnoreQueryFilters().AsNoTracking().Where(u => u.Id == message.UserId && u.TenantId == message.TenantId)
            .Select(u => u.Email).FirstOrDefaultAsync(context.CancellationToken);
        if (account is null)
        {
            return;
        }

        await SendAsync(context, message, EmailKinds.LoginBlocked, message.UserId, [message.UserId],
            (tenant, t, user) => EmailTemplates.LoginBlocked(tenant, t, user.Email, user.Name, account, user.Id == message.UserId, message.IpAddress,
                message.RiskScore, message.Signals, message.OccurredAt));
    }

    private async Task SendAsync(
        ConsumeContext context, IntegrationEvent message, string kind, Guid about, IReadOnlyList<Guid> recipients, Func<EmailTenant, MailText, User, OutgoingEmail> render)
    {
        if (message.TenantId is not { } tenantId || context.MessageId is not { } messageId)
        {
            return;
        }

        if (!mailer.IsEnabled)
        {
            EmailLog.DeliveryDisabled(logger, kind, about);
            return;
        }

        var administrators = await db.Users.IgnoreQueryFilters().AsNoTracking()
            .Where(u => u.TenantId == tenantId && u.IsAdmin && u.IsActive && !u.Blocked && u.SoftDeletedAt == null)
            .Select(u => u.Id).ToListAsync(context.CancellationToken);
        foreach (var userId in recipients.Concat(administrators).Distinct())
        {
            await sender.SendNoticeAsync(kind, tenantId, userId, InboxKey(messageId, userId), render, context.CancellationToken);
        }
    }

    /// <summary>One key per (event, recipient): the first 16 bytes of SHA-256 over both ids.</summary>
    private static Guid InboxKey(Guid messageId, Guid userId)
    {
        Span<byte> ids = stackalloc byte[32];
        messageId.TryWriteBytes(ids);
        userId.TryWriteBytes(ids[16..]);
        return new Guid(System.Security.Cryptography.SHA256.HashData(ids)[..16]);
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
        builder.Services.AddScoped<UserEmailSender>();
        builder.Services.AddSingleton<EmailVerificationTokens>();
        return builder;
    }

    /// <summary>The mail consumers, on the service's own e-mail queue (a failing SMTP server holds up nothing else).</summary>
    public static void AddEmailConsumers(this IBusRegistrationConfigurator bus, IConfiguration configuration)
    {
        var queue = $"{configuration["Messaging:Prefix"] ?? "lumoauth"}-admin-email";
        bus.AddConsumer<PasswordResetEmailConsumer>().Endpoint(e => e.Name = queue);
        bus.AddConsumer<MagicLinkEmailConsumer>().Endpoint(e => e.Name = queue);
        bus.AddConsumer<MfaCodeEmailConsumer>().Endpoint(e => e.Name = queue);
        bus.AddConsumer<InvitationEmailConsumer>().Endpoint(e => e.Name = queue);
        bus.AddConsumer<EmailVerificationEmailConsumer>().Endpoint(e => e.Name = queue);
        bus.AddConsumer<AccountNoticeEmailConsumer>().Endpoint(e => e.Name = queue);
        bus.AddConsumer<TenantNoticeEmailConsumer>().Endpoint(e => e.Name = queue);
    }
}
