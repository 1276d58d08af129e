using System.Net;
using System.Text.RegularExpressions;

namespace LumoAuth.Testing;

/// <summary>What a test's browser reads from a hosted page's HTML form.</summary>
public static partial class HostedForms
{
    /// <summary>The first form's hidden fields (the CSRF token among them), decoded; a later form's of the same name are left out.</summary>
    public static Dictionary<string, string> HiddenFields(string html) => HiddenPairs(html).DistinctBy(p => p.Key).ToDictionary();

    /// <summary>The hidden fields in order, a repeated one as often as it appears (RFC 8707 <c>resource</c>).</summary>
    public static IEnumerable<KeyValuePair<string, string>> HiddenPairs(string html) =>
        HiddenField().Matches(html).Select(m => new KeyValuePair<string, string>(WebUtility.HtmlDecode(m.Groups[1].Value), WebUtility.HtmlDecode(m.Groups[2].Value)));

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]*)\" value=\"([^\"]*)\">")]
    private static partial Regex HiddenField();
}
