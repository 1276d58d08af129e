using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>Telemetry is recorded only for an exporter to send it to.</summary>
public sealed class TelemetryRegistrationTests
{
    [Fact]
    public void WithAnOtlpEndpoint_TracesAndMetricsAreRecorded()
    {
        using var host = Build("http://127.0.0.1:4317");

        Assert.NotNull(host.Services.GetService<TracerProvider>());
        Assert.NotNull(host.Services.GetService<MeterProvider>());
    }

    [Fact]
    public void WithoutAnExporter_NothingIsRecorded()
    {
        using var host = Build(endpoint: null);

        Assert.Null(host.Services.GetService<TracerProvider>());
        Assert.Null(host.Services.GetService<MeterProvider>());
    }

    private static IHost Build(string? endpoint)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint;
        builder.ConfigureOpenTelemetry();
        return builder.Build();
    }
}
