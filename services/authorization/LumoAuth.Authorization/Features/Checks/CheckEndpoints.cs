using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LumoAuth.Authorization.Consistency;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Engine.Checking;
using LumoAuth.Authorization.Features.Relationships;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;

namespace LumoAuth.Authorization.Features.Checks;

/// <summary>Zanzibar reads through the engine: check, batch check, list-objects, list-subjects and expand.</summary>
public static class CheckEndpoints
{
    public const int DefaultListLimit = 100;
    public const int MaxListLimit = 1_000;

    public static IEndpointRouteBuilder MapCheckEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/zanzibar")
            .RequireAuthorization(Policies.TenantCaller)
            .WithTags("Zanzibar");
        group.MapPost("/check", Check).WithName("CheckRelationship");
        group.MapPost("/check/batch", BatchCheck).WithName("BatchCheckRelationships");
        // Enumerations tell who may do what to anything: for administrators and services allowed to read the tuples
        // (the docs' list-objects takes an admin token), not for every token of the tenant.
        group.MapPost("/list-objects", ListObjects).WithName("ListObjects").RequireAuthorization(Policies.RelationshipQueries);
        group.MapPost("/list-subjects", ListSubjects).WithName("ListSubjects").RequireAuthorization(Policies.RelationshipQueries);
        group.MapPost("/list-users", ListSubjects).WithName("ListUsers").RequireAuthorization(Policies.RelationshipQueries);
        group.MapPost("/expand", Expand).WithName("ExpandRelation").RequireAuthorization(Policies.RelationshipQueries);
        return app;
    }

    public static async Task<IResult> Check(RelationshipRequest request, ZanzibarReads reads, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (!request.TryNormalize(out var relationship, out var error)
            || !ZanzibarInput.TryConsistency(request.Consistency, request.ConsistencyToken, out var consistency, out error)
            || !ZanzibarInput.TryContext(request.Context, "context", out var context, out error)
            || !ZanzibarInput.TryContextualTuples(request.ContextualTuples, out var contextual, out error))
        {
            return new ApiErrorResult(error!);
        }

        var (scope, openError) = await reads.OpenAsync(tenant.TenantId, consistency, cancellationToken);
        if (scope is null)
        {
            return new ApiErrorResult(openError!);
        }

        var query = ToQuery(relationship, context, contextual);
        var result = await scope.View.Engine.CheckAsync(scope.ModelWith(contextual), scope.View.Reader, query, cancellationToken);
        var (response, failure) = Answer(scope, query, result);
        return failure is not null ? new ApiErrorResult(failure) : TypedResults.Ok(response);
    }

    public static async Task<IResult> BatchCheck(BatchCheckRequest request, ZanzibarReads reads, TenantContext tenant, CancellationToken cancellationToken)
    {
        var checks = request.Checks ?? [];
        if (checks.Count == 0 || checks.Count > ZanzibarInput.MaxBatch)
        {
            return new ApiErrorResult(ZanzibarInput.Invalid("checks", $"must hold between 1 and {ZanzibarInput.MaxBatch} checks"));
        }

        if (!ZanzibarInput.TryConsistency(request.Consistency, request.ConsistencyToken, out var consistency, out var error))
        {
            return new ApiErrorResult(error!);
        }

        var queries = new List<CheckQuery>();
        foreach (var check in checks)
        {
            if (check is null || !check.TryNormalize(out var relationship, out error)
                || !ZanzibarInput.TryContext(check.Context, "context", out var context, out error)
                || !ZanzibarInput.TryContextualTuples(check.ContextualTuples, out var contextual, out error))
            {
                return new ApiErrorResult(error ?? ZanzibarInput.Invalid("checks", "must not hold null entries"));
            }

            queries.Add(ToQuery(relationship, context, contextual));
        }

        var (scope, openError) = await reads.OpenAsync(tenant.TenantId, consistency, cancellationToken);
        if (scope is null)
        {
            return new ApiErrorResult(openError!);
        }

        var results = new List<BatchCheckItem>();
        foreach (var query in queries)
        {
            var result = await scope.View.Engine.CheckAsync(scope.ModelWith(query.ContextualTuples), scope.View.Reader, query, cancellationToken);
            var (response, failure) = Answer(scope, query, result);
            results.Add(new BatchCheckItem(
                response?.Allowed ?? false, query.Object.ToString(), query.Relation, query.Subject.ToString(),
                response?.ResolutionMetadata,
                failure is null ? null : new BatchCheckError(failure.Code, failure.Message, EngineErrors.Reason(result.Error!.Code))));
        }

        return TypedResults.Ok(new BatchCheckResponse(results, scope.ConsistencyToken));
    }

    public static async Task<IResult> ListObjects(ListObjectsRequest request, ZanzibarReads reads, TenantContext tenant, CancellationToken cancellationToken)
    {
        var problems = new RequestValidator();
        var subjectText = request.Subject ?? request.User;
        var relation = request.Permission ?? request.Relation;
        problems.Check(RelationshipNotation.IsName(request.ObjectType), "object_type", "must be a lowercase type name");
        problems.Check(RelationshipNotation.IsName(relation), "permission", "must be a lowercase relation name");
        problems.Check(RelationshipNotation.TryParseSubject(subjectText, out var subject), "subject", "must look like 'type:id', 'type:id#relation' or 'type:*'");
        if (!problems.IsValid)
        {
            return MissingOrInvalid(problems, request.ObjectType, relation, subjectText);
        }

        if (!ZanzibarInput.TryConsistency(request.Consistency, request.ConsistencyToken, out var consistency, out var error)
            || !ZanzibarInput.TryContext(request.Context, "context", out var context, out error)
            || !ZanzibarInput.TryContextualTuples(request.ContextualTuples, out var contextual, out error))
        {
            return new ApiErrorResult(error!);
        }

        var queryHash = ListContinuation.QueryHash(tenant.TenantId, "list-objects", [request.ObjectType!, relation!, ZanzibarInput.ToSubject(subject).ToString()], context, contextual);
        if (!ListContinuation.TryRead(request.ContinuationToken, queryHash, out var cursor, out error))
        {
            return new ApiErrorResult(error!);
        }

        var (scope, openError) = await OpenPageAsync(reads, tenant.TenantId, consistency, cursor, cancellationToken);
        if (scope is null)
        {
            return new ApiErrorResult(openError!);
        }

        var result = await scope.View.Engine.ListObjectsAsync(
            scope.ModelWith(contextual),
            scope.View.Reader,
            new ListObjectsQuery(request.ObjectType!, relation!, ZanzibarInput.ToSubject(subject)) { Context = context, ContextualTuples = contextual },
            cancellationToken);
        if (result.Error is { } engineError)
        {
            return scope.Model.IsPermissive && engineError.Code == CheckErrorCode.InvalidRequest
                ? TypedResults.Ok(new ListObjectsResponse([], null, true, scope.ConsistencyToken))
                : new ApiErrorResult(EngineErrors.ToApiError(engineError));
        }

        var (page, next) = Page(result.Objects.Select(o => o.ToString()), request.Limit, cursor, scope, queryHash);
        return TypedResults.Ok(new ListObjectsResponse(page, next, result.IsComplete, scope.ConsistencyToken));
    }

    public static async Task<IResult> ListSubjects(ListSubjectsRequest request, ZanzibarReads reads, TenantContext tenant, CancellationToken cancellationToken)
    {
        var problems = new RequestValidator();
        var relation = request.Permission ?? request.Relation;
        var filters = request.SubjectTypes ?? (request.SubjectType is null ? [] : [request.SubjectType]);
        problems.Check(RelationshipNotation.TryParseObject(request.Object, out var @object), "object", "must look like 'type:id'");
        problems.Check(RelationshipNotation.IsName(relation), "relation", "must be a lowercase relation name");
        problems.Check(filters.Count is > 0 and <= 10, "subject_type", "must name between 1 and 10 subject types ('user' or 'group#member')");
        foreach (var filter in filters)
        {
            var parsed = UserFilter.Parse(filter ?? string.Empty);
            problems.Check(RelationshipNotation.IsName(parsed.Type) && (parsed.Relation is null || RelationshipNotation.IsName(parsed.Relation)), "subject_type", $"'{filter}' is not a type or 'type#relation'");
        }

        if (!problems.IsValid)
        {
            return MissingOrInvalid(problems, request.Object, relation, filters.Count == 0 ? null : "x");
        }

        if (!ZanzibarInput.TryConsistency(request.Consistency, request.ConsistencyToken, out var consistency, out var error)
            || !ZanzibarInput.TryContext(request.Context, "context", out var context, out error)
            || !ZanzibarInput.TryContextualTuples(request.ContextualTuples, out var contextual, out error))
        {
            return new ApiErrorResult(error!);
        }

        List<UserFilter> userFilters = [.. filters.Select(f => UserFilter.Parse(f!))];

        // The subject kinds are a set: their order and repeats change nothing about the answer.
        var kinds = string.Join(",", userFilters.Select(f => f.ToString()).Distinct().Order(StringComparer.Ordinal));
        var queryHash = ListContinuation.QueryHash(tenant.TenantId, "list-subjects", [ZanzibarInput.ToObject(@object).ToString(), relation!, kinds], context, contextual);
        if (!ListContinuation.TryRead(request.ContinuationToken, queryHash, out var cursor, out error))
        {
            return new ApiErrorResult(error!);
        }

        var (scope, openError) = await OpenPageAsync(reads, tenant.TenantId, consistency, cursor, cancellationToken);
        if (scope is null)
        {
            return new ApiErrorResult(openError!);
        }

        var result = await scope.View.Engine.ListUsersAsync(
            scope.ModelWith(contextual),
            scope.View.Reader,
            new ListUsersQuery(ZanzibarInput.ToObject(@object), relation!, userFilters) { Context = context, ContextualTuples = contextual },
            cancellationToken);
        if (result.Error is { } engineError)
        {
            return scope.Model.IsPermissive && engineError.Code == CheckErrorCode.InvalidRequest
                ? TypedResults.Ok(new ListSubjectsResponse([], null, true, scope.ConsistencyToken))
                : new ApiErrorResult(EngineErrors.ToApiError(engineError));
        }

        var (page, next) = Page(result.Users.Select(u => u.ToString()), request.Limit, cursor, scope, queryHash);
        return TypedResults.Ok(new ListSubjectsResponse(page, next, result.IsComplete, scope.ConsistencyToken));
    }

    public static async Task<IResult> Expand(ExpandRequest request, ZanzibarReads reads, TenantContext tenant, CancellationToken cancellationToken)
    {
        var problems = new RequestValidator();
        var relation = request.Relation ?? request.Permission;
        problems.Check(RelationshipNotation.TryParseObject(request.Object, out var @object), "object", "must look like 'type:id'");
        problems.Check(RelationshipNotation.IsName(relation), "relation", "must be a lowercase relation name");
        if (!problems.IsValid)
        {
            return MissingOrInvalid(problems, request.Object, relation, "x");
        }

        if (!ZanzibarInput.TryConsistency(request.Consistency, request.ConsistencyToken, out var consistency, out var error))
        {
            return new ApiErrorResult(error!);
        }

        var (scope, openError) = await reads.OpenAsync(tenant.TenantId, consistency, cancellationToken);
        if (scope is null)
        {
            return new ApiErrorResult(openError!);
        }

        var result = await scope.View.Engine.ExpandAsync(scope.Model.Model, scope.View.Reader, new ExpandQuery(ZanzibarInput.ToObject(@object), relation!), cancellationToken);
        if (result.Error is { } engineError)
        {
            // Under the permissive default a relation nobody has written yet is simply empty.
            return scope.Model.IsPermissive && engineError.Code == CheckErrorCode.InvalidRequest
                ? TypedResults.Ok(new ExpandResponse(ExpandTree.ToJson(new DirectUsersTree($"{request.Object}#{relation}", [])), scope.ConsistencyToken))
                : new ApiErrorResult(EngineErrors.ToApiError(engineError));
        }

        return TypedResults.Ok(new ExpandResponse(ExpandTree.ToJson(result.Tree!), scope.ConsistencyToken));
    }

    private static CheckQuery ToQuery(Relationship relationship, IReadOnlyDictionary<string, object?>? context, List<RelationshipTuple> contextual) =>
        new(ZanzibarInput.ToObject(relationship.Object), relationship.Relation, ZanzibarInput.ToSubject(relationship.Subject))
        {
            Context = context,
            ContextualTuples = contextual,
        };

    /// <summary>
    /// The response for an engine answer. Under the permissive default an unknown type or relation simply
    /// has no tuples, so it is a denial; under a written schema it is the documented 400.
    /// </summary>
    private static (CheckResponse? Response, ApiError? Error) Answer(ReadScope scope, CheckQuery query, CheckResult result)
    {
        if (result.Outcome == CheckOutcome.Error && !(scope.Model.IsPermissive && result.Error!.Code == CheckErrorCode.InvalidRequest))
        {
            return (null, EngineErrors.ToApiError(result.Error!));
        }

        ResolutionMetadata? metadata = null;
        if (result.IsAllowed)
        {
            // As the docs show it: from the grant that names the subject to the tuple on the object asked about; the depth
            // counts the hops beyond that grant (0 for a direct tuple).
            var path = result.Path.Select(t => t.Key.ToString()).Reverse().ToList();
            var direct = result.Path.Count == 1 && result.Path[0].Object == query.Object && result.Path[0].Relation == query.Relation;
            metadata = new ResolutionMetadata(direct ? "direct" : "inheritance", path.Count - 1, path);
        }

        return (new CheckResponse(result.IsAllowed, query.Object.ToString(), query.Relation, query.Subject.ToString(), metadata, scope.ConsistencyToken), null);
    }

    /// <summary>Field problems of a list request; a field that is absent altogether earns <c>MISSING_FIELDS</c>.</summary>
    private static IResult MissingOrInvalid(RequestValidator problems, string? first, string? second, string? third) =>
        string.IsNullOrWhiteSpace(first) || string.IsNullOrWhiteSpace(second) || string.IsNullOrWhiteSpace(third)
            ? new ApiErrorResult(new ApiError("Required fields are missing", 400, RelationshipRequest.MissingFields))
            : problems.ToResult();

    /// <summary>
    /// Opens the view a list page answers from: never older than the revision the previous page was answered at, even
    /// under <c>minimize_latency</c> (another replica, or this one's index not yet caught up, would otherwise skip or
    /// repeat items between pages).
    /// </summary>
    private static async ValueTask<(ReadScope? Scope, ApiError? Error)> OpenPageAsync(
        ZanzibarReads reads, Guid tenantId, ConsistencyRequirement requested, ListCursor cursor, CancellationToken cancellationToken)
    {
        var requirement = cursor.Raise(requested, tenantId);
        var (scope, error) = await reads.OpenAsync(tenantId, requirement, cancellationToken);

        // Raised only within the tenant's own store, so the one way left to fail is a revision the tenant has not
        // reached: the continuation token named it (forged), not the consistency token.
        return scope is null && requirement != requested
            ? (null, ZanzibarInput.Invalid(ListContinuation.Field, "is ahead of this tenant's revision"))
            : (scope, error);
    }

    /// <summary>
    /// Results in a stable (ordinal) order, resumed after the last one handed out. Each page runs the whole listing
    /// again (at a revision no older than the previous page's) and skips what came before: items present at both
    /// revisions come exactly once; one added or removed between pages shows up only if it sorts after the cursor.
    /// </summary>
    private static (List<string> Page, string? Next) Page(IEnumerable<string> all, int? requested, ListCursor cursor, ReadScope scope, string queryHash)
    {
        var limit = Math.Clamp(requested ?? DefaultListLimit, 1, MaxListLimit);
        var ordered = all.Where(v => cursor.After is null || string.CompareOrdinal(v, cursor.After) > 0).Order(StringComparer.Ordinal).ToList();
        var page = ordered.Take(limit).ToList();
        var next = ordered.Count > limit ? ListContinuation.Issue(queryHash, scope.View.Revision, page[^1]) : null;
        return (page, next);
    }
}

