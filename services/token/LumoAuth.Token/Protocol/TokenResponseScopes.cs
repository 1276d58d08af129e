using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Every token answer names the granted scope (RFC 6749 §5.1 requires it only when it differs from the request, so
/// OpenIddict leaves it out when it is the requested one; clients should not have to compare), as the
/// client-credentials direct path does too.
/// </summary>
public sealed class AlwaysNameTheGrantedScope : IOpenIddictServerHandler<ApplyTokenResponseContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyTokenResponseContext>()
            .UseSingletonHandler<AlwaysNameTheGrantedScope>()
            .SetOrder(int.MinValue + 100_000)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(ApplyTokenResponseContext context)
    {
        // Left out means "as requested" (§5.1), so the request's scope is the granted one.
        if (!string.IsNullOrEmpty(context.Response.AccessToken) && string.IsNullOrEmpty(context.Response.Scope)
            && context.Request?.GetScopes() is { Length: > 0 } requested)
        {
            context.Response.Scope = string.Join(' ', requested);
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// A request for more scope than the grant holds (a refresh, or a code exchange naming a scope) is <c>invalid_scope</c>
/// (RFC 6749 §5.2: "exceeds the scope granted by the resource owner"); OpenIddict says <c>invalid_grant</c> (ID2052).
/// </summary>
public sealed class ScopeBeyondTheGrantIsInvalidScope : IOpenIddictServerHandler<ApplyTokenResponseContext>
{
    private const string ScopeBeyondGrant = "ID2052";

    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyTokenResponseContext>()
            .UseSingletonHandler<ScopeBeyondTheGrantIsInvalidScope>()
            .SetOrder(int.MinValue + 100_000)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(ApplyTokenResponseContext context)
    {
        if (context.Response.Error == OpenIddictConstants.Errors.InvalidGrant
            && context.Response.ErrorUri?.EndsWith(ScopeBeyondGrant, StringComparison.Ordinal) == true)
        {
            context.Response.Error = OpenIddictConstants.Errors.InvalidScope;
            context.Response.ErrorDescription = "The requested scope exceeds the scope granted.";
            context.Response.ErrorUri = null;
        }

        return ValueTask.CompletedTask;
    }
}
