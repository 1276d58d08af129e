using LumoAuth.Authorization.Engine.Model;
using LumoAuth.Authorization.Engine.Schema;

namespace LumoAuth.Authorization.Engine.Tests.Schema;

public sealed class YamlSchemaTests
{
    [Fact]
    public void ParseYaml_DocumentedFormTwoExample_ReportsParentCanManageOnFolder()
    {
        // Verbatim from the AI Policy Author guide: folders define no can_manage, so document.can_delete cannot resolve.
        const string schema = """
            namespaces:
              workspace:
                relations:   {admin: [user], member: [user]}
                permissions: {can_manage: [admin], can_view: [admin, member]}
              folder:
                relations:   {parent: [workspace], editor: [user, workspace#admin], viewer: [user, workspace#member]}
                permissions: {can_edit: [editor, parent.can_manage], can_view: [can_edit, viewer, parent.can_view]}
              document:
                relations:   {parent: [folder], editor: [user, parent.editor], viewer: [user, parent.viewer]}
                permissions: {can_edit: [editor, parent.can_edit], can_view: [can_edit, viewer, parent.can_view], can_delete: [parent.can_manage]}
            """;

        var exception = Assert.Throws<SchemaException>(() => AuthorizationSchema.ParseYaml(schema));

        var error = Assert.Single(exception.Errors);
        Assert.Equal((10, 116), (error.Line, error.Column));
        Assert.Contains("relation 'can_manage' is not defined on any type allowed by 'document#parent' (folder)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseYaml_FormOneIndentedBlock_ReportsOriginalColumnOfUnknownUserset()
    {
        const string schema = """
            namespace: document
              relations:
                editor: [user, team#member]
            """;

        var exception = Assert.Throws<SchemaException>(() => AuthorizationSchema.ParseYaml(schema));

        var error = Assert.Single(exception.Errors);
        Assert.Equal((3, 20), (error.Line, error.Column));
        Assert.Contains("type 'team' is not defined", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseYaml_UnknownOperation_PointsAtIt()
    {
        const string schema = """
            namespaces:
              document:
                relations: {owner: [user]}
                permissions:
                  can_view: {either: [owner]}
            """;

        var exception = Assert.Throws<SchemaException>(() => AuthorizationSchema.ParseYaml(schema));

        var error = Assert.Single(exception.Errors);
        Assert.Equal((5, 18), (error.Line, error.Column));
        Assert.Contains("unknown operation 'either'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseYaml_InvalidYaml_ReportsPosition()
    {
        var exception = Assert.Throws<SchemaException>(() => AuthorizationSchema.ParseYaml("namespaces:\n  document: [unclosed\n"));

        Assert.StartsWith("invalid YAML", Assert.Single(exception.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseYaml_NestingBeyondTheLimit_IsAnError()
    {
        var deep = "namespaces:\n  document:\n    relations: {viewer: " + new string('[', 50_000) + "user" + new string(']', 50_000) + "}\n";

        var exception = Assert.Throws<SchemaException>(() => AuthorizationSchema.ParseYaml(deep));

        Assert.Contains($"nests more than {SchemaError.MaxNesting} levels", Assert.Single(exception.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseYaml_Aliases_AreRefused()
    {
        // Nine aliases of nine aliases… stand for 9^n items while the text stays short ("billion laughs").
        const string schema = """
            namespaces:
              document:
                relations: {owner: &a [user], viewer: [*a, *a, *a]}
            """;

        var exception = Assert.Throws<SchemaException>(() => AuthorizationSchema.ParseYaml(schema));

        Assert.Contains("aliases are not supported", Assert.Single(exception.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseYaml_FormOneAndFormTwo_CompileToTheSameShape()
    {
        const string formOne = """
            namespace: document
              relations:
                owner: [user]
                viewer: [user, group#member]
              permissions:
                can_view: {union: [owner, viewer]}

            namespace: group
              relations:
                member: [user]
            """;
        const string formTwo = """
            namespaces:
              document:
                relations: {owner: [user], viewer: [user, group#member]}
                permissions: {can_view: [owner, viewer]}
              group:
                relations: {member: [user]}
            """;

        var one = AuthorizationSchema.Parse(formOne);
        var two = AuthorizationSchema.Parse(formTwo);

        foreach (var model in new[] { one, two })
        {
            Assert.True(model.TryGetRelation("document", "can_view", out var canView));
            var union = Assert.IsType<UnionRewrite>(canView.Rewrite);
            Assert.Equal(["owner", "viewer"], union.Children.Cast<ComputedUsersetRewrite>().Select(c => c.Relation));
            Assert.True(model.TryGetRelation("document", "viewer", out var viewer));
            Assert.Equal(["user", "group#member"], viewer.DirectSubjects.Select(s => s.ToString()));
            Assert.True(model.TryGetType("user", out _));
        }
    }

    [Fact]
    public void ParseYaml_ArrowInRelations_IsTupleToUserset()
    {
        const string schema = """
            namespaces:
              folder:
                relations: {viewer: [user]}
              document:
                relations: {parent: [folder], viewer: [user, parent.viewer]}
            """;

        var model = AuthorizationSchema.ParseYaml(schema);

        Assert.True(model.TryGetRelation("document", "viewer", out var viewer));
        var union = Assert.IsType<UnionRewrite>(viewer.Rewrite);
        Assert.IsType<DirectRewrite>(union.Children[0]);
        Assert.Equal(new TupleToUsersetRewrite("parent", "viewer"), union.Children[1]);
    }
}