/// <summary>The engine's userset tree as JSON: each node names its kind and its children.</summary>
public static class ExpandTree
{
    public static JsonObject ToJson(UsersetTree tree) => tree switch
    {
        DirectUsersTree direct => new JsonObject
        {
            ["type"] = "direct",
            ["name"] = direct.Name,
            ["users"] = new JsonArray([.. direct.Tuples.Select(t => (JsonNode)(t.Condition is null ? t.Subject.ToString() : $"{t.Subject} with {t.Condition.Name}"))]),
        },
        ComputedUsersetTree computed => new JsonObject { ["type"] = "computed", ["name"] = computed.Name, ["userset"] = computed.Userset },
        TupleToUsersetTree ttu => new JsonObject
        {
            ["type"] = "tuple_to_userset",
            ["name"] = ttu.Name,
            ["tupleset"] = ttu.Tupleset,
            ["computed"] = new JsonArray([.. ttu.Computed.Select(c => (JsonNode)c)]),
        },
        UnionTree union => new JsonObject { ["type"] = "union", ["name"] = union.Name, ["children"] = new JsonArray([.. union.Children.Select(c => (JsonNode)ToJson(c))]) },
        IntersectionTree intersection => new JsonObject { ["type"] = "intersection", ["name"] = intersection.Name, ["children"] = new JsonArray([.. intersection.Children.Select(c => (JsonNode)ToJson(c))]) },
        DifferenceTree difference => new JsonObject { ["type"] = "difference", ["name"] = difference.Name, ["base"] = ToJson(difference.Base), ["subtract"] = ToJson(difference.Subtract) },
        _ => throw new InvalidOperationException($"Unknown tree node {tree.GetType().Name}."),
    };
}

