using System.Text.Json.Nodes;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Profiles;

namespace LumoAuth.Admin.Features.Settings;

/// <summary>
/// Values people give for their tenant's declared attributes (<see cref="UserProfilePolicy"/>), checked and written into
/// the user's custom attributes: at registration only those asked there, on the account page only those the user may change.
/// </summary>
public static class ProfileAttributeValues
{
    /// <summary>The user's custom attributes with the values applied, or null with the problems in <paramref name="validation"/>.</summary>
    public static string? Apply(
        IReadOnlyList<ProfileAttribute> declared, IReadOnlyDictionary<string, string>? values, bool atRegistration, string currentAttributes, RequestValidator validation)
    {
        var asked = declared.Where(a => atRegistration ? a.OnRegistration : a.UserEditable).ToList();
        values ??= new Dictionary<string, string>();
        foreach (var name in values.Keys.Where(k => asked.All(a => a.Name != k)))
        {
            validation.Add($"attributes.{name}", "is not an attribute that can be set here");
        }

        var attributes = JsonNode.Parse(currentAttributes) as JsonObject ?? [];
        foreach (var attribute in asked)
        {
            // On the account page an attribute left out of the form stays as it is; at registration it is simply empty.
            if (!values.TryGetValue(attribute.Name, out var given) && !atRegistration)
            {
                continue;
            }

            Put(attributes, attribute, attribute.ToInfo(), given, validation);
        }

        var json = attributes.ToJsonString();
        validation.Check(System.Text.Encoding.UTF8.GetByteCount(json) <= Users.UserEndpoints.MaxAttributesBytes, "attributes",
            $"the user's attributes would exceed {Users.UserEndpoints.MaxAttributesBytes} bytes");
        return validation.IsValid ? json : null;
    }

    /// <summary>
    /// An administrator's whole set of a user's custom attributes, with each declared attribute held to its declaration (type,
    /// length, options, pattern) as the person's own pages hold it, and kept in the same form (trimmed; whole numbers as
    /// numbers). Keys the tenant has not declared are the administrator's own and stay free. <c>required</c> is not held
    /// here: an account may be made without the value, and its person is asked for it at their next sign-in.
    /// </summary>
    public static void Hold(IReadOnlyList<ProfileAttribute> declared, JsonObject attributes, RequestValidator validation)
    {
        foreach (var attribute in declared)
        {
            if (!attributes.TryGetPropertyValue(attribute.Name, out var node))
            {
                continue;
            }

            var info = attribute.ToInfo() with { Required = false };
            // A multi-valued attribute takes a list (or one value), carried to the check as the pages carry it: one per line.
            var given = node is JsonArray list && info.MultiValued
                ? list.Select(item => Scalar(item, info)).ToList() is var items && items.All(i => i is not null) ? string.Join('\n', items) : null
                : Scalar(node, info);
            if (given is null && node is not null)
            {
                validation.Add($"attributes.{attribute.Name}", (info.Type == ProfileAttributeTypes.Integer, info.MultiValued) switch
                {
                    (true, false) => "must be a whole number",
                    (false, false) => "must be a string",
                    (true, true) => "must be a list of whole numbers",
                    (false, true) => "must be a list of strings without line breaks",
                });
                continue;
            }

            Put(attributes, attribute, info, given, validation);
        }
    }

    /// <summary>Checks the value given and keeps it in its kept form (an empty one removes the attribute), or adds its problem.</summary>
    private static void Put(JsonObject attributes, ProfileAttribute attribute, ProfileAttributeInfo info, string? given, RequestValidator validation)
    {
        var (value, problem) = ProfileValues.Check(info, given);
        if (problem is not null)
        {
            validation.Add($"attributes.{attribute.Name}", Describe(problem.Value, attribute));
        }
        else if (value is null)
        {
            attributes.Remove(attribute.Name);
        }
        else
        {
            attributes[attribute.Name] = value;
        }
    }

    /// <summary>A value as text: a string without line breaks, or an integer attribute's JSON number; else null.</summary>
    private static string? Scalar(JsonNode? node, ProfileAttributeInfo info) => node switch
    {
        JsonValue text when text.GetValueKind() == System.Text.Json.JsonValueKind.String && text.GetValue<string>() is var value
            && (!info.MultiValued || !value.Contains('\n')) => value,
        JsonValue number when number.GetValueKind() == System.Text.Json.JsonValueKind.Number && info.Type == ProfileAttributeTypes.Integer => number.ToJsonString(),
        _ => null,
    };

    private static string Describe(ProfileValueProblem problem, ProfileAttribute attribute) => problem switch
    {
        ProfileValueProblem.Required => "is required",
        ProfileValueProblem.TooLong => $"must be at most {attribute.MaxLength} characters",
        ProfileValueProblem.NotAWholeNumber => "must be a whole number",
        ProfileValueProblem.BelowMinimum => $"must be at least {attribute.Min ?? -ProfileValues.MaxWholeNumber}",
        ProfileValueProblem.AboveMaximum => $"must be at most {attribute.Max ?? ProfileValues.MaxWholeNumber}",
        ProfileValueProblem.NotADate => "must be a date (YYYY-MM-DD)",
        ProfileValueProblem.NotAnEmail => "must be an email address",
        ProfileValueProblem.NotAUrl => "must be an http or https address",
        ProfileValueProblem.NotAPhoneNumber => "must be a phone number",
        ProfileValueProblem.NotAnOption => "must be one of the attribute's options",
        ProfileValueProblem.TooManyValues => $"must have at most {attribute.ToInfo().MaxValues} values",
        _ => attribute.PatternMessage ?? "does not match the attribute's pattern",
    };
}
