using System.Globalization;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace LumoAuth.Admin.Features.Settings;

/// <summary>
/// The settings' entity tag: the tenant row's version (<c>xmin</c>), strong and quoted. An <c>If-Match</c>
/// holds when any listed tag equals the current one (RFC 9110 strong comparison, so weak tags never match)
/// or is <c>*</c> (the settings always exist).
/// </summary>
public sealed class SettingsETag
{
    private readonly IReadOnlyList<EntityTagHeaderValue> _tags;

    private SettingsETag(IReadOnlyList<EntityTagHeaderValue> tags) => _tags = tags;

    public static string Format(uint version) => $"\"{version.ToString(CultureInfo.InvariantCulture)}\"";

    /// <summary>Reads <c>If-Match</c>: null when absent (last writer wins); false when it is not a list of entity tags.</summary>
    public static bool TryParseIfMatch(StringValues header, out SettingsETag? precondition)
    {
        precondition = null;
        if (StringValues.IsNullOrEmpty(header))
        {
            return true;
        }

        if (!EntityTagHeaderValue.TryParseStrictList(header, out var tags) || tags.Count == 0)
        {
            return false;
        }

        precondition = new SettingsETag(tags.ToList());
        return true;
    }

    public bool Matches(uint version)
    {
        var current = new EntityTagHeaderValue(Format(version));
        return _tags.Any(t => t.Tag == EntityTagHeaderValue.Any.Tag || t.Compare(current, useStrongComparison: true));
    }
}
