using LumoAuth.ServiceDefaults.Security;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace LumoAuth.Gateway.Forwarding;

/// <summary>
/// Mutual TLS (RFC 8705) for OAuth clients: on its HTTPS endpoints the gateway asks for a client certificate without
/// requiring one, and accepts any (whether a certificate authenticates a client, or binds its tokens, is the token
/// service's decision against the client's registration). The certificate travels on as RFC 9440 <c>Client-Cert</c>;
/// whatever <c>Client-Cert</c> a caller sent is dropped first, unless <c>Gateway:TrustForwardedClientCertificates</c>
/// says a TLS-terminating load balancer among the trusted proxies sets it.
/// </summary>
public static class ClientCertificateForwarding
{
    public const string TrustSetting = "Gateway:TrustForwardedClientCertificates";

    public static IHostApplicationBuilder AddClientCertificateForwarding(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<KestrelServerOptions>(kestrel => kestrel.ConfigureHttpsDefaults(https =>
        {
            https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
            https.AllowAnyClientCertificate();
        }));
        return builder;
    }

    /// <summary>Replaces any caller-sent header with the certificate of this request (its TLS connection's, or a trusted proxy's).</summary>
    public static void AddClientCertificateTransform(TransformBuilderContext context) =>
        context.AddRequestTransform(transform =>
        {
            transform.ProxyRequest.Headers.Remove(ForwardedClientCertificateMiddleware.HeaderName);
            if (transform.HttpContext.Connection.ClientCertificate is { } certificate)
            {
                transform.ProxyRequest.Headers.TryAddWithoutValidation(ForwardedClientCertificateMiddleware.HeaderName, ForwardedClientCertificateMiddleware.Format(certificate));
            }

            return ValueTask.CompletedTask;
        });
}
