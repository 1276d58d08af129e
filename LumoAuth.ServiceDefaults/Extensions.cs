using LumoAuth.ServiceDefaults.Correlation;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Hosting;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>What every LumoAuth service and the gateway share: telemetry, health, discovery, resilience, errors.</summary>
public static class LumoServiceDefaults
{
    /// <summary>The readiness probe's path.</summary>
    public const string HealthPath = "/health";

    private static readonly Dictionary<string, string?> QuietByDefault = new()
    {
        ["Logging:LogLevel:Microsoft.EntityFrameworkCore.Database.Command"] = nameof(LogLevel.Warning),
        // The console's lines carry their scopes (trace id, correlation id, tenant), so a line can be found from the
        // correlation id an error answer gave, also where no OTLP collector takes the structured logs.
        ["Logging:Console:FormatterOptions:IncludeScopes"] = "true",
    };
    /// <summary>The liveness probe's path.</summary>
    public const string AlivePath = "/alive";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        // Defaults that a deployment's own configuration overrides (they come before every other source): EF Core's line
        // per SQL command is for debugging, not for running (a failing command is still logged, as an error).
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = QuietByDefault });
        builder.ConfigureOpenTelemetry();
        builder.AddHttp2Port();
        // Request lines and redirect targets include the query string, where e-mailed links carry their token and a
        // device's page its user code: these log them only from Warning up (the request traces stay, with query values
        // redacted by the instrumentation).
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Http.Result", LogLevel.Warning);
        builder.Logging.AddFilter("Yarp.ReverseProxy.Forwarder.HttpForwarder", LogLevel.Warning);
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), ["live"]);
        builder.Services.AddServiceDiscovery();
        builder.Services.AddTransient<ResilienceRejections>();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddHttpMessageHandler<ResilienceRejections>();
            // One pipeline per destination: registered as defaults, the standard handler is otherwise a single pipeline
            // for every client of the process (dotnet/extensions#5021), so one failing dependency — or one tenant's
            // failing webhook receiver — would open the circuit for calls to every other service.
            // Retries only for calls that may be repeated (RepeatableRequests): a POST is sent once.
            http.AddStandardResilienceHandler(o => RepeatableRequests.RetryOnlyWhatMayBeRepeated(o.Retry)).SelectPipelineByAuthority();
            http.AddServiceDiscovery();
        });

        builder.Services.AddOptions<LumoAuth.ServiceDefaults.LumoAuthOptions>()
            .BindConfiguration(LumoAuth.ServiceDefaults.LumoAuthOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => LumoAuth.ServiceDefaults.LumoAuthOptions.IsOrigin(o.PublicBaseUrl),
                "LumoAuth:PublicBaseUrl must be the absolute http(s) URL clients use, without query or fragment (e.g. https://auth.example.com)")
            .ValidateOnStart();

        // Behind the gateway the caller's address arrives in X-Forwarded-For; only trusted proxies
        // (loopback by default, plus LumoAuth:TrustedProxyNetworks) may set it.
        builder.Services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            foreach (var network in builder.Configuration.GetSection("LumoAuth:TrustedProxyNetworks").Get<string[]>() ?? [])
            {
                o.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
            }
        });
        builder.Services.AddExceptionHandler<EnvelopeExceptionHandler>();
        builder.Services.AddProblemDetails();
        // Binding failures throw so the exception handler answers them with the envelope, not an empty 400.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.PropertyNameCaseInsensitive = true;
            o.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never;
            // {"role":"viewer","role":"admin"}: which one counts differs between parsers, so the body is refused (400).
            o.SerializerOptions.AllowDuplicateProperties = false;
            o.SerializerOptions.Converters.Add(new LumoAuth.ServiceDefaults.Http.UtcInstantConverter());
        });
        return builder;
    }

    /// <summary>Tenancy, authentication schemes and internal clients: for the five services (not the gateway).</summary>
    public static TBuilder AddTenantServices<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddMemoryCache();
        // Only the services call each other's internal APIs; the gateway, which refuses /internal, needs no key.
        builder.Services.AddOptions<LumoAuth.ServiceDefaults.LumoAuthOptions>()
            .BindConfiguration(LumoAuth.ServiceDefaults.LumoAuthOptions.SectionName)
            .Validate(o => o.InternalKey.Length >= LumoAuth.ServiceDefaults.LumoAuthOptions.MinInternalKeyLength,
                $"LumoAuth:InternalKey must be set, at least {LumoAuth.ServiceDefaults.LumoAuthOptions.MinInternalKeyLength} characters: it authenticates the services' internal calls")
            .ValidateOnStart();
        builder.Services.AddScoped<TenantContext>();
        builder.Services.TryAddSingleton<ITenantSource, AdminTenantSource>();
        builder.Services.AddSingleton<TenantDirectory>();
        builder.Services.AddInternalClients();
        builder.Services.AddLumoAuthentication();
        // Every service's bearer validation refuses access tokens revoked at the token service.
        builder.AddRedisAccessTokenDenyList();
        // Degraded, not Unhealthy: the services answer without Redis (bearer checks fall back to the deny-list copy,
        // the features that need it answer temporarily_unavailable), but an outage must show.
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            LumoAuth.ServiceDefaults.ServiceNames.Redis,
            sp => new RedisHealthCheck(sp.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>()),
            HealthStatus.Degraded,
            ["ready"],
            RedisHealthCheck.Timeout));
        // DPoP-bound access tokens (RFC 9449) are accepted with a proof, whose single use is remembered in Redis.
        builder.Services.TryAddSingleton<DPoPProofValidator>();
        return builder;
    }

    /// <summary>
    /// Traces, metrics and logs to the OTLP endpoint that <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> names (the AppHost names its
    /// dashboard). Without one nothing is registered: spans and metric points would be recorded on every request only to
    /// be dropped, which cost the gateway about a fifth of its CPU per forwarded request (bench/README.md, step 14).
    /// </summary>
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        if (!IsTelemetryExported(builder.Configuration))
        {
            return builder;
        }

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("LumoAuth.*", "MassTransit"))
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName, "LumoAuth.*", "MassTransit")
                .AddAspNetCoreInstrumentation(o =>
                    o.Filter = context => !context.Request.Path.StartsWithSegments(HealthPath)
                                          && !context.Request.Path.StartsWithSegments(AlivePath))
                .AddHttpClientInstrumentation())
            .UseOtlpExporter();
        return builder;
    }

    public static bool IsTelemetryExported(IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);

    /// <summary>
    /// The middleware every service runs first: the gateway's forwarded client certificate and headers, correlation id,
    /// error envelope, tenant resolution.
    /// </summary>
    public static WebApplication UseServiceDefaults(this WebApplication app, bool resolveTenants = true, bool acceptForwardedClientCertificates = true)
    {
        if (acceptForwardedClientCertificates)
        {
            app.UseMiddleware<LumoAuth.ServiceDefaults.Security.ForwardedClientCertificateMiddleware>();
        }

        app.UseForwardedHeaders();
        app.UseMiddleware<CorrelationMiddleware>();
        app.UseExceptionHandler();
        app.UseStatusCodePages(StatusCodeEnvelope.WriteAsync);
        app.UseMiddleware<RequestSizeLimitMiddleware>();
        if (resolveTenants)
        {
            app.UseMiddleware<TenantResolutionMiddleware>();
        }

        return app;
    }

    /// <summary>
    /// <c>/health</c> (ready: every check; a Degraded one — the broker or Redis away — still answers 200) and <c>/alive</c>
    /// (the process answers: only the <c>live</c> check).
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        // Anonymous on purpose: orchestrators probe them; they reveal only healthy/unhealthy.
        app.MapHealthChecks(HealthPath).AllowAnonymous();
        app.MapHealthChecks(AlivePath, new HealthCheckOptions { Predicate = r => r.Tags.Contains("live") }).AllowAnonymous();
        return app;
    }

    /// <summary>Redis answers a PING through the service's shared connection.</summary>
    private sealed class RedisHealthCheck(StackExchange.Redis.IConnectionMultiplexer redis) : IHealthCheck
    {
        public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                var latency = await redis.GetDatabase().PingAsync().WaitAsync(cancellationToken);
                return HealthCheckResult.Healthy($"PING {latency.TotalMilliseconds:0} ms");
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
            {
                return new HealthCheckResult(context.Registration.FailureStatus, "Redis unreachable", ex);
            }
        }
    }
}
