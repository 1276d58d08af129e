using System.Security.Claims;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Sessions;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Keys;
using LumoAuth.Token.Protocol;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Features.Logout;

/// <summary>One client's logout token for one ended session, delivered (and retried) on its own.</summary>
public sealed record BackchannelLogoutDue(Guid TenantId, string SessionId, string ClientId);

/// <summary>
/// OpenID Connect Back-Channel Logout 1.0: when sessions end (logout, an administrator, a blocked or deleted
/// user), every client the session signed in to that registered a <c>backchannelLogoutUri</c> gets a signed
/// logout token naming the user and the session. Runs from the <c>SessionsRevoked</c> event, so it never slows the
/// logout itself; each client's delivery is a message of its own, so one client that is down or hangs is retried
/// alone and delays no other client's logout.
/// </summary>
public sealed class BackchannelLogoutConsumer(TokenDbContext db, TenantContext tenant, TokenApplicationManager applications) : IConsumer<SessionsRevoked>
{
    public async Task Consume(ConsumeContext<SessionsRevoked> context)
    {
        if (context.Message.TenantId is not { } tenantId)
        {
            return;
        }

        var sessions = await db.Sessions.IgnoreQueryFilters().AsNoTracking()
            .Where(s => s.TenantId == tenantId && context.Message.SessionIds.Contains(s.Id))
            .ToListAsync(context.CancellationToken);
        if (sessions.All(s => string.IsNullOrEmpty(s.ClientIds)))
        {
            return;
        }

        // Client lookups are scoped to the event's tenant.
        tenant.Set(new TenantInfo(tenantId, sessions[0].TenantSlug, string.Empty, TenantStatuses.Active, string.Empty));
        var due = new List<BackchannelLogoutDue>();
        foreach (var session in sessions)
        {
            foreach (var clientId in session.SignedInClientIds())
            {
                if (await applications.FindByClientIdAsync(clientId, context.CancellationToken) is { } application
                    && ClientMapping.Read(application).BackchannelLogoutUri is not null)
                {
                    due.Add(new BackchannelLogoutDue(tenantId, session.Id, clientId));
                }
            }
        }

        // Published once every lookup succeeded: a failure part-way retries the event without sending the clients already
        // looked up their logout tokens twice.
        await context.PublishBatch(due, context.CancellationToken);
    }
}

/// <summary>Posts one logout token; a client that cannot be reached is tried again (the bus's retries), one that refuses is not.</summary>
public sealed partial class BackchannelLogoutDelivery(
    TenantContext tenant,
    TokenDbContext db,
    TokenApplicationManager applications,
    TenantKeyStore keys,
    ClientCallbacks callbacks,
    IOptions<LumoAuthOptions> lumo,
    TimeProvider time,
    ILogger<BackchannelLogoutDelivery> logger) : IConsumer<BackchannelLogoutDue>
{
    private const string LogoutEvent = "http://schemas.openid.net/event/backchannel-logout";
    private static readonly JsonWebTokenHandler Handler = new();

    public async Task Consume(ConsumeContext<BackchannelLogoutDue> context)
    {
        var due = context.Message;
        var session = await db.Sessions.IgnoreQueryFilters().AsNoTracking()
            .SingleOrDefaultAsync(s => s.TenantId == due.TenantId && s.Id == due.SessionId, context.CancellationToken);
        if (session is null)
        {
            return;
        }

        // The logout token names the issuer the session signed in under (its ID tokens'). The client lookup is scoped to the
        // session's tenant.
        tenant.Set(new TenantInfo(due.TenantId, session.TenantSlug, string.Empty, TenantStatuses.Active, string.Empty));
        if (await applications.FindByClientIdAsync(due.ClientId, context.CancellationToken) is not { } application
            || ClientMapping.Read(application) is not { BackchannelLogoutUri: { } target } client)
        {
            return;
        }

        var material = await keys.GetAsync(due.TenantId, context.CancellationToken);
        var token = LogoutToken(session.Issuer ?? lumo.Value.PathIssuerFor(session.TenantSlug), due.ClientId, session,
            PairwiseSubjects.SubjectFor(session.UserId, client, material), material.Signing[0]);
        using var post = new HttpRequestMessage(HttpMethod.Post, new Uri(target))
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["logout_token"] = token }),
        };
        using var response = await callbacks.SendAsync(post, context.CancellationToken);
        if (response is null)
        {
            LogSkipped(logger, due.ClientId);
        }
        else if (!response.IsSuccessStatusCode)
        {
            // The RP refused the token (its 400 says why); retrying would not change its mind.
            LogRefused(logger, due.ClientId, (int)response.StatusCode);
        }
    }

    /// <param name="subject">The user as this client knows them: pairwise for a pairwise client, as in its ID tokens.</param>
    private string LogoutToken(string issuer, string clientId, BrowserSession session, string subject, SigningCredentials signing)
    {
        var now = time.GetUtcNow().UtcDateTime;
        return Handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = clientId,
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddMinutes(2),
            TokenType = "logout+jwt",
            Subject = new ClaimsIdentity(
            [
                new Claim("sub", subject),
                new Claim("sid", session.Id),
                new Claim("jti", Guid.NewGuid().ToString()),
            ]),
            Claims = new Dictionary<string, object> { ["events"] = new Dictionary<string, object> { [LogoutEvent] = new Dictionary<string, object>() } },
            SigningCredentials = signing,
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Client {ClientId} refused a back-channel logout token with status {Status}")]
    private static partial void LogRefused(ILogger logger, string clientId, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Client {ClientId} was not sent a back-channel logout token: its server has stopped answering")]
    private static partial void LogSkipped(ILogger logger, string clientId);
}
