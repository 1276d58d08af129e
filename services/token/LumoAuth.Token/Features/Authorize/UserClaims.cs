using System.Globalization;
using System.Security.Claims;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.Login;
using LumoAuth.Token.Features.Scopes;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Authorize;

/// <summary>What the session (or a code or refresh token) says about the sign-in, carried into new tokens.</summary>
/// <param name="EssentialAcr">The <c>acr</c> values the grant's request required (<see cref="AuthenticationLevels.Requested.Kept"/>).</param>
public sealed record SignInFacts(Guid UserId, string? SessionId, string? AuthTime, IReadOnlyList<string> Methods, string? EssentialAcr = null)
{
    /// <summary>The facts a session cookie's principal or a validated grant's principal carries (its subject is the user).</summary>
    public static SignInFacts Of(ClaimsPrincipal principal, Guid userId) =>
        new(userId, principal.GetClaim(SessionCookie.SessionIdClaim), principal.GetClaim(Claims.AuthenticationTime),
            principal.GetClaims(Claims.AuthenticationMethodReference).ToList(), principal.GetClaim(AuthenticationLevels.EssentialClaim));
}

/// <summary>
/// Builds a user's token principal from fresh data: the profile from admin (refused when the user is gone or
/// blocked, <see cref="DependencyUnavailableException"/> when admin cannot answer) and roles and permissions from authorization's <c>roles-of</c> (left out when it is down). Each
/// claim says where it goes: ID token claims by scope (OIDC Core §5.4), RFC 9068 claims in the access token.
/// </summary>
public sealed class UserClaims(UserDirectory users, RolesDirectory roles, ScopeClaimsCache scopeClaims)
{
    public const string RolesClaim = "roles";
    public const string PermissionsClaim = "permissions";
    public const string GroupsClaim = "groups";

    /// <summary>The <c>acr</c> values, as levels of assurance in Keycloak's style: one factor, or more than one.</summary>
    public const string SingleFactor = "1";
    public const string MultiFactor = "2";

    /// <param name="scopesOfAGrant">
    /// The scopes come from a grant being redeemed or refreshed (vetted when it was made) rather than from a new request:
    /// while the authorization service cannot say what roles the user holds, such a grant keeps its privileged scopes
    /// instead of losing them for good; a new request never gets them on an unknown answer.
    /// </param>
    public async Task<ClaimsIdentity?> BuildAsync(
        TenantContext tenant, string issuer, SignInFacts facts, IReadOnlyCollection<string> scopes, CancellationToken cancellationToken, bool scopesOfAGrant = false)
    {
        var (found, profile) = await users.FindAsync(tenant.TenantId, facts.UserId, cancellationToken);
        if (found is null)
        {
            // Admin cannot say, which is not "may not sign in": the caller answers 503 and keeps the grant and the session.
            throw new DependencyUnavailableException("The user directory cannot be reached; try again.");
        }

        if (profile is null || profile.Blocked || !profile.IsActive)
        {
            return null;
        }

        var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, facts.UserId.ToString());
        identity.SetClaim(LumoClaims.TenantId, tenant.TenantId.ToString());
        identity.SetClaim(LumoClaims.Tenant, tenant.Slug);
        identity.SetClaim(SessionCookie.SessionIdClaim, facts.SessionId);
        if (long.TryParse(facts.AuthTime, NumberStyles.Integer, CultureInfo.InvariantCulture, out var authTime))
        {
            // OIDC Core §2: a number of seconds, so the claim is typed as an integer.
            identity.AddClaim(new Claim(Claims.AuthenticationTime, authTime.ToString(CultureInfo.InvariantCulture), ClaimValueTypes.Integer64));
        }
        identity.SetClaims(Claims.AuthenticationMethodReference, [.. facts.Methods]);
        identity.SetClaim(Claims.AuthenticationContextReference, AuthenticationLevels.Reported(AssuranceOf(facts.Methods), facts.EssentialAcr));
        // No destination: kept in the grant's code and refresh tokens, so that its later tokens report the same way.
        identity.SetClaim(AuthenticationLevels.EssentialClaim, facts.EssentialAcr);
        identity.SetClaims(GroupsClaim, [.. profile.Groups]);
        foreach (var (type, value) in ProfileClaims(profile, scopes))
        {
            // OIDC Core §5.1: the *_verified claims are JSON booleans and updated_at a number, in ID tokens as in userinfo.
            switch (value)
            {
                case bool flag:
                    identity.SetClaim(type, flag);
                    break;
                case long number:
                    identity.SetClaim(type, number);
                    break;
                default:
                    identity.SetClaim(type, (string?)value);
                    break;
            }
        }

        if (AddressOf(profile, scopes) is { } address)
        {
            identity.SetClaim(Claims.Address, address);
        }

