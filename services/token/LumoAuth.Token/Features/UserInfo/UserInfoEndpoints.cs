using System.Text.Json.Nodes;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Token;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.Authorize;
using LumoAuth.Token.Features.Scopes;
using LumoAuth.Token.Protocol;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.UserInfo;

/// <summary>
/// <c>GET|POST /t/{slug}/api/v1/oauth/userinfo</c> (OIDC Core §5.3). OpenIddict has validated the bearer
/// token (signature, expiry, revocation); a token not granted <c>openid</c> is refused with 403 <c>insufficient_scope</c>;
/// the claims released are those of the token's scopes, from the user's current profile.
/// </summary>
public static class UserInfoEndpoints
{
    public static IEndpointRouteBuilder MapUserInfoEndpoints(this IEndpointRouteBuilder app)
    {
        // Anonymous on purpose: OpenIddict authenticates the access token itself.
        app.MapMethods("/t/{tenantSlug}/api/v1/oauth/userinfo", [HttpMethods.Get, HttpMethods.Post], UserInfo)
            .AllowAnonymous().DisableAntiforgery().ExcludeFromDescription().WithName("OAuthUserInfo");
        return app;
    }

    public static async Task<IResult> UserInfo(
        HttpContext http, TenantContext tenant, UserDirectory users, RolesDirectory roles, AgentDirectory agents, ClientCache clients, LumoAuth.Token.Keys.TenantKeyStore keys,
        ScopeClaimsCache scopeClaims)
    {
        var result = await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        var principal = result.Principal;
        // An agent's own token (its client's: subject and client alike) is answered with the agent.
        if (principal?.GetClaim(Claims.Subject) is { } subject && AgentDirectory.IsAgentClient(subject) && subject == principal.GetClaim(Claims.ClientId))
        {
            return await AgentInfoAsync(http, subject, tenant, agents, clients);
        }

        // A client-credentials token names no user: there is nobody to describe.
        if (principal is null || !Guid.TryParse(principal.GetClaim(Claims.Subject), out var userId))
        {
            return InvalidToken("The access token does not belong to a user.");
        }

        // First whether the token still stands (its user), then what it was granted: a gone user's client must sign in again.
        var (found, profile) = await users.FindAsync(tenant.TenantId, userId, http.RequestAborted);
        if (found is null)
        {
            // Not invalid_token: a client takes that as a dead token, and admin is only out for the moment.
            return ProtocolErrors.Json(Errors.TemporarilyUnavailable, "The user directory cannot be reached; try again.", StatusCodes.Status503ServiceUnavailable);
        }

        if (profile is null || profile.Blocked || !profile.IsActive)
        {
            return InvalidToken("The user no longer exists or cannot sign in.");
        }

        // OIDC Core §5.3: userinfo is for tokens granted openid; an OAuth-only token learns nothing about the user here.
        var scopes = principal.GetScopes();
        if (!scopes.Contains(ScopeNames.OpenId))
        {
            return ProtocolErrors.Forbid(Errors.InsufficientScope, "The access token was not granted the openid scope.");
        }

        var claims = new Dictionary<string, object>(StringComparer.Ordinal) { [Claims.Subject] = userId.ToString() };
        foreach (var (type, value) in UserClaims.ProfileClaims(profile, scopes))
        {
            if (value is null)
            {
                continue;
            }

            claims[type] = value;
        }

        if (UserClaims.AddressOf(profile, scopes) is { } address)
        {
            claims[Claims.Address] = address;
        }

        if (await roles.RolesOfAsync(tenant.TenantId, userId.ToString(), http.RequestAborted) is { } granted)
        {
            claims[UserClaims.RolesClaim] = granted.Roles;
        }

        foreach (var (claim, value) in await scopeClaims.ReleasedAsync(tenant.TenantId, scopes, profile, http.RequestAborted))
        {
            if (claim.Tokens.Contains(ScopeClaim.UserInfo))
            {
                claims[claim.Name] = value;
            }
        }

        claims["tenant"] = tenant.Slug;
        // A pairwise client knows the user by the subject its ID tokens gave (OIDC Core §5.3.2: the same sub).
        var clientId = principal.GetClaim(Claims.ClientId);
        var client = await UserInfoResponses.ClientAsync(http, clientId, tenant, clients);
        if (client is { PairwiseSector: not null })
        {
            claims[Claims.Subject] = PairwiseSubjects.SubjectFor(userId, client, await keys.GetAsync(tenant.TenantId, http.RequestAborted));
        }

        return await UserInfoResponses.AnswerAsync(http, claims, clientId, client);
    }

    /// <summary>
    /// The agent behind the token (the docs' agent userinfo: name, id, capabilities, the workload it runs as, its budget).
    /// No <c>openid</c> needed: an agent asks about itself, not about a user who consented.
    /// </summary>
    private static async Task<IResult> AgentInfoAsync(HttpContext http, string clientId, TenantContext tenant, AgentDirectory agents, ClientCache clients)
    {
        JsonObject? agent;
        try
        {
            agent = await agents.UserInfoAsync(tenant.TenantId, clientId, http.RequestAborted);
        }
        catch (DependencyUnavailableException)
        {
            return ProtocolErrors.Json(Errors.TemporarilyUnavailable, "The agent directory cannot be reached; try again.", StatusCodes.Status503ServiceUnavailable);
        }

        if (agent is null)
        {
            return InvalidToken("The agent no longer exists or is disabled.");
        }

        agent[Claims.Subject] = clientId;
        agent["tenant"] = tenant.Slug;
        return await UserInfoResponses.AnswerAsync(http, agent, clientId, await UserInfoResponses.ClientAsync(http, clientId, tenant, clients));
    }

    private static IResult InvalidToken(string description) => ProtocolErrors.Challenge(Errors.InvalidToken, description);
}
