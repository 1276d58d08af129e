using LumoAuth.Authorization.Engine.Checking;
using LumoAuth.Authorization.Engine.Listing;
using LumoAuth.Authorization.Engine.Model;
using LumoAuth.Authorization.Engine.Storage;

namespace LumoAuth.Authorization.Engine;

/// <summary>
/// The entry point: Check, BatchCheck, Expand, ListObjects and ListUsers over a model and a tuple reader,
/// both passed explicitly on every call (one engine serves every tenant and model). Invalid requests
/// come back as error results, never as exceptions; only cancellation throws.
/// </summary>
public sealed class AuthorizationEngine
{
    private readonly AuthorizationEngineOptions _options;
    private readonly ICheckResolver _resolver;

    public AuthorizationEngine(AuthorizationEngineOptions? options = null)
    {
        _options = options ?? new AuthorizationEngineOptions();
        Cache = _options.CacheCapacity > 0 ? new CheckCache(_options.CacheCapacity) : null;
        _resolver = CheckResolverChain.Create(Cache);
    }

    public CheckCache? Cache { get; }

    public CheckLimits Limits => _options.Limits;

    public async ValueTask<CheckResult> CheckAsync(AuthorizationModel model, ITupleReader tuples, CheckQuery query, CancellationToken cancellationToken = default)
    {
        var error = RequestValidator.ObjectRelation(model, query.Object.Type, query.Relation)
            ?? RequestValidator.Subject(model, query.Subject)
            ?? RequestValidator.ContextualTuples(model, query.ContextualTuples);
        if (error is not null)
        {
            return CheckResult.Failed(error.Code, error.Message);
        }

        var scope = await CreateScopeAsync(model, tuples, query.ContextualTuples, query.Context, cancellationToken).ConfigureAwait(false);
        return await ResolveAsync(scope, query.Object, query.Relation, query.Subject, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs the checks with bounded concurrency; results come back in the order of <paramref name="queries"/>.</summary>
    public async ValueTask<IReadOnlyList<CheckResult>> BatchCheckAsync(
        AuthorizationModel model,
        ITupleReader tuples,
        IReadOnlyList<CheckQuery> queries,
        CancellationToken cancellationToken = default)
    {
        var results = new CheckResult[queries.Count];
        await Parallel.ForAsync(
            0,
            queries.Count,
            new ParallelOptions { MaxDegreeOfParallelism = _options.Limits.MaxConcurrency, CancellationToken = cancellationToken },
            async (index, ct) => results[index] = await CheckAsync(model, tuples, queries[index], ct).ConfigureAwait(false)).ConfigureAwait(false);
        return results;
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822", Justification = "Part of the engine's instance API beside Check and the list operations.")]
    public async ValueTask<ExpandResult> ExpandAsync(AuthorizationModel model, ITupleReader tuples, ExpandQuery query, CancellationToken cancellationToken = default)
    {
        var error = RequestValidator.ObjectRelation(model, query.Object.Type, query.Relation)
            ?? RequestValidator.ContextualTuples(model, query.ContextualTuples);
        if (error is not null)
        {
            return new ExpandResult(null, error);
        }

        var reader = query.ContextualTuples.Count == 0 ? tuples : new ContextualTupleReader(tuples, query.ContextualTuples);
        return new ExpandResult(await ExpandOperation.ExpandAsync(model, reader, query.Object, query.Relation, cancellationToken).ConfigureAwait(false));
    }

    public async ValueTask<ListObjectsResult> ListObjectsAsync(AuthorizationModel model, ITupleReader tuples, ListObjectsQuery query, CancellationToken cancellationToken = default)
    {
        var error = RequestValidator.ObjectRelation(model, query.ObjectType, query.Relation)
            ?? RequestValidator.Subject(model, query.Subject)
            ?? RequestValidator.ContextualTuples(model, query.ContextualTuples);
        if (error is not null)
        {
            return ListObjectsResult.Failed(error);
        }

        var scope = await CreateScopeAsync(model, tuples, query.ContextualTuples, query.Context, cancellationToken).ConfigureAwait(false);
        return await new ListObjectsOperation(this, scope).RunAsync(query, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<ListUsersResult> ListUsersAsync(AuthorizationModel model, ITupleReader tuples, ListUsersQuery query, CancellationToken cancellationToken = default)
    {
        var error = RequestValidator.ObjectRelation(model, query.Object.Type, query.Relation)
            ?? query.Filters.Select(filter => RequestValidator.Filter(model, filter)).FirstOrDefault(e => e is not null)
            ?? RequestValidator.ContextualTuples(model, query.ContextualTuples);
        if (error is null && query.Filters.Count == 0)
        {
            error = new CheckError(CheckErrorCode.InvalidRequest, "at least one user filter is required");
        }

        if (error is not null)
        {
            return ListUsersResult.Failed(error);
        }

        var scope = await CreateScopeAsync(model, tuples, query.ContextualTuples, query.Context, cancellationToken).ConfigureAwait(false);
        return await new ListUsersOperation(this, scope).RunAsync(query, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Resolves one check under <paramref name="scope"/>, with a fresh dispatch budget; used by the list operations to confirm candidates.</summary>
    internal ValueTask<CheckResult> ResolveAsync(CheckScope scope, ObjectRef @object, string relation, SubjectRef subject, CancellationToken cancellationToken)
    {
        var rootScope = new CheckScope(scope.Model, scope.Tuples, scope.Revision, scope.Conditions, scope.Limits, scope.RequestContext, scope.Cacheable);
        var request = new CheckRequest(@object, relation, subject, rootScope, ResolutionMetadata.Root(_options.Limits.MaxDepth));
        return _resolver.ResolveAsync(request, cancellationToken);
    }

    private async ValueTask<CheckScope> CreateScopeAsync(
        AuthorizationModel model,
        ITupleReader tuples,
        IReadOnlyList<RelationshipTuple> contextualTuples,
        IReadOnlyDictionary<string, object?>? context,
        CancellationToken cancellationToken)
    {
        var revision = await tuples.GetRevisionAsync(cancellationToken).ConfigureAwait(false);
        var reader = contextualTuples.Count == 0 ? tuples : new ContextualTupleReader(tuples, contextualTuples);
        var cacheable = contextualTuples.Count == 0 && (context is null || context.Count == 0);
        return new CheckScope(model, reader, revision, _options.Conditions, _options.Limits, context, cacheable);
    }
}
