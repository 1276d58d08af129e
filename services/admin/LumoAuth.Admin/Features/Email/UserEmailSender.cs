using System.Buffers.Text;
using System.Security.Cryptography;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Contracts.Internal;
using LumoAuth.Messaging.Inbox;
using LumoAuth.ServiceDefaults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Features.Email;

/// <summary>
/// Issues the link's token when the mail is sent, so the raw token lives only in this consumer's memory
/// and in the mail: the request stored an unguessable placeholder hash and the event carries only ids.
/// The new hash, the inbox row and the send share one transaction: a failed send rolls the token back
/// and the retry issues a fresh one; once committed, a redelivery finds the inbox row and sends nothing.
/// The inbox key is the kind and the reset or invitation id, so one request never yields two mails.
/// </summary>
public sealed class UserEmailSender(AdminDbContext db, SmtpMailer mailer, EmailVerificationTokens verificationTokens, IOptions<LumoAuthOptions> lumo)
{
    public const string InboxConsumer = "admin-email";

    public static string NewToken() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// The deployment's URL of a tenant page, or, for a link asked for on one of the tenant's verified domains
    /// (<paramref name="domain"/>), that domain's: the page continues where the person started. The page opens in the mail's
    /// language (<c>ui_locales</c>), unless the person chose another on our pages.
    /// </summary>
    public string Link(string tenantSlug, string path, string token, string language, string? domain = null) =>
        (domain is null ? $"{lumo.Value.PublicBaseUrl.TrimEnd('/')}/t/{Uri.EscapeDataString(tenantSlug)}" : lumo.Value.OriginFor(domain))
        + $"{path}?{EmailLinkPaths.TokenParameter}={Uri.EscapeDataString(token)}&ui_locales={Uri.EscapeDataString(language)}";

    /// <summary>
    /// The tenant's primary custom domain (verified), where links that no request started on a domain point — an invitation,
    /// an address to verify; null for the deployment's host.
    /// </summary>
    private Task<string?> PrimaryDomainAsync(Guid tenantId, CancellationToken cancellationToken) =>
        db.CustomDomains.IgnoreQueryFilters().AsNoTracking()
            .Where(d => d.TenantId == tenantId && d.IsPrimary && d.VerifiedAt != null)
            .Select(d => d.Domain).FirstOrDefaultAsync(cancellationToken);

    /// <returns>false when there was nothing (any more) to send: withdrawn, used, expired, or handled before.</returns>
    /// <param name="pageLanguage">The language of the page the person asked from; their own <c>locale</c> comes first.</param>
    public Task<bool> SendPasswordResetAsync(Guid tenantId, Guid resetId, string? pageLanguage, CancellationToken cancellationToken) =>
        SendUserLinkAsync(db.PasswordResetTokens, EmailKinds.PasswordReset, tenantId, resetId, EmailLinkPaths.PasswordReset, pageLanguage, EmailTemplates.PasswordReset, cancellationToken);

    /// <inheritdoc cref="SendPasswordResetAsync"/>
    public Task<bool> SendMagicLinkAsync(Guid tenantId, Guid linkId, string? pageLanguage, CancellationToken cancellationToken) =>
        SendUserLinkAsync(db.MagicLinkTokens, EmailKinds.MagicLink, tenantId, linkId, EmailLinkPaths.MagicLink, pageLanguage, EmailTemplates.MagicLink, cancellationToken);

    /// <inheritdoc cref="SendPasswordResetAsync"/>
    public Task<bool> SendMfaCodeAsync(Guid tenantId, Guid codeId, CancellationToken cancellationToken) =>
        SendUserLinkAsync(db.SignInCodes, EmailKinds.MfaCode, tenantId, codeId, path: null, pageLanguage: null, EmailTemplates.MfaCode, cancellationToken);

    /// <summary>
    /// A link to a user's own account (reset, sign-in), or without <paramref name="path"/> a second-step code: the pending
    /// row gets the hash of a new token or code, the mail the link or code.
    /// </summary>
    private async Task<bool> SendUserLinkAsync<TLink>(
        DbSet<TLink> links, string kind, Guid tenantId, Guid linkId, string? path, string? pageLanguage,
        Func<EmailTenant, MailText, string, string?, string, DateTimeOffset, OutgoingEmail> template, CancellationToken cancellationToken)
        where TLink : class, IEmailedUserLink
    {
        var sent = false;
        await db.HandleOnceAsync($"{InboxConsumer}:{kind}", linkId, async ct =>
        {
            var now = DateTimeOffset.UtcNow;
            var link = await links.IgnoreQueryFilters()
                .FirstOrDefaultAsync(t => t.Id == linkId && t.TenantId == tenantId && t.UsedAt == null && t.ExpiresAt > now, ct);
            var user = link is null ? null : await db.Users.IgnoreQueryFilters().AsNoTracking()
                .FirstOrDefaultAsync(u => u.Id == link.UserId && u.TenantId == tenantId, ct);
            var tenant = await EmailTenant.LoadActiveAsync(db, tenantId, ct);
            if (link is null || user is null || tenant is null)
            {
                return;
            }

            var token = path is null ? SecondStepCodes.NewCode() : NewToken();
            link.TokenHash = path is null ? SecondStepCodes.HashOf(link.Id, token) : TokenRedemptionEndpoints.HashOf(token);
            await db.SaveChangesAsync(ct);
            // A domain removed since the request no longer serves the tenant: the deployment's link then.
            var domain = link.Domain is { } named
                && await db.CustomDomains.IgnoreQueryFilters().AnyAsync(d => d.TenantId == tenantId && d.Domain == named && d.VerifiedAt != null, ct)
                ? named : null;
            var t = tenant.TextFor(user.Locale, pageLanguage);
            var shown = path is null ? token : Link(tenant.Slug, path, token, t.Language, domain);
            await mailer.SendAsync(template(tenant, t, user.Email, user.Name, shown, link.ExpiresAt), tenant.DisplayName, ct);
            sent = true;
        }, cancellationToken);
        return sent;
    }

