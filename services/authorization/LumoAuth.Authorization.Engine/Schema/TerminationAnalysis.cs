using LumoAuth.Authorization.Engine.Model;

namespace LumoAuth.Authorization.Engine.Schema;

/// <summary>
/// Finds relations no tuple can ever satisfy: every path through them loops back without reaching a
/// concrete subject type (for example <c>define a: b</c>, <c>define b: a</c>). A least fixed point:
/// a relation terminates when its rewrite can reach a direct <c>user</c> / <c>user:*</c> restriction.
/// </summary>
internal static class TerminationAnalysis
{
    public static IEnumerable<SchemaError> FindRelationsThatNeverTerminate(ModelDraft draft, Dictionary<string, TypeDraft> types)
    {
        var terminates = new HashSet<(string, string)>();
        bool changed;
        do
        {
            changed = false;
            foreach (var type in draft.Types)
            {
                foreach (var relation in type.Relations)
                {
                    if (!terminates.Contains((type.Name, relation.Name)) && Terminates(type.Name, relation.Rewrite))
                    {
                        terminates.Add((type.Name, relation.Name));
                        changed = true;
                    }
                }
            }
        }
        while (changed);

        foreach (var type in draft.Types)
        {
            foreach (var relation in type.Relations.Where(r => !terminates.Contains((type.Name, r.Name))))
            {
                yield return new SchemaError(relation.Position, $"relation '{type.Name}#{relation.Name}' can never be satisfied: every path through it loops back without reaching a direct type restriction");
            }
        }

        bool Terminates(string type, Rewrite rewrite) => rewrite switch
        {
            DirectRewrite direct => direct.AllowedSubjects.Any(s => s.Relation is null || terminates.Contains((s.Type, s.Relation))),
            ComputedUsersetRewrite computed => terminates.Contains((type, computed.Relation)),
            TupleToUsersetRewrite ttu => ParentTypes(type, ttu.TuplesetRelation).Any(parent => terminates.Contains((parent, ttu.ComputedRelation))),
            UnionRewrite union => union.Children.Any(child => Terminates(type, child)),
            IntersectionRewrite intersection => intersection.Children.All(child => Terminates(type, child)),
            ExclusionRewrite exclusion => Terminates(type, exclusion.Base),
            _ => false,
        };

        IEnumerable<string> ParentTypes(string type, string tuplesetRelation) =>
            types[type].Relations.First(r => r.Name == tuplesetRelation).Rewrite is DirectRewrite direct
                ? direct.AllowedSubjects.Select(s => s.Type)
                : [];
    }
}
