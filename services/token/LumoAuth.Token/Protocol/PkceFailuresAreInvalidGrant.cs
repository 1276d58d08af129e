using System.Security.Cryptography;
using System.Text;
using LumoAuth.Contracts.Tokens;
using LumoAuth.Messaging.Outbox;
using LumoAuth.Token.Features.Authorize;
using LumoAuth.Token.Data;
using Microsoft.AspNetCore;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// A code exchange whose verifier does not fit the code is refused as <c>invalid_grant</c> (RFC 7636 §4.6), with the
/// docs' descriptions: a missing verifier for a code issued with a challenge, a verifier too short, too long or of the wrong
/// characters to be one (§4.1: 43–128 unreserved characters), a wrong one, or one for a code issued without a challenge (a downgrade attempt), which
/// OpenIddict would answer with <c>invalid_request</c>. A missing verifier from a client that must always use PKCE is
/// refused earlier, as <c>invalid_request</c> (a required parameter is missing), before the code is looked at.
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
                context.Reject(Errors.InvalidGrant, "Invalid PKCE flow: code_verifier without code_challenge");
                RecordSecurityEvents.Record(batcher, context.Transaction.GetHttpRequest()?.HttpContext, context.ClientId ?? string.Empty,
                    new PkceDowngradeAttempted(context.ClientId ?? string.Empty, code.GetClaim(Claims.Subject)));
            }
        }
        else if (string.IsNullOrEmpty(verifier))
        {
            context.Reject(Errors.InvalidGrant, "code_verifier is required");
        }
        else if (verifier.Length < 43)
        {
            context.Reject(Errors.InvalidGrant, $"code_verifier must be at least 43 characters (got {verifier.Length})");
        }
        else if (!AuthorizationRequestRules.IsWellFormedChallenge(verifier))
        {
            // §4.1: at most 128 characters, and only unreserved ones; a client that breaks this has broken PKCE.
            context.Reject(Errors.InvalidGrant, "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' or '~'");
        }
        else if (!Matches(verifier, challenge, code.GetClaim(Claims.Private.CodeChallengeMethod)))
        {
            context.Reject(Errors.InvalidGrant, "code_verifier verification failed");
        }

        return ValueTask.CompletedTask;
    }

    // RFC 7636 §4.6, compared in constant time. OpenIddict checks again after us; this only words the refusal.
    private static bool Matches(string verifier, string challenge, string? method)
    {
        var expected = method == CodeChallengeMethods.Sha256
            ? Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)))
            : verifier;
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(challenge));
    }
}
