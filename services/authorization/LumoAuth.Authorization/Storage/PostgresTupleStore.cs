using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Engine.Storage;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace LumoAuth.Authorization.Storage;

/// <summary>
/// The PostgreSQL store as the engine's storage interfaces, for one tenant: reads through
/// <see cref="PostgresTupleReader"/>, writes through <see cref="TupleStoreWriter"/> in a scope of their own
/// (so the changelog, revision and events behave exactly as for the HTTP API).
/// </summary>
public sealed class PostgresTupleStore(IServiceScopeFactory scopes, NpgsqlDataSource dataSource, TenantInfo tenant) : ITupleReader, ITupleWriter
{
    private readonly PostgresTupleReader _reader = new(dataSource, tenant.Id);

    public ValueTask<long> GetRevisionAsync(CancellationToken cancellationToken) => _reader.GetRevisionAsync(cancellationToken);

    public ValueTask<RelationshipTuple?> ReadTupleAsync(TupleKey key, CancellationToken cancellationToken) => _reader.ReadTupleAsync(key, cancellationToken);

    public IAsyncEnumerable<RelationshipTuple> ReadAsync(ObjectRef @object, string relation, CancellationToken cancellationToken) =>
        _reader.ReadAsync(@object, relation, cancellationToken);

    public IAsyncEnumerable<RelationshipTuple> ReadUsersetsAsync(ObjectRef @object, string relation, CancellationToken cancellationToken) =>
        _reader.ReadUsersetsAsync(@object, relation, cancellationToken);

    public IAsyncEnumerable<RelationshipTuple> ReadBySubjectAsync(string objectType, string relation, SubjectRef subject, CancellationToken cancellationToken) =>
        _reader.ReadBySubjectAsync(objectType, relation, subject, cancellationToken);

    public async ValueTask<long> WriteAsync(IReadOnlyCollection<RelationshipTuple> writes, IReadOnlyCollection<TupleKey> deletes, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TenantContext>().Set(tenant);
        var db = scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>();
        // The engine's writer contract replaces a present tuple's condition; the service's writer does that only for a key
        // the same batch also deletes (it refuses silent condition changes), so every written key is named as a delete too.
        var replaced = deletes.Union(writes.Select(t => t.Key)).ToList();
        var outcome = await TupleStoreWriter.ApplyAsync(db, tenant.Id, writes, replaced, [], cancellationToken);
        return outcome.Revision;
    }
}
