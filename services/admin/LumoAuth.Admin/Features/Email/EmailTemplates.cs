using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Localization;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Email;

/// <summary>
/// What a mail shows of its tenant: the branding's name and colour, where replies go, and the languages it offers its people
/// (<see cref="LocalizationPolicy"/>, the hosted pages' too).
/// </summary>
public sealed record EmailTenant(Guid Id, string Slug, string DisplayName, string PrimaryColor, string? SupportEmail)
{
    /// <summary>The tenant's languages that the mails are written in (English first).</summary>
    public IReadOnlyList<string> Languages { get; init; } = MailText.Catalogue.Languages;

    public string DefaultLanguage { get; init; } = TextCatalogue.English;

    /// <summary>The tenant's own wording of some sentences, by language (<see cref="LocalizationPolicy.Texts"/>).</summary>
    public IReadOnlyDictionary<string, Dictionary<string, string>> Texts { get; init; } = new Dictionary<string, Dictionary<string, string>>();

    /// <summary>
    /// The words for a mail: in the first of <paramref name="wishes"/> (the person's <c>locale</c>, then the language of the
    /// page they asked from) that the tenant offers, else in the tenant's default language.
    /// </summary>
    public MailText TextFor(params string?[] wishes)
    {
        foreach (var wish in wishes)
        {
            if (LanguageTags.Match(wish, Languages) is { } language)
            {
                return MailText.For(language, Texts.GetValueOrDefault(language));
            }
        }

        return MailText.For(DefaultLanguage, Texts.GetValueOrDefault(DefaultLanguage));
    }

    /// <summary>The tenant when it is active; mails of suspended or deleted tenants are not sent.</summary>
    public static async Task<EmailTenant?> LoadActiveAsync(AdminDbContext db, Guid tenantId, CancellationToken cancellationToken)
    {
        var row = await db.Tenants.AsNoTracking().Where(t => t.Id == tenantId && t.Status == TenantStatuses.Active)
            .Select(t => new { t.Slug, t.Name, t.Settings }).FirstOrDefaultAsync(cancellationToken);
        if (row is null)
        {
            return null;
        }

        var settings = TenantSettings.Parse(row.Settings);
        var branding = settings.Branding;
        var offered = MailText.Catalogue.Languages.Where(settings.Localization.Languages.Contains).ToList();
        if (offered.Count == 0)
        {
            offered = [.. MailText.Catalogue.Languages];
        }

        return new EmailTenant(tenantId, row.Slug, branding.DisplayName ?? row.Name, branding.PrimaryColor, branding.SupportEmail)
        {
            Languages = offered,
            DefaultLanguage = offered.Contains(settings.Localization.DefaultLanguage) ? settings.Localization.DefaultLanguage : offered[0],
            Texts = settings.Localization.Texts,
        };
    }
}


/// <summary>
/// The mails' wording, as plain text and simple HTML, in the language of <see cref="MailText"/> <c>t</c>. Every value from
/// users or admins is HTML-encoded in the HTML part; the plain-text part needs no encoding. Times are written as UTC in
/// one form for every language (<c>2026-12-07 14:30 UTC</c>), which no reader can take for another date.
/// </summary>
public static class EmailTemplates
{
    public static OutgoingEmail PasswordReset(EmailTenant tenant, MailText t, string toAddress, string? toName, string link, DateTimeOffset expiresAt) =>
        LinkMail(EmailKinds.PasswordReset, tenant, t, toAddress, toName,
            t.Format("Reset your {0} password", tenant.DisplayName),
            [t.Format("Hello {0},", toName ?? toAddress), t.Format("A password reset was requested for your {0} account ({1}).", tenant.DisplayName, toAddress)],
            t["Open this link to choose a new password:"], t["Choose a new password"], link,
            [t.Format("The link works once and expires at {0}.", Format(expiresAt)), t["If you did not ask for this, ignore this mail: your password stays as it is."]]);

    public static OutgoingEmail MagicLink(EmailTenant tenant, MailText t, string toAddress, string? toName, string link, DateTimeOffset expiresAt) =>
        LinkMail(EmailKinds.MagicLink, tenant, t, toAddress, toName,
            t.Format("Sign in to {0}", tenant.DisplayName),
            [t.Format("Hello {0},", toName ?? toAddress), t.Format("A sign-in link was requested for your {0} account ({1}).", tenant.DisplayName, toAddress)],
            t["Open this link to sign in:"], t["Sign in"], link,
            [t.Format("The link works once and expires at {0}.", Format(expiresAt)), t["If you did not ask for this, ignore this mail: nobody can sign in without the link."]]);

