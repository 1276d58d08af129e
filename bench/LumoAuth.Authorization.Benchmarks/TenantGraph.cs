using System.Globalization;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Engine.Model;
using LumoAuth.Authorization.Engine.Schema;
using LumoAuth.Authorization.Engine.Storage;

namespace LumoAuth.Authorization.Benchmarks;

/// <summary>
/// A synthetic tenant of about 1M tuples: 100k users, 10k groups of 20 members, a folder tree
/// (100 roots → 1,000 → 10,000 folders), 300k documents each in a folder with a direct viewer and a
/// viewing group. One "power user" views one root folder whose subtree holds exactly 10,000 documents;
/// one document is shared with a group nested three deep.
/// </summary>
public static class TenantGraph
{
    public const string Schema = """
        model
          schema 1.1
        type user
        type group
          relations
            define member: [user, group#member]
        type folder
          relations
            define parent: [folder]
            define viewer: [user, group#member] or viewer from parent
        type document
          relations
            define parent: [folder]
            define viewer: [user, group#member] or viewer from parent
        """;

    public const int Users = 100_000;
    public const int Groups = 10_000;
    public const int GroupSize = 20;
    public const int Documents = 300_000;
    public const int PowerDocuments = 10_000;
    public const string PowerUser = "power";
    public const string NestedGroupUser = "nested";

    // Level-3 folders 0..99 sit under level-2 folders 0..9, which sit under root 0: the power user's subtree.
    public static string PowerDocument => "p4242";

    public static string NestedGroupDocument => "d777";

    public static string DirectViewerOf(int document) => Id("u", document % Users);

    public static (AuthorizationModel Model, InMemoryTupleStore Store) Build()
    {
        var model = AuthorizationSchema.ParseDsl(Schema);
        var tuples = new List<RelationshipTuple>(1_050_000);

        for (var g = 0; g < Groups; g++)
        {
            for (var m = 0; m < GroupSize; m++)
            {
                tuples.Add(Tuple("group", Id("g", g), "member", new SubjectRef("user", Id("u", ((g * GroupSize) + m) % Users))));
            }
        }

        for (var f = 0; f < 1_000; f++)
        {
            tuples.Add(Tuple("folder", Id("f2_", f), "parent", new SubjectRef("folder", Id("f1_", f / 10))));
        }

        for (var f = 0; f < 10_000; f++)
        {
            tuples.Add(Tuple("folder", Id("f3_", f), "parent", new SubjectRef("folder", Id("f2_", f / 10))));
        }

        // Ordinary documents live in folders outside the power user's subtree (level-3 folders 100 and up).
        for (var d = 0; d < Documents; d++)
        {
            var document = Id("d", d);
            tuples.Add(Tuple("document", document, "parent", new SubjectRef("folder", Id("f3_", 100 + (d % 9_900)))));
            tuples.Add(Tuple("document", document, "viewer", new SubjectRef("user", DirectViewerOf(d))));
            tuples.Add(Tuple("document", document, "viewer", new SubjectRef("group", Id("g", d % Groups), "member")));
        }

        // The power user's 10,000 documents: 100 per level-3 folder 0..99 (all under root folder f1_0).
        for (var p = 0; p < PowerDocuments; p++)
        {
            tuples.Add(Tuple("document", Id("p", p), "parent", new SubjectRef("folder", Id("f3_", p / 100))));
        }

        tuples.Add(Tuple("folder", Id("f1_", 0), "viewer", new SubjectRef("user", PowerUser)));

        // A group nested three deep: d777 → g_outer → g_middle → g_inner → nested.
        tuples.Add(Tuple("document", NestedGroupDocument, "viewer", new SubjectRef("group", "outer", "member")));
        tuples.Add(Tuple("group", "outer", "member", new SubjectRef("group", "middle", "member")));
        tuples.Add(Tuple("group", "middle", "member", new SubjectRef("group", "inner", "member")));
        tuples.Add(Tuple("group", "inner", "member", new SubjectRef("user", NestedGroupUser)));

        return (model, new InMemoryTupleStore(tuples));
    }

    private static RelationshipTuple Tuple(string type, string id, string relation, SubjectRef subject) => new(new ObjectRef(type, id), relation, subject);

    private static string Id(string prefix, int number) => prefix + number.ToString(CultureInfo.InvariantCulture);
}
