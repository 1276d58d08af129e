using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Messaging.Data;

/// <summary>
/// Housekeeping deletes over large tables (the audit log, stored tokens, inboxes): a batch per statement, so a backlog
/// never holds a long lock. Each batch is picked along an index and deleted by row address (a TID scan); deleting by key
/// <c>IN (subquery … LIMIT n)</c> lets the planner choose a scan of the whole table per batch once most rows qualify, as
/// after a backlog.
/// </summary>
public static class BatchedDelete
{
    /// <param name="table">The table, as it is written in SQL (quoted if need be). Never input.</param>
    /// <param name="predicate">The rows to delete, in SQL over the table's columns, with parameters <c>{0}</c>, <c>{1}</c>…. Never input.</param>
    /// <returns>How many rows were deleted.</returns>
    public static async Task<long> RunAsync(DbContext db, string table, string predicate, object[] parameters, int batchSize, CancellationToken cancellationToken)
    {
        var sql = $"DELETE FROM {table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM {table} WHERE {predicate} LIMIT {batchSize}))";
        long deleted = 0;
        int batch;
        do
        {
            batch = await db.Database.ExecuteSqlRawAsync(sql, parameters, cancellationToken);
            deleted += batch;
        }
        // Until a batch finds nothing: one that others thinned out meanwhile (a row they deleted or moved) is no sign of the end.
        while (batch > 0);

        return deleted;
    }

    /// <summary>Deletes the rows of <typeparamref name="T"/>'s table, every tenant's, whose <paramref name="property"/> is before <paramref name="cutoff"/>.</summary>
    public static Task<long> BeforeAsync<T>(DbContext db, string property, object cutoff, int batchSize, CancellationToken cancellationToken)
    {
        var entity = db.Model.FindEntityType(typeof(T)) ?? throw new InvalidOperationException($"{typeof(T).Name} is not mapped");
        var column = entity.FindProperty(property)?.GetColumnName() ?? throw new InvalidOperationException($"{typeof(T).Name}.{property} is not mapped");
        return RunAsync(db, $"\"{entity.GetTableName()}\"", $"\"{column}\" < {{0}}", [cutoff], batchSize, cancellationToken);
    }
}
