using System.Security.Claims;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Authorize;
using LumoAuth.Token.Features.Login;
using LumoAuth.Token.Features.Token;
using LumoAuth.Token.Protocol;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Ciba;

/// <summary>
/// <c>grant_type=urn:openid:params:grant-type:ciba</c> at the token endpoint (CIBA Core §10.1, §11). OpenIddict has
/// authenticated the client and checked its grant permission; this redeems the client's own <c>auth_req_id</c> once,
/// after the user approved it: <c>authorization_pending</c> until then, <c>slow_down</c> (and five more seconds of
/// interval) for polls closer than the interval, <c>access_denied</c>, <c>expired_token</c>, and <c>invalid_grant</c>
/// for anything unknown, foreign or spent.
/// </summary>
public static class CibaGrant
{
    public const string AuthReqIdParameter = "auth_req_id";

    public static async Task<IResult> RedeemAsync(HttpContext http, OpenIddictRequest request, TenantContext tenant, string issuer)
    {
        var services = http.RequestServices;
        var db = services.GetRequiredService<TokenDbContext>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        if ((string?)request.GetParameter(AuthReqIdParameter) is not { Length: > 0 and <= 200 } authReqId)
        {
            return ProtocolErrors.Forbid(Errors.InvalidRequest, "auth_req_id is required.");
        }

        var hash = BackchannelAuthenticationEndpoints.HashOf(authReqId);
        var pending = await db.BackchannelAuthentications.FirstOrDefaultAsync(x => x.AuthReqIdHash == hash, http.RequestAborted);
        if (pending is null || pending.ClientId != request.ClientId || pending.Status == CibaDelivery.Statuses.Redeemed)
        {
            return ProtocolErrors.Forbid(Errors.InvalidGrant, "The auth_req_id is invalid, was issued to another client, or has been used.");
        }

        if (pending.ExpiresAt <= now)
        {
            return ProtocolErrors.Forbid(Errors.ExpiredToken, "The auth_req_id has expired; start a new request.");
        }

        var tooSoon = pending.LastPolledAt is { } last && now - last < TimeSpan.FromSeconds(pending.IntervalSeconds);
        pending.LastPolledAt = now;
        if (pending.Status == CibaDelivery.Statuses.Pending)
        {
            if (tooSoon)
            {
                pending.IntervalSeconds += 5;
            }

            await SaveAsync(db, http.RequestAborted);
            return tooSoon
                ? ProtocolErrors.Forbid(Errors.SlowDown, $"Polling too fast: wait {pending.IntervalSeconds} seconds between requests.")
                : ProtocolErrors.Forbid(Errors.AuthorizationPending, "The user has not answered the request yet.");
        }

        if (pending.Status == CibaDelivery.Statuses.Denied)
        {
            await SaveAsync(db, http.RequestAborted);
            return ProtocolErrors.Forbid(Errors.AccessDenied, "The user denied the request.");
        }

        var facts = new SignInFacts(pending.UserId, pending.SessionId, pending.AuthTime,
            (pending.Methods ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries));
        if (facts.SessionId is { } sessionId && !await services.GetRequiredService<SessionStore>().AllowsGrantsAsync(sessionId, http.RequestAborted))
        {
            return ProtocolErrors.Forbid(Errors.InvalidGrant, "The session the request was approved in has ended.");
        }

        var authorizations = services.GetRequiredService<IOpenIddictAuthorizationManager>();
        if (pending.AuthorizationId is null
            || await authorizations.FindByIdAsync(pending.AuthorizationId, http.RequestAborted) is not { } authorization
            || !await authorizations.HasStatusAsync(authorization, Statuses.Valid, http.RequestAborted))
        {
            return ProtocolErrors.Forbid(Errors.InvalidGrant, "The grant has been revoked.");
        }

        // As for any grant redeemed late: a scope withdrawn from the client since the request is not issued.
        var scopes = await TokenEndpoints.ScopesStillHeldAsync(http, tenant, pending.ClientId, pending.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        // While admin is out this throws (503) before the request is used up: the client polls again.
        var identity = await services.GetRequiredService<UserClaims>().BuildAsync(tenant, issuer, facts, scopes, http.RequestAborted, scopesOfAGrant: true);
        if (identity is null)
        {
            return ProtocolErrors.Forbid(Errors.InvalidGrant, "The user can no longer sign in.");
        }

        // What the user approved (RFC 9396): the grant's access tokens carry it, and its refresh tokens keep it.
        AuthorizationDetails.Attach(identity, AuthorizationDetails.Parse(pending.AuthorizationDetails));

        // Approved: redeemed exactly once, even by two concurrent polls (Status is a concurrency token; the row stays locked
        // until the commit, so the other poll waits and then finds it used). The redemption and the tokens OpenIddict stores
        // for it commit together: a failure in between leaves the request approved, and the client polls again.
        await using var transaction = await db.Database.BeginTransactionAsync(http.RequestAborted);
        pending.Status = CibaDelivery.Statuses.Redeemed;
        if (!await SaveAsync(db, http.RequestAborted))
        {
            return ProtocolErrors.Forbid(Errors.InvalidGrant, "The auth_req_id has been used.");
        }

        identity.SetAuthorizationId(pending.AuthorizationId);
        await http.SignInAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
        if (http.Response.StatusCode == StatusCodes.Status200OK)
        {
            // The tokens are on their way: a client that hangs up now must not undo what they stand for.
            await transaction.CommitAsync(CancellationToken.None);
        }

        return Results.Empty;
    }

    /// <summary>False when another request changed the row first.</summary>
    private static async Task<bool> SaveAsync(TokenDbContext db, CancellationToken cancellationToken)
    {
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return true;
        }
        catch (DbUpdateConcurrencyException)
        {
            return false;
        }
    }
}
