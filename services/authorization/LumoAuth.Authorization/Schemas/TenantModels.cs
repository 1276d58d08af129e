using System.Collections.Concurrent;
using LumoAuth.Authorization.Engine.Model;
using LumoAuth.Authorization.Engine.Schema;
using LumoAuth.Authorization.Storage;
using Npgsql;

namespace LumoAuth.Authorization.Schemas;

/// <summary>The model in force for a tenant: its latest schema version, or the permissive default (version 0) before it writes one.</summary>
public sealed record TenantModel(AuthorizationModel Model, int Version, bool IsPermissive, long LoadedAtRevision);

/// <summary>
/// Resolves each tenant's model. An entry loaded at or after the revision a request reads at is current enough.
/// An older one is brought forward from the changelog rather than reloaded: a schema change means a reload; for
/// a schema-less tenant, the permissive default is rebuilt only when the changes add a tuple shape it lacks or
/// remove the last tuple of one (looked up in the database), so ordinary writes reuse the model — and the
/// engine's per-model caches with it. The compiled model of a schema is shared by content id.
/// </summary>
public sealed class TenantModels(NpgsqlDataSource dataSource)
{
    private const int MaxEntries = 10_000;

    /// <summary>Changes read to bring an entry forward; a longer backlog costs a full reload instead.</summary>
    private const int MaxChangesToReplay = 10_000;

    private readonly ConcurrentDictionary<Guid, CachedModel> _byTenant = new();
    // Lazy: concurrent first requests for one model compile it once.
    private readonly ConcurrentDictionary<string, Lazy<AuthorizationModel>> _compiled = new(StringComparer.Ordinal);

    public async ValueTask<TenantModel> GetAsync(Guid tenantId, long revision, CancellationToken cancellationToken)
    {
        _byTenant.TryGetValue(tenantId, out var cached);
        if (cached is not null && cached.Model.LoadedAtRevision >= revision)
        {
            return cached.Model;
        }

        var loaded = (cached is null ? null : await BringForwardAsync(tenantId, cached, cancellationToken))
                     ?? await LoadAsync(tenantId, cancellationToken);
        if (_byTenant.Count >= MaxEntries)
        {
            _byTenant.Clear();
        }

        _byTenant.AddOrUpdate(tenantId, loaded, (_, old) => old.Model.LoadedAtRevision > loaded.Model.LoadedAtRevision ? old : loaded);
        return loaded.Model;
    }

    /// <summary>Compiles (or reuses) the model of a stored schema source.</summary>
    public AuthorizationModel Compile(string modelId, string source)
    {
        if (_compiled.Count >= MaxEntries)
        {
            _compiled.Clear();
        }

        return _compiled.GetOrAdd(modelId, _ => new Lazy<AuthorizationModel>(() => AuthorizationSchema.Parse(source))).Value;
    }

    /// <summary>
    /// The cached entry carried forward by the changes written since it was loaded (to the latest committed revision),
    /// or null when only a reload will do (a schema change, or too long a backlog).
    /// </summary>
    private async Task<CachedModel?> BringForwardAsync(Guid tenantId, CachedModel cached, CancellationToken cancellationToken)
    {
        var changes = new List<(long Revision, string Operation, string Tuple)>();
        await using (var command = dataSource.CreateCommand("""
            SELECT "Revision", "Operation", "Tuple" FROM tuple_changes
            WHERE "TenantId" = $1 AND "Revision" > $2 ORDER BY "Revision", "Id" LIMIT $3
            """))
        {
            command.Parameters.AddWithValue(tenantId);
            command.Parameters.AddWithValue(cached.Model.LoadedAtRevision);
            command.Parameters.AddWithValue(MaxChangesToReplay + 1);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                changes.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
            }
        }

        // The horizon is read after the changes: when it passed the entry's revision, some of them may be gone.
        if (changes.Count > MaxChangesToReplay || changes.Any(c => c.Operation == ChangeOperations.Schema)
            || cached.Model.LoadedAtRevision < await ChangelogRetention.HorizonAsync(dataSource, tenantId, cancellationToken))
        {
            return null;
        }

        // Every revision a caller can name was committed before this query ran, so its changes are all here. The
        // entry is stamped with the last revision really seen (callers may ask for long.MaxValue, meaning "latest").
        var reached = changes.Count == 0 ? cached.Model.LoadedAtRevision : changes[^1].Revision;
        if (!cached.Model.IsPermissive)
        {
            return cached with { Model = cached.Model with { LoadedAtRevision = reached } };
        }

        var written = changes.Where(c => c.Operation == ChangeOperations.Write).Select(c => ShapeOf(c.Tuple)).ToHashSet();
        var shapes = new HashSet<TupleShape>(cached.Shapes);
        shapes.UnionWith(written);
        foreach (var gone in changes.Where(c => c.Operation == ChangeOperations.Delete).Select(c => ShapeOf(c.Tuple)).Distinct())
        {
            if (!written.Contains(gone) && shapes.Contains(gone) && !await ShapeExistsAsync(tenantId, gone, cancellationToken))
            {
                shapes.Remove(gone);
            }
        }

        return shapes.SetEquals(cached.Shapes)
            ? cached with { Model = cached.Model with { LoadedAtRevision = reached } }
            : new CachedModel(new TenantModel(PermissiveModel.FromShapes(shapes), 0, IsPermissive: true, reached), shapes);
    }

    private async Task<bool> ShapeExistsAsync(Guid tenantId, TupleShape shape, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT EXISTS (SELECT 1 FROM tuples WHERE "TenantId" = $1 AND "ObjectType" = $2 AND "Relation" = $3 AND "SubjectType" = $4
                           AND "SubjectRelation" = $5 AND ("SubjectId" = '*') = $6)
            """);
        command.Parameters.AddWithValue(tenantId);
        command.Parameters.AddWithValue(shape.ObjectType);
        command.Parameters.AddWithValue(shape.Relation);
        command.Parameters.AddWithValue(shape.SubjectType);
        command.Parameters.AddWithValue(shape.SubjectRelation ?? string.Empty);
        command.Parameters.AddWithValue(shape.IsWildcard);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static TupleShape ShapeOf(string tuple)
    {
        var key = TupleRows.ParseKey(tuple);
        return new TupleShape(key.Object.Type, key.Relation, key.Subject.Type, key.Subject.Relation, key.Subject.IsWildcard);
    }

    private async Task<CachedModel> LoadAsync(Guid tenantId, CancellationToken cancellationToken)
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
                return new CachedModel(new TenantModel(Compile(reader.GetString(1), reader.GetString(2)), reader.GetInt32(0), IsPermissive: false, revision), new HashSet<TupleShape>());
            }
        }

        var shapes = new HashSet<TupleShape>();
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

        return new CachedModel(new TenantModel(PermissiveModel.FromShapes(shapes), 0, IsPermissive: true, revision), shapes);
    }

    /// <summary>A model and, for the permissive default, the tuple shapes it was built from.</summary>
    private sealed record CachedModel(TenantModel Model, IReadOnlySet<TupleShape> Shapes);
}
