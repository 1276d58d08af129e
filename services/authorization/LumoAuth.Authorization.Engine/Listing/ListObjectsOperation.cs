using LumoAuth.Authorization.Engine.Checking;

namespace LumoAuth.Authorization.Engine.Listing;

/// <summary>
/// List-objects in two steps: walk the model backwards from the subject through the tuples to collect
/// candidate objects (a superset: intersections and exclusions are not decided here), then confirm each
/// candidate with a full check, which decides intersections, exclusions, conditions and cycles exactly.
/// When the model is monotonic (unions only, no conditions) and the walk met only unconditional tuples,
/// a candidate reached within the depth limit is already proven and needs no confirming check.
/// </summary>
internal sealed class ListObjectsOperation(AuthorizationEngine engine, CheckScope scope)
{
    public async ValueTask<ListObjectsResult> RunAsync(ListObjectsQuery query, CancellationToken cancellationToken)
    {
        var limits = scope.Limits;
        var reverse = scope.Model.Reverse;
        var visited = new Dictionary<SubjectRef, int>();
        var pending = new Queue<SubjectRef>();
        var candidates = new List<(ObjectRef Object, int Hops)>();
        var complete = true;
        var unconditional = true;

        Enqueue(query.Subject, 0);
        if (!query.Subject.IsUserset && !query.Subject.IsWildcard)
        {
            Enqueue(SubjectRef.Wildcard(query.Subject.Type), 0);
        }

        while (pending.Count > 0)
        {
            if (visited.Count > limits.MaxListCandidates)
            {
                complete = false;
                break;
            }

            var node = pending.Dequeue();
            var hops = visited[node] + 1;

            // Tuples that name this node as their subject grant their relation on their object.
            foreach (var edge in reverse.DirectlyAssignable(node.Type, node.Relation, node.IsWildcard))
            {
                await foreach (var tuple in scope.Tuples.ReadBySubjectAsync(edge.ObjectType, edge.Relation, node, cancellationToken).ConfigureAwait(false))
                {
                    unconditional &= tuple.Condition is null;
                    Reached(tuple.Object, edge.Relation, hops);
                    if (!complete)
                    {
                        break;
                    }
                }
            }

            if (node.Relation is null)
            {
                continue;
            }

            // A reached object#relation also grants what is computed from it, on itself and on its children.
            foreach (var edge in reverse.ComputedFrom(node.Type, node.Relation))
            {
                Reached(node.AsObject, edge.Relation, hops);
            }

            foreach (var edge in reverse.TupleToUsersetFrom(node.Type, node.Relation))
            {
                await foreach (var tuple in scope.Tuples.ReadBySubjectAsync(edge.ObjectType, edge.TuplesetRelation, SubjectRef.FromObject(node.AsObject), cancellationToken).ConfigureAwait(false))
                {
                    unconditional &= tuple.Condition is null;
                    Reached(tuple.Object, edge.Relation, hops);
                    if (!complete)
                    {
                        break;
                    }
                }
            }
        }

        var proven = unconditional && scope.Model.IsMonotonic;
        var objects = new List<ObjectRef>();
        foreach (var (candidate, candidateHops) in candidates)
        {
            if (objects.Count >= limits.MaxListResults)
            {
                complete = false;
                break;
            }

            if (proven && candidateHops <= limits.MaxDepth)
            {
                objects.Add(candidate);
                continue;
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

        void Reached(ObjectRef @object, string relation, int hops)
        {
            var node = SubjectRef.FromObject(@object, relation);
            if (Enqueue(node, hops) && @object.Type == query.ObjectType && relation == query.Relation)
            {
                candidates.Add((@object, hops));
            }
        }

        // Breadth-first, so the first visit of a node is along a shortest path (its hop count is minimal).
        // Bounded as nodes arrive, not only as they leave the queue: one node (a wildcard, a large group) can reach
        // millions of objects at once, and each candidate may cost a full check.
        bool Enqueue(SubjectRef node, int hops)
        {
            if (visited.Count > limits.MaxListCandidates)
            {
                complete = false;
                return false;
            }

            if (!visited.TryAdd(node, hops))
            {
                return false;
            }

            pending.Enqueue(node);
            return true;
        }
    }
}
