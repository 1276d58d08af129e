using LumoAuth.Authorization.Engine.Model;

namespace LumoAuth.Authorization.Engine.Checking;

/// <summary>
/// Evaluates a relation's rewrite against the tuples. Every sub-check (computed userset, userset tuple,
/// tuple-to-userset) goes through <see cref="DispatchAsync"/>, which enforces the depth limit, the dispatch
/// budget and cycle detection before handing the sub-check to the head of the resolver chain.
/// </summary>
internal sealed class LocalCheckResolver : ICheckResolver
{
    private ICheckResolver? _dispatcher;

    /// <summary>The head of the chain this resolver belongs to; sub-checks start there again.</summary>
    public ICheckResolver Dispatcher
    {
        get => _dispatcher ?? this;
        set => _dispatcher = value;
    }

    public ValueTask<CheckResult> ResolveAsync(CheckRequest request, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();

        // A userset always contains itself: document:1#viewer is a viewer of document:1.
        if (request.Subject.IsUserset && request.Subject.AsObject == request.Object && request.Subject.Relation == request.Relation)
        {
            return ValueTask.FromResult(CheckResult.Allowed([]));
        }

        return request.Scope.Model.TryGetRelation(request.Object.Type, request.Relation, out var relation)
            ? EvaluateAsync(relation.Rewrite, request, cancellationToken)
            : ValueTask.FromResult(CheckResult.Failed(CheckErrorCode.InvalidRequest, $"relation '{request.Object.Type}#{request.Relation}' is not defined"));
    }

    private ValueTask<CheckResult> EvaluateAsync(Rewrite rewrite, CheckRequest request, CancellationToken cancellationToken)
    {
        var concurrency = request.Scope.Limits.MaxConcurrency;
        return rewrite switch
        {
            DirectRewrite direct => DirectAsync(direct, request, cancellationToken),
            ComputedUsersetRewrite computed => DispatchAsync(request, request.Object, computed.Relation, cancellationToken),
            TupleToUsersetRewrite ttu => TupleToUsersetAsync(ttu, request, cancellationToken),
            UnionRewrite union => SetReducer.UnionAsync(Children(union.Children, request), [], concurrency, cancellationToken),
            IntersectionRewrite intersection => SetReducer.IntersectionAsync(Children(intersection.Children, request), concurrency, cancellationToken),
            ExclusionRewrite exclusion => SetReducer.ExclusionAsync(
                ct => EvaluateAsync(exclusion.Base, request, ct),
                ct => EvaluateAsync(exclusion.Subtract, request, ct),
                concurrency,
                cancellationToken),
            _ => throw new InvalidOperationException($"Unknown rewrite {rewrite.GetType().Name}."),
        };
    }

    private List<Func<CancellationToken, ValueTask<CheckResult>>> Children(IReadOnlyList<Rewrite> rewrites, CheckRequest request) =>
        rewrites.Select(child => (Func<CancellationToken, ValueTask<CheckResult>>)(ct => EvaluateAsync(child, request, ct))).ToList();

