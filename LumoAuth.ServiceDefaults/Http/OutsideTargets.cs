using LumoAuth.ServiceDefaults.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

namespace LumoAuth.ServiceDefaults.Http;

/// <summary>
/// Named clients for URLs a tenant or a caller chooses (back-channel logout, CIBA pings, client metadata documents):
/// only addresses <see cref="SsrfGuard"/> permits, no redirects, and none of what the service defaults give every other
/// client. Service discovery would turn a host such as <c>https://admin/…</c> into one of our services before the guard
/// sees the address, and a resilience pipeline per authority would keep one breaker for every host anyone names.
/// </summary>
public static class OutsideTargets
{
    public static IHttpClientBuilder AddOutsideTargetClient(
        this IServiceCollection services, string name, Action<HttpClient> configure, Func<IServiceProvider, bool> allowPrivateTargets)
    {
#pragma warning disable EXTEXP0001 // marked for evaluation, and the one way to take the defaults' resilience off one client
        return services.AddHttpClient(name, configure)
            .ConfigurePrimaryHttpMessageHandler(sp => SsrfGuard.Handler(allowPrivateTargets(sp)))
            .RemoveAllResilienceHandlers()
            .ConfigureAdditionalHttpMessageHandlers((handlers, _) =>
            {
                for (var i = handlers.Count - 1; i >= 0; i--)
                {
                    // The handler AddServiceDiscovery adds (its type is internal to Microsoft.Extensions.ServiceDiscovery).
                    if (IsServiceDiscovery(handlers[i]))
                    {
                        handlers.RemoveAt(i);
                    }
                }
            });
#pragma warning restore EXTEXP0001
    }

    public static bool IsServiceDiscovery(HttpMessageHandler handler) =>
        handler.GetType().FullName == "Microsoft.Extensions.ServiceDiscovery.Http.ResolvingHttpDelegatingHandler";
}
