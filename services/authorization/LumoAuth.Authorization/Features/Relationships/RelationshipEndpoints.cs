using System.Text.Json.Serialization;
using LumoAuth.Authorization.Data;
using LumoAuth.Contracts.Authorization;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Authorization.Features.Relationships;

public static class RelationshipEndpoints
{
    public static IEndpointRouteBuilder MapRelationshipEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/zanzibar")
            .RequireAuthorization(Policies.TenantCaller)
            .WithTags("Zanzibar");
        group.MapPost("/tuples", WriteTuple).WithName("WriteTuple");
        group.MapDelete("/tuples", DeleteTuple).WithName("DeleteTuple");
        group.MapPost("/check", Check).WithName("CheckRelationship");
        return app;
    }

    public static async Task<IResult> WriteTuple(RelationshipRequest request, AuthorizationDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (!request.TryNormalize(out var tuple, out var error))
        {
            return new ApiErrorResult(error!);
        }

        var result = await TupleWriter.ApplyAsync(db, tenant.TenantId, tuple, TupleOperation.Write, cancellationToken);
        return TypedResults.Ok(new DataResponse<TupleWriteResponse>(result, result.Changed ? "Tuple written" : "Tuple already present"));
    }

    public static async Task<IResult> DeleteTuple([Microsoft.AspNetCore.Mvc.FromBody] RelationshipRequest request, AuthorizationDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (!request.TryNormalize(out var tuple, out var error))
        {
            return new ApiErrorResult(error!);
        }

        var result = await TupleWriter.ApplyAsync(db, tenant.TenantId, tuple, TupleOperation.Delete, cancellationToken);
        return TypedResults.Ok(new DataResponse<TupleWriteResponse>(result, result.Changed ? "Tuple deleted" : "Tuple was not present"));
    }

    public static async Task<IResult> Check(RelationshipRequest request, AuthorizationDbContext db, CancellationToken cancellationToken)
    {
        if (!request.TryNormalize(out var tuple, out var error))
        {
            return new ApiErrorResult(error!);
        }

        var result = await DirectChecker.CheckAsync(db, tuple, cancellationToken);
        return TypedResults.Ok(new CheckResponse(
            result.Allowed, tuple.Object.ToString(), tuple.Relation, tuple.Subject.ToString(),
            result.Allowed ? new ResolutionMetadata(result.Path.Count > 1 ? "inheritance" : "direct", result.Path.Count, result.Path) : null));
    }
}

public sealed record TupleWriteResponse(
    [property: JsonPropertyName("tuple")] string Tuple,
    [property: JsonPropertyName("changed")] bool Changed,
    [property: JsonPropertyName("revision")] long Revision,
    [property: JsonPropertyName("consistency_token")] string ConsistencyToken);

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
    ResolutionMetadata? ResolutionMetadata);

public enum TupleOperation
{
    Write,
    Delete,
}

/// <summary>
/// Writes or deletes one tuple: the tenant's revision, the tuple, its changelog row and the event commit
/// together. Writing a present tuple or deleting an absent one is a no-op (idempotent retries).
/// </summary>
public static class TupleWriter
{
    public static async Task<TupleWriteResponse> ApplyAsync(AuthorizationDbContext db, Guid tenantId, Relationship tuple, TupleOperation operation, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var (o, s) = (tuple.Object, tuple.Subject);
        var changed = operation == TupleOperation.Write
            ? await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO tuples ("TenantId", "ObjectType", "ObjectId", "Relation", "SubjectType", "SubjectId", "SubjectRelation", "CreatedRevision", "CreatedAt")
                VALUES ({tenantId}, {o.Type}, {o.Id}, {tuple.Relation}, {s.Type}, {s.Id}, {s.Relation}, 0, {DateTimeOffset.UtcNow})
                ON CONFLICT DO NOTHING
                """, cancellationToken) > 0
            : await db.Tuples.Where(t => t.ObjectType == o.Type && t.ObjectId == o.Id && t.Relation == tuple.Relation
                                         && t.SubjectType == s.Type && t.SubjectId == s.Id && t.SubjectRelation == s.Relation)
                .ExecuteDeleteAsync(cancellationToken) > 0;

        if (!changed)
        {
            var current = await db.Revisions.Where(r => r.TenantId == tenantId).Select(r => r.Revision).FirstOrDefaultAsync(cancellationToken);
            await transaction.RollbackAsync(cancellationToken);
            return new TupleWriteResponse(tuple.ToString(), false, current, ConsistencyToken.For(current));
        }

        // INSERT … RETURNING cannot be composed over, hence ToList rather than Single.
        var revision = (await db.Database.SqlQuery<long>($"""
            INSERT INTO tenant_revisions ("TenantId", "Revision") VALUES ({tenantId}, 1)
            ON CONFLICT ("TenantId") DO UPDATE SET "Revision" = tenant_revisions."Revision" + 1
            RETURNING "Revision" AS "Value"
            """).ToListAsync(cancellationToken)).Single();
        db.Changes.Add(new TupleChange
        {
            TenantId = tenantId, Revision = revision, Operation = operation == TupleOperation.Write ? "write" : "delete",
            Tuple = tuple.ToString(), Timestamp = DateTimeOffset.UtcNow,
        });
        var contract = new RelationshipTuple(o.ToString(), tuple.Relation, s.ToString());
        db.AddEvent(operation == TupleOperation.Write
            ? new RelationshipsWritten([contract], revision) { TenantId = tenantId }
            : new RelationshipsDeleted([contract], revision) { TenantId = tenantId });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new TupleWriteResponse(tuple.ToString(), true, revision, ConsistencyToken.For(revision));
    }
}

/// <summary>A consistency token carries the tenant's revision (opaque to callers).</summary>
public static class ConsistencyToken
{
    public static string For(long revision) => "zk_" + revision.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