    private async ValueTask<CheckResult> DirectAsync(DirectRewrite direct, CheckRequest request, CancellationToken cancellationToken)
    {
        var scope = request.Scope;
        var subject = request.Subject;
        var settled = new List<CheckResult>();

        // The subject itself, then the public wildcard of its type: one keyed read each.
        var candidates = new List<SubjectRef> { subject };
        if (!subject.IsUserset && !subject.IsWildcard)
        {
            candidates.Add(SubjectRef.Wildcard(subject.Type));
        }

        foreach (var candidate in candidates.Where(c => direct.AllowedSubjects.Any(a => a.MatchesShape(c))))
        {
            var tuple = await scope.Tuples.ReadTupleAsync(new TupleKey(request.Object, request.Relation, candidate), cancellationToken).ConfigureAwait(false);
            if (tuple is null || !Fits(direct, tuple))
            {
                continue;
            }

            var condition = TupleConditions.Evaluate(scope, tuple);
            if (condition.IsMet)
            {
                return CheckResult.Allowed([tuple]);
            }

            if (condition.IsError)
            {
                settled.Add(TupleConditions.ToFailure(condition));
            }
        }

        if (!direct.AllowedSubjects.Any(a => a.Relation is not null))
        {
            return SetReducer.CombineUndecided(settled);
        }

        var children = new List<Func<CancellationToken, ValueTask<CheckResult>>>();
        await foreach (var tuple in scope.Tuples.ReadUsersetsAsync(request.Object, request.Relation, cancellationToken).ConfigureAwait(false))
        {
            if (!Fits(direct, tuple) || tuple.Subject == subject)
            {
                continue;
            }

            var condition = TupleConditions.Evaluate(scope, tuple);
            if (condition.IsError)
            {
                settled.Add(TupleConditions.ToFailure(condition));
            }
            else if (condition.IsMet)
            {
                children.Add(async ct => (await DispatchAsync(request, tuple.Subject.AsObject, tuple.Subject.Relation!, ct).ConfigureAwait(false)).Through(tuple));
            }
        }

        return await SetReducer.UnionAsync(children, settled, scope.Limits.MaxConcurrency, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<CheckResult> TupleToUsersetAsync(TupleToUsersetRewrite ttu, CheckRequest request, CancellationToken cancellationToken)
    {
        var scope = request.Scope;
        if (!scope.Model.TryGetRelation(request.Object.Type, ttu.TuplesetRelation, out var tupleset))
        {
            return CheckResult.Denied;
        }

        var settled = new List<CheckResult>();
        var children = new List<Func<CancellationToken, ValueTask<CheckResult>>>();
        await foreach (var tuple in scope.Tuples.ReadAsync(request.Object, ttu.TuplesetRelation, cancellationToken).ConfigureAwait(false))
        {
            // Only a concrete parent object can be followed; wildcards and stale tuples are ignored.
            if (tuple.Subject.IsUserset || tuple.Subject.IsWildcard || !tupleset.Allows(tuple.Subject, tuple.Condition?.Name)
                || !scope.Model.TryGetRelation(tuple.Subject.Type, ttu.ComputedRelation, out _))
            {
                continue;
            }

            var condition = TupleConditions.Evaluate(scope, tuple);
            if (condition.IsError)
            {
                settled.Add(TupleConditions.ToFailure(condition));
            }
            else if (condition.IsMet)
            {
                children.Add(async ct => (await DispatchAsync(request, tuple.Subject.AsObject, ttu.ComputedRelation, ct).ConfigureAwait(false)).Through(tuple));
            }
        }

        return await SetReducer.UnionAsync(children, settled, scope.Limits.MaxConcurrency, cancellationToken).ConfigureAwait(false);
    }

    private ValueTask<CheckResult> DispatchAsync(CheckRequest parent, ObjectRef @object, string relation, CancellationToken cancellationToken)
    {
        var key = new TupleKey(@object, relation, parent.Subject);
        if (key == parent.Key || parent.Metadata.HasVisited(key))
        {
            return ValueTask.FromResult(CheckResult.CycleDetected);
        }

        if (parent.Metadata.RemainingDepth <= 0)
        {
            return ValueTask.FromResult(CheckResult.Failed(
                CheckErrorCode.ResolutionTooComplex,
                $"resolution depth of {parent.Scope.Limits.MaxDepth} exceeded at {key}"));
        }

        if (!parent.Scope.TrySpendDispatch())
        {
            return ValueTask.FromResult(CheckResult.Failed(
                CheckErrorCode.ResolutionTooComplex,
                $"dispatch budget of {parent.Scope.Limits.MaxDispatches} sub-checks exhausted"));
        }

        var child = new CheckRequest(@object, relation, parent.Subject, parent.Scope, parent.Metadata.Descend(parent.Key));
        return Dispatcher.ResolveAsync(child, cancellationToken);
    }

    private static bool Fits(DirectRewrite direct, RelationshipTuple tuple) =>
        direct.AllowedSubjects.Any(a => a.MatchesShape(tuple.Subject) && a.Condition == tuple.Condition?.Name);
}
