using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Endpoints are matched against the request as it arrived (behind the gateway the host is the service's
/// own), but every URI the server publishes (discovery endpoints, <c>jwks_uri</c>, expected assertion
/// audiences) is built from the tenant's pinned public issuer, never from a caller-controlled Host header.
/// </summary>
public sealed class PinBaseUriToIssuer : IOpenIddictServerHandler<ProcessRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessRequestContext>()
            .UseSingletonHandler<PinBaseUriToIssuer>()
            .SetOrder(OpenIddictServerHandlers.InferEndpointType.Descriptor.Order + 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(ProcessRequestContext context)
    {
        if (context.Options.Issuer is { } issuer)
        {
            context.BaseUri = issuer.AbsoluteUri.EndsWith('/') ? issuer : new Uri(issuer.AbsoluteUri + "/", UriKind.Absolute);
        }

        return ValueTask.CompletedTask;
    }
}
