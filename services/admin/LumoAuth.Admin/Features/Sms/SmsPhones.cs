using System.Text.RegularExpressions;
using LumoAuth.Admin.Data;
using Microsoft.AspNetCore.DataProtection;

namespace LumoAuth.Admin.Features.Sms;

/// <summary>The phone numbers of SMS factors: E.164 only, encrypted at rest with Data Protection, shown as <c>•••4567</c>.</summary>
public sealed partial class SmsPhones(IDataProtectionProvider dataProtection)
{
    private readonly IDataProtector _protector = dataProtection.CreateProtector("LumoAuth.Admin.SmsPhone.v1");

    public static bool IsPhoneNumber(string? value) => value is not null && E164().IsMatch(value);

    public string Protect(string phoneNumber) => _protector.Protect(phoneNumber);

    public string NumberOf(MfaFactor factor) => _protector.Unprotect(factor.ProtectedSecret);

    /// <summary>Whether a profile's number (which may hold spaces, dashes, parentheses) is this E.164 number.</summary>
    public static bool SameNumber(string profileNumber, string e164) =>
        string.Equals(string.Concat(profileNumber.Where(c => char.IsAsciiDigit(c) || c == '+')), e164, StringComparison.Ordinal);

    public static string Hint(string phoneNumber) => "•••" + phoneNumber[^Math.Min(4, phoneNumber.Length)..];

    [GeneratedRegex(@"^\+[1-9][0-9]{6,14}$")]
    private static partial Regex E164();
}
