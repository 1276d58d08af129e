using System.Text.Json.Serialization;
using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Engine.Model;
using LumoAuth.Authorization.Engine.Schema;
using LumoAuth.Authorization.Schemas;
using LumoAuth.Authorization.Storage;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Authorization.Features.Schema;

/// <summary>
/// The tenant's schema, in the OpenFGA DSL or either documented YAML form. Each write that changes the
/// model is a new version and moves the tenant's revision (so consistency tokens cover it); until the
/// first write the permissive default applies.
/// </summary>
public static class SchemaEndpoints
{
    public static IEndpointRouteBuilder MapSchemaEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/zanzibar/schema").WithTags("Zanzibar");
        group.MapGet(string.Empty, GetSchema).WithName("GetSchema").RequireAuthorization(Policies.TenantCaller);
        group.MapPut(string.Empty, PutSchema).WithName("PutSchema").RequireAuthorization(Policies.TenantAdmin);
        return app;
    }

    public static async Task<IResult> GetSchema(AuthorizationDbContext db, TenantModels models, int? version, CancellationToken cancellationToken)
    {
        var query = db.Schemas.AsNoTracking();
        var stored = await (version is { } wanted ? query.Where(s => s.Version == wanted) : query.OrderByDescending(s => s.Version))
            .FirstOrDefaultAsync(cancellationToken);
        if (stored is null)
        {
            return ApiErrors.NotFound(version is null ? "Schema (none written yet: the permissive default applies)" : "Schema version");
        }

        var model = models.Compile(stored.ModelId, stored.Source);
        return TypedResults.Ok(new LumoAuth.ServiceDefaults.Paging.DataResponse<SchemaResponse>(SchemaResponse.From(stored, model, null)));
    }

    public static async Task<IResult> PutSchema(SchemaRequest request, AuthorizationDbContext db, TenantContext tenant, TenantModels models, Consistency.TenantIndexes indexes, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Schema))
        {
            return ApiErrors.Validation("schema", "is required");
        }

        AuthorizationModel model;
        try
        {
            model = request.Format switch
            {
                null => AuthorizationSchema.Parse(request.Schema),
                "dsl" => AuthorizationSchema.ParseDsl(request.Schema),
                "yaml" => AuthorizationSchema.ParseYaml(request.Schema),
                _ => throw new SchemaException("format must be 'dsl' or 'yaml'"),
            };
        }
        catch (SchemaException exception)
        {
            return ApiErrors.Create(400, ErrorCodes.ValidationError, "The schema is invalid", new
            {
                schema = exception.Errors.Select(e => e.ToString()).ToArray(),
                errors = exception.Errors.Select(e => new SchemaErrorResponse(e.Line, e.Column, e.Message)).ToArray(),
            });
        }

        var format = request.Format ?? (AuthorizationSchema.IsDsl(request.Schema) ? "dsl" : "yaml");
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var revision = await TupleStoreWriter.LockRevisionAsync(db, tenant.TenantId, cancellationToken);
        var latest = await db.Schemas.OrderByDescending(s => s.Version).FirstOrDefaultAsync(cancellationToken);
        if (latest is not null && latest.ModelId == model.Id)
        {
            await transaction.RollbackAsync(cancellationToken);
            return TypedResults.Ok(new LumoAuth.ServiceDefaults.Paging.DataResponse<SchemaResponse>(SchemaResponse.From(latest, model, revision, changed: false), "Schema unchanged"));
        }

        var stored = new TenantSchema
        {
            TenantId = tenant.TenantId,
            Version = (latest?.Version ?? 0) + 1,
            Format = format,
            Source = request.Schema,
            ModelId = model.Id,
            CreatedAt = DateTimeOffset.UtcNow,
        };
        db.Schemas.Add(stored);
        revision = await TupleStoreWriter.BumpRevisionAsync(db, tenant.TenantId, cancellationToken);
        db.Changes.Add(new TupleChange
        {
            TenantId = tenant.TenantId, Revision = revision, Operation = ChangeOperations.Schema,
            Tuple = $"schema v{stored.Version} {model.Id}", Timestamp = stored.CreatedAt,
        });
        db.AddEvent(new Contracts.Authorization.ZanzibarSchemaChanged(stored.Version, model.Id) { TenantId = tenant.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        models.Compile(model.Id, request.Schema);

        // The writer's own replica moves its index past the schema's revision, so its next read uses the new model.
        await indexes.AfterWriteAsync(tenant.TenantId, revision, cancellationToken);
        return TypedResults.Ok(new LumoAuth.ServiceDefaults.Paging.DataResponse<SchemaResponse>(SchemaResponse.From(stored, model, revision), "Schema written"));
    }
}

public sealed record SchemaRequest(
    [property: JsonPropertyName("schema")] string? Schema,
    [property: JsonPropertyName("format")] string? Format);

public sealed record SchemaErrorResponse(
    [property: JsonPropertyName("line")] int Line,
    [property: JsonPropertyName("column")] int Column,
    [property: JsonPropertyName("message")] string Message);

public sealed record SchemaTypeResponse(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("relations")] IReadOnlyList<string> Relations);

public sealed record SchemaResponse(
    [property: JsonPropertyName("version")] int Version,
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("model_id")] string ModelId,
    [property: JsonPropertyName("schema")] string Schema,
    [property: JsonPropertyName("types")] IReadOnlyList<SchemaTypeResponse> Types,
    [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("changed")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    bool? Changed,
    [property: JsonPropertyName("revision")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    long? Revision,
    [property: JsonPropertyName("consistency_token")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    string? ConsistencyToken)
{
    public static SchemaResponse From(TenantSchema stored, AuthorizationModel model, long? revision, bool changed = true) => new(
        stored.Version,
        stored.Format,
        stored.ModelId,
        stored.Source,
        [.. model.Types.Select(t => new SchemaTypeResponse(t.Name, [.. t.Relations.Select(r => r.Name)]))],
        stored.CreatedAt,
        revision is null ? null : changed,
        revision,
        revision is null ? null : Consistency.ConsistencyToken.For(stored.TenantId, revision.Value));
}
