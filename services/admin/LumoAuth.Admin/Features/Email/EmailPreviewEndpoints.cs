using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;

namespace LumoAuth.Admin.Features.Email;

/// <summary>
/// <c>GET admin/email-templates/{kind}/preview?language=</c>: a mail (or the texted code) as the tenant's people would get it
/// now — its branding, the language asked for (else its default), its own wording (<c>localization.texts</c>) — filled
/// with example values, so an administrator sees a rewording before anyone receives it. Nothing is sent.
/// </summary>
public static class EmailPreviewEndpoints
{
    /// <summary>The texted second-step code, previewed beside the mails (its text only).</summary>
    public const string SmsCode = "sms_code";

    public static readonly string[] Kinds =
    [
        EmailKinds.PasswordReset, EmailKinds.MagicLink, EmailKinds.Invitation, EmailKinds.EmailVerification, EmailKinds.MfaCode,
        EmailKinds.AccountLocked, EmailKinds.PasswordChanged, EmailKinds.WebhookDisabled, EmailKinds.LoginBlocked, SmsCode,
    ];

    public static IEndpointRouteBuilder MapEmailPreviewEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/t/{tenantSlug}/api/v1/admin/email-templates/{kind}/preview", Preview)
            .RequireAuthorization(Policies.TenantAdmin).WithTags("Settings").WithName("PreviewEmail");
        return app;
    }

    public static async Task<IResult> Preview(string kind, string? language, AdminDbContext db, TenantContext tenant, UserEmailSender sender, CancellationToken cancellationToken)
    {
        if (!Kinds.Contains(kind))
        {
            return ApiErrors.NotFound("Email template");
        }

        if (await EmailTenant.LoadActiveAsync(db, tenant.TenantId, cancellationToken) is not { } mailing)
        {
            return ApiErrors.NotFound("Tenant");
        }

        if (language is not null && !mailing.Languages.Contains(language))
        {
            return ApiErrors.Validation("language", $"must be one of the tenant's languages: {string.Join(", ", mailing.Languages)}");
        }

        var t = mailing.TextFor(language ?? mailing.DefaultLanguage);
        var (name, address) = ("Alex Example", "alex@example.com");
        var at = DateTimeOffset.UtcNow.AddHours(1);
        string Link(string path) => sender.Link(mailing.Slug, path, "EXAMPLE", t.Language);
        if (kind == SmsCode)
        {
            return Answer(new EmailPreview(kind, t.Language, null, EmailTemplates.SmsCode(mailing, t, "123456", SecondStepCodes.Lifetime), null));
        }

        var mail = kind switch
        {
            EmailKinds.PasswordReset => EmailTemplates.PasswordReset(mailing, t, address, name, Link(EmailLinkPaths.PasswordReset), at),
            EmailKinds.MagicLink => EmailTemplates.MagicLink(mailing, t, address, name, Link(EmailLinkPaths.MagicLink), at),
            EmailKinds.Invitation => EmailTemplates.Invitation(mailing, t, address, Link(EmailLinkPaths.Invitation), at),
            EmailKinds.EmailVerification => EmailTemplates.EmailVerification(mailing, t, address, name, Link(EmailLinkPaths.EmailVerification), at),
            EmailKinds.MfaCode => EmailTemplates.MfaCode(mailing, t, address, name, "123456", at),
            EmailKinds.AccountLocked => EmailTemplates.AccountLocked(mailing, t, address, name, at),
            EmailKinds.PasswordChanged => EmailTemplates.PasswordChanged(mailing, t, address, name, at),
            EmailKinds.WebhookDisabled => EmailTemplates.WebhookDisabled(mailing, t, address, name, "https://hooks.example.com/lumoauth", 10, at),
            _ => EmailTemplates.LoginBlocked(mailing, t, address, name, address, toTheOwner: true, "203.0.113.7", 85, ["new_device", "new_network"], at),
        };
        return Answer(new EmailPreview(kind, mail.Language, mail.Subject, mail.Text, mail.Html));
    }

    private static Microsoft.AspNetCore.Http.HttpResults.Ok<DataResponse<EmailPreview>> Answer(EmailPreview preview) =>
        TypedResults.Ok(new DataResponse<EmailPreview>(preview));
}

/// <summary>A previewed mail; a texted code has neither subject nor HTML.</summary>
public sealed record EmailPreview(string Kind, string Language, string? Subject, string Text, string? Html);
