using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Core;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// OpenIddict revokes a grant's stored tokens when a refresh token is revoked (RFC 7009 §2.1), or when a code or a
/// refresh token is replayed (RFC 9700 §4.14). Its access tokens are stateless JWTs that other services validate
/// without asking us, so they go on the deny-list as well: every service refuses them at once, not only introspection.
/// </summary>
public sealed class TokenTokenManager(
    IOpenIddictTokenCache<TokenToken> cache,
    ILogger<OpenIddictTokenManager<TokenToken>> logger,
    IOptionsMonitor<OpenIddictCoreOptions> options,
    IOpenIddictTokenStore<TokenToken> store,
    TenantContext tenant,
    UserAccessTokenIndex accessTokens)
    : OpenIddictTokenManager<TokenToken>(cache, logger, options, store)
{
    public override async ValueTask<long> RevokeByAuthorizationIdAsync(string identifier, CancellationToken cancellationToken = default)
    {
        var revoked = await base.RevokeByAuthorizationIdAsync(identifier, cancellationToken);
        if (tenant.HasTenant)
        {
            await accessTokens.DenyGrantAsync(tenant.TenantId, identifier);
        }

        return revoked;
    }
}
