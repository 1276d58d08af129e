using System.Text.Json.Serialization;
using LumoAuth.Authorization.Consistency;
using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Schemas;
using LumoAuth.Authorization.Storage;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Authorization.Features.Relationships;

/// <summary>Tuples: write and delete (single, idempotent), batch writes with preconditions, filtered reads and the changes feed.</summary>
public static class RelationshipEndpoints
{
    public const string PreconditionFailed = "precondition_failed";
    public const string TupleConditionConflict = "tuple_condition_conflict";

    public static IEndpointRouteBuilder MapRelationshipEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/zanzibar")
            .RequireAuthorization(Policies.RelationshipStore)
            .WithTags("Zanzibar");
        group.MapPost("/tuples", WriteTuple).WithName("WriteTuple");
        group.MapDelete("/tuples", DeleteTuple).WithName("DeleteTuple");
        group.MapGet("/tuples", ReadTuples).WithName("ReadTuples");
        group.MapPost("/write", WriteBatch).WithName("WriteTuples");
        group.MapGet("/changes", ReadChanges).WithName("ReadTupleChanges");
        return app;
    }

    public static async Task<IResult> WriteTuple(RelationshipRequest request, [AsParameters] WriteServices services, CancellationToken cancellationToken)
    {
        if (!ZanzibarInput.TryTuple(request, out var tuple, out var error))
        {
            return new ApiErrorResult(error!);
        }

        var outcome = await services.ApplyAsync([tuple], [], [], cancellationToken);
        return outcome.Error is { } failure
            ? new ApiErrorResult(failure)
            : TypedResults.Ok(new DataResponse<TupleWriteResponse>(
                new TupleWriteResponse(tuple.Key.ToString(), outcome.Changed, outcome.Revision, ConsistencyToken.For(services.Tenant.TenantId, outcome.Revision)),
                outcome.Changed ? "Tuple written" : "Tuple already present"));
    }

    public static async Task<IResult> DeleteTuple([FromBody] RelationshipRequest request, [AsParameters] WriteServices services, CancellationToken cancellationToken)
    {
        if (!request.TryNormalize(out var relationship, out var error))
        {
            return new ApiErrorResult(error!);
        }

        var key = new TupleKey(ZanzibarInput.ToObject(relationship.Object), relationship.Relation, ZanzibarInput.ToSubject(relationship.Subject));
        var outcome = await services.ApplyAsync([], [key], [], cancellationToken);
        return outcome.Error is { } failure
            ? new ApiErrorResult(failure)
            : TypedResults.Ok(new DataResponse<TupleWriteResponse>(
                new TupleWriteResponse(key.ToString(), outcome.Changed, outcome.Revision, ConsistencyToken.For(services.Tenant.TenantId, outcome.Revision)),
                outcome.Changed ? "Tuple deleted" : "Tuple was not present"));
    }

    public static async Task<IResult> WriteBatch(WriteBatchRequest request, [AsParameters] WriteServices services, CancellationToken cancellationToken)
    {
        var writes = request.Writes ?? [];
        var deletes = request.Deletes ?? [];
        var conditions = request.Preconditions ?? [];
        if (writes.Count + deletes.Count == 0)
        {
            return new ApiErrorResult(ZanzibarInput.Invalid("writes", "or deletes must name at least one tuple"));
        }

        if (writes.Count + deletes.Count > ZanzibarInput.MaxBatch || conditions.Count > ZanzibarInput.MaxBatch)
        {
            return new ApiErrorResult(ZanzibarInput.Invalid("writes", $"a batch holds at most {ZanzibarInput.MaxBatch} writes and deletes and {ZanzibarInput.MaxBatch} preconditions"));
        }

        var tuples = new List<RelationshipTuple>();
        foreach (var write in writes)
        {
            if (!ZanzibarInput.TryTuple(write, out var tuple, out var error))
            {
                return new ApiErrorResult(error!);
            }

            tuples.Add(tuple);
        }

        var keys = new List<TupleKey>();
        var deleteConditions = new Dictionary<TupleKey, TupleCondition?>();
        foreach (var delete in deletes)
        {
            if (!ZanzibarInput.TryTuple(delete, out var tuple, out var error))
            {
                return new ApiErrorResult(error!);
            }

            keys.Add(tuple.Key);
            deleteConditions.TryAdd(tuple.Key, tuple.Condition);
        }

        if (RepeatedKey(tuples, keys, deleteConditions) is { } repeated)
        {
            return new ApiErrorResult(repeated);
        }

        var preconditions = new List<TuplePrecondition>();
        foreach (var condition in conditions)
        {
            if (condition is null)
            {
                return ApiErrors.Validation("preconditions", "entries must be objects");
            }

            if (!ZanzibarInput.TryTuple(condition.Tuple, out var tuple, out var error))
            {
                return new ApiErrorResult(error!);
            }

            preconditions.Add(new TuplePrecondition(tuple.Key, condition.Exists ?? true));
        }

        var outcome = await services.ApplyAsync(tuples, keys, preconditions, cancellationToken);
        return outcome.Error is { } failure
            ? new ApiErrorResult(failure)
            : TypedResults.Ok(new DataResponse<WriteBatchResponse>(new WriteBatchResponse(
                outcome.Written, outcome.Deleted, outcome.Changed, outcome.Revision, ConsistencyToken.For(services.Tenant.TenantId, outcome.Revision))));
    }

    /// <summary>
    /// A batch names each tuple once: a key twice in <c>writes</c> or in <c>deletes</c> is a mistake, and so is a key in both
    /// unless the write carries another condition than the delete names. That pair is the one way to change a tuple's
    /// condition (atomically, as a delete and a write); a write alone never changes a present tuple's condition.
    /// </summary>
    private static ApiError? RepeatedKey(List<RelationshipTuple> writes, List<TupleKey> deletes, Dictionary<TupleKey, TupleCondition?> deleteConditions)
    {
        if (writes.GroupBy(t => t.Key).FirstOrDefault(g => g.Count() > 1) is { } twiceWritten)
        {
            return ZanzibarInput.Invalid("writes", $"name {twiceWritten.Key} more than once");
        }

        if (deletes.GroupBy(k => k).FirstOrDefault(g => g.Count() > 1) is { } twiceDeleted)
        {
            return ZanzibarInput.Invalid("deletes", $"name {twiceDeleted.Key} more than once");
        }

        foreach (var write in writes)
        {
            if (deleteConditions.TryGetValue(write.Key, out var old) && SameCondition(old, write.Condition))
            {
                return ZanzibarInput.Invalid("writes", $"and deletes both name {write.Key} with the same condition: a key may be in both only to change its condition");
            }
        }

        return null;
    }

    private static bool SameCondition(TupleCondition? a, TupleCondition? b) =>
        a?.Name == b?.Name && TupleRows.ContextJson(a) == TupleRows.ContextJson(b);

    public static async Task<IResult> ReadTuples(
        AuthorizationDbContext db,
        [FromQuery(Name = "object_type")] string? objectType,
        [FromQuery(Name = "object")] string? @object,
        [FromQuery(Name = "relation")] string? relation,
        [FromQuery(Name = "user")] string? user,
        int? page,
        int? limit,
        CancellationToken cancellationToken)
    {
        var query = db.Tuples.AsNoTracking();
        var problems = new RequestValidator();
        if (objectType is not null)
        {
            problems.Check(RelationshipNotation.IsName(objectType), "object_type", "must be a lowercase name");
            query = query.Where(t => t.ObjectType == objectType);
        }

        if (@object is not null)
        {
            if (RelationshipNotation.TryParseObject(@object, out var o))
            {
                query = query.Where(t => t.ObjectType == o.Type && t.ObjectId == o.Id);
            }
            else
            {
                problems.Add("object", "must look like 'type:id'");
            }
        }

        if (relation is not null)
        {
            problems.Check(RelationshipNotation.IsName(relation), "relation", "must be a lowercase name");
            query = query.Where(t => t.Relation == relation);
        }

        if (user is not null)
        {
            if (RelationshipNotation.TryParseSubject(user, out var s))
            {
                query = query.Where(t => t.SubjectType == s.Type && t.SubjectId == s.Id && t.SubjectRelation == s.Relation);
            }
            else
            {
                problems.Add("user", "must look like 'type:id', 'type:id#relation' or 'type:*'");
            }
        }

        if (!problems.IsValid)
        {
            return problems.ToResult();
        }

        var paging = PageRequest.From(page, limit);
        var meta = await BoundedCount.PageMetaAsync(paging, n => query.Take(n).LongCountAsync(cancellationToken));
        var rows = await query
            .OrderBy(t => t.ObjectType).ThenBy(t => t.ObjectId).ThenBy(t => t.Relation)
            .ThenBy(t => t.SubjectType).ThenBy(t => t.SubjectId).ThenBy(t => t.SubjectRelation)
            .Skip(paging.Skip).Take(paging.Limit)
            .ToListAsync(cancellationToken);
        var items = rows.Select(t =>
        {
            var tuple = new RelationshipTuple(new ObjectRef(t.ObjectType, t.ObjectId), t.Relation, TupleRows.Subject(t.SubjectType, t.SubjectId, t.SubjectRelation), TupleRows.Condition(t.ConditionName, t.ConditionContext));
            return TupleResponse.From(tuple);
        }).ToList();
        return TypedResults.Ok(new PagedResponse<TupleResponse>(items, meta));
    }

    /// <summary>A changes feed asked to go on from a revision older than the changelog keeps (410).</summary>
    public const string ChangesExpired = "changes_expired";

    public static async Task<IResult> ReadChanges(AuthorizationDbContext db, TenantContext tenant, long? since, int? limit, CancellationToken cancellationToken)
    {
        if (since is < 0)
        {
            return ApiErrors.Validation("since", "must be a revision (0 or more)");
        }

        var from = since ?? 0;
        var take = Math.Clamp(limit ?? 100, 1, 1_000);
        // One row more than asked tells whether the page's last revision continues past it.
        var rows = await db.Changes.AsNoTracking().Where(c => c.Revision > from)
            .OrderBy(c => c.Revision).ThenBy(c => c.Id).Take(take + 1)
            .ToListAsync(cancellationToken);

        // A page ends on a whole revision, so "since = the last revision seen" never skips part of one.
        if (rows.Count > take)
        {
            var cut = rows[take].Revision;
            rows = rows.Take(take).ToList();
            if (rows[^1].Revision == cut)
            {
                rows = rows[0].Revision == cut
                    ? await db.Changes.AsNoTracking().Where(c => c.Revision == cut).OrderBy(c => c.Id).ToListAsync(cancellationToken)
                    : rows.Where(c => c.Revision != cut).ToList();
            }
        }

        // Read after the changes: a horizon raised before they were read means some of them may be gone.
        var revisions = await db.Revisions.Where(r => r.TenantId == tenant.TenantId).Select(r => new { r.Revision, r.ChangelogHorizon }).FirstOrDefaultAsync(cancellationToken);
        if (revisions is { } kept && from < kept.ChangelogHorizon)
        {
            return ApiErrors.Create(StatusCodes.Status410Gone, ChangesExpired,
                $"Changes up to revision {kept.ChangelogHorizon} are no longer kept. Read the tuples again, then follow the changes from the revision that read returns.",
                new { horizon = kept.ChangelogHorizon });
        }

        var current = revisions?.Revision ?? 0;
        var changes = rows.Select(c => new ChangeResponse(c.Revision, c.Operation, c.Tuple, c.ConditionName.Length == 0 ? null : c.ConditionName, c.Timestamp)).ToList();
        var next = changes.Count == 0 ? from : changes[^1].Revision;
        return TypedResults.Ok(new ChangesResponse(changes, next, current, ConsistencyToken.For(tenant.TenantId, current)));
    }
}

