using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Protocol;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Token.Features.Logout;

/// <summary>
/// OpenID Connect Front-Channel Logout 1.0: when a browser signs out here, our signed-out page loads, in an iframe,
/// the <c>frontchannelLogoutUri</c> of every client the session signed in to, with <c>iss</c> and <c>sid</c>, so each
/// one can clear its own session in that browser.
/// </summary>
public sealed class FrontchannelLogout(TokenDbContext db, TokenApplicationManager applications, TenantContext tenant, IOptions<LumoAuthOptions> lumo)
{
    /// <summary>The iframe addresses for the session's clients that registered one (none when nobody did).</summary>
    public async Task<IReadOnlyList<Uri>> FramesAsync(string sessionId, CancellationToken cancellationToken)
    {
        var session = await db.Sessions.AsNoTracking()
            .FirstOrDefaultAsync(s => s.TenantId == tenant.TenantId && s.Id == sessionId, cancellationToken);
        var frames = new List<Uri>();
        foreach (var clientId in session?.SignedInClientIds() ?? [])
        {
            if (await applications.FindByClientIdAsync(clientId, cancellationToken) is { } application
                && ClientMapping.Read(application).FrontchannelLogoutUri is { } target)
            {
                frames.Add(new Uri(QueryHelpers.AddQueryString(target, new Dictionary<string, string?>
                {
                    ["iss"] = session!.Issuer ?? lumo.Value.PathIssuerFor(session.TenantSlug),
                    ["sid"] = sessionId,
                })));
            }
        }

        return frames;
    }
}