        // The tenant's own claims, from the custom scopes granted; where each goes is the claim's business.
        var custom = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var (claim, value) in await scopeClaims.ReleasedAsync(tenant.TenantId, scopes, profile, cancellationToken))
        {
            identity.SetClaim(claim.Name, value);
            custom[claim.Name] = [.. claim.Destinations()];
        }

        var held = await roles.RolesOfAsync(tenant.TenantId, facts.UserId.ToString(), cancellationToken);
        if (held is not null)
        {
            identity.SetClaims(RolesClaim, [.. held.Roles]);
            identity.SetClaims(PermissionsClaim, [.. held.Permissions]);
        }

        // A client allowed admin scopes does not make its users administrators: such scopes reach only the tokens of users
        // who administer the tenant (RFC 6749 §3.3 lets the server grant less than asked; the response names what it grants).
        // Built again at each refresh, so a user who stops being an administrator loses them there.
        if (!MayAdminister(profile, held) && !(held is null && scopesOfAGrant))
        {
            scopes = [.. scopes.Where(s => !ScopeNames.IsPrivileged(s))];
        }

        identity.SetScopes(scopes);
        identity.SetAudiences(issuer);
        identity.SetDestinations(claim => custom.TryGetValue(claim.Type, out var destinations) ? destinations : Destinations(claim, scopes));
        return identity;
    }

    /// <summary>
    /// <see cref="BuildAsync"/> for an interactive step, which answers an outage its own way (a 503 page, an error sent back
    /// to the client) and keeps the session: <c>Unavailable</c> when admin cannot say whether the user may sign in.
    /// </summary>
    public async Task<(ClaimsIdentity? Identity, bool Unavailable)> TryBuildAsync(
        TenantContext tenant, string issuer, SignInFacts facts, IReadOnlyCollection<string> scopes, CancellationToken cancellationToken)
    {
        try
        {
            return (await BuildAsync(tenant, issuer, facts, scopes, cancellationToken), false);
        }
        catch (DependencyUnavailableException)
        {
            return (null, true);
        }
    }

    /// <summary>
    /// Whether the user administers the tenant: <c>isAdmin</c>, or one of the system roles <c>admin</c> and
    /// <c>tenant_admin</c> (unknown while the authorization service is down: then only the flag counts).
    /// </summary>
    public static bool MayAdminister(UserProfile profile, RolesOfResponse? held) =>
        profile.IsAdmin || held?.Administers == true || held?.Roles.Any(AdminScopeHandler.IsPrivilegedRole) == true;

    /// <summary>Multi-factor when the sign-in says so (<c>mfa</c>, RFC 8176) or used a one-time code beside the password.</summary>
    public static string AssuranceOf(IReadOnlyList<string> methods) =>
        methods.Contains("mfa") || methods.Contains("otp") ? MultiFactor : SingleFactor;

    /// <summary>The structured <c>address</c> claim (OIDC Core §5.1.1) when the address scope was granted and the user has one.</summary>
    public static IDictionary<string, string?>? AddressOf(UserProfile profile, IReadOnlyCollection<string> scopes) =>
        scopes.Contains(ScopeNames.Address) && profile.Address is { Count: > 0 } address ? address.ToDictionary(m => m.Key, string? (m) => m.Value) : null;

    /// <summary>The standard claims a scope releases (OIDC Core §5.4), for ID tokens and userinfo alike, each as its JSON type (§5.1): text, bool or long.</summary>
    public static IEnumerable<(string Type, object? Value)> ProfileClaims(UserProfile profile, IReadOnlyCollection<string> scopes)
    {
        if (scopes.Contains(ScopeNames.Profile))
        {
            yield return (Claims.Name, profile.Name);
            yield return (Claims.GivenName, profile.GivenName);
            yield return (Claims.FamilyName, profile.FamilyName);
            yield return (Claims.PreferredUsername, profile.Username);
            yield return (Claims.Picture, profile.Picture);
            yield return (Claims.Locale, profile.Locale);
            yield return (Claims.UpdatedAt, profile.UpdatedAt.ToUnixTimeSeconds());
        }

        if (scopes.Contains(ScopeNames.Email))
        {
            yield return (Claims.Email, profile.Email);
            yield return (Claims.EmailVerified, profile.EmailVerified);
        }

        if (scopes.Contains(ScopeNames.Phone) && profile.PhoneNumber is not null)
        {
            yield return (Claims.PhoneNumber, profile.PhoneNumber);
            yield return (Claims.PhoneNumberVerified, profile.PhoneNumberVerified);
        }
    }

    private static IEnumerable<string> Destinations(Claim claim, IReadOnlyCollection<string> scopes)
    {
        switch (claim.Type)
        {
            case Claims.Subject:
            case SessionCookie.SessionIdClaim:
                yield return OpenIddictConstants.Destinations.AccessToken;
                yield return OpenIddictConstants.Destinations.IdentityToken;
                yield break;
            case Claims.AuthenticationTime:
            case Claims.AuthenticationMethodReference:
            case Claims.AuthenticationContextReference:
                // RFC 9068 §2.2.1: resource servers may want to know how and when the user signed in (step-up).
                yield return OpenIddictConstants.Destinations.AccessToken;
                yield return OpenIddictConstants.Destinations.IdentityToken;
                yield break;
            case LumoClaims.TenantId:
            case LumoClaims.Tenant:
            case RolesClaim:
            case PermissionsClaim:
            case GroupsClaim:
                yield return OpenIddictConstants.Destinations.AccessToken;
                yield break;
            case Claims.Name or Claims.GivenName or Claims.FamilyName or Claims.PreferredUsername or Claims.Picture or Claims.Locale or Claims.UpdatedAt
                when scopes.Contains(ScopeNames.Profile):
            case Claims.Email or Claims.EmailVerified when scopes.Contains(ScopeNames.Email):
            case Claims.PhoneNumber or Claims.PhoneNumberVerified when scopes.Contains(ScopeNames.Phone):
            case Claims.Address when scopes.Contains(ScopeNames.Address):
                yield return OpenIddictConstants.Destinations.IdentityToken;
                yield break;
            default:
                // OpenIddict's private claims (oi_*) manage themselves; anything else stays out of tokens.
                yield break;
        }
    }
}
