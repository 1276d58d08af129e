using LumoAuth.ServiceDefaults.Http;
using System.Text.Json;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Extensions;
using LumoAuth.Token.Features.Clients;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// DPoP (RFC 9449) at the token service. A token request with a valid proof gets an access token bound to the proof's
/// key (<c>cnf.jkt</c>) and <c>token_type</c> <c>DPoP</c>; a public client's refresh token is bound to that key as well
/// (§5), and so is a code whose authorization request named the key (<c>dpop_jkt</c>, §10): redeeming either needs a
/// proof by the same key. A client registered with <c>dpopBoundAccessTokens</c> gets no token without a proof (§5.2).
/// </summary>
public static class DPoPBinding
{
    /// <summary>The key a code or refresh token is bound to, kept in the grant's own principal.</summary>
    public const string BoundKeyClaim = "lumo_dpop_jkt";

    /// <summary>The authorization request parameter naming the key the code will be bound to (RFC 9449 §10).</summary>
    public const string AuthorizationKeyParameter = "dpop_jkt";

    /// <summary>A client requirement: every token request carries a proof (RFC 9449 §5.2 <c>dpop_bound_access_tokens</c>).</summary>
    public const string RequirementFeature = "ft:dpop";

    private const string ThumbprintProperty = "lumo:dpop_jkt";
    private const string MalformedKeyParameter = "The 'dpop_jkt' parameter must be a SHA-256 JWK thumbprint (base64url).";
    private const string PublicClientProperty = "lumo:dpop_public_client";

    /// <summary>The thumbprint of the proof this request's tokens are bound to, once the token request was checked.</summary>
    public static string? ThumbprintOf(OpenIddictServerTransaction transaction) =>
        transaction.Properties.TryGetValue(ThumbprintProperty, out var value) ? value as string : null;