    /// <inheritdoc cref="SendPasswordResetAsync"/>
    /// <param name="inboxKey">The invitation id for the first mail, the resend event's message id for each resend.</param>
    public async Task<bool> SendInvitationAsync(Guid tenantId, Guid invitationId, Guid inboxKey, CancellationToken cancellationToken)
    {
        var sent = false;
        await db.HandleOnceAsync($"{InboxConsumer}:{EmailKinds.Invitation}", inboxKey, async ct =>
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
            var t = tenant.TextFor(invitation.Locale);
            var mail = EmailTemplates.Invitation(
                tenant, t, invitation.Email, Link(tenant.Slug, EmailLinkPaths.Invitation, token, t.Language, await PrimaryDomainAsync(tenantId, ct)), invitation.ExpiresAt);
            await mailer.SendAsync(mail, tenant.DisplayName, ct);
            sent = true;
        }, cancellationToken);
        return sent;
    }

    /// <summary>
    /// A verification link for an unverified, unblocked user; after a registration only when the tenant
    /// requires verification (<paramref name="onlyWhenRequired"/>). The link is a sealed statement, so
    /// nothing is stored; the inbox row (keyed by the message id) still makes it one mail per event.
    /// </summary>
    /// <param name="pageLanguage">The language of the page the person asked from, if they did (their own <c>locale</c> comes first).</param>
    public async Task<bool> SendEmailVerificationAsync(Guid tenantId, Guid userId, Guid messageId, bool onlyWhenRequired, string? pageLanguage, CancellationToken cancellationToken)
    {
        var sent = false;
        await db.HandleOnceAsync($"{InboxConsumer}:{EmailKinds.EmailVerification}", messageId, async ct =>
        {
            var user = await db.Users.IgnoreQueryFilters().AsNoTracking()
                .FirstOrDefaultAsync(u => u.Id == userId && u.TenantId == tenantId && !u.EmailVerified && !u.Blocked, ct);
            var tenant = user is null ? null : await EmailTenant.LoadActiveAsync(db, tenantId, ct);
            if (user is null || tenant is null
                || (onlyWhenRequired && !(await TenantSettings.LoadAsync(db, tenantId, ct)).LoginPolicy.EmailVerificationRequired))
            {
                return;
            }

            var (token, expiresAt) = verificationTokens.Issue(tenantId, user.Id, user.NormalizedEmail);
            var t = tenant.TextFor(user.Locale, pageLanguage);
            var mail = EmailTemplates.EmailVerification(
                tenant, t, user.Email, user.Name, Link(tenant.Slug, EmailLinkPaths.EmailVerification, token, t.Language, await PrimaryDomainAsync(tenantId, ct)), expiresAt);
            await mailer.SendAsync(mail, tenant.DisplayName, ct);
            sent = true;
        }, cancellationToken);
        return sent;
    }

    /// <summary>
    /// A mail that carries no secret (lockout, password change), at most once per event: the inbox key is
    /// the message id, and the inbox row commits only after the send.
    /// </summary>
    public async Task<bool> SendNoticeAsync(string kind, Guid tenantId, Guid userId, Guid messageId, Func<EmailTenant, MailText, User, OutgoingEmail> render, CancellationToken cancellationToken)
    {
        var sent = false;
        await db.HandleOnceAsync($"{InboxConsumer}:{kind}", messageId, async ct =>
        {
            var user = await db.Users.IgnoreQueryFilters().AsNoTracking().FirstOrDefaultAsync(u => u.Id == userId && u.TenantId == tenantId, ct);
            var tenant = await EmailTenant.LoadActiveAsync(db, tenantId, ct);
            if (user is null || tenant is null)
            {
                return;
            }

            await mailer.SendAsync(render(tenant, tenant.TextFor(user.Locale), user), tenant.DisplayName, ct);
            sent = true;
        }, cancellationToken);
        return sent;
    }
}
