using LumoAuth.Contracts.Internal;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>
/// The tenant's declared profile attributes on the registration and account pages: their inputs (labelled in the
/// tenant's wording, per language through its localization texts), the values posted, and what is wrong with them.
/// Admin checks the values again; these checks only word the problems for the person.
/// </summary>
public static class ProfileAttributeFields
{
    private const string Prefix = "attr_";

    public static string Inputs(PageText t, IEnumerable<ProfileAttributeInfo> attributes, Func<string, string?> valueOf) =>
        string.Concat(attributes.Select(a =>
            $"<label for=\"{Prefix}{a.Name}\">{HostedPage.Encode(t.Own(a.Label))}</label>" +
            $"<input id=\"{Prefix}{a.Name}\" name=\"{Prefix}{a.Name}\" maxlength=\"{a.MaxLength}\"{(a.Required ? " required" : string.Empty)}" +
            $" value=\"{HostedPage.Encode(valueOf(a.Name) ?? string.Empty)}\">"));

    /// <summary>Read-only lines for the attributes the user may not change, where they have a value.</summary>
    public static string ReadOnly(PageText t, IEnumerable<ProfileAttributeInfo> attributes, Func<string, string?> valueOf) =>
        string.Concat(attributes.Select(a => (a, Value: valueOf(a.Name))).Where(p => !string.IsNullOrEmpty(p.Value)).Select(p =>
            $"<p data-attribute=\"{HostedPage.Encode(p.a.Name)}\">{HostedPage.Encode(t.Own(p.a.Label))}: <strong>{HostedPage.Encode(p.Value)}</strong></p>"));

    public static Dictionary<string, string> Read(IFormCollection form, IEnumerable<ProfileAttributeInfo> attributes) =>
        attributes.ToDictionary(a => a.Name, a => form[Prefix + a.Name].ToString().Trim(), StringComparer.Ordinal);

    public static List<string> Problems(PageText t, IEnumerable<ProfileAttributeInfo> attributes, IReadOnlyDictionary<string, string> values) =>
        [.. attributes.Select(a => (values.GetValueOrDefault(a.Name) ?? string.Empty) switch
            {
                var v when v.Length > a.MaxLength => t.Format("{0} may have at most {1} characters.", t.Own(a.Label), a.MaxLength),
                { Length: 0 } when a.Required => t.Format("{0} is required.", t.Own(a.Label)),
                _ => null,
            })
            .OfType<string>()];

    /// <summary>A custom attribute's value as text (a string as it is, anything else as its JSON), or null.</summary>
    public static string? ValueIn(System.Text.Json.JsonElement? attributes, string name) =>
        attributes is { ValueKind: System.Text.Json.JsonValueKind.Object } all && all.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                System.Text.Json.JsonValueKind.String => value.GetString(),
                System.Text.Json.JsonValueKind.Null => null,
                _ => value.GetRawText(),
            }
            : null;
}
