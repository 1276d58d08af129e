using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace LumoAuth.Admin.Features.Scim;

/// <summary>
/// RFC 7644 §3.5.2 PATCH over a resource's JSON representation: <c>add</c>, <c>replace</c> and <c>remove</c>,
/// with or without a path, with value filters (<c>members[value eq "…"]</c>) and sub-attributes
/// (<c>emails[type eq "work"].value</c>). The caller then stores the result as if it had been PUT.
/// </summary>
public static partial class ScimPatch
{
    public const int MaxOperations = 1000;

    /// <summary>Values one operation may add or remove (Entra ID sends a few hundred members per request at most).</summary>
    public const int MaxValuesPerOperation = 10_000;

    /// <param name="keptOnce">
    /// Multi-valued attributes of which the resource keeps one value and not its type (a user's emails, phoneNumbers): a
    /// value filter on <c>type</c> alone selects that value, whatever type it names, instead of finding nothing.
    /// </param>
    public static void Apply(JsonObject resource, JsonNode? body, IReadOnlySet<string>? keptOnce = null)
    {
        if (body is not JsonObject request || request["Operations"] is not JsonArray operations)
        {
            throw ScimException.InvalidSyntax("a PatchOp request needs an 'Operations' array");
        }

        if (request["schemas"] is JsonArray schemas && !schemas.Any(s => s is JsonValue v && v.TryGetValue<string>(out var urn) && urn == ScimSchemas.PatchOp))
        {
            throw ScimException.InvalidSyntax($"schemas must contain {ScimSchemas.PatchOp}");
        }

        if (operations.Count > MaxOperations)
        {
            throw ScimException.InvalidValue($"at most {MaxOperations} operations");
        }

        foreach (var node in operations)
        {
            if (node is not JsonObject operation || operation["op"] is not JsonValue opValue || !opValue.TryGetValue<string>(out var op))
            {
                throw ScimException.InvalidSyntax("each operation needs an 'op'");
            }

            var path = operation["path"] is JsonValue p && p.TryGetValue<string>(out var pathText) && pathText.Length > 0
                ? ScimPatchPath.Parse(pathText)
                : null;
            var value = operation["value"]?.DeepClone();
            switch (op.ToLowerInvariant())
            {
                case "add":
                    Add(resource, path, value ?? throw ScimException.InvalidValue("'add' needs a value"), keptOnce);
                    break;
                case "replace":
                    Replace(resource, path, value ?? throw ScimException.InvalidValue("'replace' needs a value"), keptOnce);
                    break;
                case "remove":
                    Remove(resource, path ?? throw ScimException.NoTarget("'remove' needs a path"), value, keptOnce);
                    break;
                default:
                    throw ScimException.InvalidSyntax($"'{op}' is not add, replace or remove");
            }
        }
    }

    /// <summary>
    /// The members a PatchOp adds and removes, when that is all it does: what identity providers push to a group, a few
    /// members at a time. Membership being a set, applying the operations in order leaves each named user as its last
    /// operation says, so only that is kept. Null for any other request, which takes the general way (and gets its errors there).
    /// </summary>
    public static (IReadOnlyList<string> Add, IReadOnlyList<string> Remove)? MembersOnly(JsonNode? body)
    {
        if (body is not JsonObject request || request["Operations"] is not JsonArray { Count: > 0 and <= MaxOperations } operations
            || (request["schemas"] is JsonArray schemas && !schemas.Any(s => s is JsonValue v && v.TryGetValue<string>(out var urn) && urn == ScimSchemas.PatchOp)))
        {
            return null;
        }

        var last = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var node in operations)
        {
            if (node is not JsonObject operation || TextOf(operation["op"]) is not { } op)
            {
                return null;
            }

            var path = TextOf(operation["path"]);
            var members = string.Equals(path, "members", StringComparison.OrdinalIgnoreCase);
            IEnumerable<string>? named = (op.ToLowerInvariant(), operation["value"]) switch
            {
                ("add" or "remove", var value) when members => ValuesOf(value),
                ("remove", null) when path is not null && MemberFilter().Match(path) is { Success: true } match => [match.Groups[1].Value],
                _ => null,
            };
            if (named is null)
            {
                return null;
            }

            foreach (var id in named)
            {
                // One user however their id is written (letter case, braces), as the general way resolves them.
                last[Guid.TryParse(id, out var userId) ? userId.ToString() : id] = op.Equals("add", StringComparison.OrdinalIgnoreCase);
            }
        }

