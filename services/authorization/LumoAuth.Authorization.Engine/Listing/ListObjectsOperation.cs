using LumoAuth.Authorization.Engine.Checking;

namespace LumoAuth.Authorization.Engine.Listing;

/// <summary>
/// List-objects in two steps: walk the model backwards from the subject through the tuples to collect
/// candidate objects (a superset: intersections and exclusions are not decided here), then confirm each
/// candidate with a full check, which decides intersections, exclusions, conditions and cycles exactly.
/// </summary>
internal sealed class ListObjectsOperation(AuthorizationEngine engine, CheckScope scope)
{
    public async ValueTask<ListObjectsResult> RunAsync(ListObjectsQuery query, CancellationToken cancellationToken)
    {
        var limits = scope.Limits;
        var reverse = scope.Model.Reverse;
        var visited = new HashSet<SubjectRef>();
        var pending = new Queue<SubjectRef>();
        var candidates = new List<ObjectRef>();
        var complete = true;

        Enqueue(query.Subject);
        if (!query.Subject.IsUserset && !query.Subject.IsWildcard)
        {
            Enqueue(SubjectRef.Wildcard(query.Subject.Type));
        }

        while (pending.Count > 0)
        {
            if (visited.Count > limits.MaxListCandidates)
            {
                complete = false;
                break;
            }

            var node = pending.Dequeue();

            // Tuples that name this node as their subject grant their relation on their object.
            foreach (var edge in reverse.DirectlyAssignable(node.Type, node.Relation, node.IsWildcard))
            {
                await foreach (var tuple in scope.Tuples.ReadBySubjectAsync(edge.ObjectType, edge.Relation, node, cancellationToken).ConfigureAwait(false))
                {
                    Reached(tuple.Object, edge.Relation);
                }
            }

            if (node.Relation is null)
            {
                continue;
            }

            // A reached object#relation also grants what is computed from it, on itself and on its children.
            foreach (var edge in reverse.ComputedFrom(node.Type, node.Relation))
            {
                Reached(node.AsObject, edge.Relation);
            }

            foreach (var edge in reverse.TupleToUsersetFrom(node.Type, node.Relation))
            {
                await foreach (var tuple in scope.Tuples.ReadBySubjectAsync(edge.ObjectType, edge.TuplesetRelation, SubjectRef.FromObject(node.AsObject), cancellationToken).ConfigureAwait(false))
                {
                    Reached(tuple.Object, edge.Relation);
                }
            }
        }

        var objects = new List<ObjectRef>();
        foreach (var candidate in candidates)
        {
            if (objects.Count >= limits.MaxListResults)
            {
                complete = false;
                break;
            }

            var result = await engine.ResolveAsync(scope, candidate, query.Relation, query.Subject, cancellationToken).ConfigureAwait(false);
            if (result.Outcome == CheckOutcome.Error)
            {
                return ListObjectsResult.Failed(result.Error!);
            }

            if (result.IsAllowed)
            {
                objects.Add(candidate);
            }
        }

        return new ListObjectsResult(objects, complete);

        void Reached(ObjectRef @object, string relation)
        {
            var node = SubjectRef.FromObject(@object, relation);
            if (Enqueue(node) && @object.Type == query.ObjectType && relation == query.Relation)
            {
                candidates.Add(@object);
            }
        }

        bool Enqueue(SubjectRef node)
        {
            if (!visited.Add(node))
            {
                return false;
            }

            pending.Enqueue(node);
            return true;
        }
    }
}