/// <summary>What every write needs: the tenant, its database, its model (to validate tuples) and the local index to refresh.</summary>
public sealed record WriteServices(AuthorizationDbContext Db, TenantContext Tenant, TenantModels Models, TenantIndexes Indexes)
{
    public async Task<WriteResult> ApplyAsync(
        IReadOnlyCollection<RelationshipTuple> writes,
        IReadOnlyCollection<TupleKey> deletes,
        IReadOnlyCollection<TuplePrecondition> preconditions,
        CancellationToken cancellationToken)
    {
        if (writes.Count > 0)
        {
            var model = await Models.GetAsync(Tenant.TenantId, long.MaxValue, cancellationToken);
            foreach (var tuple in writes)
            {
                if (TupleValidation.Problem(model, tuple) is { } problem)
                {
                    return new WriteResult(0, 0, 0, new ApiError(problem, 400, ErrorCodes.ValidationError, new { tuple = tuple.ToString() }));
                }
            }
        }

        var outcome = await TupleStoreWriter.ApplyAsync(Db, Tenant.TenantId, writes, deletes, preconditions, cancellationToken);
        if (outcome.ConditionConflict is { } conflict)
        {
            // Re-writing a tuple must never quietly change who is granted access under what condition.
            return new WriteResult(0, 0, outcome.Revision, new ApiError(
                $"{conflict} already exists with another condition: to change it, delete and write it in one batch",
                409,
                RelationshipEndpoints.TupleConditionConflict,
                new { tuple = conflict.ToString() }));
        }

        if (outcome.FailedPrecondition is { } failed)
        {
            return new WriteResult(0, 0, outcome.Revision, new ApiError(
                $"Precondition failed: {failed.Key} {(failed.MustExist ? "does not exist" : "already exists")}",
                409,
                RelationshipEndpoints.PreconditionFailed,
                new { tuple = failed.Key.ToString(), exists = failed.MustExist }));
        }

        if (outcome.Changed)
        {
            await Indexes.AfterWriteAsync(Tenant.TenantId, outcome.Revision, cancellationToken);
        }

        return new WriteResult(outcome.Written, outcome.Deleted, outcome.Revision, null);
    }
}

