using System.Security.Cryptography;
using System.Text;
using LumoAuth.Admin.Data;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// Recovery codes for users with a TOTP factor (the docs' "Backup Codes"): ten at enrolment, shown once, each accepted
/// once in place of a TOTP code; a new set replaces the old one. A code is 16 characters of base32 (80 random bits,
/// written XXXX-XXXX-XXXX-XXXX), so its SHA-256 is safe to keep and to look up directly.
/// </summary>
public static class BackupCodes
{
    public const int SetSize = 10;
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    private const int Length = 16;

    /// <summary>Replaces the user's codes with a new set (the caller saves); the codes, to show once.</summary>
    public static async Task<IReadOnlyList<string>> ReplaceAsync(AdminDbContext db, User user, CancellationToken cancellationToken)
    {
        await db.BackupCodes.IgnoreQueryFilters().Where(c => c.UserId == user.Id).ExecuteDeleteAsync(cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var codes = new List<string>(SetSize);
        for (var i = 0; i < SetSize; i++)
        {
            var code = RandomNumberGenerator.GetString(Alphabet, Length);
            codes.Add(string.Join('-', code.Chunk(4).Select(part => new string(part))));
            db.BackupCodes.Add(new BackupCode { Id = Guid.CreateVersion7(), TenantId = user.TenantId, UserId = user.Id, CodeHash = HashOf(code), CreatedAt = now });
        }

        return codes;
    }

    /// <summary>Whether the text has a backup code's shape (dashes, spaces and case do not matter).</summary>
    public static bool LooksLikeOne(string text) => Normalize(text) is not null;

    /// <summary>Uses the code up if it is one of the user's unused ones; atomic, so a code never works twice.</summary>
    public static async Task<bool> TryUseAsync(AdminDbContext db, Guid userId, string text, CancellationToken cancellationToken)
    {
        if (Normalize(text) is not { } code)
        {
            return false;
        }

        var hash = HashOf(code);
        var used = await db.BackupCodes.IgnoreQueryFilters()
            .Where(c => c.UserId == userId && c.CodeHash == hash && c.UsedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.UsedAt, DateTimeOffset.UtcNow), cancellationToken);
        return used == 1;
    }

    public static Task<int> RemainingAsync(AdminDbContext db, Guid userId, CancellationToken cancellationToken) =>
        db.BackupCodes.IgnoreQueryFilters().CountAsync(c => c.UserId == userId && c.UsedAt == null, cancellationToken);

    private static string? Normalize(string text)
    {
        var code = text.Replace("-", string.Empty, StringComparison.Ordinal).Replace(" ", string.Empty, StringComparison.Ordinal).ToUpperInvariant();
        return code.Length == Length && code.All(Alphabet.Contains) ? code : null;
    }

    private static byte[] HashOf(string code) => SHA256.HashData(Encoding.ASCII.GetBytes(code));
}
