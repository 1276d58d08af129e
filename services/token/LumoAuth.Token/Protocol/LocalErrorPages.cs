using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using Microsoft.AspNetCore;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// A protocol error that cannot go back to the client (unknown client, unregistered redirect or
/// post-logout URI) is shown to the user as the hosted error page instead of OpenIddict's plain-text
/// answer. Errors that can go back are still redirected by OpenIddict (with <c>state</c> and <c>iss</c>).
/// </summary>
public abstract class LocalErrorPage<TContext> : IOpenIddictServerHandler<TContext>
    where TContext : BaseRequestContext
{
    protected static OpenIddictServerHandlerDescriptor DescriptorFor<THandler>()
        where THandler : LocalErrorPage<TContext>, new() =>
        OpenIddictServerHandlerDescriptor.CreateBuilder<TContext>()
            .UseSingletonHandler<THandler>()
            .SetOrder(OpenIddictServerAspNetCoreHandlers.ProcessLocalErrorResponse<TContext>.Descriptor.Order - 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    /// <summary>The page's words when OpenIddict gives no description (its own stay English: they are the client's error_description).</summary>
    protected abstract string FallbackDescription(PageText t);

    /// <summary>Where the response would go; an error with a destination is the client's to handle.</summary>
    protected abstract string? DestinationOf(TContext context);

    protected abstract OpenIddict.Abstractions.OpenIddictResponse ResponseOf(TContext context);

    public async ValueTask HandleAsync(TContext context)
    {
        var response = ResponseOf(context);
        if (string.IsNullOrEmpty(response.Error) || !string.IsNullOrEmpty(DestinationOf(context))
            || context.Transaction.GetHttpRequest()?.HttpContext is not { } http)
        {
            return;
        }

        var page = HostedPage.Error(http, response.Error, response.ErrorDescription ?? FallbackDescription(PageText.Of(http)));
        await page.ExecuteAsync(http);
        context.HandleRequest();
    }
}

public sealed class AuthorizationErrorPage : LocalErrorPage<ApplyAuthorizationResponseContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } = DescriptorFor<AuthorizationErrorPage>();

    protected override string FallbackDescription(PageText t) => t["The authorization request is not valid."];

    // Without a response mode (e.g. an unknown response_type) OpenIddict cannot redirect either: the user sees the page.
    protected override string? DestinationOf(ApplyAuthorizationResponseContext context) =>
        string.IsNullOrEmpty(context.ResponseMode) ? null : context.RedirectUri;

    protected override OpenIddict.Abstractions.OpenIddictResponse ResponseOf(ApplyAuthorizationResponseContext context) => context.Response;
}

public sealed class EndSessionErrorPage : LocalErrorPage<ApplyEndSessionResponseContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } = DescriptorFor<EndSessionErrorPage>();

    protected override string FallbackDescription(PageText t) => t["The logout request is not valid."];

    protected override string? DestinationOf(ApplyEndSessionResponseContext context) => context.PostLogoutRedirectUri;

    protected override OpenIddict.Abstractions.OpenIddictResponse ResponseOf(ApplyEndSessionResponseContext context) => context.Response;
}

/// <summary>The device page (RFC 8628 §3.3) is the user's: a request OpenIddict cannot read there is shown as the error page.</summary>
public sealed class EndUserVerificationErrorPage : LocalErrorPage<ApplyEndUserVerificationResponseContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } = DescriptorFor<EndUserVerificationErrorPage>();

    protected override string FallbackDescription(PageText t) => t["The device verification request is not valid."];

    protected override string? DestinationOf(ApplyEndUserVerificationResponseContext context) => null;

    protected override OpenIddict.Abstractions.OpenIddictResponse ResponseOf(ApplyEndUserVerificationResponseContext context) => context.Response;
}