public sealed record WriteResult(int Written, int Deleted, long Revision, ApiError? Error)
{
    public bool Changed => Written + Deleted > 0;
}

/// <summary>Whether a tuple may be written under the tenant's model.</summary>
public static class TupleValidation
{
    public static string? Problem(TenantModel model, RelationshipTuple tuple)
    {
        if (model.IsPermissive)
        {
            // Any shape is allowed before a schema exists, but there are no conditions to refer to yet.
            return tuple.Condition is null ? null : $"condition '{tuple.Condition.Name}' is not defined: write a schema that declares it first";
        }

        var m = model.Model;
        if (!m.TryGetType(tuple.Object.Type, out var type))
        {
            return $"type '{tuple.Object.Type}' is not defined in the schema";
        }

        if (!type.TryGetRelation(tuple.Relation, out var relation))
        {
            return $"relation '{tuple.Object.Type}#{tuple.Relation}' is not defined in the schema";
        }

        if (tuple.Condition is { } condition && !m.TryGetCondition(condition.Name, out _))
        {
            return $"condition '{condition.Name}' is not defined in the schema";
        }

        return relation.Allows(tuple.Subject, tuple.Condition?.Name)
            ? null
            : $"'{tuple.Object.Type}#{tuple.Relation}' does not allow '{tuple.Subject}'{(tuple.Condition is null ? string.Empty : $" with {tuple.Condition.Name}")} (allowed: {string.Join(", ", relation.DirectSubjects)})";
    }
}

