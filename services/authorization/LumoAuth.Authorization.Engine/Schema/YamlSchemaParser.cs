using LumoAuth.Authorization.Engine.Model;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace LumoAuth.Authorization.Engine.Schema;

/// <summary>
/// The product's YAML namespace forms (API inventory §10.1):
/// Form 1, one <c>namespace: name</c> block per type with <c>relations</c> and <c>permissions</c>;
/// Form 2, a <c>namespaces:</c> map of the same blocks. A list means union; <c>{union|intersection: [...]}</c>
/// and <c>{exclusion: {base, subtract}}</c> nest. Items: <c>user</c>, <c>user:*</c>, <c>group#member</c>
/// (type restrictions), <c>editor</c> (another relation), <c>parent.can_view</c> (follow <c>parent</c>, then
/// <c>can_view</c>). Types only ever used as subjects (<c>user</c>) need no block of their own.
/// </summary>
internal sealed class YamlSchemaParser
{
    private readonly ModelDraft _draft = new();
    private readonly Dictionary<int, int> _columnShifts;
    private readonly HashSet<string> _declared = new(StringComparer.Ordinal);

    private YamlSchemaParser(Dictionary<int, int> columnShifts) => _columnShifts = columnShifts;

    public static ModelDraft Parse(string text)
    {
        var (rewritten, shifts) = YamlFormOneRewriter.Rewrite(text);
        var parser = new YamlSchemaParser(shifts);
        var stream = new YamlStream();
        try
        {
            RefuseDeepNestingAndAliases(rewritten, parser);
            using var reader = new StringReader(rewritten);
            stream.Load(reader);
        }
        catch (YamlException exception)
        {
            throw new SchemaException([new SchemaError(parser.Position(exception.Start), $"invalid YAML: {exception.Message}")]);
        }

        var blocks = stream.Documents.SelectMany(document => parser.NamespaceBlocks(document.RootNode)).ToList();
        if (blocks.Count == 0)
        {
            throw new SchemaException("the schema declares no namespace (expected 'namespace: name' blocks or a 'namespaces:' map)");
        }

        blocks.ForEach(block => parser._declared.Add(block.Name));
        foreach (var block in blocks)
        {
            parser.AddNamespace(block);
        }

        parser.AddImplicitSubjectTypes();
        return parser._draft;
    }

    /// <summary>
    /// Reads the events once, without building nodes: building and walking them recurses once per level, and an alias
    /// lets a small document stand for an exponentially large one. No schema needs either.
    /// </summary>
    private static void RefuseDeepNestingAndAliases(string text, YamlSchemaParser parser)
    {
        var events = new YamlDotNet.Core.Parser(new StringReader(text));
        var depth = 0;
        while (events.MoveNext())
        {
            switch (events.Current)
            {
                case MappingStart or SequenceStart when ++depth > SchemaError.MaxNesting:
                    throw new SchemaException([new SchemaError(parser.Position(events.Current.Start), $"the YAML nests more than {SchemaError.MaxNesting} levels deep")]);
                case MappingEnd or SequenceEnd:
                    depth--;
                    break;
                case AnchorAlias alias:
                    throw new SchemaException([new SchemaError(parser.Position(alias.Start), "YAML aliases are not supported in schemas")]);
            }
        }
    }

    private IEnumerable<NamespaceBlock> NamespaceBlocks(YamlNode root)
    {
        switch (root)
        {
            case YamlSequenceNode sequence:
                return sequence.Children.SelectMany(NamespaceBlocks);
            case YamlMappingNode mapping when Child(mapping, "namespaces") is { } namespaces:
                if (namespaces is not YamlMappingNode map)
                {
                    throw Error(namespaces, "'namespaces' must be a map of namespace name to its relations and permissions");
                }

                return map.Children.Select(pair => Block(Scalar(pair.Key, "namespace name"), pair.Value as YamlMappingNode ?? throw Error(pair.Value, $"namespace '{Scalar(pair.Key, "namespace name")}' must be a map with 'relations' and/or 'permissions'"), pair.Key));
            case YamlMappingNode mapping when Child(mapping, "namespace") is { } name:
                return [Block(Scalar(name, "namespace name"), mapping, name, ignore: "namespace")];
            case YamlScalarNode { Value: null or "" }:
                return [];
            default:
                throw Error(root, "expected 'namespace: name' blocks or a 'namespaces:' map");
        }
    }