    public static OutgoingEmail Invitation(EmailTenant tenant, MailText t, string toAddress, string link, DateTimeOffset expiresAt) =>
        LinkMail(EmailKinds.Invitation, tenant, t, toAddress, null,
            t.Format("You are invited to {0}", tenant.DisplayName),
            [t["Hello,"], t.Format("You have been invited to join {0} as {1}.", tenant.DisplayName, toAddress)],
            t["Open this link to create your account:"], t["Accept the invitation"], link,
            [t.Format("The invitation works once and expires at {0}.", Format(expiresAt)), t["If you do not know why you received it, ignore this mail."]]);

    public static OutgoingEmail EmailVerification(EmailTenant tenant, MailText t, string toAddress, string? toName, string link, DateTimeOffset expiresAt) =>
        LinkMail(EmailKinds.EmailVerification, tenant, t, toAddress, toName,
            t.Format("Verify your email address for {0}", tenant.DisplayName),
            [t.Format("Hello {0},", toName ?? toAddress), t.Format("Please confirm that {0} is your address for your {1} account.", toAddress, tenant.DisplayName)],
            t["Open this link to verify it:"], t["Verify my address"], link,
            [t.Format("The link expires at {0}.", Format(expiresAt)), t["If you did not create this account, ignore this mail."]]);

    public static OutgoingEmail AccountLocked(EmailTenant tenant, MailText t, string toAddress, string? toName, DateTimeOffset lockedUntil) =>
        Notice(EmailKinds.AccountLocked, tenant, t, toAddress, toName, t.Format("Your {0} account is locked", tenant.DisplayName),
        [
            t.Format("Hello {0},", toName ?? toAddress),
            t.Format("After too many failed sign-in attempts, your {0} account ({1}) is locked until {2}.", tenant.DisplayName, toAddress, Format(lockedUntil)),
            t["If these attempts were not yours, someone may know your address: once the lock ends, sign in and consider resetting your password."],
        ]);

    public static OutgoingEmail PasswordChanged(EmailTenant tenant, MailText t, string toAddress, string? toName, DateTimeOffset changedAt) =>
        Notice(EmailKinds.PasswordChanged, tenant, t, toAddress, toName, t.Format("Your {0} password was changed", tenant.DisplayName),
        [
            t.Format("Hello {0},", toName ?? toAddress),
            t.Format("The password of your {0} account ({1}) was changed at {2}.", tenant.DisplayName, toAddress, Format(changedAt)),
            t["If you did not change it, reset your password now and contact your administrator."],
        ]);

    public static OutgoingEmail MfaCode(EmailTenant tenant, MailText t, string toAddress, string? toName, string code, DateTimeOffset expiresAt) =>
        Notice(EmailKinds.MfaCode, tenant, t, toAddress, toName, t.Format("Your {0} sign-in code: {1}", tenant.DisplayName, code),
        [
            t.Format("Hello {0},", toName ?? toAddress),
            t.Format("Enter this code to finish signing in to your {0} account ({1}): {2}", tenant.DisplayName, toAddress, code),
            t.Format("It works once and expires at {0}.", Format(expiresAt)),
            t["If you are not signing in right now, someone knows your password: change it."],
        ]);

    /// <summary>The text message with a second-step code: short, the code first (phones show it in the notice).</summary>
    public static string SmsCode(EmailTenant tenant, MailText t, string code, TimeSpan lifetime) =>
        t.Format("{0} is your {1} code. It expires in {2} minutes. Never share it.", code, tenant.DisplayName, (int)lifetime.TotalMinutes);

    public static OutgoingEmail WebhookDisabled(EmailTenant tenant, MailText t, string toAddress, string? toName, string url, int failures, DateTimeOffset disabledAt) =>
        Notice(EmailKinds.WebhookDisabled, tenant, t, toAddress, toName, t.Format("A {0} webhook was switched off", tenant.DisplayName),
        [
            t.Format("Hello {0},", toName ?? toAddress),
            t.Format("The webhook to {0} failed {1} deliveries in a row and was switched off at {2}. Events since then are not sent to it.", url, failures, Format(disabledAt)),
            t["Once the receiver works again, switch the webhook back on in the admin API (PATCH admin/webhooks/{id} with isActive: true); failed deliveries can be sent again from its delivery list."],
        ]);