public sealed record ResolutionMetadata(
    [property: JsonPropertyName("resolved_via")] string ResolvedVia,
    [property: JsonPropertyName("depth")] int Depth,
    [property: JsonPropertyName("path")] IReadOnlyList<string> Path);

public sealed record CheckResponse(
    [property: JsonPropertyName("allowed")] bool Allowed,
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("relation")] string Relation,
    [property: JsonPropertyName("user")] string User,
    [property: JsonPropertyName("resolution_metadata")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    ResolutionMetadata? ResolutionMetadata,
    [property: JsonPropertyName("consistency_token")] string ConsistencyToken);

public sealed record BatchCheckRequest(
    [property: JsonPropertyName("checks")] IReadOnlyList<RelationshipRequest?>? Checks,
    [property: JsonPropertyName("consistency")] string? Consistency,
    [property: JsonPropertyName("consistency_token")] string? ConsistencyToken);

public sealed record BatchCheckError(
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("reason")] string Reason);

public sealed record BatchCheckItem(
    [property: JsonPropertyName("allowed")] bool Allowed,
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("relation")] string Relation,
    [property: JsonPropertyName("user")] string User,
    [property: JsonPropertyName("resolution_metadata")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    ResolutionMetadata? ResolutionMetadata,
    [property: JsonPropertyName("error")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    BatchCheckError? Error);

public sealed record BatchCheckResponse(
    [property: JsonPropertyName("results")] IReadOnlyList<BatchCheckItem> Results,
    [property: JsonPropertyName("consistency_token")] string ConsistencyToken);

/// <summary>AZ-24: <c>{subject, permission, object_type}</c>; <c>user</c> and <c>relation</c> are accepted too.</summary>
public sealed record ListObjectsRequest(
    [property: JsonPropertyName("subject")] string? Subject,
    [property: JsonPropertyName("user")] string? User,
    [property: JsonPropertyName("permission")] string? Permission,
    [property: JsonPropertyName("relation")] string? Relation,
    [property: JsonPropertyName("object_type")] string? ObjectType,
    [property: JsonPropertyName("limit")] int? Limit,
    [property: JsonPropertyName("continuation_token")] string? ContinuationToken,
    [property: JsonPropertyName("context")] System.Text.Json.JsonElement? Context,
    [property: JsonPropertyName("contextual_tuples")] IReadOnlyList<RelationshipRequest>? ContextualTuples,
    [property: JsonPropertyName("consistency")] string? Consistency,
    [property: JsonPropertyName("consistency_token")] string? ConsistencyToken);

public sealed record ListObjectsResponse(
    [property: JsonPropertyName("objects")] IReadOnlyList<string> Objects,
    [property: JsonPropertyName("continuation_token")] string? ContinuationToken,
    [property: JsonPropertyName("complete")] bool Complete,
    [property: JsonPropertyName("consistency_token")] string ConsistencyToken);

/// <summary><c>{object, relation|permission, subject_type | subject_types}</c>: which subjects of those kinds have the relation.</summary>
public sealed record ListSubjectsRequest(
    [property: JsonPropertyName("object")] string? Object,
    [property: JsonPropertyName("relation")] string? Relation,
    [property: JsonPropertyName("permission")] string? Permission,
    [property: JsonPropertyName("subject_type")] string? SubjectType,
    [property: JsonPropertyName("subject_types")] IReadOnlyList<string?>? SubjectTypes,
    [property: JsonPropertyName("limit")] int? Limit,
    [property: JsonPropertyName("continuation_token")] string? ContinuationToken,
    [property: JsonPropertyName("context")] System.Text.Json.JsonElement? Context,
    [property: JsonPropertyName("contextual_tuples")] IReadOnlyList<RelationshipRequest>? ContextualTuples,
    [property: JsonPropertyName("consistency")] string? Consistency,
    [property: JsonPropertyName("consistency_token")] string? ConsistencyToken);

public sealed record ListSubjectsResponse(
    [property: JsonPropertyName("subjects")] IReadOnlyList<string> Subjects,
    [property: JsonPropertyName("continuation_token")] string? ContinuationToken,
    [property: JsonPropertyName("complete")] bool Complete,
    [property: JsonPropertyName("consistency_token")] string ConsistencyToken);

public sealed record ExpandRequest(
    [property: JsonPropertyName("object")] string? Object,
    [property: JsonPropertyName("relation")] string? Relation,
    [property: JsonPropertyName("permission")] string? Permission,
    [property: JsonPropertyName("consistency")] string? Consistency,
    [property: JsonPropertyName("consistency_token")] string? ConsistencyToken);

public sealed record ExpandResponse(
    [property: JsonPropertyName("tree")] JsonObject Tree,
    [property: JsonPropertyName("consistency_token")] string ConsistencyToken);