    private NamespaceBlock Block(string name, YamlMappingNode body, YamlNode at, string? ignore = null)
    {
        var allowed = new[] { "relations", "permissions", ignore };
        foreach (var key in body.Children.Keys)
        {
            var text = Scalar(key, "key");
            if (!allowed.Contains(text))
            {
                throw Error(key, $"unknown key '{text}' in namespace '{name}' (expected 'relations' or 'permissions')");
            }
        }

        return new NamespaceBlock(name, Position(at.Start), Child(body, "relations"), Child(body, "permissions"));
    }

    private void AddNamespace(NamespaceBlock block)
    {
        var type = new TypeDraft(block.Name, block.Position, []);
        _draft.Types.Add(type);
        var relationNames = new[] { block.Relations, block.Permissions }
            .OfType<YamlMappingNode>()
            .SelectMany(section => section.Children.Keys)
            .Select(key => Scalar(key, "relation name"))
            .ToHashSet(StringComparer.Ordinal);

        AddSection(type, block.Relations, "relations", relationNames, isPermissions: false);
        AddSection(type, block.Permissions, "permissions", relationNames, isPermissions: true);
    }

    private void AddSection(TypeDraft type, YamlNode? section, string sectionName, HashSet<string> relationNames, bool isPermissions)
    {
        if (section is null)
        {
            return;
        }

        if (section is not YamlMappingNode map)
        {
            throw Error(section, $"'{sectionName}' of namespace '{type.Name}' must be a map of name to definition");
        }

        foreach (var (key, value) in map.Children)
        {
            var name = Scalar(key, "relation name");
            var context = new ItemContext(type.Name, relationNames, isPermissions);
            type.Relations.Add(new RelationDraft(name, Position(key.Start), ParseDefinition(value, context)));
        }
    }

    private Rewrite ParseDefinition(YamlNode node, ItemContext context) => node switch
    {
        YamlSequenceNode list => Union(list.Children, context, node),
        YamlScalarNode scalar => Union([scalar], context, node),
        YamlMappingNode { Children.Count: 1 } operation => ParseOperation(operation, context),
        _ => throw Error(node, "a definition is a list of items, or one of {union: [...]}, {intersection: [...]}, {exclusion: {base: ..., subtract: ...}}"),
    };

    private Rewrite ParseOperation(YamlMappingNode operation, ItemContext context)
    {
        var (key, value) = operation.Children.Single();
        var name = Scalar(key, "operation");
        switch (name)
        {
            case "union":
                return Union(Items(value, name), context, operation);
            case "intersection":
                var children = Items(value, name).Select(child => ParseDefinition(child, context)).ToList();
                return children.Count == 1 ? children[0] : _draft.At(new IntersectionRewrite(children), Position(key.Start));
            case "exclusion":
                if (value is not YamlMappingNode parts || Child(parts, "base") is not { } @base || Child(parts, "subtract") is not { } subtract || parts.Children.Count != 2)
                {
                    throw Error(value, "'exclusion' takes exactly {base: ..., subtract: ...}");
                }

                return _draft.At(new ExclusionRewrite(ParseDefinition(@base, context), ParseDefinition(subtract, context)), Position(key.Start));
            default:
                throw Error(key, $"unknown operation '{name}' (expected union, intersection or exclusion)");
        }
    }