    /// <param name="account">The address of the account whose sign-in was refused.</param>
    /// <param name="toTheOwner">Whether this mail goes to that account's owner (else to an administrator).</param>
    public static OutgoingEmail LoginBlocked(
        EmailTenant tenant, MailText t, string toAddress, string? toName, string account, bool toTheOwner, string? ipAddress, int riskScore,
        IReadOnlyList<string> signals, DateTimeOffset at)
    {
        var when = Format(at);
        var paragraphs = toTheOwner
            ? new[]
            {
                t.Format("Hello {0},", toName ?? toAddress),
                ipAddress is null
                    ? t.Format("Someone with your password tried to sign in to your {0} account ({1}) at {2}, and we blocked it as suspicious.", tenant.DisplayName, account, when)
                    : t.Format("Someone with your password tried to sign in to your {0} account ({1}) from {2} at {3}, and we blocked it as suspicious.", tenant.DisplayName, account, ipAddress, when),
                t["If it was you, sign in from a device you have used before, or ask your administrator for help."],
                t["If it was not you, someone knows your password: change it now."],
            }
            : new[]
            {
                t.Format("Hello {0},", toName ?? toAddress),
                ipAddress is null
                    ? t.Format("A sign-in to {0} at {1} was blocked as suspicious (risk {2} of 100: {3}).", account, when, riskScore, string.Join(", ", signals))
                    : t.Format("A sign-in to {0} from {1} at {2} was blocked as suspicious (risk {3} of 100: {4}).", account, ipAddress, when, riskScore, string.Join(", ", signals)),
                t["The account's owner was told as well. The tenant's audit log has the details (adaptive_auth_high_risk)."],
            };
        var subject = toTheOwner
            ? t.Format("A sign-in to your {0} account was blocked", tenant.DisplayName)
            : t.Format("A suspicious sign-in to {0} was blocked", account);
        return Notice(EmailKinds.LoginBlocked, tenant, t, toAddress, toName, subject, paragraphs);
    }

    /// <summary>A mail that informs and has no link to act on.</summary>
    private static OutgoingEmail Notice(string kind, EmailTenant tenant, MailText t, string toAddress, string? toName, string subject, string[] paragraphs)
    {
        var html = Start(tenant, t, subject);
        foreach (var paragraph in paragraphs)
        {
            html.Append("<p>").Append(Encode(paragraph)).Append("</p>");
        }

        html.Append("</body></html>");
        return new OutgoingEmail(kind, toAddress, toName, subject, string.Join("\n\n", paragraphs) + "\n", html.ToString(), tenant.SupportEmail) { Language = t.Language };
    }

    /// <summary>
    /// A mail whose point is a link: the text part gives it on a line of its own after <paramref name="openIt"/>, the HTML
    /// part as a button saying <paramref name="action"/>, with the address written out for mail readers that hide links.
    /// </summary>
    private static OutgoingEmail LinkMail(
        string kind, EmailTenant tenant, MailText t, string toAddress, string? toName, string subject, string[] intro, string openIt, string action,
        string link, string[] outro)
    {
        var text = new StringBuilder()
            .AppendJoin("\n\n", intro).Append("\n\n")
            .Append(openIt).Append("\n\n").Append(link).Append("\n\n")
            .AppendJoin("\n", outro).Append('\n')
            .ToString();
        var html = Start(tenant, t, subject);
        foreach (var paragraph in intro)
        {
            html.Append("<p>").Append(Encode(paragraph)).Append("</p>");
        }

        html.Append("<p><a href=\"").Append(Encode(link)).Append("\" style=\"display:inline-block;padding:12px 20px;color:#ffffff;text-decoration:none;border-radius:6px;background:")
            .Append(Encode(tenant.PrimaryColor)).Append("\">").Append(Encode(action)).Append("</a></p>")
            .Append("<p style=\"font-size:13px\">").Append(Encode(t["Or paste this address into your browser:"])).Append(' ').Append(Encode(link)).Append("</p>");
        foreach (var paragraph in outro)
        {
            html.Append("<p style=\"font-size:13px;color:#59636e\">").Append(Encode(paragraph)).Append("</p>");
        }

        html.Append("</body></html>");
        return new OutgoingEmail(kind, toAddress, toName, subject, text, html.ToString(), tenant.SupportEmail) { Language = t.Language };
    }

    private static StringBuilder Start(EmailTenant tenant, MailText t, string title) =>
        new StringBuilder("<!DOCTYPE html><html lang=\"").Append(t.Language).Append('"').Append(LanguageTags.DirectionAttribute(t.Language)).Append("><head><meta charset=\"utf-8\"><title>").Append(Encode(title)).Append("</title></head>")
            .Append("<body style=\"font-family:sans-serif;color:#1f2328;max-width:560px;margin:24px auto\">")
            .Append("<h1 style=\"font-size:20px\">").Append(Encode(tenant.DisplayName)).Append("</h1>");

    // Only what HTML needs is encoded: accented letters stay readable in the mail's source.
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(System.Text.Unicode.UnicodeRanges.All);

    private static string Encode(string value) => Encoder.Encode(value);

    private static string Format(DateTimeOffset at) =>
        at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}
