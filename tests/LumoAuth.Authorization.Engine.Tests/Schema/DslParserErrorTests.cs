using LumoAuth.Authorization.Engine.Schema;

namespace LumoAuth.Authorization.Engine.Tests.Schema;

public sealed class DslParserErrorTests
{
    private static SchemaError SingleError(string schema)
    {
        var exception = Assert.Throws<SchemaException>(() => AuthorizationSchema.ParseDsl(schema));
        return Assert.Single(exception.Errors);
    }

    private static void AssertError(string schema, int line, int column, string fragment)
    {
        var error = SingleError(schema);
        Assert.True(
            error.Line == line && error.Column == column && error.Message.Contains(fragment, StringComparison.Ordinal),
            $"expected {line}:{column} containing \"{fragment}\", got {error}");
    }

    [Fact]
    public void Parse_MissingModelHeader_PointsAtFirstToken()
    {
        AssertError("type user\n", 1, 1, "a schema starts with 'model'");
    }

    [Fact]
    public void Parse_UnsupportedSchemaVersion_PointsAtVersion()
    {
        AssertError("model\n  schema 1.0\ntype user\n", 2, 10, "unsupported schema version '1.0'");
    }

    [Fact]
    public void Parse_MissingColonAfterRelationName_PointsAtOffendingToken()
    {
        const string schema = """
            model
              schema 1.1
            type user
            type document
              relations
                define viewer [user]
            """;
        AssertError(schema, 6, 19, "expected ':' after relation name 'viewer', found '['");
    }

