using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Protocol;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Features.Authorize;

/// <summary>
/// What an authorization request must satisfy beyond OpenIddict's own checks: scopes the client holds, a well-formed
/// PKCE challenge (RFC 7636 §4.2) and S256 from public clients (C-06). The authorization endpoint applies them, and a
/// pushed request meets them already at <c>/oauth/par</c>, where the client hears the refusal itself instead of
/// through a browser later (RFC 9126 §2.1: validated as an authorization request would be).
/// </summary>
public static class AuthorizationRequestRules
{
    public readonly record struct Problem(string Error, string Description);

    /// <summary>The first requested scope the client does not hold, as <c>invalid_scope</c>.</summary>
    public static Problem? ScopeProblem(IEnumerable<string> requested, IReadOnlySet<string> allowed) =>
        requested.FirstOrDefault(s => !allowed.Contains(s)) is { } denied
            ? new Problem(Errors.InvalidScope, $"The application may not request the scope '{denied}'.")
            : null;

    public static async ValueTask<Problem?> ChallengeProblemAsync(
        TokenApplicationManager applications, TokenApplication application, OpenIddictRequest request, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request.CodeChallenge))
        {
            return null;
        }

        if (!IsWellFormedChallenge(request.CodeChallenge))
        {
            return new Problem(Errors.InvalidRequest, "The code_challenge must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' or '~'.");
        }

        // Plain is only for confidential clients that cannot hash; a challenge without a method is plain (RFC 7636 §4.3).
        return request.CodeChallengeMethod is null or "" or CodeChallengeMethods.Plain
               && await applications.HasClientTypeAsync(application, ClientTypes.Public, cancellationToken)
            ? new Problem(Errors.InvalidRequest, "Public clients must use the S256 code challenge method.")
            : null;
    }

    /// <summary>RFC 7636 §4.1/§4.2: 43–128 unreserved characters, for a verifier and for a plain challenge alike.</summary>
    public static bool IsWellFormedChallenge(string value) =>
        value.Length is >= 43 and <= 128 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~');

    /// <summary>The same rules for a pushed request, answered to the client as a 400 (RFC 9126 §2.3).</summary>
    public sealed class AtPush(TokenApplicationManager applications) : IOpenIddictServerHandler<ValidatePushedAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidatePushedAuthorizationRequestContext>()
                .UseScopedHandler<AtPush>()
                // After every check of OpenIddict's own (client, grant type, redirect URI…), as at the authorization endpoint.
                .SetOrder(int.MaxValue - 100_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidatePushedAuthorizationRequestContext context)
        {
            if (await applications.FindByClientIdAsync(context.ClientId ?? context.Request.ClientId ?? string.Empty, context.CancellationToken) is not { } application)
            {
                return; // OpenIddict refuses an unknown client itself.
            }

            var allowed = ClientPermissions.ScopesOf(await applications.GetPermissionsAsync(application, context.CancellationToken));
            if ((ScopeProblem(context.Request.GetScopes(), allowed)
                 ?? await ChallengeProblemAsync(applications, application, context.Request, context.CancellationToken)) is { } problem)
            {
                context.Reject(problem.Error, problem.Description);
            }
        }
    }
}
