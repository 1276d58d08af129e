using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LumoAuth.Admin.Features.Scim;

/// <summary>A SCIM request problem, answered as an RFC 7644 error with its <c>scimType</c>.</summary>
public sealed class ScimException(int status, string? scimType, string detail) : Exception(detail)
{
    public int Status { get; } = status;

    public string? ScimType { get; } = scimType;

    public static ScimException InvalidFilter(string detail) => new(400, "invalidFilter", detail);

    public static ScimException InvalidPath(string detail) => new(400, "invalidPath", detail);

    public static ScimException InvalidValue(string detail) => new(400, "invalidValue", detail);

    public static ScimException InvalidSyntax(string detail) => new(400, "invalidSyntax", detail);

    public static ScimException NoTarget(string detail) => new(400, "noTarget", detail);

    public static ScimException Mutability(string detail) => new(400, "mutability", detail);

    public static ScimException NotFound(string what) => new(404, null, $"{what} not found");
}

public static class ScimJson
{
    /// <summary>Any JSON node as an element: parsed values and values built in code (JsonValue.Create) alike.</summary>
    public static JsonElement Element(JsonNode node) =>
        node is JsonValue value && value.TryGetValue<JsonElement>(out var element) ? element : JsonSerializer.SerializeToElement(node);
}

/// <summary>An attribute path: optional schema URN, attribute, optional sub-attribute (<c>name.givenName</c>).</summary>
public sealed record ScimAttributePath(string? Schema, string Attribute, string? SubAttribute)
{
    public static ScimAttributePath Parse(string text)
    {
        string? schema = null;
        var rest = text;
        if (text.StartsWith("urn:", StringComparison.OrdinalIgnoreCase))
        {
            var colon = text.LastIndexOf(':');
            schema = text[..colon];
            rest = text[(colon + 1)..];
        }

        var parts = rest.Split('.');
        if (parts.Length > 2 || parts.Any(p => p.Length == 0 || !IsName(p)))
        {
            throw ScimException.InvalidPath($"'{text}' is not an attribute path");
        }

        return new ScimAttributePath(schema, parts[0], parts.Length == 2 ? parts[1] : null);
    }

    private static bool IsName(string part) => (char.IsAsciiLetter(part[0]) || part[0] == '$') && part.Skip(1).All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '$');

    /// <summary>The object the attribute lives in: the resource itself or the extension object of <see cref="Schema"/>.</summary>
    public JsonObject? Container(JsonObject resource)
    {
        if (Schema is null || IsCoreSchema(Schema))
        {
            return resource;
        }

        return Find(resource, Schema) as JsonObject;
    }

    /// <summary>
    /// Every value the path designates, with multi-valued attributes flattened. An unqualified name missing
    /// from the core falls back to the resource's extensions (so <c>isSoftDeleted</c> and <c>department</c> work).
    /// </summary>
    public IEnumerable<JsonNode?> Resolve(JsonObject resource)
    {
        var container = Container(resource);
        var node = container is null ? null : Find(container, Attribute);
        if (node is null && Schema is null)
        {
            node = resource.Where(p => p.Key.StartsWith("urn:", StringComparison.OrdinalIgnoreCase) && p.Value is JsonObject)
                .Select(p => Find((JsonObject)p.Value!, Attribute)).FirstOrDefault(n => n is not null);
        }

        var items = node is JsonArray array ? array.ToList() : [node];
        return SubAttribute is null ? items : items.Select(i => i is JsonObject o ? Find(o, SubAttribute) : null);
    }

    public static JsonNode? Find(JsonObject obj, string name) =>
        obj.FirstOrDefault(p => string.Equals(p.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    public static string? KeyOf(JsonObject obj, string name) =>
        obj.Select(p => p.Key).FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));

    public static bool IsCoreSchema(string schema) =>
        schema.Equals(ScimSchemas.User, StringComparison.OrdinalIgnoreCase) || schema.Equals(ScimSchemas.Group, StringComparison.OrdinalIgnoreCase);
}

/// <summary>The filter grammar of RFC 7644 §3.4.2.2: comparisons, <c>pr</c>, <c>and</c>/<c>or</c>/<c>not</c>, grouping and value paths.</summary>
public abstract record ScimFilter
{
    public const int MaxLength = 4096;