    [Fact]
    public void Parse_UnclosedTypeRestriction_PointsAtEndOfLine()
    {
        const string schema = """
            model
              schema 1.1
            type user
            type document
              relations
                define viewer: [user
            type folder
            """;
        var error = SingleError(schema);
        Assert.Equal(7, error.Line);
        Assert.Contains("expected ',' or ']' in the type restriction opened at 6:20", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MixedOperatorsWithoutParentheses_PointsAtSecondOperator()
    {
        const string schema = """
            model
              schema 1.1
            type user
            type document
              relations
                define editor: [user]
                define blocked: [user]
                define viewer: [user] or editor but not blocked
            """;
        AssertError(schema, 8, 37, "cannot combine 'or' and 'but not' at the same level: add parentheses");
    }

    [Fact]
    public void Parse_DottedTupleToUserset_SuggestsFromSyntax()
    {
        const string schema = """
            model
              schema 1.1
            type folder
              relations
                define viewer: [folder]
            type document
              relations
                define parent: [folder]
                define viewer: parent.viewer
            """;
        AssertError(schema, 9, 20, "write 'viewer from parent'");
    }

    [Fact]
    public void Parse_UnknownTypeInRestriction_PointsAtType()
    {
        const string schema = """
            model
              schema 1.1
            type user
            type document
              relations
                define viewer: [user, team]
            """;
        AssertError(schema, 6, 27, "invalid type restriction 'team': type 'team' is not defined");
    }

    [Fact]
    public void Parse_UsersetOnUnknownRelation_IsAnInvalidTypeRestriction()
    {
        const string schema = """
            model
              schema 1.1
            type user
            type group
              relations
                define member: [user]
            type document
              relations
                define viewer: [group#owner]
            """;
        AssertError(schema, 9, 21, "invalid type restriction 'group#owner': relation 'owner' is not defined on type 'group'");
    }

    [Fact]
    public void Parse_ComputedUsersetOnUnknownRelation_PointsAtReference()
    {
        const string schema = """
            model
              schema 1.1
            type user
            type document
              relations
                define viewer: [user] or editor
            """;
        AssertError(schema, 6, 30, "relation 'editor' is not defined on type 'document'");
    }

    [Fact]
    public void Parse_TuplesetWithUserset_IsRejected()
    {
        const string schema = """
            model
              schema 1.1
            type user
            type folder
              relations
                define viewer: [user]
            type document
              relations
                define parent: [folder, folder#viewer]
                define viewer: viewer from parent
            """;
        AssertError(schema, 10, 20, "must be a direct type restriction without usersets");
    }

    [Fact]
    public void Parse_TupleToUsersetToRelationNoParentHas_IsRejected()
    {
        const string schema = """
            model
              schema 1.1
            type user
            type folder
              relations
                define owner: [user]
            type document
              relations
                define parent: [folder]
                define viewer: viewer from parent
            """;
        AssertError(schema, 10, 20, "relation 'viewer' is not defined on any type allowed by 'document#parent' (folder)");
    }

    [Fact]
    public void Parse_RelationsThatOnlyLoopBack_NeverTerminate()
    {
        const string schema = """
            model
              schema 1.1
            type user
            type document
              relations
                define owner: [user]
                define editor: viewer
                define viewer: editor and owner
            """;
        var exception = Assert.Throws<SchemaException>(() => AuthorizationSchema.ParseDsl(schema));
        Assert.Collection(
            exception.Errors,
            e => Assert.Equal((7, 12, true), (e.Line, e.Column, e.Message.Contains("'document#editor' can never be satisfied", StringComparison.Ordinal))),
            e => Assert.Equal((8, 12, true), (e.Line, e.Column, e.Message.Contains("'document#viewer' can never be satisfied", StringComparison.Ordinal))));
    }

    [Fact]
    public void Parse_SelfReferenceWithADirectEntry_IsAllowed()
    {
        const string schema = """
            model
              schema 1.1
            type user
            type group
              relations
                define member: [user, group#member]
            """;
        var model = AuthorizationSchema.ParseDsl(schema);
        Assert.True(model.TryGetRelation("group", "member", out _));
    }

    [Fact]
    public void Parse_UnknownConditionInRestriction_PointsAtSubject()
    {
        const string schema = """
            model
              schema 1.1
            type user
            type document
              relations
                define viewer: [user with in_office_hours]
            """;
        AssertError(schema, 6, 21, "condition 'in_office_hours' is not defined");
    }

    [Fact]
    public void Parse_ConditionWithUnknownParameterType_PointsAtType()
    {
        const string schema = """
            model
              schema 1.1
            type user
            condition office(hour: integer) {
              hour < 18
            }
            """;
        AssertError(schema, 4, 24, "unknown parameter type 'integer'");
    }

    [Fact]
    public void Parse_ConditionExpressionThatDoesNotCompile_PointsAtExpression()
    {
        const string schema = """
            model
              schema 1.1
            type user
            condition office(hour: int) {
              hour < 
            }
            """;
        var error = SingleError(schema);
        Assert.Equal((4, 30), (error.Line, error.Column));
        Assert.Contains("condition 'office':", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnclosedConditionBody_IsReported()
    {
        AssertError("model\n  schema 1.1\ntype user\ncondition c(x: int) {\n  x < 1\n", 4, 21, "is not closed");
    }

    [Fact]
    public void Parse_DuplicateRelation_PointsAtSecondDefinition()
    {
        const string schema = """
            model
              schema 1.1
            type user
            type document
              relations
                define viewer: [user]
                define viewer: [user]
            """;
        AssertError(schema, 7, 12, "relation 'document#viewer' is defined more than once");
    }

    [Fact]
    public void Parse_ValidModelWithEveryRewrite_Compiles()
    {
        const string schema = """
            model
              schema 1.1
            type user
            type group
              relations
                define member: [user, user:*, group#member]
            type folder
              relations
                define viewer: [user]
            type document
              relations
                define parent: [folder]
                define blocked: [user]
                define owner: [user with non_expired]
                define editor: [user, group#member] or owner # a comment
                define viewer: (editor or viewer from parent) but not blocked
                define auditor: editor and (viewer or owner)
            condition non_expired(expires: timestamp, now: timestamp) {
              now < expires
            }
            """;
        var model = AuthorizationSchema.ParseDsl(schema);
        Assert.Equal(4, model.Types.Count);
        Assert.Single(model.Conditions);
        Assert.Equal(model.Id, AuthorizationSchema.ParseDsl(schema).Id);
    }

    [Fact]
    public void Parse_ParenthesesNestedBeyondTheLimit_AreAnErrorNotAStackOverflow()
    {
        // 50,000 levels would overflow the stack of a parser that recursed without a bound, taking the process down.
        var deep = new string('(', 50_000) + "[user]" + new string(')', 50_000);

        var error = SingleError($"model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define viewer: {deep}\n");

        Assert.Contains($"nest more than {SchemaError.MaxNesting} deep", error.Message, StringComparison.Ordinal);
        var nested = new string('(', SchemaError.MaxNesting) + "[user]" + new string(')', SchemaError.MaxNesting);
        Assert.NotNull(AuthorizationSchema.ParseDsl($"model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define viewer: {nested}\n"));
    }

    /// <summary>Validation settles some relations one pass at a time: a model beyond the size bounds is refused before it.</summary>
    [Fact]
    public void Parse_ModelBeyondTheSizeBounds_IsRefusedWithoutValidatingIt()
    {
        var relations = string.Concat(Enumerable.Range(0, 2_001).Select(i => $"    define r{i}: r{i + 1}\n"));
        var schema = "model\n  schema 1.1\ntype user\ntype doc\n  relations\n" + relations + "    define r2001: [user]\n";

        var error = SingleError(schema);

        Assert.Contains("the model is too large", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ModelWithinTheSizeBounds_IsTaken()
    {
        var relations = string.Concat(Enumerable.Range(0, 1_000).Select(i => $"    define r{i}: r{i + 1}\n"));
        var model = AuthorizationSchema.ParseDsl("model\n  schema 1.1\ntype user\ntype doc\n  relations\n" + relations + "    define r1000: [user]\n");

        Assert.Equal(1_001, model.Types.Single(t => t.Name == "doc").Relations.Count);
    }
}
