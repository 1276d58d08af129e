using System.Security.Claims;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Authorize;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Features.Login;
using LumoAuth.Token.Features.Scopes;
using LumoAuth.Token.Protocol;
using Microsoft.AspNetCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Features.Token;

/// <summary>
/// Token exchange with an outside subject token (RFC 8693, FEATURES "External IdP tokens (with subject_issuer) and SAML2
/// assertions can be exchanged"): a client enabled for token exchange presents a SAML 2.0 assertion one of the tenant's
/// IdPs signed for us, or an ID token of one of its OpenID providers (named by <c>subject_issuer</c>), and gets an access
/// token for the user it names — linked, found or made as at that provider's browser sign-in (federation decides, and
/// only for providers the tenant opened to exchange). The user's token is built from fresh data, like any grant's; its
/// scopes are what the client may have, narrowed as the request asks, never a privileged one.
/// <see cref="TokenExchange.Policy"/> applies its other rules (actor tokens, depth, agents) first, and asks here last.
/// </summary>
public sealed class ExternalSubjectExchange(
    FederatedLogins federation, UserClaims userClaims, TokenApplicationManager applications, TenantContext tenant, IOptions<LumoAuthOptions> options)
{
    public const string SubjectIssuerParameter = "subject_issuer";

    /// <summary>
    /// A SAML assertion, or an ID token (or JWT) or an access token naming its provider in <c>subject_issuer</c>; our own
    /// ID tokens are not exchanged (<see cref="TokenExchange.SupportedTokenTypes"/>), our own access tokens are a delegation
    /// (<see cref="TokenExchange"/>), and workloads' JWTs never get here (<see cref="WorkloadTokenExchange"/>).
    /// </summary>
    public static bool IsExternal(OpenIddictRequest request) =>
        request.IsTokenExchangeGrantType()
        && (ExternalSubjectTypes.IsSaml(request.SubjectTokenType)
            || ((ExternalSubjectTypes.IsJwt(request.SubjectTokenType) || request.SubjectTokenType == ExternalSubjectTypes.AccessToken)
                && !string.IsNullOrEmpty((string?)request[SubjectIssuerParameter])));

    /// <summary>
    /// What an outside subject's token may carry through <paramref name="requester"/>: the client's scopes, but never a
    /// privileged (admin) one — the person did not sign in here, so nothing of ours stood between the provider and the
    /// tenant's administration.
    /// </summary>
    public async ValueTask<IEnumerable<string>> ScopesAsync(TokenApplication requester, CancellationToken cancellationToken) =>
        ClientPermissions.ScopesOf(await applications.GetPermissionsAsync(requester, cancellationToken)).Where(s => !ScopeNames.IsPrivileged(s));

    /// <summary>
    /// The user the subject token names, built for <paramref name="scopes"/> (the decided ones); null once the request is
    /// rejected. Throws <see cref="ServiceDefaults.Errors.DependencyUnavailableException"/> when federation or the user
    /// directory cannot say (answered 503: the client tries again).
    /// </summary>
    public async ValueTask<ClaimsPrincipal?> ResolveAsync(ValidateTokenRequestContext context, IReadOnlyCollection<string> scopes)
    {
        var http = context.Transaction.GetHttpRequest()!;
        var issuer = options.Value.IssuerFor(http, tenant.Tenant!);
        var (found, refusal) = await federation.ExternalSubjectAsync(
            new ExternalSubjectRequest(tenant.TenantId, tenant.Slug, context.Request.SubjectTokenType!, context.Request.SubjectToken!,
                (string?)context.Request[SubjectIssuerParameter], issuer + "/oauth/token"),
            context.CancellationToken);
        if (found is null)
        {
            context.Reject(Errors.InvalidGrant, refusal);
            return null;
        }

        var identity = await userClaims.BuildAsync(tenant, issuer, new SignInFacts(found.UserId, null, null, []), scopes, http.HttpContext.RequestAborted);
        if (identity is null)
        {
            context.Reject(Errors.InvalidGrant, "The user the subject token names can no longer sign in.");
            return null;
        }

        return new ClaimsPrincipal(identity);
    }

    /// <summary>OpenIddict validates only its own tokens: an outside subject token is left to <see cref="ResolveAsync"/>.</summary>
    public sealed class LeaveOutsideTokensToFederation : IOpenIddictServerHandler<ProcessAuthenticationContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessAuthenticationContext>()
                .UseSingletonHandler<LeaveOutsideTokensToFederation>()
                .SetOrder(OpenIddictServerHandlers.ValidateSubjectToken.Descriptor.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ProcessAuthenticationContext context)
        {
            if (context.EndpointType == OpenIddictServerEndpointType.Token && IsExternal(context.Request))
            {
                context.ValidateSubjectToken = false;
            }

            return ValueTask.CompletedTask;
        }
    }
}
