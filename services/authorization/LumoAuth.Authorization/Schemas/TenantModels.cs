using System.Collections.Concurrent;
using LumoAuth.Authorization.Engine.Model;
using LumoAuth.Authorization.Engine.Schema;
using Npgsql;

namespace LumoAuth.Authorization.Schemas;

/// <summary>The model in force for a tenant: its latest schema version, or the permissive default (version 0) before it writes one.</summary>
public sealed record TenantModel(AuthorizationModel Model, int Version, bool IsPermissive, long LoadedAtRevision);

/// <summary>
/// Resolves each tenant's model. A schema write moves the tenant's revision, so an entry loaded at or after
/// the revision a request reads at is current enough; anything older is reloaded (one indexed query, the
/// compiled model itself being shared by content id). The permissive default is rebuilt from the shapes
/// of the tenant's tuples, which also change only with the revision.
/// </summary>
public sealed class TenantModels(NpgsqlDataSource dataSource)
{
    private const int MaxEntries = 10_000;
    private readonly ConcurrentDictionary<Guid, TenantModel> _byTenant = new();
    private readonly ConcurrentDictionary<string, AuthorizationModel> _compiled = new(StringComparer.Ordinal);

    public async ValueTask<TenantModel> GetAsync(Guid tenantId, long revision, CancellationToken cancellationToken)
    {
        if (_byTenant.TryGetValue(tenantId, out var cached) && cached.LoadedAtRevision >= revision)
        {
            return cached;
        }

        var loaded = await LoadAsync(tenantId, cancellationToken);
        if (_byTenant.Count >= MaxEntries)
        {
            _byTenant.Clear();
        }

        _byTenant.AddOrUpdate(tenantId, loaded, (_, old) => old.LoadedAtRevision > loaded.LoadedAtRevision ? old : loaded);
        return loaded;
    }

    /// <summary>Compiles (or reuses) the model of a stored schema source.</summary>
    public AuthorizationModel Compile(string modelId, string source)
    {
        if (_compiled.Count >= MaxEntries)
        {
            _compiled.Clear();
        }

        return _compiled.GetOrAdd(modelId, _ => AuthorizationSchema.Parse(source));
    }

    private async Task<TenantModel> LoadAsync(Guid tenantId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        long revision;
        await using (var command = new NpgsqlCommand("SELECT \"Revision\" FROM tenant_revisions WHERE \"TenantId\" = $1", connection, transaction))
        {
            command.Parameters.AddWithValue(tenantId);
            revision = await command.ExecuteScalarAsync(cancellationToken) is long r ? r : 0;
        }

        await using (var command = new NpgsqlCommand("""
            SELECT "Version", "ModelId", "Source" FROM tenant_schemas WHERE "TenantId" = $1 ORDER BY "Version" DESC LIMIT 1
            """, connection, transaction))
        {
            command.Parameters.AddWithValue(tenantId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                return new TenantModel(Compile(reader.GetString(1), reader.GetString(2)), reader.GetInt32(0), IsPermissive: false, revision);
            }
        }

        var shapes = new List<TupleShape>();
        await using (var command = new NpgsqlCommand("""
            SELECT DISTINCT "ObjectType", "Relation", "SubjectType", "SubjectRelation", "SubjectId" = '*' FROM tuples WHERE "TenantId" = $1
            """, connection, transaction))
        {
            command.Parameters.AddWithValue(tenantId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var subjectRelation = reader.GetString(3);
                shapes.Add(new TupleShape(reader.GetString(0), reader.GetString(1), reader.GetString(2), subjectRelation.Length == 0 ? null : subjectRelation, reader.GetBoolean(4) && subjectRelation.Length == 0));
            }
        }

        return new TenantModel(PermissiveModel.FromShapes(shapes), 0, IsPermissive: true, revision);
    }
}