    public abstract bool Matches(JsonObject resource);

    /// <summary>True when the filter mentions <paramref name="attribute"/> anywhere.</summary>
    public abstract bool Mentions(string attribute);

    public static ScimFilter Parse(string text)
    {
        if (text.Length > MaxLength)
        {
            throw ScimException.InvalidFilter($"filter longer than {MaxLength} characters");
        }

        var parser = new Parser(text);
        var filter = parser.ParseOr();
        parser.SkipSpaces();
        if (!parser.AtEnd)
        {
            throw ScimException.InvalidFilter($"unexpected text at position {parser.Position}");
        }

        return filter;
    }

    public sealed record And(ScimFilter Left, ScimFilter Right) : ScimFilter
    {
        public override bool Matches(JsonObject resource) => Left.Matches(resource) && Right.Matches(resource);

        public override bool Mentions(string attribute) => Left.Mentions(attribute) || Right.Mentions(attribute);
    }

    public sealed record Or(ScimFilter Left, ScimFilter Right) : ScimFilter
    {
        public override bool Matches(JsonObject resource) => Left.Matches(resource) || Right.Matches(resource);

        public override bool Mentions(string attribute) => Left.Mentions(attribute) || Right.Mentions(attribute);
    }

    public sealed record Not(ScimFilter Inner) : ScimFilter
    {
        public override bool Matches(JsonObject resource) => !Inner.Matches(resource);

        public override bool Mentions(string attribute) => Inner.Mentions(attribute);
    }

    /// <summary><c>emails[type eq "work" and value co "@example.com"]</c>: some element of the attribute matches the inner filter.</summary>
    public sealed record ValuePath(ScimAttributePath Path, ScimFilter Inner) : ScimFilter
    {
        public override bool Matches(JsonObject resource) =>
            Path.Resolve(resource).OfType<JsonObject>().Any(Inner.Matches);

        public override bool Mentions(string attribute) => Path.Attribute.Equals(attribute, StringComparison.OrdinalIgnoreCase);
    }

    public sealed record Compare(ScimAttributePath Path, string Operator, JsonNode? Value) : ScimFilter
    {
        public override bool Mentions(string attribute) => Path.Attribute.Equals(attribute, StringComparison.OrdinalIgnoreCase);

        public override bool Matches(JsonObject resource)
        {
            if (Operator == "pr")
            {
                // RFC 7644 §3.4.2.2: a complex attribute (name, meta, or an element of emails) is present when it holds a
                // non-empty node; it is not its "value" sub-attribute, which a singular one like name does not have.
                return Path.Resolve(resource).Any(Present);
            }

            var values = Path.Resolve(resource)
                // A complex attribute compared directly means its "value" sub-attribute (emails, an enterprise manager).
                .Select(v => v is JsonObject o && Path.SubAttribute is null ? ScimAttributePath.Find(o, "value") : v)
                .ToList();
            var comparison = IsCaseExact(Path) ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
            return values.Any(v => CompareOne(v, Operator, Value, comparison));
        }

        private static bool Present(JsonNode? node) => node switch
        {
            null => false,
            JsonValue s when s.TryGetValue<string>(out var text) => text.Length > 0,
            JsonArray array => array.Any(Present),
            JsonObject complex => complex.Any(p => Present(p.Value)),
            _ => true,
        };

        /// <summary>
        /// The attributes /Schemas declares <c>caseExact</c>: compared so in every filter, as the SQL push-down of a lone
        /// <c>externalId eq</c> already does (RFC 7643 §2.2). Everything else compares without regard to case.
        /// </summary>
        private static bool IsCaseExact(ScimAttributePath path) =>
            path.SubAttribute is null && (path.Schema is null || ScimAttributePath.IsCoreSchema(path.Schema))
            && path.Attribute.Equals("externalId", StringComparison.OrdinalIgnoreCase);

