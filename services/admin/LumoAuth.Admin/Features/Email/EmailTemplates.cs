using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Contracts.Internal;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Email;

/// <summary>What a mail shows of its tenant: the branding's name and colour, and where replies go.</summary>
public sealed record EmailTenant(Guid Id, string Slug, string DisplayName, string PrimaryColor, string? SupportEmail)
{
    /// <summary>The tenant when it is active; mails of suspended or deleted tenants are not sent.</summary>
    public static async Task<EmailTenant?> LoadActiveAsync(AdminDbContext db, Guid tenantId, CancellationToken cancellationToken)
    {
        var row = await db.Tenants.AsNoTracking().Where(t => t.Id == tenantId && t.Status == TenantStatuses.Active)
            .Select(t => new { t.Slug, t.Name, t.Settings }).FirstOrDefaultAsync(cancellationToken);
        if (row is null)
        {
            return null;
        }

        var branding = TenantSettings.Parse(row.Settings).Branding;
        return new EmailTenant(tenantId, row.Slug, branding.DisplayName ?? row.Name, branding.PrimaryColor, branding.SupportEmail);
    }
}

/// <summary>
/// The mails' wording, as plain text and simple HTML. Every value from users or admins is HTML-encoded in
/// the HTML part; the plain-text part needs no encoding.
/// </summary>
public static class EmailTemplates
{
    public static OutgoingEmail PasswordReset(EmailTenant tenant, string toAddress, string? toName, string link, DateTimeOffset expiresAt)
    {
        var subject = $"Reset your {tenant.DisplayName} password";
        var expires = Format(expiresAt);
        var text = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"Hello {toName ?? toAddress},\n\n")
            .Append(CultureInfo.InvariantCulture, $"A password reset was requested for your {tenant.DisplayName} account ({toAddress}).\n")
            .Append("Open this link to choose a new password:\n\n")
            .Append(link).Append("\n\n")
            .Append(CultureInfo.InvariantCulture, $"The link works once and expires at {expires}.\n")
            .Append("If you did not ask for this, ignore this mail: your password stays as it is.\n")
            .ToString();
        var html = Layout(tenant, subject,
            [$"Hello {toName ?? toAddress},", $"A password reset was requested for your {tenant.DisplayName} account ({toAddress})."],
            "Choose a new password", link,
            [$"The link works once and expires at {expires}.", "If you did not ask for this, ignore this mail: your password stays as it is."]);
        return new OutgoingEmail(EmailKinds.PasswordReset, toAddress, toName, subject, text, html, tenant.SupportEmail);
    }

    public static OutgoingEmail MagicLink(EmailTenant tenant, string toAddress, string? toName, string link, DateTimeOffset expiresAt)
    {
        var subject = $"Sign in to {tenant.DisplayName}";
        var expires = Format(expiresAt);
        var text = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"Hello {toName ?? toAddress},\n\n")
            .Append(CultureInfo.InvariantCulture, $"A sign-in link was requested for your {tenant.DisplayName} account ({toAddress}).\n")
            .Append("Open this link to sign in:\n\n")
            .Append(link).Append("\n\n")
            .Append(CultureInfo.InvariantCulture, $"The link works once and expires at {expires}.\n")
            .Append("If you did not ask for this, ignore this mail: nobody can sign in without the link.\n")
            .ToString();
        var html = Layout(tenant, subject,
            [$"Hello {toName ?? toAddress},", $"A sign-in link was requested for your {tenant.DisplayName} account ({toAddress})."],
            "Sign in", link,
            [$"The link works once and expires at {expires}.", "If you did not ask for this, ignore this mail: nobody can sign in without the link."]);
        return new OutgoingEmail(EmailKinds.MagicLink, toAddress, toName, subject, text, html, tenant.SupportEmail);
    }

    public static OutgoingEmail Invitation(EmailTenant tenant, string toAddress, string link, DateTimeOffset expiresAt)
    {
        var subject = $"You are invited to {tenant.DisplayName}";
        var expires = Format(expiresAt);
        var text = new StringBuilder()
            .Append("Hello,\n\n")
            .Append(CultureInfo.InvariantCulture, $"You have been invited to join {tenant.DisplayName} as {toAddress}.\n")
            .Append("Open this link to create your account:\n\n")
            .Append(link).Append("\n\n")
            .Append(CultureInfo.InvariantCulture, $"The invitation works once and expires at {expires}.\n")
            .Append("If you do not know why you received it, ignore this mail.\n")
            .ToString();
        var html = Layout(tenant, subject,
            ["Hello,", $"You have been invited to join {tenant.DisplayName} as {toAddress}."],
            "Accept the invitation", link,
            [$"The invitation works once and expires at {expires}.", "If you do not know why you received it, ignore this mail."]);
        return new OutgoingEmail(EmailKinds.Invitation, toAddress, null, subject, text, html, tenant.SupportEmail);
    }

    public static OutgoingEmail EmailVerification(EmailTenant tenant, string toAddress, string? toName, string link, DateTimeOffset expiresAt)
    {
        var subject = $"Verify your email address for {tenant.DisplayName}";
        var expires = Format(expiresAt);
        var text = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"Hello {toName ?? toAddress},\n\n")
            .Append(CultureInfo.InvariantCulture, $"Please confirm that {toAddress} is your address for your {tenant.DisplayName} account by opening this link:\n\n")
            .Append(link).Append("\n\n")
            .Append(CultureInfo.InvariantCulture, $"The link expires at {expires}.\n")
            .Append("If you did not create this account, ignore this mail.\n")
            .ToString();
        var html = Layout(tenant, subject,
            [$"Hello {toName ?? toAddress},", $"Please confirm that {toAddress} is your address for your {tenant.DisplayName} account."],
            "Verify my address", link,
            [$"The link expires at {expires}.", "If you did not create this account, ignore this mail."]);
        return new OutgoingEmail(EmailKinds.EmailVerification, toAddress, toName, subject, text, html, tenant.SupportEmail);
    }

    public static OutgoingEmail AccountLocked(EmailTenant tenant, string toAddress, string? toName, DateTimeOffset lockedUntil)
    {
        var subject = $"Your {tenant.DisplayName} account is locked";
        string[] body =
        [
            $"Hello {toName ?? toAddress},",
            $"After too many failed sign-in attempts, your {tenant.DisplayName} account ({toAddress}) is locked until {Format(lockedUntil)}.",
            "If these attempts were not yours, someone may know your address: once the lock ends, sign in and consider resetting your password.",
        ];
        return Notice(EmailKinds.AccountLocked, tenant, toAddress, toName, subject, body);
    }

    public static OutgoingEmail PasswordChanged(EmailTenant tenant, string toAddress, string? toName, DateTimeOffset changedAt)
    {
        var subject = $"Your {tenant.DisplayName} password was changed";
        string[] body =
        [
            $"Hello {toName ?? toAddress},",
            $"The password of your {tenant.DisplayName} account ({toAddress}) was changed at {Format(changedAt)}.",
            "If you did not change it, reset your password now and contact your administrator.",
        ];
        return Notice(EmailKinds.PasswordChanged, tenant, toAddress, toName, subject, body);
    }

    public static OutgoingEmail MfaCode(EmailTenant tenant, string toAddress, string? toName, string code, DateTimeOffset expiresAt)
    {
        var subject = $"Your {tenant.DisplayName} sign-in code: {code}";
        string[] body =
        [
            $"Hello {toName ?? toAddress},",
            $"Enter this code to finish signing in to your {tenant.DisplayName} account ({toAddress}): {code}",
            $"It works once and expires at {Format(expiresAt)}.",
            "If you are not signing in right now, someone knows your password: change it.",
        ];
        return Notice(EmailKinds.MfaCode, tenant, toAddress, toName, subject, body);
    }

    public static OutgoingEmail WebhookDisabled(EmailTenant tenant, string toAddress, string? toName, string url, int failures, DateTimeOffset disabledAt)
    {
        var subject = $"A {tenant.DisplayName} webhook was switched off";
        string[] body =
        [
            $"Hello {toName ?? toAddress},",
            $"The webhook to {url} failed {failures} deliveries in a row and was switched off at {Format(disabledAt)}. Events since then are not sent to it.",
            "Once the receiver works again, switch the webhook back on in the admin API (PATCH admin/webhooks/{id} with isActive: true); failed deliveries can be sent again from its delivery list.",
        ];
        return Notice(EmailKinds.WebhookDisabled, tenant, toAddress, toName, subject, body);
    }

    /// <param name="account">The address of the account whose sign-in was refused.</param>
    /// <param name="toTheOwner">Whether this mail goes to that account's owner (else to an administrator).</param>
    public static OutgoingEmail LoginBlocked(
        EmailTenant tenant, string toAddress, string? toName, string account, bool toTheOwner, string? ipAddress, int riskScore,
        IReadOnlyList<string> signals, DateTimeOffset at)
    {
        var where = ipAddress is null ? string.Empty : $" from {ipAddress}";
        var subject = toTheOwner ? $"A sign-in to your {tenant.DisplayName} account was blocked" : $"A suspicious sign-in to {account} was blocked";
        string[] body = toTheOwner
            ?
            [
                $"Hello {toName ?? toAddress},",
                $"Someone with your password tried to sign in to your {tenant.DisplayName} account ({account}){where} at {Format(at)}, and we blocked it as suspicious.",
                "If it was you, sign in from a device you have used before, or ask your administrator for help.",
                "If it was not you, someone knows your password: change it now.",
            ]
            :
            [
                $"Hello {toName ?? toAddress},",
                $"A sign-in to {account}{where} at {Format(at)} was blocked as suspicious (risk {riskScore} of 100: {string.Join(", ", signals)}).",
                "The account's owner was told as well. The tenant's audit log has the details (adaptive_auth_high_risk).",
            ];
        return Notice(EmailKinds.LoginBlocked, tenant, toAddress, toName, subject, body);
    }

    /// <summary>A mail that informs and has no link to act on.</summary>
    private static OutgoingEmail Notice(string kind, EmailTenant tenant, string toAddress, string? toName, string subject, string[] paragraphs)
    {
        var e = HtmlEncoder.Default;
        var html = new StringBuilder()
            .Append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>").Append(e.Encode(subject)).Append("</title></head>")
            .Append("<body style=\"font-family:sans-serif;color:#1f2328;max-width:560px;margin:24px auto\">")
            .Append("<h1 style=\"font-size:20px\">").Append(e.Encode(tenant.DisplayName)).Append("</h1>");
        foreach (var paragraph in paragraphs)
        {
            html.Append("<p>").Append(e.Encode(paragraph)).Append("</p>");
        }

        html.Append("</body></html>");
        return new OutgoingEmail(kind, toAddress, toName, subject, string.Join("\n\n", paragraphs) + "\n", html.ToString(), tenant.SupportEmail);
    }

    private static string Format(DateTimeOffset at) =>
        at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    private static string Layout(EmailTenant tenant, string title, IEnumerable<string> intro, string action, string link, IEnumerable<string> outro)
    {
        var e = HtmlEncoder.Default;
        var html = new StringBuilder()
            .Append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>").Append(e.Encode(title)).Append("</title></head>")
            .Append("<body style=\"font-family:sans-serif;color:#1f2328;max-width:560px;margin:24px auto\">")
            .Append("<h1 style=\"font-size:20px\">").Append(e.Encode(tenant.DisplayName)).Append("</h1>");
        foreach (var paragraph in intro)
        {
            html.Append("<p>").Append(e.Encode(paragraph)).Append("</p>");
        }

        html.Append("<p><a href=\"").Append(e.Encode(link)).Append("\" style=\"display:inline-block;padding:12px 20px;color:#ffffff;text-decoration:none;border-radius:6px;background:")
            .Append(e.Encode(tenant.PrimaryColor)).Append("\">").Append(e.Encode(action)).Append("</a></p>")
            .Append("<p style=\"font-size:13px\">Or paste this address into your browser: ").Append(e.Encode(link)).Append("</p>");
        foreach (var paragraph in outro)
        {
            html.Append("<p style=\"font-size:13px;color:#59636e\">").Append(e.Encode(paragraph)).Append("</p>");
        }

        return html.Append("</body></html>").ToString();
    }
}
