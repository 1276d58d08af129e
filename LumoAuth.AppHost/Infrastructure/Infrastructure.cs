using System.Net.Sockets;
using LumoAuth.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LumoAuth.AppHost.Infrastructure;

/// <summary>PostgreSQL databases, Redis and RabbitMQ as the services see them, whichever way they run.</summary>
public sealed class Infrastructure
{
    private readonly Dictionary<string, IResourceBuilder<IResourceWithConnectionString>> _databases = new(StringComparer.Ordinal);

    public required Func<string, IResourceBuilder<IResourceWithConnectionString>> CreateDatabase { get; init; }

    public required IResourceBuilder<IResourceWithConnectionString> Redis { get; init; }

    public required IResourceBuilder<IResourceWithConnectionString> RabbitMq { get; init; }

    /// <summary>What a service must wait for (empty when the servers are external).</summary>
    public required IReadOnlyList<IResourceBuilder<IResource>> Servers { get; init; }

    public IResourceBuilder<IResourceWithConnectionString> Database(string name)
    {
        if (!_databases.TryGetValue(name, out var db))
        {
            _databases[name] = db = CreateDatabase(name);
        }

        return db;
    }

    public void WaitForServers<T>(IResourceBuilder<T> resource)
        where T : IResourceWithWaitSupport
    {
        foreach (var server in Servers)
        {
            resource.WaitFor(server);
        }
    }
}

/// <summary>
/// Chooses how the servers run (<c>LumoAuth:Infrastructure</c>): <c>containers</c> when a container
/// runtime answers, <c>local</c> (the machine's own binaries as executable resources on loopback)
/// when none does, or <c>external</c> (connection strings from configuration, e.g. servers a test
/// script already started).
/// </summary>
public static class InfrastructureFactory
{
    /// <summary>36 days: longer than the messaging's outage retry (OutageRetryOptions.LongestSpan); as in eng/infra.sh.</summary>
    public const string RabbitConsumerTimeoutMilliseconds = "3110400000";

    /// <summary>
    /// Redis durability as eng/infra.sh gives the local server (REDIS_DURABILITY): an append-only file synced every second, so
    /// a crash loses about a second of revocations rather than everything since the last snapshot. <c>--save ""</c> comes
    /// last and clears the snapshot schedule <c>WithDataVolume</c> asks for (<c>--save 60 1</c>).
    /// </summary>
    private static readonly string[] RedisDurability = ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"];

    public static Infrastructure Create(IDistributedApplicationBuilder builder)
    {
        var mode = builder.Configuration["LumoAuth:Infrastructure"] ?? "auto";
        if (mode == "auto")
        {
            mode = builder.Configuration.GetConnectionString(ServiceNames.Postgres) is not null ? "external"
                : ContainerRuntimeAnswers() ? "containers"
                : "local";
        }

        return mode switch
        {
            "containers" => Containers(builder),
            "local" => Local(builder),
            "external" => External(builder),
            _ => throw new InvalidOperationException($"Unknown LumoAuth:Infrastructure '{mode}' (auto|containers|local|external)."),
        };
    }

    private static Infrastructure Containers(IDistributedApplicationBuilder builder)
    {
        var postgres = builder.AddPostgres(ServiceNames.Postgres).WithDataVolume();
        // Volumes and Redis persistence: revoked tokens (Redis) and queued events (RabbitMQ) survive a restart.
        var redis = builder.AddRedis(ServiceNames.Redis).WithDataVolume().WithArgs(AppendOnlyRedis);
        // Consumers retry an outage with the delivery unacknowledged (about 35 days at most); RabbitMQ's default 30-minute
        // consumer_timeout would close their channel mid-retry. The local servers get the same value from eng/infra.sh.
        var rabbit = builder.AddRabbitMQ(ServiceNames.RabbitMq).WithDataVolume()
            .WithEnvironment("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-rabbit consumer_timeout " + RabbitConsumerTimeoutMilliseconds);
        return new Infrastructure
        {
            CreateDatabase = name => postgres.AddDatabase(name),
            Redis = redis,
            RabbitMq = rabbit,
            Servers = [postgres.AsResource(), redis.AsResource(), rabbit.AsResource()],
        };
    }

    /// <summary>
    /// Adds <see cref="RedisDurability"/> where AddRedis put redis-server's other options: as arguments of their own, or, when
    /// it passes them as one <c>/bin/sh -c "redis-server …"</c> command line (a manifest), at the end of that line (arguments
    /// after it would go to the shell, not to Redis).
    /// </summary>
    private static void AppendOnlyRedis(CommandLineArgsCallbackContext context)
    {
        var args = context.Args;
        var shell = args.IndexOf("-c");
        if (shell >= 0 && shell + 1 < args.Count && args[shell + 1] is string command && command.StartsWith("redis-server", StringComparison.Ordinal))
        {
            args[shell + 1] = $"{command} {string.Join(' ', RedisDurability.Select(o => o.Length == 0 ? "''" : o))}";
            return;
        }

        foreach (var option in RedisDurability)
        {
            args.Add(option);
        }
    }

