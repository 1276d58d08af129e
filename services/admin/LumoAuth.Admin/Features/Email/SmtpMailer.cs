using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Options;
using MimeKit;

namespace LumoAuth.Admin.Features.Email;

/// <summary>
/// A rendered mail, ready to send; <see cref="Kind"/> (one of <see cref="EmailKinds"/>) goes out as the <c>X-LumoAuth-Mail</c>
/// header, <see cref="Language"/> as <c>Content-Language</c> (RFC 3282).
/// </summary>
public sealed record OutgoingEmail(string Kind, string ToAddress, string? ToName, string Subject, string Text, string Html, string? ReplyTo = null)
{
    public string Language { get; init; } = LumoAuth.ServiceDefaults.Localization.TextCatalogue.English;
}

public static class EmailKinds
{
    public const string Header = "X-LumoAuth-Mail";
    public const string PasswordReset = "password_reset";
    public const string Invitation = "invitation";
    public const string EmailVerification = "email_verification";
    public const string AccountLocked = "account_locked";
    public const string PasswordChanged = "password_changed";
    public const string MagicLink = "magic_link";
    public const string MfaCode = "mfa_code";
    public const string WebhookDisabled = "webhook_disabled";
    public const string LoginBlocked = "login_blocked";
}

/// <summary>
/// Sends one mail per SMTP connection. Any failure (connection, authentication, a 4xx/5xx answer) is
/// thrown, so the consumer's message is retried and finally parked in the error queue.
/// </summary>
public sealed class SmtpMailer(IOptions<EmailOptions> options)
{
    public bool IsEnabled => options.Value.IsEnabled;

    public async Task SendAsync(OutgoingEmail email, string senderName, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (settings.Host is not { } host || settings.Sender is not { } sender)
        {
            throw new InvalidOperationException("E-mail delivery is not configured (Email:Host, Email:Sender).");
        }

        using var message = new MimeMessage();
        var from = MailboxAddress.Parse(sender);
        if (string.IsNullOrEmpty(from.Name))
        {
            from.Name = senderName;
        }

        message.From.Add(from);
        message.To.Add(new MailboxAddress(email.ToName ?? string.Empty, email.ToAddress));
        if (email.ReplyTo is not null && MailboxAddress.TryParse(email.ReplyTo, out var replyTo))
        {
            message.ReplyTo.Add(replyTo);
        }

        message.Subject = email.Subject;
        message.Headers.Add(EmailKinds.Header, email.Kind);
        message.Body = new BodyBuilder { TextBody = email.Text, HtmlBody = email.Html }.ToMessageBody();
        // A Content-* header belongs to the body's entity (MimeKit keeps the message's own headers apart from it).
        message.Body.Headers.Add(HeaderId.ContentLanguage, email.Language);

        using var client = new SmtpClient { Timeout = (int)settings.Timeout.TotalMilliseconds };
        await client.ConnectAsync(host, settings.Port, settings.Security switch
        {
            EmailSecurity.Tls => SecureSocketOptions.SslOnConnect,
            EmailSecurity.None => SecureSocketOptions.None,
            _ => SecureSocketOptions.StartTls,
        }, cancellationToken);
        if (!string.IsNullOrEmpty(settings.UserName))
        {
            await client.AuthenticateAsync(settings.UserName, settings.Password ?? string.Empty, cancellationToken);
        }

        try
        {
            await client.SendAsync(message, cancellationToken);
        }
        catch (SmtpCommandException refused)
        {
            // The server's reply usually quotes the recipient's address, and the failure is logged at every retry: only
            // the codes travel on.
            throw new MailRefusedException(refused.ErrorCode, refused.StatusCode);
        }

        await client.DisconnectAsync(quit: true, cancellationToken);
    }
}

/// <summary>The mail server refused a message; says how without the server's own words.</summary>
public sealed class MailRefusedException(SmtpErrorCode errorCode, SmtpStatusCode statusCode)
    : Exception($"The mail server refused the message: {errorCode}, SMTP status {(int)statusCode}");
