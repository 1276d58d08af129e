namespace LumoAuth.Authorization.Engine.Model;

/// <summary>How a relation is computed: the rewrite rules of Zanzibar.</summary>
public abstract record Rewrite;

/// <summary><c>[user, user:*, group#member with cond]</c>: tuples written for this relation.</summary>
public sealed record DirectRewrite(IReadOnlyList<AllowedSubject> AllowedSubjects) : Rewrite;

/// <summary><c>viewer: editor</c>: the same object's other relation.</summary>
public sealed record ComputedUsersetRewrite(string Relation) : Rewrite;

/// <summary><c>viewer from parent</c> (<c>parent.viewer</c>): follow <c>parent</c> tuples, then evaluate <c>viewer</c> there.</summary>
public sealed record TupleToUsersetRewrite(string TuplesetRelation, string ComputedRelation) : Rewrite;

/// <summary><c>a or b</c>.</summary>
public sealed record UnionRewrite(IReadOnlyList<Rewrite> Children) : Rewrite;

/// <summary><c>a and b</c>.</summary>
public sealed record IntersectionRewrite(IReadOnlyList<Rewrite> Children) : Rewrite;

/// <summary><c>base but not subtract</c>.</summary>
public sealed record ExclusionRewrite(Rewrite Base, Rewrite Subtract) : Rewrite;