    private static Infrastructure Local(IDistributedApplicationBuilder builder)
    {
        var root = DeploymentSettings.RepositoryRoot(builder);
        var script = Path.Combine(root, "eng", "infra.sh");
        EnsureServersInstalled(script);

        var dataDir = Path.Combine(root, ".lumoauth", "apphost", "servers");
        IResourceBuilder<ExecutableResource> Server(string name, string portVariable) =>
            builder.AddExecutable(name + "-server", "bash", root, script, "serve", name)
                .WithEnvironment("LUMOAUTH_INFRA_DIR", dataDir)
                .WithEndpoint(name: "tcp", scheme: "tcp", env: portVariable, isProxied: false)
                .WithTcpHealthCheck(builder, name);

        var postgres = Server(ServiceNames.Postgres, "LUMOAUTH_PG_PORT");
        var redis = Server(ServiceNames.Redis, "LUMOAUTH_REDIS_PORT");
        // Erlang needs two more ports; let Aspire allocate them too, as neighbours of the AMQP port may be taken.
        var rabbit = Server(ServiceNames.RabbitMq, "LUMOAUTH_RABBIT_PORT")
            .WithEndpoint(name: "dist", scheme: "tcp", env: "LUMOAUTH_RABBIT_DIST_PORT", isProxied: false)
            .WithEndpoint(name: "epmd", scheme: "tcp", env: "LUMOAUTH_RABBIT_EPMD_PORT", isProxied: false);
        var pgPort = postgres.GetEndpoint("tcp").Property(EndpointProperty.Port);
        var redisPort = redis.GetEndpoint("tcp").Property(EndpointProperty.Port);
        var rabbitPort = rabbit.GetEndpoint("tcp").Property(EndpointProperty.Port);
        return new Infrastructure
        {
            CreateDatabase = name => builder.AddConnectionString(name, ReferenceExpression.Create(
                $"Host=127.0.0.1;Port={pgPort};Username=postgres;Password=postgres;Database={name}")),
            Redis = builder.AddConnectionString(ServiceNames.Redis, ReferenceExpression.Create($"127.0.0.1:{redisPort}")),
            RabbitMq = builder.AddConnectionString(ServiceNames.RabbitMq, ReferenceExpression.Create($"amqp://guest:guest@127.0.0.1:{rabbitPort}/")),
            Servers = [postgres.AsResource(), redis.AsResource(), rabbit.AsResource()],
        };
    }

    private static Infrastructure External(IDistributedApplicationBuilder builder)
    {
        var server = builder.Configuration.GetConnectionString(ServiceNames.Postgres)
            ?? throw new InvalidOperationException("External infrastructure needs ConnectionStrings:postgres.");
        // A prefix lets several suites share one server without sharing databases.
        var prefix = builder.Configuration["LumoAuth:DatabasePrefix"] ?? string.Empty;
        return new Infrastructure
        {
            CreateDatabase = name => builder.AddConnectionString(name, ReferenceExpression.Create($"{server};Database={prefix}{name}")),
            Redis = builder.AddConnectionString(ServiceNames.Redis),
            RabbitMq = builder.AddConnectionString(ServiceNames.RabbitMq),
            Servers = [],
        };
    }

    /// <summary>
    /// A fresh machine lacks Redis and RabbitMQ: as root, install them with the same script the tests use;
    /// otherwise say the one command that does.
    /// </summary>
    private static void EnsureServersInstalled(string script)
    {
        static bool Installed() =>
            File.Exists("/usr/bin/redis-server") && File.Exists("/usr/lib/rabbitmq/bin/rabbitmq-server") && Directory.Exists("/usr/lib/postgresql");
        if (Installed())
        {
            return;
        }

        if (Environment.UserName == "root")
        {
            using var install = System.Diagnostics.Process.Start("bash", [script, "install"]);
            install.WaitForExit();
            if (install.ExitCode == 0 && Installed())
            {
                return;
            }
        }

        throw new InvalidOperationException($"PostgreSQL, Redis or RabbitMQ is not installed. Install them once with: sudo bash {script} install");
    }

    private static IResourceBuilder<IResource> AsResource<T>(this IResourceBuilder<T> resource)
        where T : IResource => (IResourceBuilder<IResource>)(object)resource;

    /// <summary>"Started" is not "accepting connections": wait until the port answers.</summary>
    private static IResourceBuilder<ExecutableResource> WithTcpHealthCheck(
        this IResourceBuilder<ExecutableResource> resource, IDistributedApplicationBuilder builder, string name)
    {
        var endpoint = resource.GetEndpoint("tcp");
        var key = $"{name}-tcp";
        builder.Services.AddHealthChecks().AddAsyncCheck(key, async cancellationToken =>
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", endpoint.Port, cancellationToken);
                return HealthCheckResult.Healthy();
            }
            catch (SocketException ex)
            {
                return HealthCheckResult.Unhealthy(ex.Message);
            }
        });
        return resource.WithHealthCheck(key);
    }

    private static bool ContainerRuntimeAnswers()
    {
        var host = Environment.GetEnvironmentVariable("DOCKER_HOST");
        var socket = host is { } h && h.StartsWith("unix://", StringComparison.Ordinal) ? h["unix://".Length..] : "/var/run/docker.sock";
        if (host is not null && !host.StartsWith("unix://", StringComparison.Ordinal))
        {
            return true;
        }

        try
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            probe.Connect(new UnixDomainSocketEndPoint(socket));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
