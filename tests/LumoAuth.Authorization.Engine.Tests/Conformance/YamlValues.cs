using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LumoAuth.Authorization.Engine.Tests.Conformance;

/// <summary>Reads the conformance YAML as JSON would: plain scalars are numbers or booleans when they look like one, quoted ones stay strings.</summary>
internal static class YamlValues
{
    public static YamlNode? Get(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    public static string? GetString(this YamlMappingNode node, string key) =>
        node.Get(key) is YamlScalarNode { Value: { Length: > 0 } value } ? value : null;

    public static IEnumerable<YamlNode> GetList(this YamlMappingNode node, string key) =>
        node.Get(key) is YamlSequenceNode sequence ? sequence.Children : [];

    public static object? ToValue(YamlNode node) => node switch
    {
        YamlScalarNode scalar when scalar.Style is ScalarStyle.Plain => PlainScalar(scalar.Value),
        YamlScalarNode scalar => scalar.Value,
        YamlSequenceNode sequence => sequence.Children.Select(ToValue).ToList(),
        YamlMappingNode mapping => ToContext(mapping),
        _ => null,
    };

    public static Dictionary<string, object?> ToContext(YamlMappingNode mapping) =>
        mapping.Children.ToDictionary(p => ((YamlScalarNode)p.Key).Value!, p => ToValue(p.Value), StringComparer.Ordinal);

    private static object? PlainScalar(string? text)
    {
        if (text is null or "null" or "~" or "")
        {
            return null;
        }

        if (text is "true" or "false")
        {
            return text == "true";
        }

        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return integer;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) ? number : text;
    }
}
