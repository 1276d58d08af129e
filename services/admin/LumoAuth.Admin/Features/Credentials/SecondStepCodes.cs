using System.Security.Cryptography;
using System.Text;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Email;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// Second-step codes by e-mail or text message (the docs' "Email" and "SMS" MFA methods): six digits, mailed to the user's
/// verified address or texted to the phone of their SMS factor, good for ten minutes and one use. Only the newest code works
/// and five wrong guesses end it (each also counts towards the account's lockout). A new code goes out at most every 30
/// seconds and five times in 15 minutes, so someone who knows the password cannot flood the mailbox or the phone.
/// </summary>
public sealed class SecondStepCodes(AdminDbContext db, SmtpMailer mailer, Sms.SmsSender sms)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);
    public const int MaxFailedAttempts = 5;
    private static readonly TimeSpan ResendAfter = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan SendWindow = TimeSpan.FromMinutes(15);
    private const int MaxSendsPerWindow = 5;

    /// <summary>Whether codes can reach this user: the tenant allows the method, its mail goes out, the address is verified.</summary>
    public bool CanReach(TenantSettings settings, User user) =>
        mailer.IsEnabled && user.EmailVerified && settings.MfaPolicy.AllowedMethods.Contains(MfaFactorTypes.Email);

    /// <summary>
    /// Whether this user's sign-ins take an e-mailed code as their second step: they turned codes on
    /// (<paramref name="turnedOn"/>: a confirmed <see cref="MfaFactorTypes.Email"/> factor), or the tenant requires a second
    /// factor and allows e-mail, which then needs no enrolment (the verified address is the factor).
    /// </summary>
    public bool AreTheFactorOf(TenantSettings settings, User user, bool turnedOn) =>
        CanReach(settings, user) && (settings.MfaPolicy.Required || turnedOn);

    /// <summary>Whether the tenant's users may take codes by text message: the tenant allows the method and an SMS provider is set up.</summary>
    public bool CanText(TenantSettings settings) => sms.IsEnabled && settings.MfaPolicy.AllowedMethods.Contains(MfaFactorTypes.Sms);

    /// <summary>
    /// Mails a new code, or texts it to the phone of <paramref name="smsFactor"/> (ending the previous one), unless one went
    /// out moments ago or too many lately; false when nothing went out for that reason.
    /// </summary>
    public async Task<bool> SendAsync(User user, CancellationToken cancellationToken, MfaFactor? smsFactor = null)
    {
        var now = DateTimeOffset.UtcNow;
        var codes = db.SignInCodes.IgnoreQueryFilters().Where(c => c.UserId == user.Id);
        var recent = await codes.Where(c => c.CreatedAt > now - SendWindow).Select(c => new { c.CreatedAt, c.UsedAt }).ToListAsync(cancellationToken);
        if (recent.Count >= MaxSendsPerWindow || recent.Any(c => c.UsedAt == null && c.CreatedAt > now - ResendAfter))
        {
            return false;
        }

        await codes.Where(c => c.CreatedAt < now.AddDays(-1)).ExecuteDeleteAsync(cancellationToken);
        await codes.Where(c => c.UsedAt == null && c.ExpiresAt > now).ExecuteUpdateAsync(s => s.SetProperty(c => c.ExpiresAt, now), cancellationToken);
        var code = new SignInCode
        {
            Id = Guid.CreateVersion7(), TenantId = user.TenantId, UserId = user.Id, FactorId = smsFactor?.Id,
            TokenHash = SHA256.HashData(RandomNumberGenerator.GetBytes(32)), CreatedAt = now, ExpiresAt = now + Lifetime,
        };
        db.SignInCodes.Add(code);
        db.AddEvent(smsFactor is null
            ? new UserMfaEmailCodeRequested(user.Id, code.ExpiresAt) { TenantId = user.TenantId, CodeId = code.Id }
            : new UserMfaSmsCodeRequested(user.Id, code.ExpiresAt) { TenantId = user.TenantId, CodeId = code.Id });
        await db.SaveChangesAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Uses up the user's current code if <paramref name="code"/> is it (once, even when sent twice at the same moment).
    /// <paramref name="factorId"/> says where it must have gone: the SMS factor's (pending or confirmed) phone, or null
    /// for the user's mailbox, so a code texted to one phone never confirms another, nor passes for a mailed one.
    /// </summary>
    public async Task<bool> TryUseAsync(User user, string code, Guid? factorId, CancellationToken cancellationToken)
    {
        if (code.Length != 6 || !code.All(char.IsAsciiDigit))
        {
            return false;
        }

        var now = DateTimeOffset.UtcNow;
        var current = await db.SignInCodes.IgnoreQueryFilters().AsNoTracking()
            .Where(c => c.UserId == user.Id && c.FactorId == factorId && c.UsedAt == null && c.ExpiresAt > now)
            .OrderByDescending(c => c.CreatedAt).FirstOrDefaultAsync(cancellationToken);
        if (current is null)
        {
            return false;
        }

        var codes = db.SignInCodes.IgnoreQueryFilters().Where(c => c.Id == current.Id && c.UsedAt == null);
        if (!CryptographicOperations.FixedTimeEquals(current.TokenHash, HashOf(current.Id, code)))
        {
            await codes.ExecuteUpdateAsync(s => s
                .SetProperty(c => c.FailedAttempts, c => c.FailedAttempts + 1)
                .SetProperty(c => c.ExpiresAt, c => c.FailedAttempts + 1 >= MaxFailedAttempts ? now : c.ExpiresAt), cancellationToken);
            return false;
        }

        // Still alive at this moment: wrong guesses checked alongside may have ended the code since it was read.
        return await codes.Where(c => c.ExpiresAt > now && c.FailedAttempts < MaxFailedAttempts)
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.UsedAt, now), cancellationToken) == 1;
    }

    /// <summary>
    /// Whether taking away the user's confirmed factor of type <paramref name="removing"/> would leave them none while the
    /// tenant requires one: no other app, phone or e-mail codes, no passkey, and no verified address that e-mailed codes
    /// could reach anyway. Such a removal is refused (the user would be made to enrol again at their next sign-in, or,
    /// through a stolen session, lose the factor that stood between an attacker and the account).
    /// </summary>
    public async Task<bool> WouldLeaveNoSecondFactorAsync(User user, string removing, CancellationToken cancellationToken)
    {
        var settings = await TenantSettings.LoadAsync(db, user.TenantId, cancellationToken);
        if (!settings.MfaPolicy.Required || AreTheFactorOf(settings, user, turnedOn: false))
        {
            return false;
        }

        var others = await db.MfaFactors.IgnoreQueryFilters().AnyAsync(f => f.TenantId == user.TenantId && f.UserId == user.Id && f.Confirmed && f.Type != removing
            && (f.Type == MfaFactorTypes.Totp || f.Type == MfaFactorTypes.Sms || f.Type == MfaFactorTypes.Email), cancellationToken);
        return !others && !await db.Passkeys.IgnoreQueryFilters().AnyAsync(p => p.TenantId == user.TenantId && p.UserId == user.Id, cancellationToken);
    }

    public static IResult LastSecondFactor() => ApiErrors.Create(StatusCodes.Status409Conflict, ErrorCodes.InvalidRequest,
        "The organisation requires two-step verification and this is your last method; add another before removing it");

    public static string NewCode() => RandomNumberGenerator.GetInt32(0, 1_000_000).ToString("D6", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Salted with the row's id, so equal codes of two rows do not share a hash.</summary>
    public static byte[] HashOf(Guid codeId, string code) => SHA256.HashData(Encoding.UTF8.GetBytes($"{codeId:N}:{code}"));

    /// <summary>Where the code went, for the sign-in page, without spelling out the address: <c>a•••@example.com</c>.</summary>
    public static string Hint(string email)
    {
        var at = email.LastIndexOf('@');
        return at <= 0 ? "your email address" : $"{email[0]}•••{email[at..]}";
    }
}