        private static bool CompareOne(JsonNode? actual, string op, JsonNode? expected, StringComparison comparison)
        {
            if (expected is null)
            {
                return op switch { "eq" => actual is null, "ne" => actual is not null, _ => false };
            }

            if (actual is not JsonValue a)
            {
                return op == "ne";
            }

            var ae = ScimJson.Element(a);
            var ee = ScimJson.Element(expected);
            if (ee.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                if (op is not ("eq" or "ne"))
                {
                    throw ScimException.InvalidFilter($"'{op}' cannot compare booleans");
                }

                var same = ae.ValueKind == ee.ValueKind;
                return op == "eq" ? same : !same;
            }

            // Compared as decimals when both fit one (exact), as doubles otherwise (1e300 fits no decimal).
            if (ee.ValueKind == JsonValueKind.Number && ae.ValueKind == JsonValueKind.Number)
            {
                return Ordered(
                    ae.TryGetDecimal(out var ad) && ee.TryGetDecimal(out var ed) ? ad.CompareTo(ed)
                    : ae.TryGetDouble(out var ax) && ee.TryGetDouble(out var ex) ? ax.CompareTo(ex)
                    : throw ScimException.InvalidFilter("a number in the comparison is out of range"), op);
            }

            var left = ae.ValueKind == JsonValueKind.String ? ae.GetString()! : ae.GetRawText();
            var right = ee.ValueKind == JsonValueKind.String ? ee.GetString()! : ee.GetRawText();
            if (op is "gt" or "ge" or "lt" or "le"
                && DateTimeOffset.TryParse(left, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var ld)
                && DateTimeOffset.TryParse(right, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var rd))
            {
                return Ordered(ld.CompareTo(rd), op);
            }

            return op switch
            {
                "co" => left.Contains(right, comparison),
                "sw" => left.StartsWith(right, comparison),
                "ew" => left.EndsWith(right, comparison),
                _ => Ordered(string.Compare(left, right, comparison), op),
            };
        }

        private static bool Ordered(int comparison, string op) => op switch
        {
            "eq" => comparison == 0,
            "ne" => comparison != 0,
            "gt" => comparison > 0,
            "ge" => comparison >= 0,
            "lt" => comparison < 0,
            "le" => comparison <= 0,
            _ => throw ScimException.InvalidFilter($"'{op}' is not a comparison operator"),
        };
    }

    /// <summary>Recursive descent with the grammar's precedence: <c>not</c> over <c>and</c> over <c>or</c>.</summary>
    private sealed class Parser(string text)
    {
        private static readonly HashSet<string> Operators = new(StringComparer.OrdinalIgnoreCase) { "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le" };
        private int _depth;

        public int Position { get; private set; }

        public bool AtEnd => Position >= text.Length;

        public ScimFilter ParseOr()
        {
            var left = ParseAnd();
            while (TryKeyword("or"))
            {
                left = new Or(left, ParseAnd());
            }

            return left;
        }

        private ScimFilter ParseAnd()
        {
            var left = ParseUnary();
            while (TryKeyword("and"))
            {
                left = new And(left, ParseUnary());
            }

            return left;
        }

        private ScimFilter ParseUnary()
        {
            if (++_depth > 32)
            {
                throw ScimException.InvalidFilter("filter nested too deeply");
            }

            try
            {
                SkipSpaces();
                if (TryKeyword("not"))
                {
                    SkipSpaces();
                    Expect('(');
                    var inner = ParseOr();
                    Expect(')');
                    return new Not(inner);
                }

                if (Peek() == '(')
                {
                    Position++;
                    var inner = ParseOr();
                    Expect(')');
                    return inner;
                }

                var path = ScimAttributePath.Parse(ReadAttributePath());
                if (Peek() == '[')
                {
                    Position++;
                    var inner = ParseOr();
                    Expect(']');
                    return new ValuePath(path, inner);
                }

                SkipSpaces();
                var op = ReadWord().ToLowerInvariant();
                if (op == "pr")
                {
                    return new Compare(path, "pr", null);
                }

                if (!Operators.Contains(op))
                {
                    throw ScimException.InvalidFilter($"'{op}' is not a filter operator at position {Position}");
                }

                SkipSpaces();
                return new Compare(path, op, ReadValue());
            }
            finally
            {
                _depth--;
            }
        }

