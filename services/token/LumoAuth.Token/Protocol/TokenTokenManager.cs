using LumoAuth.Contracts.Sessions;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Core;
using StackExchange.Redis;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// OpenIddict revokes a grant's stored tokens when a refresh token is revoked (RFC 7009 §2.1), or when a code or a
/// refresh token is replayed (RFC 9700 §4.14). Its access tokens are stateless JWTs that other services validate
/// without asking us, so they go on the deny-list as well: every service refuses them at once, not only introspection.
/// The grant's own authorization is revoked too: a refresh that was already past its checks when the family ended
/// still writes its new refresh token under that authorization, and OpenIddict refuses that token at its first use.
/// The revocation commits with a <see cref="GrantRevoked"/> event, whose consumer (<see cref="GrantTokenDenial"/>) denies
/// the access tokens when Redis did not answer here: an outage neither fails the request nor lets them live on.
/// </summary>
public sealed partial class TokenTokenManager(
    IOpenIddictTokenCache<TokenToken> cache,
    ILogger<OpenIddictTokenManager<TokenToken>> logger,
    IOptionsMonitor<OpenIddictCoreOptions> options,
    IOpenIddictTokenStore<TokenToken> store,
    TokenDbContext db,
    TenantContext tenant,
    UserAccessTokenIndex accessTokens,
    IServiceProvider services)
    : OpenIddictTokenManager<TokenToken>(cache, logger, options, store)
{
    public override async ValueTask<long> RevokeByAuthorizationIdAsync(string identifier, CancellationToken cancellationToken = default)
    {
        // Joins the caller's transaction when there is one; otherwise the tokens, the grant and the event commit together.
        await using var transaction = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(cancellationToken) : null;
        var (revoked, live) = await RevokeGrantAsync(identifier, cancellationToken);
        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        if (live)
        {
            await DenyGrantAccessTokensAsync(identifier);
        }

        return revoked;
    }

    /// <summary>
    /// Revokes the grant's stored tokens and its ad-hoc authorization and, when it still had something live, queues its
    /// <see cref="GrantRevoked"/> and saves; all inside the caller's transaction, which must be open. Returns how many
    /// tokens were revoked and whether the grant was live: then the caller, once committed, denies its access tokens
    /// (<see cref="DenyGrantAccessTokensAsync"/>), so no Redis round trip holds the grant's row lock.
    /// </summary>
    public async Task<(long Revoked, bool Live)> RevokeGrantAsync(string identifier, CancellationToken cancellationToken)
    {
        var live = await StillLiveAsync(identifier, cancellationToken);
        var revoked = await base.RevokeByAuthorizationIdAsync(identifier, cancellationToken);
        // Resolved here: the authorization manager is not needed on any other path of this manager.
        var authorizations = services.GetRequiredService<IOpenIddictAuthorizationManager>();
        if (await authorizations.FindByIdAsync(identifier, cancellationToken) is { } authorization
            && await authorizations.GetTypeAsync(authorization, cancellationToken) == OpenIddictConstants.AuthorizationTypes.AdHoc)
        {
            await authorizations.TryRevokeAsync(authorization, cancellationToken);
        }

        if (live && Guid.TryParse(identifier, out var authorizationId))
        {
            var grant = await db.Set<TokenAuthorization>().AsNoTracking()
                .Where(a => a.Id == authorizationId)
                .Select(a => new { a.Subject, ClientId = a.Application == null ? null : a.Application.ClientId })
                .FirstOrDefaultAsync(cancellationToken);
            db.AddEvent(new GrantRevoked(identifier, grant?.Subject, grant?.ClientId) { TenantId = tenant.TenantId });
            await db.SaveChangesAsync(cancellationToken);
        }

        return (revoked, live);
    }

    /// <summary>Denies the revoked grant's access tokens if Redis answers; otherwise its committed <see cref="GrantRevoked"/> does it.</summary>
    public async Task DenyGrantAccessTokensAsync(string identifier)
    {
        try
        {
            await accessTokens.DenyGrantAsync(tenant.TenantId, identifier);
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            LogTokensDeniedLater(Logger, ex);
        }
    }

    /// <summary>
    /// Whether the grant still has something to revoke, read under its row lock: parallel replays of one stolen refresh
    /// token each revoke the grant, but only the first finds it live, so it raises one event (one webhook, one audit entry).
    /// </summary>
    private async Task<bool> StillLiveAsync(string identifier, CancellationToken cancellationToken)
    {
        if (!tenant.HasTenant || !Guid.TryParse(identifier, out var authorizationId))
        {
            return false;
        }

        await db.Database.ExecuteSqlAsync($"""SELECT 1 FROM oidc_authorizations WHERE "Id" = {authorizationId} FOR NO KEY UPDATE""", cancellationToken);
        return await db.Set<TokenAuthorization>().AnyAsync(a => a.Id == authorizationId && a.Status == OpenIddictConstants.Statuses.Valid, cancellationToken)
            || await db.Set<TokenToken>().AnyAsync(t => t.Authorization!.Id == authorizationId && t.Status != OpenIddictConstants.Statuses.Revoked, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis unavailable: a grant was revoked; its access tokens are denied when Redis is back (GrantRevoked)")]
    private static partial void LogTokensDeniedLater(ILogger logger, Exception exception);
}

/// <summary>
/// Denies the access tokens of a revoked grant from the <see cref="GrantRevoked"/> event committed with the revocation.
/// The request tried already; when Redis is down the consumer fails and the event comes again. Denying twice changes
/// nothing, so redelivery is harmless.
/// </summary>
public sealed class GrantTokenDenial(UserAccessTokenIndex accessTokens) : MassTransit.IConsumer<GrantRevoked>
{
    public Task Consume(MassTransit.ConsumeContext<GrantRevoked> context) =>
        context.Message.TenantId is { } tenantId ? accessTokens.DenyGrantAsync(tenantId, context.Message.AuthorizationId) : Task.CompletedTask;
}
