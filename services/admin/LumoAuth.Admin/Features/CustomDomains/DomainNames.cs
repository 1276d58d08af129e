using System.Globalization;
using System.Text.RegularExpressions;
using LumoAuth.Contracts.Internal;

namespace LumoAuth.Admin.Features.CustomDomains;

/// <summary>What a tenant may register: a public DNS name of two or more labels, kept in one canonical form.</summary>
public static partial class DomainNames
{
    /// <summary>A DNS name is at most 253 characters, and the ownership record's name adds its label to the domain.</summary>
    public const int MaxLength = 253 - 1 - 19; // "_lumoauth-challenge" (DomainVerifier.ChallengeLabel) and its dot

    // Names that never resolve publicly, or resolve to the machine itself: nothing a tenant could prove it owns.
    private static readonly string[] ReservedSuffixes = ["localhost", "local", "internal", "invalid", "arpa", "home.arpa", "lan", "intranet"];

    private static readonly IdnMapping Idn = new() { UseStd3AsciiRules = true };

    /// <summary>
    /// The lower-case ASCII form (punycode for an internationalised name, no trailing dot), or a reason it cannot be a
    /// tenant's domain. <paramref name="platformHosts"/> and the names under them are the deployment's own.
    /// </summary>
    public static bool TryNormalize(string input, IReadOnlyList<string> platformHosts, out string domain, out string problem)
    {
        domain = string.Empty;
        var trimmed = input.Trim().TrimEnd('.');
        if (trimmed.Length == 0 || trimmed.Length > MaxLength)
        {
            problem = $"must be a domain name of 1 to {MaxLength} characters";
            return false;
        }

        try
        {
            domain = Idn.GetAscii(trimmed).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            problem = "is not a valid domain name (letters, digits and inner hyphens, labels separated by dots)";
            return false;
        }

        var labels = domain.Split('.');
        if (domain.Length > MaxLength || labels.Length < 2 || !labels.All(label => Label().IsMatch(label)))
        {
            problem = "must be a fully qualified domain name such as auth.example.com";
            return false;
        }

        if (labels[^1].All(char.IsAsciiDigit))
        {
            problem = "must be a domain name, not an IP address";
            return false;
        }

        var name = domain;
        if (ReservedSuffixes.Any(suffix => CustomDomainRoute.IsAtOrUnder(name, suffix)))
        {
            problem = "is a reserved name that cannot be proven in public DNS";
            return false;
        }

        if (platformHosts.Any(host => host.Contains('.', StringComparison.Ordinal) && CustomDomainRoute.IsAtOrUnder(name, host)))
        {
            problem = "belongs to this deployment";
            return false;
        }

        problem = string.Empty;
        return true;
    }

    [GeneratedRegex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")]
    private static partial Regex Label();
}
