using LumoAuth.Authorization.Engine.Checking;

namespace LumoAuth.Authorization.Engine;

/// <summary>
/// Objects found by list-objects. <see cref="IsComplete"/> is false when a limit stopped the search early:
/// the list is then correct but possibly partial, and says so.
/// </summary>
public sealed record ListObjectsResult(IReadOnlyList<ObjectRef> Objects, bool IsComplete, CheckError? Error = null)
{
    public static ListObjectsResult Failed(CheckError error) => new([], true, error);
}

/// <summary>Subjects found by list-users (<c>user:jon</c>, <c>user:*</c>, <c>group:eng#member</c>); see <see cref="ListObjectsResult"/> for <see cref="IsComplete"/>.</summary>
public sealed record ListUsersResult(IReadOnlyList<SubjectRef> Users, bool IsComplete, CheckError? Error = null)
{
    public static ListUsersResult Failed(CheckError error) => new([], true, error);
}

public sealed record ExpandResult(UsersetTree? Tree, CheckError? Error = null);

/// <summary>One level of a relation's userset tree, as OpenFGA's Expand returns it (conditions are shown, not evaluated).</summary>
public abstract record UsersetTree(string Name);

/// <summary>Subjects written directly for the relation (usersets appear as <c>group:eng#member</c>, to expand in turn).</summary>
public sealed record DirectUsersTree(string Name, IReadOnlyList<RelationshipTuple> Tuples) : UsersetTree(Name);

/// <summary>Another relation of the same object, to expand in turn.</summary>
public sealed record ComputedUsersetTree(string Name, string Userset) : UsersetTree(Name);

/// <summary>The relation reached through each parent named by the tupleset.</summary>
public sealed record TupleToUsersetTree(string Name, string Tupleset, IReadOnlyList<string> Computed) : UsersetTree(Name);

public sealed record UnionTree(string Name, IReadOnlyList<UsersetTree> Children) : UsersetTree(Name);

public sealed record IntersectionTree(string Name, IReadOnlyList<UsersetTree> Children) : UsersetTree(Name);

public sealed record DifferenceTree(string Name, UsersetTree Base, UsersetTree Subtract) : UsersetTree(Name);
