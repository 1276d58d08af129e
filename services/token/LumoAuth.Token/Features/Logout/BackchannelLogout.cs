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

/// <summary>
/// OpenID Connect Back-Channel Logout 1.0: when sessions end (logout, an administrator, a blocked or deleted
/// user), every client the session signed in to that registered a <c>backchannelLogoutUri</c> gets a signed
/// logout token naming the user and the session. Runs from the <c>SessionsRevoked</c> event, so delivery is
/// retried when a client is briefly down and never slows the logout itself.
/// </summary>
public sealed partial class BackchannelLogoutConsumer(
    TenantContext tenant,
    TokenDbContext db,
    TokenApplicationManager applications,
    TenantKeyStore keys,
    IHttpClientFactory httpClientFactory,
    IOptions<LumoAuthOptions> lumo,
    TimeProvider time,
    ILogger<BackchannelLogoutConsumer> logger) : IConsumer<SessionsRevoked>
{
    private const string LogoutEvent = "http://schemas.openid.net/event/backchannel-logout";
    private static readonly JsonWebTokenHandler Handler = new();

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

        // The issuer comes from the slug recorded at sign-in; client lookups are scoped to the event's tenant.
        var slug = sessions[0].TenantSlug;
        tenant.Set(new TenantInfo(tenantId, slug, string.Empty, TenantStatuses.Active, string.Empty));
        var issuer = lumo.Value.IssuerFor(slug);
        var signing = (await keys.GetAsync(tenantId, context.CancellationToken)).Signing[0];
        var http = httpClientFactory.CreateClient(ClientCallbacks.HttpClientName);
        foreach (var session in sessions)
        {
            foreach (var clientId in session.SignedInClientIds())
            {
                if (await applications.FindByClientIdAsync(clientId, context.CancellationToken) is not { } application
                    || ClientMapping.Read(application).BackchannelLogoutUri is not { } target)
                {
                    continue;
                }

                var token = LogoutToken(issuer, clientId, session, signing);
                using var response = await http.PostAsync(new Uri(target), new FormUrlEncodedContent(new Dictionary<string, string> { ["logout_token"] = token }), context.CancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    // The RP refused the token (its 400 says why); retrying would not change its mind.
                    LogRefused(logger, clientId, (int)response.StatusCode);
                }
            }
        }
    }

    private string LogoutToken(string issuer, string clientId, BrowserSession session, SigningCredentials signing)
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
                new Claim("sub", session.UserId.ToString()),
                new Claim("sid", session.Id),
                new Claim("jti", Guid.NewGuid().ToString()),
            ]),
            Claims = new Dictionary<string, object> { ["events"] = new Dictionary<string, object> { [LogoutEvent] = new Dictionary<string, object>() } },
            SigningCredentials = signing,
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Client {ClientId} refused a back-channel logout token with status {Status}")]
    private static partial void LogRefused(ILogger logger, string clientId, int status);
}
