using System.Text.RegularExpressions;
using LumoAuth.Authorization.Engine.Model;

namespace LumoAuth.Authorization.Engine.Schema;

/// <summary>
/// A recursive-descent parser for the OpenFGA DSL, schema 1.1:
/// <code>
/// model
///   schema 1.1
/// type document
///   relations
///     define viewer: [user, user:*, group#member with cond] or editor or viewer from parent
/// condition cond(x: int) { x &lt; 100 }
/// </code>
/// Operators of one kind per level (as in OpenFGA): mixing <c>or</c> and <c>and</c> needs parentheses.
/// The first syntax error stops parsing and is reported with its line and column.
/// </summary>
internal sealed partial class DslParser
{
    private readonly DslLexer _lexer;
    private readonly ModelDraft _draft = new();

    private int _parentheses;

    private DslParser(string text) => _lexer = new DslLexer(text);

    public static ModelDraft Parse(string text) => new DslParser(text).ParseFile();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_\\-/]*$")]
    private static partial Regex NamePattern();

    private ModelDraft ParseFile()
    {
        SkipNewLines();
        Expect("model", "a schema starts with 'model'");
        ExpectNewLine();
        SkipNewLines();
        Expect("schema", "expected 'schema 1.1' after 'model'");
        var version = Next(DslTokenKind.Word, "expected a schema version after 'schema'");
        if (version.Text != "1.1")
        {
            throw Error(version.Position, $"unsupported schema version '{version.Text}': only 1.1 is supported");
        }

        ExpectNewLine();
        while (true)
        {
            SkipNewLines();
            var token = _lexer.Peek();
            if (token.Kind == DslTokenKind.End)
            {
                return _draft;
            }

            if (token.IsWord("type"))
            {
                ParseType();
            }
            else if (token.IsWord("condition"))
            {
                ParseCondition();
            }
            else
            {
                throw Error(token.Position, $"expected 'type' or 'condition', found {token.Describe()}");
            }
        }
    }

    private void ParseType()
    {
        var keyword = _lexer.Next();
        var name = ParseName("type name");
        ExpectNewLine();
        var type = new TypeDraft(name.Text, keyword.Position, []);
        _draft.Types.Add(type);
        SkipNewLines();
        if (!_lexer.Peek().IsWord("relations"))
        {
            return;
        }

        var relationsKeyword = _lexer.Next();
        ExpectNewLine();
        SkipNewLines();
        if (!_lexer.Peek().IsWord("define"))
        {
            throw Error(relationsKeyword.Position, $"'relations' of type '{name.Text}' must be followed by at least one 'define'");
        }

        while (_lexer.Peek().IsWord("define"))
        {
            type.Relations.Add(ParseRelation());
            SkipNewLines();
        }
    }

    private RelationDraft ParseRelation()
    {
        _lexer.Next();
        var name = ParseName("relation name");
        var colon = _lexer.Next();
        if (colon.Kind != DslTokenKind.Colon)
        {
            throw Error(colon.Position, $"expected ':' after relation name '{name.Text}', found {colon.Describe()}");
        }

        var rewrite = ParseExpression();
        var end = _lexer.Peek();
        if (end.Kind is not (DslTokenKind.NewLine or DslTokenKind.End))
        {
            throw Error(end.Position, $"unexpected {end.Describe()} in the definition of '{name.Text}'");
        }

        return new RelationDraft(name.Text, name.Position, rewrite);
    }

    private Rewrite ParseExpression()
    {
        var first = ParseTerm();
        var children = new List<Rewrite> { first };
        string? operatorName = null;
        SourcePosition operatorPosition = default;
        while (_lexer.Peek() is { Kind: DslTokenKind.Word } token && token.Text is "or" or "and" or "but")
        {
            _lexer.Next();
            var name = token.Text;
            if (name == "but")
            {
                var not = _lexer.Next();
                if (!not.IsWord("not"))
                {
                    throw Error(not.Position, $"expected 'not' after 'but', found {not.Describe()}");
                }

                name = "but not";
            }

            if (operatorName is not null && (operatorName != name || name == "but not"))
            {
                throw Error(token.Position, $"cannot combine '{operatorName}' and '{name}' at the same level: add parentheses");
            }

            operatorName ??= name;
            if (operatorPosition == default)
            {
                operatorPosition = token.Position;
            }

            children.Add(ParseTerm());
        }

        Rewrite result = operatorName switch
        {
            null => first,
            "or" => new UnionRewrite(children),
            "and" => new IntersectionRewrite(children),
            _ => new ExclusionRewrite(children[0], children[1]),
        };
        return operatorName is null ? result : _draft.At(result, operatorPosition);
    }

    private Rewrite ParseTerm()
    {
        var token = _lexer.Peek();
        switch (token.Kind)
        {
            case DslTokenKind.OpenBracket:
                return ParseDirect();
            case DslTokenKind.OpenParen:
                _lexer.Next();
                if (++_parentheses > SchemaError.MaxNesting)
                {
                    throw Error(token.Position, $"parentheses nest more than {SchemaError.MaxNesting} deep");
                }

                var inner = ParseExpression();
                _parentheses--;
                var close = _lexer.Next();
                if (close.Kind != DslTokenKind.CloseParen)
                {
                    throw Error(close.Position, $"expected ')' to close the '(' at {token.Position}, found {close.Describe()}");
                }

                return inner;
            case DslTokenKind.Word when token.Text is not ("or" or "and" or "but" or "from" or "with"):
                var relation = ParseName("relation name");
                if (_lexer.Peek().IsWord("from"))
                {
                    _lexer.Next();
                    var tupleset = ParseName("tupleset relation after 'from'");
                    return _draft.At(new TupleToUsersetRewrite(tupleset.Text, relation.Text), relation.Position);
                }

                return _draft.At(new ComputedUsersetRewrite(relation.Text), relation.Position);
            default:
                throw Error(token.Position, $"expected '[', '(' or a relation name, found {token.Describe()}");
        }
    }

    private DirectRewrite ParseDirect()
    {
        var open = _lexer.Next();
        var subjects = new List<AllowedSubject>();
        while (true)
        {
            subjects.Add(ParseAllowedSubject());
            var separator = _lexer.Next();
            if (separator.Kind == DslTokenKind.CloseBracket)
            {
                return _draft.At(new DirectRewrite(subjects), open.Position);
            }

            if (separator.Kind != DslTokenKind.Comma)
            {
                throw Error(separator.Position, $"expected ',' or ']' in the type restriction opened at {open.Position}, found {separator.Describe()}");
            }
        }
    }

    private AllowedSubject ParseAllowedSubject()
    {
        var type = ParseName("type in a type restriction");
        string? relation = null;
        var wildcard = false;
        if (_lexer.Peek().Kind == DslTokenKind.Colon)
        {
            _lexer.Next();
            var star = _lexer.Next();
            if (star.Kind != DslTokenKind.Star)
            {
                throw Error(star.Position, $"expected '*' after '{type.Text}:' (only the wildcard 'type:*' may be written here), found {star.Describe()}");
            }

            wildcard = true;
        }
        else if (_lexer.Peek().Kind == DslTokenKind.Hash)
        {
            _lexer.Next();
            relation = ParseName($"relation after '{type.Text}#'").Text;
        }

        string? condition = null;
        if (_lexer.Peek().IsWord("with"))
        {
            _lexer.Next();
            condition = ParseName("condition name after 'with'").Text;
        }

        return _draft.At(new AllowedSubject(type.Text, relation, wildcard, condition), type.Position);
    }

    private void ParseCondition()
    {
        var keyword = _lexer.Next();
        var name = ParseName("condition name");
        var open = _lexer.Next();
        if (open.Kind != DslTokenKind.OpenParen)
        {
            throw Error(open.Position, $"expected '(' after condition name '{name.Text}', found {open.Describe()}");
        }

        var parameters = new Dictionary<string, ConditionParameterType>(StringComparer.Ordinal);
        if (_lexer.Peek().Kind == DslTokenKind.CloseParen)
        {
            throw Error(_lexer.Peek().Position, $"condition '{name.Text}' must declare at least one parameter");
        }

        while (true)
        {
            var parameter = ParseName("parameter name");
            var colon = _lexer.Next();
            if (colon.Kind != DslTokenKind.Colon)
            {
                throw Error(colon.Position, $"expected ':' after parameter '{parameter.Text}', found {colon.Describe()}");
            }

            var type = ParseParameterType();
            if (!parameters.TryAdd(parameter.Text, type))
            {
                throw Error(parameter.Position, $"parameter '{parameter.Text}' is declared twice in condition '{name.Text}'");
            }

            var separator = _lexer.Next();
            if (separator.Kind == DslTokenKind.CloseParen)
            {
                break;
            }

            if (separator.Kind != DslTokenKind.Comma)
            {
                throw Error(separator.Position, $"expected ',' or ')' in the parameters of '{name.Text}', found {separator.Describe()}");
            }
        }

        var brace = _lexer.Next();
        if (brace.Kind != DslTokenKind.OpenBrace)
        {
            throw Error(brace.Position, $"expected '{{' to start the expression of condition '{name.Text}', found {brace.Describe()}");
        }

        var (body, start, closed) = _lexer.ReadBlockBody();
        if (!closed)
        {
            throw Error(brace.Position, $"the expression of condition '{name.Text}' is not closed with '}}'");
        }

        if (body.Length == 0)
        {
            throw Error(brace.Position, $"condition '{name.Text}' has an empty expression");
        }

        _draft.Conditions.Add(new ConditionDraft(new ConditionDefinition(name.Text, parameters, body), keyword.Position, start));
        ExpectNewLine();
    }

    private ConditionParameterType ParseParameterType()
    {
        var token = Next(DslTokenKind.Word, "expected a parameter type");
        ConditionParameterKind? kind = token.Text switch
        {
            "any" => ConditionParameterKind.Any,
            "bool" => ConditionParameterKind.Bool,
            "string" => ConditionParameterKind.String,
            "int" => ConditionParameterKind.Int,
            "uint" => ConditionParameterKind.UInt,
            "double" => ConditionParameterKind.Double,
            "duration" => ConditionParameterKind.Duration,
            "timestamp" => ConditionParameterKind.Timestamp,
            "ipaddress" => ConditionParameterKind.IpAddress,
            "list" => ConditionParameterKind.List,
            "map" => ConditionParameterKind.Map,
            _ => null,
        };
        if (kind is null)
        {
            throw Error(token.Position, $"unknown parameter type '{token.Text}' (expected any, bool, string, int, uint, double, duration, timestamp, ipaddress, list<T> or map<T>)");
        }

        if (kind is not (ConditionParameterKind.List or ConditionParameterKind.Map))
        {
            return new ConditionParameterType(kind.Value);
        }

        var less = _lexer.Next();
        if (less.Kind != DslTokenKind.Less)
        {
            throw Error(less.Position, $"expected '<' after '{token.Text}' (generic types are written {token.Text}<T>), found {less.Describe()}");
        }

        var element = ParseParameterType();
        var greater = _lexer.Next();
        if (greater.Kind != DslTokenKind.Greater)
        {
            throw Error(greater.Position, $"expected '>' to close '{token.Text}<', found {greater.Describe()}");
        }

        return new ConditionParameterType(kind.Value, element);
    }

    private DslToken ParseName(string what)
    {
        var token = _lexer.Next();
        if (token.Kind != DslTokenKind.Word)
        {
            throw Error(token.Position, $"expected {what}, found {token.Describe()}");
        }

        if (token.Text.Contains('.', StringComparison.Ordinal))
        {
            var parts = token.Text.Split('.', 2);
            throw Error(token.Position, $"'{token.Text}' is not valid in the DSL: write '{parts[1]} from {parts[0]}'");
        }

        if (!NamePattern().IsMatch(token.Text))
        {
            throw Error(token.Position, $"'{token.Text}' is not a valid {what}");
        }

        return token;
    }

    private DslToken Next(DslTokenKind kind, string message)
    {
        var token = _lexer.Next();
        return token.Kind == kind ? token : throw Error(token.Position, $"{message}, found {token.Describe()}");
    }

    private void Expect(string word, string message)
    {
        var token = _lexer.Next();
        if (!token.IsWord(word))
        {
            throw Error(token.Position, $"{message}, found {token.Describe()}");
        }
    }

    private void ExpectNewLine()
    {
        var token = _lexer.Next();
        if (token.Kind is not (DslTokenKind.NewLine or DslTokenKind.End))
        {
            throw Error(token.Position, $"expected end of line, found {token.Describe()}");
        }
    }

    private void SkipNewLines()
    {
        while (_lexer.Peek().Kind == DslTokenKind.NewLine)
        {
            _lexer.Next();
        }
    }

    private static SchemaException Error(SourcePosition position, string message) =>
        new([new SchemaError(position, message)]);
}
