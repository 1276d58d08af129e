using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Admin.Features.Email;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Inbox;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Sms;

/// <summary>
/// Texts a second-step code. As with mailed codes, the code exists only here and in the message: the row held a placeholder
/// hash, the new hash, the inbox row and the send share one transaction (a failed send rolls back and the retry draws a
/// fresh code; once committed, a redelivery sends nothing).
/// </summary>
public sealed partial class SmsCodeConsumer(AdminDbContext db, SmsSender sms, SmsPhones phones, ILogger<SmsCodeConsumer> logger)
    : IConsumer<UserMfaSmsCodeRequested>
{
    public async Task Consume(ConsumeContext<UserMfaSmsCodeRequested> context)
    {
        if (context.Message is not { TenantId: { } tenantId, CodeId: { } codeId })
        {
            return;
        }

        if (!sms.IsEnabled)
        {
            LogDisabled(logger, codeId);
            return;
        }

        await db.HandleOnceAsync("admin-sms:mfa_code", codeId, async ct =>
        {
            var now = DateTimeOffset.UtcNow;
            var code = await db.SignInCodes.IgnoreQueryFilters()
                .FirstOrDefaultAsync(c => c.Id == codeId && c.TenantId == tenantId && c.UsedAt == null && c.ExpiresAt > now && c.FactorId != null, ct);
            var factor = code is null ? null : await db.MfaFactors.IgnoreQueryFilters().AsNoTracking()
                .FirstOrDefaultAsync(f => f.Id == code.FactorId && f.UserId == code.UserId && f.Type == MfaFactorTypes.Sms, ct);
            var tenant = await EmailTenant.LoadActiveAsync(db, tenantId, ct);
            if (code is null || factor is null || tenant is null)
            {
                LogNothingToSend(logger, codeId);
                return;
            }

            var digits = SecondStepCodes.NewCode();
            code.TokenHash = SecondStepCodes.HashOf(code.Id, digits);
            await db.SaveChangesAsync(ct);
            var locale = await db.Users.IgnoreQueryFilters().Where(u => u.Id == code.UserId && u.TenantId == tenantId).Select(u => u.Locale).FirstOrDefaultAsync(ct);
            await sms.SendAsync(phones.NumberOf(factor), Email.EmailTemplates.SmsCode(tenant, tenant.TextFor(locale), digits, SecondStepCodes.Lifetime), ct);
        }, context.CancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "SMS delivery is not set up (no Sms:AccountSid, AuthToken or From): code {CodeId} was not texted")]
    private static partial void LogDisabled(ILogger logger, Guid codeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "No SMS sent for code {CodeId}: already sent, replaced, used or expired")]
    private static partial void LogNothingToSend(ILogger logger, Guid codeId);
}
