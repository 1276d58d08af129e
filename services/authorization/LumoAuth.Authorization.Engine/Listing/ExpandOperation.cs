using LumoAuth.Authorization.Engine.Model;
using LumoAuth.Authorization.Engine.Storage;

namespace LumoAuth.Authorization.Engine.Listing;

/// <summary>Expand: the rewrite of one relation with its direct tuples and tupleset parents filled in, one level deep.</summary>
internal static class ExpandOperation
{
    public static async ValueTask<UsersetTree> ExpandAsync(AuthorizationModel model, ITupleReader tuples, ObjectRef @object, string relation, CancellationToken cancellationToken)
    {
        model.TryGetRelation(@object.Type, relation, out var definition);
        return await ExpandAsync(model, tuples, @object, relation, definition!.Rewrite, cancellationToken).ConfigureAwait(false);
    }

    private static async ValueTask<UsersetTree> ExpandAsync(AuthorizationModel model, ITupleReader tuples, ObjectRef @object, string relation, Rewrite rewrite, CancellationToken cancellationToken)
    {
        var name = $"{@object}#{relation}";
        switch (rewrite)
        {
            case DirectRewrite direct:
                var written = new List<RelationshipTuple>();
                await foreach (var tuple in tuples.ReadAsync(@object, relation, cancellationToken).ConfigureAwait(false))
                {
                    if (direct.AllowedSubjects.Any(a => a.MatchesShape(tuple.Subject) && a.Condition == tuple.Condition?.Name))
                    {
                        written.Add(tuple);
                    }
                }

                return new DirectUsersTree(name, written);
            case ComputedUsersetRewrite computed:
                return new ComputedUsersetTree(name, $"{@object}#{computed.Relation}");
            case TupleToUsersetRewrite ttu:
                var parents = new List<string>();
                model.TryGetRelation(@object.Type, ttu.TuplesetRelation, out var tupleset);
                await foreach (var tuple in tuples.ReadAsync(@object, ttu.TuplesetRelation, cancellationToken).ConfigureAwait(false))
                {
                    if (tupleset!.Allows(tuple.Subject, tuple.Condition?.Name) && !tuple.Subject.IsWildcard
                        && model.TryGetRelation(tuple.Subject.Type, ttu.ComputedRelation, out _))
                    {
                        parents.Add($"{tuple.Subject.AsObject}#{ttu.ComputedRelation}");
                    }
                }

                return new TupleToUsersetTree(name, $"{@object}#{ttu.TuplesetRelation}", parents);
            case UnionRewrite union:
                return new UnionTree(name, await ExpandAllAsync(union.Children).ConfigureAwait(false));
            case IntersectionRewrite intersection:
                return new IntersectionTree(name, await ExpandAllAsync(intersection.Children).ConfigureAwait(false));
            case ExclusionRewrite exclusion:
                return new DifferenceTree(
                    name,
                    await ExpandAsync(model, tuples, @object, relation, exclusion.Base, cancellationToken).ConfigureAwait(false),
                    await ExpandAsync(model, tuples, @object, relation, exclusion.Subtract, cancellationToken).ConfigureAwait(false));
            default:
                throw new InvalidOperationException($"Unknown rewrite {rewrite.GetType().Name}.");
        }

        async ValueTask<List<UsersetTree>> ExpandAllAsync(IReadOnlyList<Rewrite> children)
        {
            var nodes = new List<UsersetTree>(children.Count);
            foreach (var child in children)
            {
                nodes.Add(await ExpandAsync(model, tuples, @object, relation, child, cancellationToken).ConfigureAwait(false));
            }

            return nodes;
        }
    }
}
