namespace LumoAuth.Authorization.Engine.Model;

/// <summary>A relation reached while walking the model backwards from a subject.</summary>
internal readonly record struct RelationEdge(string ObjectType, string Relation);

/// <summary>A tuple-to-userset that grants <c>Relation</c> on <c>ObjectType</c> through <c>TuplesetRelation</c>.</summary>
internal readonly record struct TupleToUsersetEdge(string ObjectType, string Relation, string TuplesetRelation);

/// <summary>
/// The model's edges turned around, for list-objects: which relations can be granted by a subject shape,
/// by another relation of the same object, or by a relation of a parent object. Subtracted branches
/// never grant, so they are left out; intersections are kept (candidates are re-checked afterwards).
/// </summary>
internal sealed class ReverseIndex
{
    private readonly Dictionary<(string Type, string? Relation, bool Wildcard), List<RelationEdge>> _direct = [];
    private readonly Dictionary<(string Type, string Relation), List<RelationEdge>> _computed = [];
    private readonly Dictionary<(string ParentType, string Relation), List<TupleToUsersetEdge>> _tupleToUserset = [];

    public ReverseIndex(AuthorizationModel model)
    {
        foreach (var type in model.Types)
        {
            foreach (var relation in type.Relations)
            {
                Visit(model, type, relation, relation.Rewrite);
            }
        }
    }

    public IReadOnlyList<RelationEdge> DirectlyAssignable(string subjectType, string? subjectRelation, bool wildcard) =>
        _direct.TryGetValue((subjectType, subjectRelation, wildcard), out var edges) ? edges : [];

    public IReadOnlyList<RelationEdge> ComputedFrom(string type, string relation) =>
        _computed.TryGetValue((type, relation), out var edges) ? edges : [];

    public IReadOnlyList<TupleToUsersetEdge> TupleToUsersetFrom(string parentType, string relation) =>
        _tupleToUserset.TryGetValue((parentType, relation), out var edges) ? edges : [];

    private void Visit(AuthorizationModel model, TypeDefinition type, RelationDefinition relation, Rewrite rewrite)
    {
        var self = new RelationEdge(type.Name, relation.Name);
        switch (rewrite)
        {
            case DirectRewrite direct:
                foreach (var allowed in direct.AllowedSubjects)
                {
                    AddOnce(_direct, (allowed.Type, allowed.Relation, allowed.IsWildcard), self);
                }

                break;
            case ComputedUsersetRewrite computed:
                AddOnce(_computed, (type.Name, computed.Relation), self);
                break;
            case TupleToUsersetRewrite ttu when type.TryGetRelation(ttu.TuplesetRelation, out var tupleset):
                foreach (var parent in tupleset.DirectSubjects.Where(s => s.Relation is null && !s.IsWildcard).Select(s => s.Type).Distinct())
                {
                    if (model.TryGetRelation(parent, ttu.ComputedRelation, out _))
                    {
                        AddOnce(_tupleToUserset, (parent, ttu.ComputedRelation), new TupleToUsersetEdge(type.Name, relation.Name, ttu.TuplesetRelation));
                    }
                }

                break;
            case UnionRewrite union:
                union.Children.ToList().ForEach(child => Visit(model, type, relation, child));
                break;
            case IntersectionRewrite intersection:
                intersection.Children.ToList().ForEach(child => Visit(model, type, relation, child));
                break;
            case ExclusionRewrite exclusion:
                Visit(model, type, relation, exclusion.Base);
                break;
        }
    }

    private static void AddOnce<TKey, TValue>(Dictionary<TKey, List<TValue>> index, TKey key, TValue value)
        where TKey : notnull
    {
        if (!index.TryGetValue(key, out var list))
        {
            index[key] = list = [];
        }

        if (!list.Contains(value))
        {
            list.Add(value);
        }
    }
}
