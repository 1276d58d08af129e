using LumoAuth.Contracts;
using LumoAuth.Messaging.Consumers;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Inbox;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace LumoAuth.Messaging;

public static class MessagingExtensions
{
    public const string RabbitMqConnectionName = "rabbitmq";
    public const string MigrateArgument = "--migrate";

    /// <summary>The service's own PostgreSQL database, with the outbox interceptor and a readiness check.</summary>
    public static IHostApplicationBuilder AddServiceDatabase<TDbContext>(this IHostApplicationBuilder builder, string connectionName)
        where TDbContext : DbContext
    {
        var connectionString = builder.Configuration.GetConnectionString(connectionName)
            ?? throw new InvalidOperationException($"Connection string '{connectionName}' is missing.");
        builder.Services.AddHttpContextAccessor();
        builder.Services.TryAddSingleton<OutboxSignal>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddScoped<OutboxInterceptor>();
        builder.Services.AddDbContext<TDbContext>((sp, options) => options
            .UseNpgsql(connectionString)
            .AddInterceptors(sp.GetRequiredService<OutboxInterceptor>()));
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            connectionName,
            sp => new DatabaseHealthCheck<TDbContext>(sp.GetRequiredService<IServiceScopeFactory>()),
            HealthStatus.Unhealthy,
            ["ready"]));
        return builder;
    }

    /// <summary>
    /// MassTransit over RabbitMQ with the outbox relay and the inbox housekeeping for <typeparamref name="TDbContext"/> and
    /// the cache eviction consumers every service needs. <c>Messaging:Prefix</c> namespaces exchanges and queues
    /// (tests give each fixture its own, so parallel suites never share queues).
    /// </summary>
    public static IHostApplicationBuilder AddMessaging<TDbContext>(this IHostApplicationBuilder builder, Action<IBusRegistrationConfigurator>? consumers = null)
        where TDbContext : DbContext
    {
        var connectionString = builder.Configuration.GetConnectionString(RabbitMqConnectionName)
            ?? throw new InvalidOperationException($"Connection string '{RabbitMqConnectionName}' is missing.");
        var prefix = builder.Configuration["Messaging:Prefix"] ?? "lumoauth";
        var instance = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}".ToLowerInvariant();
        var instanceId = instance[..Math.Min(instance.Length, 48)];
        var outage = builder.Configuration.GetSection(OutageRetryOptions.SectionName).Get<OutageRetryOptions>() ?? new OutageRetryOptions();

        builder.Services.TryAddSingleton<EvictionQueueReconnects>();
        builder.Services.AddEvictedCache<TenantDirectory>(tenants => tenants.Clear());
        builder.Services.AddEvictedCache<ApiKeyVerifier>(keys => keys.Clear());
        builder.Services.AddEvictedCache<JwksCache>(jwks => jwks.Clear());
        builder.Services.AddMassTransit(x =>
        {
            x.SetEndpointNameFormatter(new KebabCaseEndpointNameFormatter(prefix, false));
            // The bus check MassTransit adds to /health says Degraded, not Unhealthy, while the broker is away: the service
            // keeps working through a broker outage (the outbox holds events until it is back), so it must stay ready.
            x.ConfigureHealthCheckOptions(o => o.MinimalFailureStatus = HealthStatus.Degraded);
            consumers?.Invoke(x);
            x.AddConsumer<TenantCacheEvictionConsumer>().Endpoint(e => e.PerReplica(instanceId));
            x.AddConsumer<ApiKeyCacheEvictionConsumer>().Endpoint(e => e.PerReplica(instanceId));
            x.AddConsumer<SigningKeyCacheEvictionConsumer>().Endpoint(e => e.PerReplica(instanceId));
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(new Uri(connectionString));
                cfg.MessageTopology.SetEntityNameFormatter(new PrefixEntityNameFormatter(cfg.MessageTopology.EntityNameFormatter, prefix + "."));
                // An outage of something a consumer needs (PostgreSQL, Redis, another of our services) can outlast the quick retries:
                // such a failure keeps the message and, after the quick retries, tries again every few minutes until it is back,
                // rather than leaving it in an error queue nothing reads. Any other failure goes there after the quick retries.
                // One policy per kind of failure: MassTransit does not nest retry filters (an outer one rethrows what an inner
                // one gave up on), so the outage policy holds both schedules and the quick one ignores outages. The delivery
                // stays unacknowledged meanwhile: the broker's consumer_timeout must outlast it (OutageRetryOptions.LongestSpan).
                cfg.UseMessageRetry(r =>
                {
                    r.Handle<Exception>(OutageFailures.IsOutage);
                    r.Intervals([.. QuickRetries.Schedule(), .. outage.Schedule()]);
                });
                cfg.UseMessageRetry(r =>
                {
                    r.Ignore<Exception>(OutageFailures.IsOutage);
                    r.Intervals([.. QuickRetries.Schedule()]);
                });
                // Consumers log with the event's tenant and correlation id, and the events they raise keep that id.
                cfg.UseConsumeFilter(typeof(EventOriginFilter<>), context);
                cfg.ConfigureEndpoints(context);
            });
        });
        builder.Services.AddOptions<MassTransitHostOptions>().Configure(o =>
        {
            // Start even when the broker is down: the outbox holds events until it is back.
            o.WaitUntilStarted = false;
            o.StopTimeout = TimeSpan.FromSeconds(10);
        });
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddHostedService<OutboxRelay<TDbContext>>();
        // A row gone while its message may still be retried would let the effect run twice: the retention outlasts the retries.
        builder.Services.AddOptions<InboxOptions>()
            .BindConfiguration(InboxOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(
                inbox => inbox.Retention > outage.LongestSpan,
                $"{InboxOptions.SectionName}:{nameof(InboxOptions.Retention)} must be longer than the outage retry's span ({outage.LongestSpan}, {OutageRetryOptions.SectionName})")
            .ValidateOnStart();
        builder.Services.AddSingleton(sp => ActivatorUtilities.CreateInstance<InboxHousekeeping>(sp, typeof(TDbContext)));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<InboxHousekeeping>());
        return builder;
    }

    /// <summary>
    /// A message on <paramref name="queueName"/> that still fails after every retry is dropped instead of moved to the
    /// queue's <c>_error</c> queue: for messages holding personal data (an address being looked up) that nothing would
    /// read there and that erasure could not reach. Only for work a person can simply ask for again.
    /// </summary>
    public static void DiscardFaults(this IBusRegistrationConfigurator bus, string queueName) =>
        bus.AddConfigureEndpointsCallback((_, name, endpoint) =>
        {
            if (name == queueName)
            {
                endpoint.DiscardFaultedMessages();
            }
        });

    /// <summary>
    /// An <see cref="EventBatcher{TDbContext}"/> (inject it to add facts) running in the background; <paramref name="combine"/>
    /// turns each batch into the messages sent (identity when not given).
    /// </summary>
    public static IServiceCollection AddEventBatcher<TDbContext>(
        this IServiceCollection services, Func<IReadOnlyList<IntegrationEvent>, IEnumerable<IntegrationEvent>>? combine = null)
        where TDbContext : DbContext
    {
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<EventBatcher<TDbContext>>(sp, combine ?? (batch => batch)));
        services.AddHostedService(sp => sp.GetRequiredService<EventBatcher<TDbContext>>());
        return services;
    }

    /// <summary>
    /// The one-shot migration step: when started with <c>--migrate</c> the service applies its EF Core
    /// migrations, re-seals its key ring with the current key-encryption key, and exits; the AppHost runs this before
    /// the service starts.
    /// </summary>
    public static async Task<bool> RunMigrationsIfRequestedAsync<TDbContext>(this WebApplication app, string[] args)
        where TDbContext : DbContext
    {
        if (!args.Contains(MigrateArgument, StringComparer.Ordinal))
        {
            return false;
        }

        await MigrateAsync<TDbContext>(app.Services);
        return true;
    }

    public static async Task MigrateAsync<TDbContext>(IServiceProvider services)
        where TDbContext : DbContext
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
        await db.Database.MigrateAsync();

        // After a key-encryption key rotation the deployment step leaves every ring key sealed by the new key.
        scope.ServiceProvider.GetService<IKeyRingResealer>()?.ResealAll();
    }
}

internal sealed class DatabaseHealthCheck<TDbContext>(IServiceScopeFactory scopeFactory) : IHealthCheck
    where TDbContext : DbContext
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
        return await db.Database.CanConnectAsync(cancellationToken)
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy("Database unreachable");
    }
}
