using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Features.Relationships;
using LumoAuth.Authorization.Storage;

namespace LumoAuth.Authorization.Tests;

/// <summary>
/// The one-string tuple notation with '@' in ids: object ids never hold '#' and relations never hold '@', so splitting at
/// the first '#' and then at the first '@' reads back exactly what was written, in requests and in the changelog.
/// </summary>
public sealed class TupleNotationTests
{
    [Theory]
    [InlineData("a", "b", "")]
    [InlineData("a@b", "alice@example.com", "")]
    [InlineData("a@b@c", "ops@example.com", "member")]
    [InlineData("urn:x:1@y", "*", "")]
    [InlineData("@", "@@", "")]
    public void Key_ReadsBackAsWritten_FromTheChangelogAndTheNotation(string objectId, string subjectId, string subjectRelation)
    {
        var key = new TupleKey(new ObjectRef("doc", objectId), "viewer", new SubjectRef("user", subjectId, subjectRelation.Length == 0 ? null : subjectRelation));

        Assert.Equal(key, TupleRows.ParseKey(key.ToString()));
        var request = new RelationshipRequest(null, null, null, null, null, null, null, null, null) { Tuple = key.ToString() };
        Assert.True(request.TryNormalize(out var relationship, out var error), error?.Message);
        Assert.Equal(key, new TupleKey(ZanzibarInput.ToObject(relationship.Object), relationship.Relation, ZanzibarInput.ToSubject(relationship.Subject)));
    }

    [Theory]
    [InlineData("doc:a:viewer:user:alice@example.com", "doc:a", "viewer", "user:alice@example.com")]
    [InlineData("doc:a@b:viewer:group:ops@example.com#member", "doc:a@b", "viewer", "group:ops@example.com#member")]
    public void ColonNotation_StillReads_IdsWithAt(string text, string @object, string relation, string subject)
    {
        Assert.True(RelationshipRequest.TrySplitTuple(text, out var o, out var r, out var s));
        Assert.Equal((@object, relation, subject), (o, r, s));
    }

    [Theory]
    [InlineData("doc:a#viewer")]
    [InlineData("doc:a@user:b#viewer")]
    [InlineData("#viewer@user:b")]
    [InlineData("doc:a:viewer")]
    public void MalformedNotation_IsRefused(string text)
    {
        var request = new RelationshipRequest(null, null, null, null, null, null, null, null, null) { Tuple = text };

        Assert.False(request.TryNormalize(out _, out var error));
        Assert.Equal(RelationshipRequest.InvalidFormat, error!.Code);
    }
}