    /// <summary>Items of a list are united; all the type restrictions among them form one direct rewrite.</summary>
    private Rewrite Union(IEnumerable<YamlNode> items, ItemContext context, YamlNode at)
    {
        var direct = new List<AllowedSubject>();
        var others = new List<Rewrite>();
        foreach (var item in items)
        {
            if (item is YamlScalarNode scalar)
            {
                var parsed = ParseItem(scalar, context);
                if (parsed is AllowedSubject allowed)
                {
                    direct.Add(allowed);
                }
                else
                {
                    others.Add((Rewrite)parsed);
                }
            }
            else
            {
                others.Add(ParseDefinition(item, context));
            }
        }

        if (direct.Count > 0)
        {
            others.Insert(0, _draft.At(new DirectRewrite(direct), Position(at.Start)));
        }

        return others.Count switch
        {
            0 => throw Error(at, "a definition needs at least one item"),
            1 => others[0],
            _ => _draft.At(new UnionRewrite(others), Position(at.Start)),
        };
    }

    private object ParseItem(YamlScalarNode scalar, ItemContext context)
    {
        var text = (scalar.Value ?? string.Empty).Trim();
        var position = Position(scalar.Start);
        if (text.Length == 0 || text.Any(char.IsWhiteSpace))
        {
            throw new SchemaException([new SchemaError(position, $"'{text}' is not a valid item (expected type, type:*, type#relation, relation or tupleset.relation)")]);
        }

        if (text.EndsWith(":*", StringComparison.Ordinal))
        {
            return _draft.At(new AllowedSubject(text[..^2], IsWildcard: true), position);
        }

        var hash = text.IndexOf('#', StringComparison.Ordinal);
        if (hash > 0 && hash < text.Length - 1)
        {
            return _draft.At(new AllowedSubject(text[..hash], text[(hash + 1)..]), position);
        }

        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0 && dot < text.Length - 1)
        {
            return _draft.At(new TupleToUsersetRewrite(text[..dot], text[(dot + 1)..]), position);
        }

        if (text.Contains(':', StringComparison.Ordinal) || text.Contains('#', StringComparison.Ordinal) || text.Contains('.', StringComparison.Ordinal))
        {
            throw new SchemaException([new SchemaError(position, $"'{text}' is not a valid item (expected type, type:*, type#relation, relation or tupleset.relation)")]);
        }

        // In permissions a bare name is another relation; in relations it is a subject type, unless it
        // names a relation of this namespace and no namespace of that name exists.
        var isRelation = context.IsPermissions || (context.RelationNames.Contains(text) && !_declared.Contains(text));
        return isRelation
            ? _draft.At(new ComputedUsersetRewrite(text), position)
            : _draft.At(new AllowedSubject(text), position);
    }

    private void AddImplicitSubjectTypes()
    {
        var referenced = _draft.Types
            .SelectMany(t => t.Relations)
            .SelectMany(r => new RelationDefinition(r.Name, r.Rewrite).DirectSubjects)
            .Where(s => s.Relation is null)
            .Select(s => s.Type)
            .Where(type => !_declared.Contains(type))
            .Distinct()
            .ToList();
        foreach (var type in referenced)
        {
            _draft.Types.Add(new TypeDraft(type, new SourcePosition(1, 1), []));
        }
    }

    private static YamlNode? Child(YamlMappingNode mapping, string key) =>
        mapping.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private List<YamlNode> Items(YamlNode node, string operation) =>
        node is YamlSequenceNode list ? [.. list.Children] : throw Error(node, $"'{operation}' takes a list");

    private string Scalar(YamlNode node, string what) =>
        node is YamlScalarNode { Value: { Length: > 0 } value } ? value : throw Error(node, $"expected a {what}");

    private SchemaException Error(YamlNode node, string message) => new([new SchemaError(Position(node.Start), message)]);

    private SourcePosition Position(Mark mark)
    {
        var line = (int)mark.Line;
        var column = (int)mark.Column - _columnShifts.GetValueOrDefault(line);
        return new SourcePosition(line, Math.Max(1, column));
    }

    private sealed record NamespaceBlock(string Name, SourcePosition Position, YamlNode? Relations, YamlNode? Permissions);

    private sealed record ItemContext(string Type, HashSet<string> RelationNames, bool IsPermissions);
}
