using Microsoft.AspNetCore;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Keeps, for the authorization endpoint, when a pushed authorization request (RFC 9126) was pushed. The request's
/// parameters come from its request_uri on every visit, so a <c>prompt=login</c> or <c>prompt=create</c> the hosted
/// pages have satisfied cannot be dropped from the way back as it is for a plain request; instead a sign-in after the
/// push satisfies it.
/// </summary>
public sealed class PushedRequestTime : IOpenIddictServerHandler<ValidateAuthorizationRequestContext>
{
    private const string Property = ".lumoauth_pushed_at";

    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateAuthorizationRequestContext>()
            .UseSingletonHandler<PushedRequestTime>()
            // After OpenIddict's own checks: only a request they let through gets here.
            .SetOrder(int.MaxValue - 100_000)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(ValidateAuthorizationRequestContext context)
    {
        if (context.RequestTokenPrincipal?.GetCreationDate() is { } pushedAt)
        {
            context.Transaction.Properties[Property] = pushedAt;
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// A signed request object (RFC 9101) also comes back unchanged through the hosted pages: it counts from when this
    /// server first saw it (carried sealed beside it, <see cref="SignedRequestObjects.SeenParameter"/>).
    /// </summary>
    public static void RecordSigned(OpenIddictServerTransaction transaction, DateTimeOffset seenAt) =>
        transaction.Properties[Property] = seenAt;

    /// <summary>When the current authorization request was pushed, or null for a request that was not.</summary>
    public static DateTimeOffset? Of(HttpContext http) =>
        http.Features.Get<OpenIddictServerAspNetCoreFeature>()?.Transaction?.Properties.TryGetValue(Property, out var value) == true
            ? value as DateTimeOffset?
            : null;
}
