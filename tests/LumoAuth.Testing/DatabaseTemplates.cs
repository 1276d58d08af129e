using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace LumoAuth.Testing;

/// <summary>
/// Fixture databases made by copying a migrated template (<c>CREATE DATABASE … TEMPLATE</c>) instead of running every
/// migration again for each test class: a service's migrations are applied once per set of migrations, to a template
/// named after them, which later runs and test projects reuse. The fixture still runs <c>Migrate</c> on its copy (a
/// no-op that checks the history), so a template that is somehow behind is brought up to date rather than trusted.
/// </summary>
public static class DatabaseTemplates
{
    private static readonly ConcurrentDictionary<Type, Lazy<Task<string>>> Templates = new();

    /// <summary>Creates the database <paramref name="connectionString"/> names as a copy of its context's template.</summary>
    public static async Task CreateAsync<TDbContext>(string connectionString)
        where TDbContext : DbContext
    {
        var template = await Templates.GetOrAdd(typeof(TDbContext), _ => new Lazy<Task<string>>(TemplateAsync<TDbContext>)).Value;
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        try
        {
            await ExecuteAsync($"CREATE DATABASE \"{database}\" TEMPLATE \"{template}\"");
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.DuplicateDatabase)
        {
            // Made already (a fixture initialised twice): its migrations decide.
        }
    }

    /// <summary>The template of the context's current migrations, made first when no earlier run left it.</summary>
    private static async Task<string> TemplateAsync<TDbContext>()
        where TDbContext : DbContext
    {
        string migrations;
        await using (var probe = Context<TDbContext>("postgres"))
        {
            migrations = string.Join('\n', probe.Database.GetMigrations()); // read from the assembly, no connection
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(migrations)))[..12];
        var kind = typeof(TDbContext).Name.Replace("DbContext", string.Empty, StringComparison.Ordinal).ToLowerInvariant();
        var name = $"tpl_{kind}_{hash}";
        if (await ExistsAsync(name))
        {
            return name;
        }

        // Made under a name of its own and renamed once complete: a run stopped half-way never leaves a broken template,
        // and two test processes making the same one at once both end up using one of them.
        var building = $"{name}_{Guid.NewGuid():N}"[..Math.Min(name.Length + 9, 63)];
        await using (var context = Context<TDbContext>(building))
        {
            await context.Database.MigrateAsync();
        }

        try
        {
            await ExecuteAsync($"ALTER DATABASE \"{building}\" RENAME TO \"{name}\"");
            // Nothing may connect to a template while it is copied.
            await ExecuteAsync($"ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS false");
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.DuplicateDatabase)
        {
            await ExecuteAsync($"DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)");
        }

        return name;
    }

    private static TDbContext Context<TDbContext>(string database)
        where TDbContext : DbContext
    {
        var connection = new NpgsqlConnectionStringBuilder(PostgresServer.ConnectionString) { Database = database, Pooling = false }.ConnectionString;
        var options = new DbContextOptionsBuilder<TDbContext>().UseNpgsql(connection).Options;
        return (TDbContext)Activator.CreateInstance(typeof(TDbContext), options, new TenantContext())!;
    }

    private static async Task<bool> ExistsAsync(string database)
    {
        await using var connection = await OpenServerAsync();
        await using var command = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
        command.Parameters.AddWithValue("name", database);
        return await command.ExecuteScalarAsync() is not null;
    }

    private static async Task ExecuteAsync(string sql)
    {
        await using var connection = await OpenServerAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<NpgsqlConnection> OpenServerAsync()
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(PostgresServer.ConnectionString) { Database = "postgres", Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }
}