    /// <summary>A SHA-256 JWK thumbprint, base64url without padding.</summary>
    public static bool IsThumbprint(string? value) =>
        value is { Length: 43 } && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>
    /// Checks the proof of a token request against the client's rules and the grant's binding; runs once OpenIddict has
    /// authenticated the client and validated the code or refresh token.
    /// </summary>
    public sealed class CheckTokenRequestProof(
        DPoPProofValidator proofs,
        DPoPNonces nonces,
        TenantContext tenant,
        ClientCache clients,
        IOptions<LumoAuthOptions> lumoOptions,
        IOptions<TokenServiceOptions> options)
        : IOpenIddictServerHandler<ValidateTokenRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
                .UseScopedHandler<CheckTokenRequestProof>()
                .SetOrder(OpenIddictServerHandlers.Exchange.ValidateAuthentication.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidateTokenRequestContext context)
        {
            if (!tenant.HasTenant || context.Transaction.GetHttpRequest() is not { } http)
            {
                return;
            }

            var proof = await proofs.CheckAsync(http, tenant.TenantId, PublicTarget.Of(http, lumoOptions.Value, tenant.Tenant!), accessToken: null, http.HttpContext.RequestAborted);
            if (proof.Failed)
            {
                context.Reject(proof.Error, proof.Description);
                return;
            }

            if (proof.HasProof && options.Value.RequireDPoPNonce)
            {
                // A fresh nonce goes with every answer to a proof, so a client always holds a current one (§8.2).
                http.HttpContext.Response.Headers[DPoPProofValidator.NonceHeaderName] = nonces.Issue(tenant.TenantId);
                if (!nonces.IsValid(tenant.TenantId, proof.Nonce))
                {
                    context.Reject(DPoPProofValidator.UseNonce, "Sign the DPoP proof again with the nonce from the DPoP-Nonce header.");
                    return;
                }
            }

            var client = await clients.SettingsAsync(tenant.Tenant!, context.ClientId, http.HttpContext.RequestAborted);
            if (!proof.HasProof && client?.DpopBoundAccessTokens == true)
            {
                context.Reject(DPoPProofValidator.InvalidProof, "This client's tokens are DPoP-bound: send a DPoP proof.");
                return;
            }

            var grant = context.AuthorizationCodePrincipal ?? context.RefreshTokenPrincipal;
            if (grant?.GetClaim(BoundKeyClaim) is { } boundTo && !DPoPProofValidator.SameKey(boundTo, proof.Thumbprint))
            {
                context.Reject(Errors.InvalidGrant, proof.HasProof
                    ? "The grant is bound to another DPoP key."
                    : "The grant is bound to a DPoP key: send a DPoP proof by that key.");
                return;
            }

            if (proof.HasProof)
            {
                context.Transaction.Properties[ThumbprintProperty] = proof.Thumbprint;
                context.Transaction.Properties[PublicClientProperty] = client is { IsConfidential: false };
            }
        }
    }

    /// <summary>
    /// Nonces for DPoP proofs (RFC 9449 §8) that need no storage: the tenant's id, protected with the key ring every
    /// replica shares and good for <see cref="Lifetime"/>. A nonce of another tenant, or an old one, is not accepted.
    /// </summary>
    public sealed class DPoPNonces(IDataProtectionProvider dataProtection, TimeProvider time)
    {
        public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

        private readonly ITimeLimitedDataProtector _protector = dataProtection.CreateProtector("LumoAuth.Token.DPoPNonce").ToTimeLimitedDataProtector();

        public string Issue(Guid tenantId) => _protector.Protect(tenantId.ToString("N"), time.GetUtcNow() + Lifetime);

        public bool IsValid(Guid tenantId, string? nonce)
        {
            if (string.IsNullOrEmpty(nonce) || nonce.Length > 1024)
            {
                return false;
            }

            try
            {
                return _protector.Unprotect(nonce, out var expiresAt) == tenantId.ToString("N") && expiresAt > time.GetUtcNow();
            }
            catch (System.Security.Cryptography.CryptographicException)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// An authorization request may name the key its code will be bound to (<c>dpop_jkt</c>, RFC 9449 §10); it must be a
    /// SHA-256 JWK thumbprint.
    /// </summary>
    public sealed class CheckAuthorizationKeyParameter : IOpenIddictServerHandler<ValidateAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateAuthorizationRequestContext>()
                .UseSingletonHandler<CheckAuthorizationKeyParameter>()
                .SetOrder(OpenIddictServerHandlers.Authentication.ValidateClientRedirectUri.Descriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateAuthorizationRequestContext context)
        {
            var value = (string?)context.Request.GetParameter(AuthorizationKeyParameter);
            if (value is not null && !IsThumbprint(value))
            {
                context.Reject(Errors.InvalidRequest, MalformedKeyParameter);
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// A DPoP proof sent with a pushed authorization request binds the code to come to its key, as <c>dpop_jkt</c> would
    /// (RFC 9449 §10.1); both together must name the same key.
    /// </summary>
    public sealed class BindPushedRequests(DPoPProofValidator proofs, TenantContext tenant, IOptions<LumoAuthOptions> lumoOptions)
        : IOpenIddictServerHandler<ValidatePushedAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidatePushedAuthorizationRequestContext>()
                .UseScopedHandler<BindPushedRequests>()
                .SetOrder(OpenIddictServerHandlers.Authentication.ValidatePushedAuthentication.Descriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidatePushedAuthorizationRequestContext context)
        {
            if (!tenant.HasTenant || context.Transaction.GetHttpRequest() is not { } http)
            {
                return;
            }

            var named = (string?)context.Request.GetParameter(AuthorizationKeyParameter);
            if (named is not null && !IsThumbprint(named))
            {
                context.Reject(Errors.InvalidRequest, MalformedKeyParameter);
                return;
            }

            var proof = await proofs.CheckAsync(http, tenant.TenantId, PublicTarget.Of(http, lumoOptions.Value, tenant.Tenant!), accessToken: null, http.HttpContext.RequestAborted);
            if (proof.Failed)
            {
                context.Reject(proof.Error, proof.Description);
            }
            else if (proof.HasProof && named is not null && !DPoPProofValidator.SameKey(named, proof.Thumbprint))
            {
                context.Reject(DPoPProofValidator.InvalidProof, "The DPoP proof is not signed by the key 'dpop_jkt' names.");
            }
            else if (proof.HasProof)
            {
                context.Request.SetParameter(AuthorizationKeyParameter, proof.Thumbprint);
            }
        }
    }

    /// <summary>Binds what is issued: the access token by <c>cnf.jkt</c>, a public client's refresh token and a code by our private claim.</summary>
    public sealed class BindIssuedTokens : IOpenIddictServerHandler<ProcessSignInContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
                .UseSingletonHandler<BindIssuedTokens>()
                .SetOrder(OpenIddictServerHandlers.GenerateAccessToken.Descriptor.Order - 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ProcessSignInContext context)
        {
            if (context.EndpointType == OpenIddictServerEndpointType.Authorization
                && (string?)context.Request?.GetParameter(AuthorizationKeyParameter) is { } requested
                && context.AuthorizationCodePrincipal is { } code)
            {
                code.SetClaim(BoundKeyClaim, requested);
            }

            if (ThumbprintOf(context.Transaction) is not { } thumbprint)
            {
                return ValueTask.CompletedTask;
            }

            SignInAccessToken.Principal(context)?.SetClaim(Claims.Confirmation, JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["jkt"] = thumbprint }));
            if (context.RefreshTokenPrincipal is { } refresh
                && context.Transaction.Properties.TryGetValue(PublicClientProperty, out var isPublic) && isPublic is true)
            {
                refresh.SetClaim(BoundKeyClaim, thumbprint);
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>A bound access token is announced as such (RFC 9449 §5).</summary>
    public sealed class DPoPTokenType : IOpenIddictServerHandler<ApplyTokenResponseContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyTokenResponseContext>()
                .UseSingletonHandler<DPoPTokenType>()
                .SetOrder(int.MinValue + 100_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ApplyTokenResponseContext context)
        {
            if (!string.IsNullOrEmpty(context.Response.AccessToken) && ThumbprintOf(context.Transaction) is not null)
            {
                context.Response.TokenType = DPoPProofValidator.AuthorizationScheme;
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Introspection tells a resource server what a bound token is bound to (RFC 9449 §6.2).</summary>
    public sealed class IntrospectBinding : IOpenIddictServerHandler<HandleIntrospectionRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleIntrospectionRequestContext>()
                .UseSingletonHandler<IntrospectBinding>()
                .SetOrder(OpenIddictServerHandlers.Introspection.AttachApplicationClaims.Descriptor.Order + 700)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleIntrospectionRequestContext context)
        {
            if (DPoPProofValidator.BoundThumbprint(context.GenericTokenPrincipal?.GetClaim(Claims.Confirmation)) is { } thumbprint)
            {
                context.TokenType = DPoPProofValidator.AuthorizationScheme;
                context.Confirmation = new System.Text.Json.Nodes.JsonObject { ["jkt"] = thumbprint };
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Userinfo also takes a token presented with the DPoP scheme (RFC 9449 §7.1).</summary>
    public sealed class ExtractDPoPAccessToken : IOpenIddictServerHandler<ExtractUserInfoRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ExtractUserInfoRequestContext>()
                .UseSingletonHandler<ExtractDPoPAccessToken>()
                .SetOrder(OpenIddictServerAspNetCoreHandlers.ExtractAccessToken<ExtractUserInfoRequestContext>.Descriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ExtractUserInfoRequestContext context)
        {
            if (context.Request is { } request && context.Transaction.GetHttpRequest() is { } http && DPoPProofValidator.UsesDPoPScheme(http))
            {
                request.AccessToken = DPoPProofValidator.TokenOf(http);
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// At userinfo, a DPoP-bound token needs the DPoP scheme and a proof by its key, a plain one Bearer (RFC 9449 §7); a
    /// certificate-bound one, that certificate (RFC 8705 §3).
    /// </summary>
    public sealed class CheckUserInfoProof(DPoPProofValidator proofs, TenantContext tenant, IOptions<LumoAuthOptions> lumoOptions)
        : IOpenIddictServerHandler<ValidateUserInfoRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateUserInfoRequestContext>()
                .UseScopedHandler<CheckUserInfoProof>()
                .SetOrder(OpenIddictServerHandlers.UserInfo.ValidateAuthentication.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidateUserInfoRequestContext context)
        {
            if (!tenant.HasTenant || context.Transaction.GetHttpRequest() is not { } http || context.Request.AccessToken is not { } token)
            {
                return;
            }

            var confirmation = context.AccessTokenPrincipal?.GetClaim(Claims.Confirmation);
            if (!ForwardedClientCertificateMiddleware.MayPresent(confirmation, http.HttpContext.Connection.ClientCertificate))
            {
                context.Reject(Errors.InvalidToken, "This access token is bound to a client certificate: present it over mutual TLS with that certificate.");
                return;
            }

            var presentedWithDPoP = DPoPProofValidator.UsesDPoPScheme(http);
            var bound = DPoPProofValidator.BoundThumbprint(confirmation);
            if (bound is null)
            {
                if (presentedWithDPoP)
                {
                    context.Reject(Errors.InvalidToken, "The DPoP scheme is only for DPoP-bound access tokens.");
                }

                return;
            }

            if (!presentedWithDPoP)
            {
                context.Reject(Errors.InvalidToken, "This access token is bound to a DPoP key: present it with the DPoP scheme and a proof.");
                return;
            }

            var proof = await proofs.CheckAsync(http, tenant.TenantId, PublicTarget.Of(http, lumoOptions.Value, tenant.Tenant!), token, http.HttpContext.RequestAborted);
            if (proof.Failed || !proof.HasProof || !DPoPProofValidator.SameKey(bound, proof.Thumbprint))
            {
                context.Reject(proof.Error ?? DPoPProofValidator.InvalidProof,
                    proof.Description ?? (proof.HasProof ? "The DPoP proof is not signed by the key the access token is bound to." : "A DPoP proof is required with a DPoP-bound access token."));
            }
        }
    }

    /// <summary>
    /// A refused DPoP presentation at userinfo is a 401 (403 for <c>insufficient_scope</c>) with a <c>DPoP</c> challenge naming
    /// the accepted algorithms (RFC 9449 §7.1); OpenIddict would answer an error code it does not know with 400 and a Bearer challenge.
    /// </summary>
    public sealed class DPoPChallengeAtUserInfo : IOpenIddictServerHandler<ApplyUserInfoResponseContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyUserInfoResponseContext>()
                .UseSingletonHandler<DPoPChallengeAtUserInfo>()
                .SetOrder(OpenIddictServerAspNetCoreHandlers.AttachWwwAuthenticateHeader<ApplyUserInfoResponseContext>.Descriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ApplyUserInfoResponseContext context)
        {
            if (string.IsNullOrEmpty(context.Response.Error) || context.Transaction.GetHttpRequest() is not { } request)
            {
                return ValueTask.CompletedTask;
            }

            if (context.Response.Error == DPoPProofValidator.InvalidProof || DPoPProofValidator.UsesDPoPScheme(request))
            {
                var response = request.HttpContext.Response;
                // A valid presentation of a token without openid is refused, not unauthenticated (RFC 6750 §3.1).
                response.StatusCode = context.Response.Error == Errors.InsufficientScope ? StatusCodes.Status403Forbidden : StatusCodes.Status401Unauthorized;
                response.Headers.WWWAuthenticate = DPoPProofValidator.Challenge(context.Response.Error);
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Discovery names the proof algorithms accepted (RFC 9449 §5.1).</summary>
    public sealed class AdvertiseDPoP : IOpenIddictServerHandler<HandleConfigurationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
                .UseSingletonHandler<AdvertiseDPoP>()
                .SetOrder(OpenIddictServerHandlers.Discovery.AttachPromptValues.Descriptor.Order + 3)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleConfigurationRequestContext context)
        {
            context.Metadata["dpop_signing_alg_values_supported"] = JsonSerializer.SerializeToElement(DPoPProofValidator.Algorithms);
            return ValueTask.CompletedTask;
        }
    }
}
