using LumoAuth.Gateway.CustomDomains;
using LumoAuth.Gateway.Forwarding;
using LumoAuth.Gateway.RateLimiting;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace LumoAuth.Gateway;

public static class GatewayExtensions
{
    public static IHostApplicationBuilder AddGateway(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<EdgeRateLimitOptions>().BindConfiguration(EdgeRateLimitOptions.SectionName);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.AddClientCertificateForwarding();
        builder.Services.AddOptions<CustomDomainMapOptions>().BindConfiguration(CustomDomainMapOptions.SectionName);
        builder.Services.AddTransient<GatewayKeyHandler>();
        builder.Services.AddHttpClient(CustomDomainMap.AdminClient, c => c.BaseAddress = new Uri($"http://{ServiceNames.Admin}"))
            .AddHttpMessageHandler<GatewayKeyHandler>();
        builder.Services.AddSingleton<CustomDomainMap>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<CustomDomainMap>());
        // Built from the host's final configuration, which says which services have an h2c endpoint.
        builder.Services.AddSingleton<IProxyConfigProvider>(services =>
            new InMemoryConfigProvider(GatewayRoutes.Routes(), GatewayRoutes.Clusters(services.GetRequiredService<IConfiguration>())));
        builder.Services.AddReverseProxy()
            .AddTransforms(ClientCertificateForwarding.AddClientCertificateTransform)
            .AddTransforms(CustomDomainRouting.AddTransforms)
            .AddServiceDiscoveryDestinationResolver();
        builder.Services.Replace(ServiceDescriptor.Singleton<IForwarderHttpClientFactory, GatewayHttpClientFactory>());
        return builder;
    }
}

/// <summary>
/// <c>/internal/**</c> is service-to-service only. No route leads there, and this refuses it before
/// routing too, so a future catch-all route can never expose it. (Routes forward paths unchanged, so
/// only this prefix can reach a service's internal API.)
/// </summary>
public sealed class InternalPathBlocker(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context) =>
        context.Request.Path.StartsWithSegments("/internal", StringComparison.OrdinalIgnoreCase)
            ? ErrorWriter.WriteAsync(context, new ApiError("No such route", 404, ErrorCodes.RouteNotFound))
            : next(context);
}
