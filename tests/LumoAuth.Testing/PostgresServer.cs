using Testcontainers.PostgreSql;

namespace LumoAuth.Testing;

/// <summary>
/// The PostgreSQL server tests use: a Testcontainers instance when a Docker engine answers, otherwise
/// the local server that <c>eng/infra.sh</c> started (connection string from the environment).
/// </summary>
public static class PostgresServer
{
    private static readonly Lazy<string> Resolved = new(Resolve, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string ConnectionString => Resolved.Value;

    private static string Resolve()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("ConnectionStrings__postgres");
        if (fromEnvironment is not null || !DockerAvailable())
        {
            return fromEnvironment ?? "Host=127.0.0.1;Port=21432;Username=postgres;Password=postgres";
        }

        // Started once per test process and left to Testcontainers' reaper to remove.
        var container = new PostgreSqlBuilder("postgres:15-alpine").Build();
        container.StartAsync().GetAwaiter().GetResult();
        return container.GetConnectionString();
    }

    // Testcontainers' own probe (honours DOCKER_HOST); ~80 ms and no exception when there is no engine.
    private static bool DockerAvailable() =>
        DotNet.Testcontainers.Configurations.TestcontainersSettings.OS.DockerEndpointAuthConfig is not null;
}
