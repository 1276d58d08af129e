using System.Runtime.CompilerServices;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Engine.Storage;
using Npgsql;

namespace LumoAuth.Authorization.Storage;

/// <summary>
/// The engine's reads straight from PostgreSQL, for one tenant. Each read takes its own pooled connection
/// and buffers its rows before yielding them, so the engine's concurrent and nested reads never hold a
/// connection open across a sub-check.
/// </summary>
public sealed class PostgresTupleReader(NpgsqlDataSource dataSource, Guid tenantId) : ITupleReader
{
    private const string Columns = "\"SubjectType\", \"SubjectId\", \"SubjectRelation\", \"ConditionName\", \"ConditionContext\"::text";

    public Guid TenantId { get; } = tenantId;

    public async ValueTask<long> GetRevisionAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT \"Revision\" FROM tenant_revisions WHERE \"TenantId\" = $1");
        command.Parameters.AddWithValue(TenantId);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long revision ? revision : 0;
    }

    public async ValueTask<RelationshipTuple?> ReadTupleAsync(TupleKey key, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM tuples
            WHERE "TenantId" = $1 AND "ObjectType" = $2 AND "ObjectId" = $3 AND "Relation" = $4
              AND "SubjectType" = $5 AND "SubjectId" = $6 AND "SubjectRelation" = $7
            """);
        Add(command, TenantId, key.Object.Type, key.Object.Id, key.Relation, key.Subject.Type, key.Subject.Id, key.Subject.Relation ?? string.Empty);
        var rows = await ReadRowsAsync(command, key.Object, key.Relation, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    public IAsyncEnumerable<RelationshipTuple> ReadAsync(ObjectRef @object, string relation, CancellationToken cancellationToken) =>
        ReadObjectAsync(@object, relation, usersetsOnly: false, cancellationToken);

    public IAsyncEnumerable<RelationshipTuple> ReadUsersetsAsync(ObjectRef @object, string relation, CancellationToken cancellationToken) =>
        ReadObjectAsync(@object, relation, usersetsOnly: true, cancellationToken);

    public async IAsyncEnumerable<RelationshipTuple> ReadBySubjectAsync(string objectType, string relation, SubjectRef subject, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT "ObjectId", "ConditionName", "ConditionContext"::text FROM tuples
            WHERE "TenantId" = $1 AND "SubjectType" = $2 AND "SubjectId" = $3 AND "SubjectRelation" = $4
              AND "Relation" = $5 AND "ObjectType" = $6
            """);
        Add(command, TenantId, subject.Type, subject.Id, subject.Relation ?? string.Empty, relation, objectType);
        var rows = new List<RelationshipTuple>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows.Add(new RelationshipTuple(
                    new ObjectRef(objectType, reader.GetString(0)),
                    relation,
                    subject,
                    TupleRows.Condition(reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2))));
            }
        }

        foreach (var row in rows)
        {
            yield return row;
        }
    }

    private async IAsyncEnumerable<RelationshipTuple> ReadObjectAsync(ObjectRef @object, string relation, bool usersetsOnly, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM tuples
            WHERE "TenantId" = $1 AND "ObjectType" = $2 AND "ObjectId" = $3 AND "Relation" = $4
            {(usersetsOnly ? "AND \"SubjectRelation\" <> ''" : string.Empty)}
            """);
        Add(command, TenantId, @object.Type, @object.Id, relation);
        foreach (var row in await ReadRowsAsync(command, @object, relation, cancellationToken).ConfigureAwait(false))
        {
            yield return row;
        }
    }

    private static async Task<List<RelationshipTuple>> ReadRowsAsync(NpgsqlCommand command, ObjectRef @object, string relation, CancellationToken cancellationToken)
    {
        var rows = new List<RelationshipTuple>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new RelationshipTuple(
                @object,
                relation,
                TupleRows.Subject(reader.GetString(0), reader.GetString(1), reader.GetString(2)),
                TupleRows.Condition(reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4))));
        }

        return rows;
    }

    private static void Add(NpgsqlCommand command, Guid tenant, params string[] values)
    {
        command.Parameters.AddWithValue(tenant);
        foreach (var value in values)
        {
            command.Parameters.AddWithValue(value);
        }
    }
}
