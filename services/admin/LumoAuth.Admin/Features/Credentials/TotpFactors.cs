using System.Security.Cryptography;
using LumoAuth.Admin.Data;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using OtpNet;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// TOTP (RFC 6238, SHA-1, 6 digits, 30 s) factors: secrets are encrypted with Data Protection at rest,
/// a code is accepted within one step of clock drift, and never twice (the last used step is kept).
/// </summary>
public sealed class TotpFactors(IDataProtectionProvider dataProtection, AdminDbContext db)
{
    private const string Purpose = "LumoAuth.Admin.TotpSecret.v1";
    private readonly IDataProtector _protector = dataProtection.CreateProtector(Purpose);

    public (MfaFactor Factor, string Base32Secret) NewFactor(Guid tenantId, Guid userId)
    {
        var secret = RandomNumberGenerator.GetBytes(20);
        var factor = new MfaFactor
        {
            Id = Guid.CreateVersion7(), TenantId = tenantId, UserId = userId, Type = MfaFactorTypes.Totp,
            ProtectedSecret = _protector.Protect(Base32Encoding.ToString(secret)), CreatedAt = DateTimeOffset.UtcNow,
        };
        return (factor, Base32Encoding.ToString(secret));
    }

    public static string OtpAuthUri(string issuer, string account, string base32Secret) =>
        $"otpauth://totp/{Uri.EscapeDataString(issuer)}:{Uri.EscapeDataString(account)}?secret={base32Secret}&issuer={Uri.EscapeDataString(issuer)}&algorithm=SHA1&digits=6&period=30";

    /// <summary>
    /// Checks <paramref name="code"/> against the factor and consumes its time step atomically, so two
    /// concurrent logins with the same code cannot both pass.
    /// </summary>
    public async Task<bool> VerifyAndConsumeAsync(MfaFactor factor, string code, CancellationToken cancellationToken)
    {
        if (code.Length != 6 || !code.All(char.IsAsciiDigit))
        {
            return false;
        }

        var totp = new Totp(Base32Encoding.ToBytes(_protector.Unprotect(factor.ProtectedSecret)));
        if (!totp.VerifyTotp(code, out var step, VerificationWindow.RfcSpecifiedNetworkDelay))
        {
            return false;
        }

        var consumed = await db.MfaFactors.IgnoreQueryFilters()
            .Where(f => f.Id == factor.Id && (f.LastUsedStep == null || f.LastUsedStep < step))
            .ExecuteUpdateAsync(s => s.SetProperty(f => f.LastUsedStep, step), cancellationToken);
        return consumed == 1;
    }
}