        return ([.. last.Where(p => p.Value).Select(p => p.Key)], [.. last.Where(p => !p.Value).Select(p => p.Key)]);

        static string? TextOf(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;

        static List<string>? ValuesOf(JsonNode? value)
        {
            if (value is not JsonArray { Count: <= MaxValuesPerOperation } items)
            {
                return null;
            }

            var ids = items.Select(i => i is JsonObject o ? TextOf(o["value"]) : null).ToList();
            return ids.Contains(null) ? null : [.. ids.OfType<string>()];
        }
    }

    /// <summary>The multi-valued attributes of RFC 7643's User and Group (and the ones a resource may hold as lists).</summary>
    private static readonly HashSet<string> MultiValued = new(StringComparer.OrdinalIgnoreCase)
    {
        "emails", "phoneNumbers", "ims", "photos", "addresses", "groups", "entitlements", "roles", "x509Certificates", "members",
    };

    private static JsonNode? ValueAt(JsonObject resource, ScimPatchPath path) =>
        ContainerFor(resource, path.Path, create: false) is { } container && ScimAttributePath.KeyOf(container, path.Path.Attribute) is { } key
            ? container[key]
            : null;

    [GeneratedRegex("""^members\[\s*value\s+eq\s+"([^"\\]*)"\s*\]$""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex MemberFilter();

    private static void Add(JsonObject resource, ScimPatchPath? path, JsonNode value, IReadOnlySet<string>? keptOnce = null)
    {
        if (path is null)
        {
            MergeInto(resource, value, replace: false);
            return;
        }

        if (path.Filter is not null)
        {
            var filteredSub = path.SubAttribute ?? throw ScimException.InvalidPath("'add' with a filter needs a sub-attribute");
            var matches = Matching(resource, path, keptOnce);
            if (matches.Count == 0)
            {
                // Nothing matches (the user has no work phone yet): the value the filter names is added, as Entra ID expects
                // of `phoneNumbers[type eq "work"].value`. Only a filter of equalities says what the new value is.
                var element = ElementNamedBy(path.Filter) ?? throw ScimException.NoTarget($"no value of '{path.Path.Attribute}' matches the filter");
                SetSub(element, filteredSub, value);
                var owner = ContainerFor(resource, path.Path, create: true)!;
                var arrayKey = ScimAttributePath.KeyOf(owner, path.Path.Attribute) ?? path.Path.Attribute;
                if (owner[arrayKey] is not JsonArray array)
                {
                    if (owner[arrayKey] is not null)
                    {
                        throw ScimException.InvalidPath($"'{path.Path.Attribute}' is not multi-valued");
                    }

                    array = [];
                    owner[arrayKey] = array;
                }

                array.Add(element);
                return;
            }

            foreach (var element in matches)
            {
                SetSub(element, filteredSub, value);
            }

            return;
        }

        var container = ContainerFor(resource, path.Path, create: true)!;
        if (path.Path.SubAttribute is { } sub)
        {
            var parent = ScimAttributePath.Find(container, path.Path.Attribute) as JsonObject;
            if (parent is null)
            {
                parent = new JsonObject();
                container[path.Path.Attribute] = parent;
            }

            SetSub(parent, sub, value);
            return;
        }

        var key = ScimAttributePath.KeyOf(container, path.Path.Attribute) ?? path.Path.Attribute;
        if (container[key] is JsonArray existing)
        {
            // Multi-valued: new values join the existing ones (equal values are not repeated). RFC 7644 §3.5.2: one added
            // as primary makes the others not primary.
            var adding = value is JsonArray many ? many.ToList() : [value];
            if (adding.Count > MaxValuesPerOperation)
            {
                throw ScimException.InvalidValue($"at most {MaxValuesPerOperation} values per operation");
            }

            if (adding.Any(IsPrimary))
            {
                foreach (var other in existing.OfType<JsonObject>().Where(IsPrimary))
                {
                    other[ScimAttributePath.KeyOf(other, "primary")!] = false;
                }
            }

            // Equal values are found by their JSON text (one pass, not a comparison with every value already there).
            var present = existing.Select(e => e?.ToJsonString() ?? "null").ToHashSet(StringComparer.Ordinal);
            foreach (var item in adding)
            {
                if (present.Add(item?.ToJsonString() ?? "null"))
                {
                    existing.Add(item?.DeepClone());
                }
            }
        }
        else if (container[key] is JsonObject complex && value is JsonObject addition)
        {
            MergeInto(complex, addition, replace: true);
        }
        else
        {
            container[key] = value;
        }
    }

    private static void Replace(JsonObject resource, ScimPatchPath? path, JsonNode value, IReadOnlySet<string>? keptOnce = null)
    {
        if (path is null)
        {
            MergeInto(resource, value, replace: true);
            return;
        }

        if (path.Filter is not null)
        {
            var matches = Matching(resource, path, keptOnce);
            if (matches.Count == 0)
            {
                throw ScimException.NoTarget($"no value of '{path}' matches the filter");
            }

            foreach (var element in matches)
            {
                if (path.SubAttribute is { } sub)
                {
                    SetSub(element, sub, value);
                }
                else if (value is JsonObject replacement)
                {
                    MergeInto(element, replacement, replace: true);
                }
                else
                {
                    throw ScimException.InvalidValue("replacing a filtered value needs an object");
                }
            }

            return;
        }

        var container = ContainerFor(resource, path.Path, create: true)!;
        if (path.Path.SubAttribute is { } subAttribute)
        {
            var key = ScimAttributePath.KeyOf(container, path.Path.Attribute) ?? path.Path.Attribute;
            if (container[key] is not JsonObject parent)
            {
                parent = new JsonObject();
                container[key] = parent;
            }

            SetSub(parent, subAttribute, value);
            return;
        }

        var attributeKey = ScimAttributePath.KeyOf(container, path.Path.Attribute) ?? path.Path.Attribute;
        if (container[attributeKey] is JsonObject complex && value is JsonObject subAttributes)
        {
            // RFC 7644 §3.5.2.3: a complex attribute's sub-attributes not named in the value are left unchanged.
            MergeInto(complex, subAttributes, replace: true);
            return;
        }

        container[attributeKey] = value;
    }

    /// <summary>The value a filter of equalities (<c>type eq "work"</c>, joined by <c>and</c>) describes, or null for any other filter.</summary>
    private static JsonObject? ElementNamedBy(ScimFilter filter)
    {
        var element = new JsonObject();
        return Collect(filter) ? element : null;

        bool Collect(ScimFilter node) => node switch
        {
            ScimFilter.And and => Collect(and.Left) && Collect(and.Right),
            ScimFilter.Compare { Operator: "eq", Path: { Schema: null, SubAttribute: null } attribute } compare when compare.Value is JsonValue
                && !element.ContainsKey(attribute.Attribute) => Set(attribute.Attribute, compare.Value),
            _ => false,
        };

        bool Set(string name, JsonNode value)
        {
            element[name] = value.DeepClone();
            return true;
        }
    }

    private static void Remove(JsonObject resource, ScimPatchPath path, JsonNode? value, IReadOnlySet<string>? keptOnce)
    {
        // A value names which values of a list to remove; one that is not a list must not read as "remove them all", and
        // is refused whether or not the list holds anything yet.
        if (path.Filter is null && path.Path.SubAttribute is null && value is not null and not JsonArray
            && (MultiValued.Contains(path.Path.Attribute) || ValueAt(resource, path) is JsonArray))
        {
            throw ScimException.InvalidValue($"'remove' of '{path.Path.Attribute}' takes a list of values, or none to remove them all");
        }

        var container = ContainerFor(resource, path.Path, create: false);
        if (container is null)
        {
            return;
        }

        var key = ScimAttributePath.KeyOf(container, path.Path.Attribute);
        if (key is null)
        {
            return;
        }

        if (path.Filter is not null)
        {
            if (container[key] is not JsonArray array)
            {
                throw ScimException.InvalidPath($"'{path.Path.Attribute}' is not multi-valued");
            }

            foreach (var element in Matching(resource, path, keptOnce))
            {
                if (path.SubAttribute is { } sub)
                {
                    if (ScimAttributePath.KeyOf(element, sub) is { } subKey)
                    {
                        element.Remove(subKey);
                    }
                }
                else
                {
                    array.Remove(element);
                }
            }

            return;
        }

        if (path.Path.SubAttribute is { } subAttribute)
        {
            if (container[key] is JsonObject parent && ScimAttributePath.KeyOf(parent, subAttribute) is { } subKey)
            {
                parent.Remove(subKey);
            }

            return;
        }

        // Azure AD's form: remove members by value without a filter.
        if (container[key] is JsonArray values && value is JsonArray toRemove)
        {
            if (toRemove.Count > MaxValuesPerOperation)
            {
                throw ScimException.InvalidValue($"at most {MaxValuesPerOperation} values per operation");
            }

            var ids = toRemove.OfType<JsonObject>().Select(item => ScimAttributePath.Find(item, "value")?.ToString()).ToHashSet(StringComparer.Ordinal);
            var kept = values.Where(v => v is not JsonObject o || !ids.Contains(ScimAttributePath.Find(o, "value")?.ToString())).ToList();
            values.Clear();
            foreach (var item in kept)
            {
                values.Add(item);
            }

            return;
        }

        container.Remove(key);
    }

    private static List<JsonObject> Matching(JsonObject resource, ScimPatchPath path, IReadOnlySet<string>? keptOnce)
    {
        var container = ContainerFor(resource, path.Path, create: false);
        var key = container is null ? null : ScimAttributePath.KeyOf(container, path.Path.Attribute);
        if (key is null || container![key] is not JsonArray array)
        {
            return [];
        }

        var anyKept = keptOnce?.Contains(path.Path.Attribute) == true && OnlyAbout(path.Filter!, "type");
        return array.OfType<JsonObject>().Where(e => anyKept || path.Filter!.Matches(e)).ToList();
    }

    /// <summary>Whether every comparison of the filter is on <paramref name="attribute"/> of the value itself.</summary>
    private static bool OnlyAbout(ScimFilter filter, string attribute) => filter switch
    {
        ScimFilter.And and => OnlyAbout(and.Left, attribute) && OnlyAbout(and.Right, attribute),
        ScimFilter.Or or => OnlyAbout(or.Left, attribute) && OnlyAbout(or.Right, attribute),
        ScimFilter.Not not => OnlyAbout(not.Inner, attribute),
        ScimFilter.Compare { Path: { Schema: null, SubAttribute: null } path } => path.Attribute.Equals(attribute, StringComparison.OrdinalIgnoreCase),
        _ => false,
    };

    private static bool IsPrimary(JsonNode? value) =>
        value is JsonObject o && ScimAttributePath.Find(o, "primary") is JsonValue flag && ScimJson.Element(flag) is var e
        && (e.ValueKind == System.Text.Json.JsonValueKind.True || (e.ValueKind == System.Text.Json.JsonValueKind.String && bool.TryParse(e.GetString(), out var b) && b));

    private static JsonObject? ContainerFor(JsonObject resource, ScimAttributePath path, bool create)
    {
        if (path.Schema is null || ScimAttributePath.IsCoreSchema(path.Schema))
        {
            return resource;
        }

        var key = ScimAttributePath.KeyOf(resource, path.Schema);
        if (key is not null && resource[key] is JsonObject extension)
        {
            return extension;
        }

        if (!create)
        {
            return null;
        }

        var created = new JsonObject();
        resource[path.Schema] = created;
        return created;
    }

    private static void SetSub(JsonObject element, string sub, JsonNode value) =>
        element[ScimAttributePath.KeyOf(element, sub) ?? sub] = value.DeepClone();

    /// <summary>
    /// Path-less add/replace: each attribute of the value is set (add appends to multi-valued ones). Keys may be
    /// attribute paths (Azure AD sends <c>{"name.givenName": "x"}</c>) or an extension URN with its object.
    /// </summary>
    private static void MergeInto(JsonObject target, JsonNode value, bool replace)
    {
        if (value is not JsonObject attributes)
        {
            throw ScimException.InvalidValue("a value without a path must be an object of attributes");
        }

        foreach (var (name, item) in attributes.ToList())
        {
            if (IsSchemaUrn(name) && item is JsonObject)
            {
                var key = ScimAttributePath.KeyOf(target, name) ?? name;
                if (target[key] is not JsonObject existing)
                {
                    existing = new JsonObject();
                    target[key] = existing;
                }

                MergeInto(existing, item!, replace);
                continue;
            }

            var path = new ScimPatchPath(ScimAttributePath.Parse(name), null, null);
            if (replace)
            {
                Replace(target, path, item?.DeepClone() ?? throw ScimException.InvalidValue($"'{name}' needs a value"));
            }
            else
            {
                Add(target, path, item?.DeepClone() ?? throw ScimException.InvalidValue($"'{name}' needs a value"));
            }
        }
    }

    private static bool IsSchemaUrn(string name) =>
        name.Equals(ScimSchemas.Enterprise, StringComparison.OrdinalIgnoreCase) || name.Equals(ScimSchemas.SoftDelete, StringComparison.OrdinalIgnoreCase)
        || name.Equals(ScimSchemas.Password, StringComparison.OrdinalIgnoreCase);
}
