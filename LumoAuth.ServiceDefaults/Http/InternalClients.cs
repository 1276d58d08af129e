using LumoAuth.Contracts.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LumoAuth.ServiceDefaults.Http;

/// <summary>Named HTTP clients for the internal API, addressed by Aspire service discovery.</summary>
public static class InternalClients
{
    public const string Admin = "internal-admin";
    public const string Token = "internal-token";
    public const string Authorization = "internal-authorization";
    public const string Agents = "internal-agents";
    public const string Federation = "internal-federation";

    public static IServiceCollection AddInternalClients(this IServiceCollection services)
    {
        services.AddTransient<InternalKeyHandler>();
        services.AddHttpContextAccessor();
        services.AddTransient<CorrelationIdHandler>();
        foreach (var (name, service) in new[]
                 {
                     (Admin, ServiceNames.Admin), (Token, ServiceNames.Token),
                     (Authorization, ServiceNames.Authorization), (Agents, ServiceNames.Agents),
                     (Federation, ServiceNames.Federation),
                 })
        {
            services.AddHttpClient(name, c => c.BaseAddress = new Uri($"http://{service}"))
                .AddHttpMessageHandler<InternalKeyHandler>()
                .AddHttpMessageHandler<CorrelationIdHandler>();
        }

        return services;
    }
}

/// <summary>Stamps the internal key on internal calls (and only those: the handler is on internal clients alone).</summary>
public sealed class InternalKeyHandler(IOptions<LumoAuthOptions> options) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Remove(InternalRoutes.InternalKeyHeader);
        request.Headers.Add(InternalRoutes.InternalKeyHeader, options.Value.InternalKey);
        return base.SendAsync(request, cancellationToken);
    }
}