        private string ReadAttributePath()
        {
            SkipSpaces();
            var start = Position;
            while (!AtEnd && (char.IsAsciiLetterOrDigit(text[Position]) || text[Position] is ':' or '.' or '_' or '-' or '$'))
            {
                Position++;
            }

            if (start == Position)
            {
                throw ScimException.InvalidFilter($"attribute name expected at position {start}");
            }

            return text[start..Position];
        }

        private string ReadWord()
        {
            var start = Position;
            while (!AtEnd && char.IsAsciiLetter(text[Position]))
            {
                Position++;
            }

            return text[start..Position];
        }

        private JsonNode? ReadValue()
        {
            if (Peek() == '"')
            {
                var start = Position++;
                var escaped = false;
                while (!AtEnd && (escaped || text[Position] != '"'))
                {
                    escaped = !escaped && text[Position] == '\\';
                    Position++;
                }

                if (AtEnd)
                {
                    throw ScimException.InvalidFilter("unterminated string");
                }

                Position++;
                try
                {
                    return JsonNode.Parse(text[start..Position]);
                }
                catch (JsonException)
                {
                    throw ScimException.InvalidFilter("malformed string");
                }
            }

            var begin = Position;
            while (!AtEnd && !char.IsWhiteSpace(text[Position]) && text[Position] is not (')' or ']'))
            {
                Position++;
            }

            var token = text[begin..Position];
            return token switch
            {
                "true" => JsonValue.Create(true),
                "false" => JsonValue.Create(false),
                "null" => null,
                _ when decimal.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) => JsonValue.Create(number),
                _ => throw ScimException.InvalidFilter($"'{token}' is not a value (strings are quoted)"),
            };
        }

        /// <summary><c>and</c>/<c>or</c> need whitespace on both sides; <c>not</c> may be followed by '('.</summary>
        private bool TryKeyword(string keyword)
        {
            var save = Position;
            SkipSpaces();
            var spaced = Position > save || save == 0;
            if ((keyword == "not" || spaced) && text.AsSpan(Position).StartsWith(keyword, StringComparison.OrdinalIgnoreCase))
            {
                var after = Position + keyword.Length;
                if (after < text.Length && (char.IsWhiteSpace(text[after]) || (keyword == "not" && text[after] == '(')))
                {
                    Position = after;
                    return true;
                }
            }

            Position = save;
            return false;
        }

        private void Expect(char c)
        {
            SkipSpaces();
            if (Peek() != c)
            {
                throw ScimException.InvalidFilter($"'{c}' expected at position {Position}");
            }

            Position++;
        }

        private char? Peek() => AtEnd ? null : text[Position];

        public void SkipSpaces()
        {
            while (!AtEnd && char.IsWhiteSpace(text[Position]))
            {
                Position++;
            }
        }
    }
}

/// <summary>A PATCH path: an attribute path, optionally with a value filter and a sub-attribute after it.</summary>
public sealed record ScimPatchPath(ScimAttributePath Path, ScimFilter? Filter, string? SubAttribute)
{
    public static ScimPatchPath Parse(string text)
    {
        var open = text.IndexOf('[', StringComparison.Ordinal);
        if (open < 0)
        {
            return new ScimPatchPath(ScimAttributePath.Parse(text), null, null);
        }

        var close = text.LastIndexOf(']');
        if (close < open)
        {
            throw ScimException.InvalidPath($"'{text}' has an unclosed '['");
        }

        var path = ScimAttributePath.Parse(text[..open]);
        if (path.SubAttribute is not null)
        {
            throw ScimException.InvalidPath($"'{text}': a value filter applies to a multi-valued attribute");
        }

        var filter = ScimFilter.Parse(text[(open + 1)..close]);
        var rest = text[(close + 1)..];
        string? sub = null;
        if (rest.Length > 0)
        {
            if (rest[0] != '.' || rest.Length < 2)
            {
                throw ScimException.InvalidPath($"'{text}': expected '.subAttribute' after ']'");
            }

            sub = rest[1..];
        }

        return new ScimPatchPath(path, filter, sub);
    }

    public override string ToString()
    {
        var builder = new StringBuilder(Path.Attribute);
        if (Path.SubAttribute is not null)
        {
            builder.Append('.').Append(Path.SubAttribute);
        }

        return builder.ToString();
    }
}
