using System.Diagnostics;
using Npgsql;

namespace LumoAuth.Testing;

/// <summary>
/// Where the real servers are. <c>eng/infra.sh</c> starts PostgreSQL, Redis and RabbitMQ on loopback and
/// exports their connection strings; when a Docker engine answers, <see cref="PostgresServer"/> can use a
/// Testcontainers PostgreSQL instead. Nothing here is mocked.
/// </summary>
public static class TestInfrastructure
{
    public const string InternalKey = "test-internal-key-0123456789abcdef0123456789";

    public const string GatewayKey = "test-gateway-key-0123456789abcdef0123456789";
    public const string PlatformKey = "test-platform-key-0123456789abcdef0123456789";
    public const string KeyEncryptionKey = "test-key-encryption-key-0123456789abcdef012345";

    /// <summary>PBKDF2 iterations of the in-process admin services (the end-to-end suite keeps the production default).</summary>
    public const string PasswordHashIterations = "1000";

    public static string RabbitMq =>
        Environment.GetEnvironmentVariable("ConnectionStrings__rabbitmq") ?? "amqp://guest:guest@127.0.0.1:21672/";

    public static string Redis =>
        Environment.GetEnvironmentVariable("ConnectionStrings__redis") ?? "127.0.0.1:21379";

    /// <summary>A fresh, uniquely named database on the shared server (a copy of its service's template, <see cref="DatabaseTemplates"/>).</summary>
    public static string NewDatabase(string prefix)
    {
        var builder = new NpgsqlConnectionStringBuilder(PostgresServer.ConnectionString)
        {
            Database = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 63)],
            Pooling = true,
            MaxPoolSize = 20,
        };
        return builder.ConnectionString;
    }

    /// <summary>
    /// Drops a database made by <see cref="NewDatabase"/> once its fixture is done, so runs do not pile up databases
    /// (PostgreSQL's autovacuum visits every one of them). Best effort: a leftover is harmless.
    /// </summary>
    public static async Task DropDatabaseAsync(string connectionString)
    {
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database;
        try
        {
            await using (var pooled = new NpgsqlConnection(connectionString))
            {
                NpgsqlConnection.ClearPool(pooled);
            }

            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Database = "postgres", Pooling = false }.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", connection);
            await command.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
        }
    }

    /// <summary>A prefix for exchanges and queues, so concurrent fixtures never consume each other's messages.</summary>
    public static string NewMessagingPrefix(string name) => $"t-{name}-{Guid.NewGuid():N}"[..Math.Min(name.Length + 15, 60)];

    /// <summary>Runs <c>eng/infra.sh</c> (stop/start a server during a fault test).</summary>
    public static async Task InfraAsync(params string[] args)
    {
        var script = Environment.GetEnvironmentVariable("LUMOAUTH_INFRA_SCRIPT") ?? Path.Combine(RepositoryRoot(), "eng", "infra.sh");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"eng/infra.sh {string.Join(' ', args)} failed: {await stdout}{await stderr}");
        }
    }

    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LumoAuth.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Repository root not found.");
    }
}
