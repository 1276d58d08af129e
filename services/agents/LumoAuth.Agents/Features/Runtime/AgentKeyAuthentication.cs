using System.Security.Claims;
using System.Text.Encodings.Web;
using LumoAuth.Agents.Data;
using LumoAuth.Agents.Features.Registry;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Agents.Features.Runtime;

public static class AgentAuth
{
    /// <summary>Picks <see cref="KeyScheme"/> for an agent key, else the tenant's bearer tokens (an agent's OAuth client's).</summary>
    public const string Scheme = "Agent";
    public const string KeyScheme = "AgentKey";
    public const string Policy = "agent";

    /// <summary>Where the authenticated agent's row waits for the call filter (one read per request).</summary>
    internal const string ItemKey = "lumoauth.agent";

    public static Agent? CurrentAgent(this HttpContext http) => http.Items[ItemKey] as Agent;
}

/// <summary>
/// <c>Authorization: Bearer sk_agent_…</c>: the agent whose key hashes to it, in the tenant of the path, while it is active.
/// A key of another tenant, a rotated key and a disabled agent's key all fail alike.
/// </summary>
public sealed class AgentKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, AgentsDbContext db, TenantContext tenant)
    : EnvelopeAuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = AgentKeys.Read(Request);
        if (key is null)
        {
            return AuthenticateResult.NoResult();
        }

        if (!tenant.HasTenant || key.Length > AgentKeys.MaxLength)
        {
            return Fail(ErrorCodes.InvalidToken, "Invalid agent key");
        }

        var hash = AgentKeys.HashOf(key);
        var agent = await db.Agents.IgnoreQueryFilters().AsNoTracking().FirstOrDefaultAsync(a => a.KeyHash == hash, Context.RequestAborted);
        if (agent is null || agent.TenantId != tenant.TenantId || !agent.IsActive)
        {
            return Fail(ErrorCodes.InvalidToken, "Invalid, rotated or disabled agent key");
        }

        Context.Items[AgentAuth.ItemKey] = agent;
        var claims = new[]
        {
            new Claim(LumoClaims.Subject, "agent:" + agent.Id),
            new Claim(LumoClaims.AgentId, agent.Id.ToString()),
            new Claim(LumoClaims.TenantId, agent.TenantId.ToString()),
            new Claim(LumoClaims.AuthMethod, "agent_key"),
        };
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, Scheme.Name, LumoClaims.Subject, "role")), Scheme.Name));
    }

    protected override string ChallengeHeader(string? errorCode) =>
        errorCode is null ? "Bearer" : $"Bearer error=\"{errorCode}\"";
}
