using LumoAuth.Authorization.Engine.Checking;
using LumoAuth.Authorization.Engine.Model;

namespace LumoAuth.Authorization.Engine.Listing;

/// <summary>
/// List-users in two steps: expand the relation forwards through the tuples to collect candidate subjects
/// of the requested kinds (a superset), then confirm each with a full check. The expansion is bounded
/// like a check: a path deeper than the depth limit is an error, not a silent truncation.
/// </summary>
internal sealed class ListUsersOperation(AuthorizationEngine engine, CheckScope scope)
{
    private readonly HashSet<SubjectRef> _expanded = [];
    private readonly List<SubjectRef> _candidates = [];
    private readonly HashSet<SubjectRef> _seenCandidates = [];
    private IReadOnlyList<UserFilter> _filters = [];
    private bool _complete = true;

    public async ValueTask<ListUsersResult> RunAsync(ListUsersQuery query, CancellationToken cancellationToken)
    {
        _filters = query.Filters;
        var error = await ExpandAsync(query.Object, query.Relation, 0, cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            return ListUsersResult.Failed(error);
        }

        var users = new List<SubjectRef>();
        foreach (var candidate in _candidates)
        {
            if (users.Count >= scope.Limits.MaxListResults)
            {
                _complete = false;
                break;
            }

            var result = await engine.ResolveAsync(scope, query.Object, query.Relation, candidate, cancellationToken).ConfigureAwait(false);
            if (result.Outcome == CheckOutcome.Error)
            {
                return ListUsersResult.Failed(result.Error!);
            }

            if (result.IsAllowed)
            {
                users.Add(candidate);
            }
        }

        return new ListUsersResult(users, _complete);
    }

    private async ValueTask<CheckError?> ExpandAsync(ObjectRef @object, string relation, int depth, CancellationToken cancellationToken)
    {
        var userset = SubjectRef.FromObject(@object, relation);
        if (!_expanded.Add(userset))
        {
            return null;
        }

        if (depth > scope.Limits.MaxDepth)
        {
            return new CheckError(CheckErrorCode.ResolutionTooComplex, $"resolution depth of {scope.Limits.MaxDepth} exceeded at {userset}");
        }

        if (_expanded.Count > scope.Limits.MaxListCandidates)
        {
            _complete = false;
            return null;
        }

        // A userset is a member of itself (group:eng#member has member group:eng#member).
        AddCandidateIfWanted(userset);
        return scope.Model.TryGetRelation(@object.Type, relation, out var definition)
            ? await ExpandRewriteAsync(@object, relation, definition.Rewrite, depth, cancellationToken).ConfigureAwait(false)
            : null;
    }

    private async ValueTask<CheckError?> ExpandRewriteAsync(ObjectRef @object, string relation, Rewrite rewrite, int depth, CancellationToken cancellationToken)
    {
        switch (rewrite)
        {
            case DirectRewrite direct:
                await foreach (var tuple in scope.Tuples.ReadAsync(@object, relation, cancellationToken).ConfigureAwait(false))
                {
                    if (!direct.AllowedSubjects.Any(a => a.MatchesShape(tuple.Subject) && a.Condition == tuple.Condition?.Name))
                    {
                        continue;
                    }

                    if (ConditionError(tuple, out var met) is { } conditionError)
                    {
                        return conditionError;
                    }

                    if (!met)
                    {
                        continue;
                    }

                    AddCandidateIfWanted(tuple.Subject);
                    if (tuple.Subject.IsUserset
                        && await ExpandAsync(tuple.Subject.AsObject, tuple.Subject.Relation!, depth + 1, cancellationToken).ConfigureAwait(false) is { } error)
                    {
                        return error;
                    }
                }

                return null;
            case ComputedUsersetRewrite computed:
                return await ExpandAsync(@object, computed.Relation, depth + 1, cancellationToken).ConfigureAwait(false);
            case TupleToUsersetRewrite ttu:
                var parents = new List<ObjectRef>();
                scope.Model.TryGetRelation(@object.Type, ttu.TuplesetRelation, out var tupleset);
                await foreach (var tuple in scope.Tuples.ReadAsync(@object, ttu.TuplesetRelation, cancellationToken).ConfigureAwait(false))
                {
                    if (tuple.Subject.IsUserset || tuple.Subject.IsWildcard || !tupleset!.Allows(tuple.Subject, tuple.Condition?.Name)
                        || !scope.Model.TryGetRelation(tuple.Subject.Type, ttu.ComputedRelation, out _))
                    {
                        continue;
                    }

                    if (ConditionError(tuple, out var met) is { } conditionError)
                    {
                        return conditionError;
                    }

                    if (met)
                    {
                        parents.Add(tuple.Subject.AsObject);
                    }
                }

                foreach (var parent in parents)
                {
                    if (await ExpandAsync(parent, ttu.ComputedRelation, depth + 1, cancellationToken).ConfigureAwait(false) is { } error)
                    {
                        return error;
                    }
                }

                return null;
            case UnionRewrite union:
                return await ExpandEachAsync(union.Children).ConfigureAwait(false);
            case IntersectionRewrite intersection:
                return await ExpandEachAsync(intersection.Children).ConfigureAwait(false);
            case ExclusionRewrite exclusion:
                // Only the base can grant; the confirming check applies the subtraction.
                return await ExpandRewriteAsync(@object, relation, exclusion.Base, depth, cancellationToken).ConfigureAwait(false);
            default:
                throw new InvalidOperationException($"Unknown rewrite {rewrite.GetType().Name}.");
        }

        async ValueTask<CheckError?> ExpandEachAsync(IReadOnlyList<Rewrite> children)
        {
            foreach (var child in children)
            {
                if (await ExpandRewriteAsync(@object, relation, child, depth, cancellationToken).ConfigureAwait(false) is { } error)
                {
                    return error;
                }
            }

            return null;
        }
    }

    /// <summary>
    /// Like OpenFGA, list-users evaluates the condition of every tuple it walks through, so a condition
    /// that cannot be evaluated fails the list even where a check would short-circuit past it.
    /// </summary>
    private CheckError? ConditionError(RelationshipTuple tuple, out bool met)
    {
        var condition = TupleConditions.Evaluate(scope, tuple);
        met = condition.IsMet;
        return condition.IsError ? new CheckError(CheckErrorCode.ConditionFailed, condition.Error!) : null;
    }

    // Direct subjects count against the same bound as expanded usersets: each candidate costs a confirming check.
    private void AddCandidateIfWanted(SubjectRef subject)
    {
        var wanted = _filters.Any(f => f.Type == subject.Type && f.Relation == subject.Relation);
        if (!wanted || _seenCandidates.Contains(subject))
        {
            return;
        }

        if (_candidates.Count >= scope.Limits.MaxListCandidates)
        {
            _complete = false;
            return;
        }

        _seenCandidates.Add(subject);
        _candidates.Add(subject);
    }
}
