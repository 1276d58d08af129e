using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Profiles;
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
    public const string Prefix = "attr_";

    /// <param name="idSuffix">Tells apart the inputs of several forms on one page.</param>
    public static string Inputs(PageText t, IEnumerable<ProfileAttributeInfo> attributes, Func<string, string?> valueOf, string idSuffix = "") =>
        Grouped(t, attributes, idSuffix, a => a is { MultiValued: true, Type: ProfileAttributeTypes.Choice }
            ? Checkboxes(t, a, valueOf(a.Name), idSuffix)
            : $"<label for=\"{Prefix}{a.Name}{idSuffix}\">{HostedPage.Encode(t.Own(a.Label))}</label>" + Input(t, a, valueOf(a.Name) ?? string.Empty, idSuffix));

    /// <summary>
    /// The attributes in their declared order, except that a group's are shown together where its first one is declared,
    /// in a box under the group's label and description; a group with nothing to show is left out.
    /// </summary>
    private static string Grouped(PageText t, IEnumerable<ProfileAttributeInfo> attributes, string idSuffix, Func<ProfileAttributeInfo, string> render)
    {
        var all = attributes.ToList();
        var html = new System.Text.StringBuilder();
        var shown = new HashSet<string>(StringComparer.Ordinal);
        foreach (var attribute in all)
        {
            if (attribute.Group is not { } group)
            {
                html.Append(render(attribute));
                continue;
            }

            if (!shown.Add(group.Name))
            {
                continue;
            }

            var inside = string.Concat(all.Where(a => a.Group?.Name == group.Name).Select(render));
            if (inside.Length == 0)
            {
                continue;
            }

            var about = group.Description is null ? null : HostedPage.Encode($"group_{group.Name}{idSuffix}_about");
            html.Append("<fieldset class=\"attribute-group\" data-group=\"" + HostedPage.Encode(group.Name) + "\"" +
                (about is null ? string.Empty : " aria-describedby=\"" + about + "\"") + "><legend>" + HostedPage.Encode(t.Own(group.Label)) + "</legend>" +
                (about is null ? string.Empty : "<p class=\"hint\" id=\"" + about + "\">" + HostedPage.Encode(t.Own(group.Description!)) + "</p>") +
                inside + "</fieldset>");
        }

        return html.ToString();
    }

    /// <summary>A multi-valued choice: a box per option, the chosen ones ticked.</summary>
    private static string Checkboxes(PageText t, ProfileAttributeInfo a, string? value, string idSuffix)
    {
        var chosen = ProfileValues.Lines(value).ToHashSet(StringComparer.Ordinal);
        var boxes = (a.Options ?? []).Select((o, i) =>
            $"<label><input type=\"checkbox\" id=\"{Prefix}{a.Name}{idSuffix}_{i}\" name=\"{Prefix}{a.Name}\" value=\"{HostedPage.Encode(o.Value)}\"" +
            $"{(chosen.Contains(o.Value) ? " checked" : string.Empty)}> {HostedPage.Encode(t.Own(o.Label))}</label>");
        var notes = Notes(t, a, $"{Prefix}{a.Name}{idSuffix}", null);
        return $"<fieldset{notes.DescribedBy}><legend>{HostedPage.Encode(t.Own(a.Label))}</legend>{string.Concat(boxes)}{notes.Html}</fieldset>";
    }

    /// <summary>The input the attribute's type asks for, so browsers offer the right keyboard or picker; the server checks again.</summary>
    private static string Input(PageText t, ProfileAttributeInfo a, string value, string idSuffix)
    {
        var id = $"{Prefix}{a.Name}{idSuffix}";
        // Without script, a list is typed one value per line; each line is checked as a single value would be.
        var notes = Notes(t, a, id, a.MultiValued ? t.Html("One value per line.") : null);
        var common = $"id=\"{id}\" name=\"{Prefix}{a.Name}\"{(a.Required ? " required" : string.Empty)}{notes.DescribedBy}";
        if (a.MultiValued)
        {
            return $"<textarea {common} rows=\"3\">{HostedPage.Encode(value)}</textarea>{notes.Html}";
        }

        if (a.Type == ProfileAttributeTypes.Choice)
        {
            var options = (a.Options ?? []).Select(o =>
                $"<option value=\"{HostedPage.Encode(o.Value)}\"{(o.Value == value ? " selected" : string.Empty)}>{HostedPage.Encode(t.Own(o.Label))}</option>");
            return $"<select {common}><option value=\"\"></option>{string.Concat(options)}</select>{notes.Html}";
        }

        var type = a.Type switch
        {
            ProfileAttributeTypes.Integer => $"number\" step=\"1\" inputmode=\"numeric\"{(a.Min is { } min ? $" min=\"{min}\"" : string.Empty)}{(a.Max is { } max ? $" max=\"{max}\"" : string.Empty)}",
            ProfileAttributeTypes.Date => "date\"",
            ProfileAttributeTypes.Email => "email\"",
            ProfileAttributeTypes.Url => "url\"",
            ProfileAttributeTypes.Phone => "tel\"",
            _ => "text\"",
        };
        return $"<input type=\"{type} {common} maxlength=\"{a.MaxLength}\" value=\"{HostedPage.Encode(value)}\">{notes.Html}";
    }

    /// <summary>
    /// The small print under a field: the page's own note (already HTML), then the tenant's hint for the attribute (Keycloak's
    /// helper text, in the tenant's words per language); and the <c>aria-describedby</c> that ties them to the field.
    /// </summary>
    private static (string Html, string DescribedBy) Notes(PageText t, ProfileAttributeInfo a, string id, string? ownNote)
    {
        var notes = new List<(string Id, string Html)>();
        if (ownNote is not null)
        {
            notes.Add(($"{id}_hint", ownNote));
        }

        if (a.Hint is { } hint)
        {
            notes.Add(($"{id}_help", HostedPage.Encode(t.Own(hint))));
        }

        return notes.Count == 0 ? (string.Empty, string.Empty)
            : (string.Concat(notes.Select(n => $"<small id=\"{n.Id}\">{n.Html}</small>")), $" aria-describedby=\"{string.Join(' ', notes.Select(n => n.Id))}\"");
    }

    /// <summary>Read-only lines for the attributes the user may not change, where they have a value.</summary>
    public static string ReadOnly(PageText t, IEnumerable<ProfileAttributeInfo> attributes, Func<string, string?> valueOf) =>
        Grouped(t, attributes, "_shown", a => valueOf(a.Name) is { Length: > 0 } value
            ? $"<p data-attribute=\"{HostedPage.Encode(a.Name)}\">{HostedPage.Encode(t.Own(a.Label))}: " +
              $"<strong>{HostedPage.Encode(string.Join(", ", ProfileValues.Lines(value)))}</strong></p>"
            : string.Empty);

    public static Dictionary<string, string> Read(IFormCollection form, IEnumerable<ProfileAttributeInfo> attributes) =>
        attributes.ToDictionary(a => a.Name, a => Posted(form, a) ?? string.Empty, StringComparer.Ordinal);

    /// <summary>The attribute's value as posted (a list's boxes or lines, one value per line), or null when the form has no such field.</summary>
    public static string? Posted(IFormCollection form, ProfileAttributeInfo attribute) =>
        form[Prefix + attribute.Name] is { Count: > 0 } posted
            ? attribute.MultiValued ? string.Join('\n', posted.Select(v => v?.Trim())) : posted.ToString().Trim()
            : null;

    public static List<string> Problems(PageText t, IEnumerable<ProfileAttributeInfo> attributes, IReadOnlyDictionary<string, string> values) =>
        [.. attributes.Select(a => ProfileValues.Check(a, values.GetValueOrDefault(a.Name)).Problem switch
            {
                null => null,
                ProfileValueProblem.Required => t.Format("{0} is required.", t.Own(a.Label)),
                ProfileValueProblem.TooLong => t.Format("{0} may have at most {1} characters.", t.Own(a.Label), a.MaxLength),
                ProfileValueProblem.NotAWholeNumber => t.Format("{0} must be a whole number.", t.Own(a.Label)),
                ProfileValueProblem.BelowMinimum => t.Format("{0} must be at least {1}.", t.Own(a.Label), a.Min ?? -ProfileValues.MaxWholeNumber),
                ProfileValueProblem.AboveMaximum => t.Format("{0} must be at most {1}.", t.Own(a.Label), a.Max ?? ProfileValues.MaxWholeNumber),
                ProfileValueProblem.NotADate => t.Format("{0} must be a date.", t.Own(a.Label)),
                ProfileValueProblem.NotAnEmail => t.Format("{0} must be an email address.", t.Own(a.Label)),
                ProfileValueProblem.NotAUrl => t.Format("{0} must be a web address starting with https:// or http://.", t.Own(a.Label)),
                ProfileValueProblem.NotAPhoneNumber => t.Format("{0} must be a phone number.", t.Own(a.Label)),
                ProfileValueProblem.NotAnOption => t.Format("Choose one of the options offered for {0}.", t.Own(a.Label)),
                ProfileValueProblem.TooManyValues => t.Format("{0} may have at most {1} values.", t.Own(a.Label), a.MaxValues),
                _ => a.PatternMessage is { } message ? t.Own(message) : t.Format("{0} is not in the expected form.", t.Own(a.Label)),
            })
            .OfType<string>()];

    /// <summary>
    /// A custom attribute's value as text (a string as it is, anything else as its JSON; a list's items one per line, as a
    /// multi-valued attribute's form carries them), or null.
    /// </summary>
    public static string? ValueIn(System.Text.Json.JsonElement? attributes, string name) =>
        attributes is { ValueKind: System.Text.Json.JsonValueKind.Object } all && all.TryGetProperty(name, out var value)
            ? value.ValueKind == System.Text.Json.JsonValueKind.Array ? string.Join('\n', value.EnumerateArray().Select(Text)) : Text(value)
            : null;

    private static string? Text(System.Text.Json.JsonElement value) => value.ValueKind switch
    {
        System.Text.Json.JsonValueKind.String => value.GetString(),
        System.Text.Json.JsonValueKind.Null => null,
        _ => value.GetRawText(),
    };
}
