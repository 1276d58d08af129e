using Microsoft.AspNetCore;
using System.Security.Claims;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Authorize;
using LumoAuth.Token.Features.Ciba;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Features.Login;
using LumoAuth.Token.Protocol;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using StackExchange.Redis;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Token;

/// <summary>
/// <c>POST /t/{slug}/api/v1/oauth/token</c>. OpenIddict has already parsed the request, authenticated the
/// client and checked its grant-type permission; this handler decides the subject, scopes and claims. The
/// resource-owner password grant is never enabled (RFC 9700 §2.4), so OpenIddict answers it with
/// <c>unsupported_grant_type</c> before this handler runs.
/// </summary>
public static class TokenEndpoints
{
    public static IEndpointRouteBuilder MapTokenEndpoints(this IEndpointRouteBuilder app)
    {
        // Anonymous on purpose: clients authenticate to OpenIddict with their own credentials.
        app.MapPost("/t/{tenantSlug}/api/v1/oauth/token", Exchange)
            .AllowAnonymous()
            .ExcludeFromDescription()
            .WithName("OAuthToken");
        return app;
    }

    public static async Task<IResult> Exchange(
        HttpContext http,
        TokenApplicationManager applications,
        TenantContext tenantContext,
        IOptions<LumoAuthOptions> lumoOptions)
    {
        var request = http.GetOpenIddictServerRequest();
        if (request is null || !tenantContext.HasTenant)
        {
            return Reject(Errors.InvalidRequest, "The request is not a valid token request.");
        }

        if (request.IsAuthorizationCodeGrantType() || request.IsRefreshTokenGrantType() || request.IsDeviceCodeGrantType())
        {
            return await RedeemAsync(http, request, tenantContext, lumoOptions.Value.IssuerFor(http.Request, tenantContext.Tenant!));
        }

        if (request.GrantType == CibaDelivery.GrantType)
        {
            return await CibaGrant.RedeemAsync(http, request, tenantContext, lumoOptions.Value.IssuerFor(http.Request, tenantContext.Tenant!));
        }

        if (request.IsTokenExchangeGrantType())
        {
            if (JitTaskExchange.GrantOf(http) is { } jit)
            {
                return await JitTaskExchange.IssueAsync(http, jit, tenantContext.Tenant!);
            }

            // The policy (TokenExchange.Policy) has decided; a request it did not see is refused.
            return TokenExchange.DecisionOf(http) is { } decision
                ? Results.SignIn(TokenExchange.Issue(decision, http.RequestServices.GetRequiredService<TimeProvider>()), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)
                : Reject(Errors.InvalidGrant, "The token exchange request is invalid.");
        }

        if (!request.IsClientCredentialsGrantType())
        {
            return Reject(Errors.UnsupportedGrantType, "The grant type is not supported.");
        }

        var application = await applications.FindByClientIdAsync(request.ClientId!, http.RequestAborted);
        if (application is null)
        {
            return Reject(Errors.InvalidClient, "The client application was not found.");
        }

        var allowed = ClientPermissions.ScopesOf(await applications.GetPermissionsAsync(application, http.RequestAborted));
        var requested = request.GetScopes();
        var denied = requested.Where(s => !allowed.Contains(s)).ToArray();
        if (denied.Length > 0)
        {
            return Reject(Errors.InvalidScope, $"The client is not allowed the scope '{denied[0]}'.");
        }

        // Refused rather than dropped: a client asking for an ID token or a refresh token here learns at once that it gets neither.
        if (requested.FirstOrDefault(ClientCredentialsProfile.IsUserOnly) is { } userOnly)
        {
            return Reject(Errors.InvalidScope, $"The scope '{userOnly}' needs a user; the client credentials grant has none.");
        }

        // No scope asked for: the client gets its defaults (RFC 6749 §3.3 lets the server pick them).
        var scopes = requested.IsEmpty ? ClientCredentialsProfile.DefaultScopesOf(allowed) : requested.ToArray();
        var issuer = lumoOptions.Value.IssuerFor(http.Request, tenantContext.Tenant!);

        var identity = new ClaimsIdentity(
            authenticationType: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme,
            nameType: Claims.Name,
            roleType: Claims.Role);
        identity.SetClaim(Claims.Subject, request.ClientId);
        identity.SetClaim(LumoClaims.TenantId, tenantContext.TenantId.ToString());
        identity.SetClaim(LumoClaims.Tenant, tenantContext.Slug);
        identity.SetScopes(scopes);
        AgentTokenGate.Name(identity, AgentTokenGate.PassedOf(http));
        // The tenant's own API is the audience; every service validates aud = the tenant's issuer.
        identity.SetAudiences(issuer);
        identity.SetDestinations(static _ => [Destinations.AccessToken]);
        // RFC 9396 §6.1, checked by AuthorizationDetails.Check against the client's types.
        AuthorizationDetails.Attach(identity, AuthorizationDetails.Checked(request));

        return Results.SignIn(new ClaimsPrincipal(identity), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>
    /// A code, refresh token or approved device code OpenIddict has already validated (single use, PKCE, redirect URI, rotation and
    /// reuse detection). The user's claims are rebuilt from fresh data, and the grant ends with the SSO
    /// session it came from (ended, or past its lifetime; not merely idle) or when the user is blocked or deleted.
    /// </summary>
    private static async Task<IResult> RedeemAsync(HttpContext http, OpenIddictRequest request, TenantContext tenant, string issuer)
    {
        var result = await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        var principal = result.Principal;
        if (principal is null || !Guid.TryParse(principal.GetClaim(Claims.Subject), out var userId))
        {
            return Reject(Errors.InvalidGrant, "The grant is invalid.");
        }

        var facts = SignInFacts.Of(principal, userId);
        var services = http.RequestServices;
        if (facts.SessionId is { } sessionId && !await services.GetRequiredService<SessionStore>().AllowsGrantsAsync(sessionId, http.RequestAborted))
        {
            return Reject(Errors.InvalidGrant, "The session this grant belongs to has ended.");
        }

        var scopes = await ScopesStillHeldAsync(http, tenant, request.ClientId, principal.GetScopes());
        ClaimsIdentity? identity;
        try
        {
            identity = await services.GetRequiredService<UserClaims>().BuildAsync(tenant, issuer, facts, scopes, http.RequestAborted, scopesOfAGrant: true);
        }
        catch (DependencyUnavailableException) when (request.IsRefreshTokenGrantType())
        {
            // Answered 503 with the grant unredeemed: the client tries the same refresh token again later.
            await RefreshTokenReuseOnce.GiveBackUseAsync(
                services.GetRequiredService<IConnectionMultiplexer>(), services.GetRequiredService<ILogger<RefreshTokenReuseOnce>>(), tenant.TenantId, principal.GetTokenId());
            throw;
        }

        if (identity is null)
        {
            return Reject(Errors.InvalidGrant, "The user can no longer sign in.");
        }

        identity.SetAuthorizationId(principal.GetAuthorizationId());
        // The grant keeps the resources it was given (RFC 8707): a refresh may narrow a token's, never its own.
        identity.SetResources(principal.GetResources());
        // And its authorization details (RFC 9396 §6.2), which a request may narrow for this token alone.
        AuthorizationDetails.Carry(identity, principal, request);
        return Results.SignIn(new ClaimsPrincipal(identity), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>
    /// A grant's scopes without those withdrawn from the client since it was made (deleted, or no longer allowed): a grant
    /// redeemed or refreshed later does not issue them any more. <c>openid</c> and <c>offline_access</c> are never withdrawn.
    /// </summary>
    public static async Task<IReadOnlyCollection<string>> ScopesStillHeldAsync(HttpContext http, TenantContext tenant, string? clientId, IReadOnlyCollection<string> scopes)
    {
        if (clientId is null || await http.RequestServices.GetRequiredService<ClientCache>().GetAsync(tenant.Tenant!, clientId, http.RequestAborted) is not { } client)
        {
            return scopes;
        }

        return [.. scopes.Where(s => s is OpenIddictConstants.Scopes.OpenId or OpenIddictConstants.Scopes.OfflineAccess || client.Settings.Scopes.Contains(s, StringComparer.Ordinal))];
    }

    private static IResult Reject(string error, string description) => ProtocolErrors.Forbid(error, description);
}
