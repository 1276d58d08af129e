using System.ComponentModel.DataAnnotations;
using MimeKit;

namespace LumoAuth.Admin.Features.Email;

/// <summary>
/// SMTP delivery of the service's mails (section <c>Email</c>). Without a <see cref="Host"/> delivery is
/// off: mails are skipped (and logged as skipped), nothing is retried.
/// </summary>
public sealed class EmailOptions : IValidatableObject
{
    public const string SectionName = "Email";

    public string? Host { get; set; }

    [Range(1, 65535)]
    public int Port { get; set; } = 587;

    /// <summary>The From mailbox, e.g. <c>LumoAuth &lt;no-reply@auth.example.com&gt;</c>; the tenant's name is used when it has no display name.</summary>
    public string? Sender { get; set; }

    public EmailSecurity Security { get; set; } = EmailSecurity.StartTls;

    /// <summary>Optional SMTP credentials; keep the password in a secret store, it is never logged.</summary>
    public string? UserName { get; set; }

    public string? Password { get; set; }

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    public bool IsEnabled => !string.IsNullOrWhiteSpace(Host);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (IsEnabled && (string.IsNullOrWhiteSpace(Sender) || !MailboxAddress.TryParse(Sender, out _)))
        {
            yield return new ValidationResult("Email:Sender must be a mailbox address when Email:Host is set", [nameof(Sender)]);
        }

        if (!string.IsNullOrEmpty(Password) && string.IsNullOrEmpty(UserName))
        {
            yield return new ValidationResult("Email:Password needs Email:UserName", [nameof(UserName)]);
        }

        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromMinutes(5))
        {
            yield return new ValidationResult("Email:Timeout must be between 0 and 5 minutes", [nameof(Timeout)]);
        }
    }
}

/// <summary>How the SMTP connection is secured.</summary>
public enum EmailSecurity
{
    /// <summary>Plain connection upgraded with STARTTLS; fails when the server does not offer it (port 587).</summary>
    StartTls,

    /// <summary>TLS from the first byte (port 465).</summary>
    Tls,

    /// <summary>No TLS at all: only for a relay on the same host or tests.</summary>
    None,
}
