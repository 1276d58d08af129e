using LumoAuth.Contracts.Tokens;
using LumoAuth.Messaging.Outbox;
using LumoAuth.Token.Data;
using Microsoft.AspNetCore;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// A code exchange whose verifier does not fit the code is refused as <c>invalid_grant</c> (RFC 7636 §4.6): a verifier
/// too short to be one (§4.1: 43–128 characters), or one for a code issued without a challenge (a downgrade attempt),
/// which OpenIddict would answer with <c>invalid_request</c>. A wrong verifier OpenIddict already answers with
/// <c>invalid_grant</c>; a missing one, from a client that must use PKCE, stays <c>invalid_request</c> (a required
/// parameter is missing), refused before the code is looked at.
/// </summary>
/// <remarks>The downgrade attempt is also a high-severity security event (<see cref="PkceDowngradeAttempted"/>).</remarks>
public sealed class PkceFailuresAreInvalidGrant(EventBatcher<TokenDbContext> batcher) : IOpenIddictServerHandler<ValidateTokenRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
            .UseSingletonHandler<PkceFailuresAreInvalidGrant>()
            .SetOrder(OpenIddictServerHandlers.Exchange.ValidateCodeVerifier.Descriptor.Order - 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(ValidateTokenRequestContext context)
    {
        if (!context.Request.IsAuthorizationCodeGrantType() || context.AuthorizationCodePrincipal is not { } code)
        {
            return ValueTask.CompletedTask;
        }

        var challenge = code.GetClaim(Claims.Private.CodeChallenge);
        var verifier = context.Request.CodeVerifier;
        if (string.IsNullOrEmpty(challenge))
        {
            if (!string.IsNullOrEmpty(verifier))
            {
                context.Reject(Errors.InvalidGrant, "Invalid PKCE flow: code_verifier without code_challenge.");
                RecordSecurityEvents.Record(batcher, context.Transaction.GetHttpRequest()?.HttpContext, context.ClientId ?? string.Empty,
                    new PkceDowngradeAttempted(context.ClientId ?? string.Empty, code.GetClaim(Claims.Subject)));
            }
        }
        else if (string.IsNullOrEmpty(verifier))
        {
            context.Reject(Errors.InvalidGrant, "This code was issued with a code_challenge: the code_verifier parameter is required.");
        }
        else if (verifier.Length < 43)
        {
            context.Reject(Errors.InvalidGrant, $"A code_verifier has at least 43 characters; this one has {verifier.Length}.");
        }

        return ValueTask.CompletedTask;
    }
}