public sealed record TupleWriteResponse(
    [property: JsonPropertyName("tuple")] string Tuple,
    [property: JsonPropertyName("changed")] bool Changed,
    [property: JsonPropertyName("revision")] long Revision,
    [property: JsonPropertyName("consistency_token")] string ConsistencyToken);

public sealed record PreconditionRequest(
    [property: JsonPropertyName("tuple")] RelationshipRequest? Tuple,
    [property: JsonPropertyName("exists")] bool? Exists);

public sealed record WriteBatchRequest(
    [property: JsonPropertyName("writes")] IReadOnlyList<RelationshipRequest>? Writes,
    [property: JsonPropertyName("deletes")] IReadOnlyList<RelationshipRequest>? Deletes,
    [property: JsonPropertyName("preconditions")] IReadOnlyList<PreconditionRequest?>? Preconditions);

public sealed record WriteBatchResponse(
    [property: JsonPropertyName("written")] int Written,
    [property: JsonPropertyName("deleted")] int Deleted,
    [property: JsonPropertyName("changed")] bool Changed,
    [property: JsonPropertyName("revision")] long Revision,
    [property: JsonPropertyName("consistency_token")] string ConsistencyToken);

public sealed record TupleConditionResponse(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("context")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    IReadOnlyDictionary<string, object?>? Context);

public sealed record TupleResponse(
    [property: JsonPropertyName("tuple")] string Tuple,
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("relation")] string Relation,
    [property: JsonPropertyName("user")] string User,
    [property: JsonPropertyName("condition")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    TupleConditionResponse? Condition)
{
    public static TupleResponse From(RelationshipTuple tuple) => new(
        tuple.Key.ToString(), tuple.Object.ToString(), tuple.Relation, tuple.Subject.ToString(),
        tuple.Condition is null ? null : new TupleConditionResponse(tuple.Condition.Name, tuple.Condition.Context));
}

public sealed record ChangeResponse(
    [property: JsonPropertyName("revision")] long Revision,
    [property: JsonPropertyName("operation")] string Operation,
    [property: JsonPropertyName("tuple")] string Tuple,
    [property: JsonPropertyName("condition")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    string? Condition,
    [property: JsonPropertyName("timestamp")] DateTimeOffset Timestamp);

public sealed record ChangesResponse(
    [property: JsonPropertyName("data")] IReadOnlyList<ChangeResponse> Data,
    [property: JsonPropertyName("next_since")] long NextSince,
    [property: JsonPropertyName("revision")] long Revision,
    [property: JsonPropertyName("consistency_token")] string ConsistencyToken);
