using System.Diagnostics.Metrics;
using Microsoft.AspNetCore;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Clients;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Correlation;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Token.Data;
using Microsoft.IdentityModel.JsonWebTokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Records each issued access token for the audit log through the batcher: no write on the request
/// path, one insert per batch.
/// </summary>
public sealed class RecordAccessTokenIssued(EventBatcher<TokenDbContext> batcher) : IOpenIddictServerHandler<ProcessSignInContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
            .UseSingletonHandler<RecordAccessTokenIssued>()
            .SetOrder(SignInAccessToken.WrittenOrder + 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    private static readonly Meter Meter = new("LumoAuth.Token");

    /// <summary>Access tokens issued, by grant type and by which path issued them (<c>direct</c> or <c>openiddict</c>).</summary>
    private static readonly Counter<long> Issued = Meter.CreateCounter<long>("lumoauth.token.access_tokens_issued");

    public const string DirectPath = "direct";
    public const string OpenIddictPath = "openiddict";

    public ValueTask HandleAsync(ProcessSignInContext context)
    {
        if (SignInAccessToken.Principal(context) is not { } principal || SignInAccessToken.Token(context) is not { } accessToken)
        {
            return ValueTask.CompletedTask;
        }

        var clientId = context.Request?.ClientId ?? principal.GetClaim(OpenIddictConstants.Claims.ClientId) ?? string.Empty;
        Record(
            batcher,
            context.Transaction.GetHttpRequest()?.HttpContext,
            OpenIddictPath,
            clientId,
            context.Request?.GrantType ?? string.Empty,
            principal.GetClaim(OpenIddictConstants.Claims.Subject),
            // The jti is assigned while the JWT is written, on a copy of the principal: read it from the token.
            new JsonWebToken(accessToken).Id,
            principal.GetScopes().ToArray(),
            Guid.TryParse(principal.GetClaim(LumoClaims.TenantId), out var tenantId) ? tenantId : null);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The batcher's combine step: the batch's <see cref="AccessTokenIssued"/> facts as one <see cref="AccessTokensIssued"/>
    /// message per tenant (consumers still see one event per token); anything else unchanged.
    /// </summary>
    public static IEnumerable<IntegrationEvent> Combine(IReadOnlyList<IntegrationEvent> batch)
    {
        foreach (var tenant in batch.OfType<AccessTokenIssued>().GroupBy(e => e.TenantId))
        {
            yield return new AccessTokensIssued(tenant.Select(IssuedAccessToken.From).ToList()) { TenantId = tenant.Key };
        }

        foreach (var other in batch.Where(e => e is not AccessTokenIssued))
        {
            yield return other;
        }
    }

    /// <summary>Counts the token and queues its audit event; the one place both issuing paths record through.</summary>
    public static void Record(
        EventBatcher<TokenDbContext> batcher, HttpContext? http, string path,
        string clientId, string grantType, string? subject, string tokenId, string[] scopes, Guid? tenantId)
    {
        Issued.Add(1, new KeyValuePair<string, object?>("grant_type", grantType), new KeyValuePair<string, object?>("path", path));
        // No actor: it is the client, and the batch item (IssuedAccessToken) leaves it out anyway.
        batcher.TryAdd(new AccessTokenIssued(clientId, grantType, subject == clientId ? null : subject, tokenId, scopes)
        {
            TenantId = tenantId,
            IpAddress = http?.Connection.RemoteIpAddress?.ToString(),
            CorrelationId = http is null ? null : CorrelationMiddleware.GetId(http),
        });
    }
}
