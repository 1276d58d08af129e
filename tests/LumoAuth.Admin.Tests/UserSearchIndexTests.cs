using System.Data.Common;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Users;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using LumoAuth.Testing;
using Npgsql;

namespace LumoAuth.Admin.Tests;

public sealed class UserSearchIndexTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    /// <summary>
    /// The users list's search (a substring of five columns, in any case, with LIKE's wildcards escaped, behind EF's null
    /// guards) is a shape the trigram index serves: PostgreSQL's plan for the predicate EF sends names the index once
    /// sequential scans are off. (Whether it is chosen is the planner's call by the tenant's size: a tenant of a few
    /// thousand users is read whole faster; one of 100k is not.)
    /// </summary>
    [Fact]
    public async Task UserSearch_IsAShapeTheTrigramIndexServes()
    {
        var sent = new LastCommand();
        await using (var db = new AdminDbContext(
            new DbContextOptionsBuilder<AdminDbContext>().UseNpgsql(factory.DatabaseConnectionString).AddInterceptors(sent).Options, new TenantContext()))
        {
            await UserEndpoints.Searching(db.Users.IgnoreQueryFilters().AsNoTracking(), "ada_lov%").Select(u => u.Id).ToListAsync();
        }

        await using var connection = new NpgsqlConnection(factory.DatabaseConnectionString);
        await connection.OpenAsync();
        await using (var noScans = new NpgsqlCommand("SET enable_seqscan = off", connection))
        {
            await noScans.ExecuteNonQueryAsync();
        }

        await using var explain = new NpgsqlCommand("EXPLAIN " + sent.Text, connection);
        foreach (var parameter in sent.Parameters)
        {
            explain.Parameters.Add(parameter);
        }

        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(0));
            }
        }

        Assert.Contains(plan, line => line.Contains("ix_users_search", StringComparison.Ordinal));
    }

    /// <summary>The last query EF sent, with copies of its parameters.</summary>
    private sealed class LastCommand : DbCommandInterceptor
    {
        public string Text { get; private set; } = string.Empty;

        public List<NpgsqlParameter> Parameters { get; private set; } = [];

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            Text = command.CommandText;
            Parameters = [.. command.Parameters.Cast<NpgsqlParameter>().Select(p => p.Clone())];
            return base.ReaderExecutingAsync(command, eventData, result, cancellationToken);
        }
    }
}
