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
/// The grant's own authorization is revoked too: a refresh that was already past its checks when the family ended
/// still writes its new refresh token under that authorization, and OpenIddict refuses that token at its first use.
/// </summary>
public sealed class TokenTokenManager(
    IOpenIddictTokenCache<TokenToken> cache,
    ILogger<OpenIddictTokenManager<TokenToken>> logger,
    IOptionsMonitor<OpenIddictCoreOptions> options,
    IOpenIddictTokenStore<TokenToken> store,
    TenantContext tenant,
    UserAccessTokenIndex accessTokens,
    IServiceProvider services)
    : OpenIddictTokenManager<TokenToken>(cache, logger, options, store)
{
    public override async ValueTask<long> RevokeByAuthorizationIdAsync(string identifier, CancellationToken cancellationToken = default)
    {
        var revoked = await base.RevokeByAuthorizationIdAsync(identifier, cancellationToken);
        // Resolved here: the authorization manager is not needed on any other path of this manager.
        var authorizations = services.GetRequiredService<IOpenIddictAuthorizationManager>();
        if (await authorizations.FindByIdAsync(identifier, cancellationToken) is { } authorization
            && await authorizations.GetTypeAsync(authorization, cancellationToken) == OpenIddictConstants.AuthorizationTypes.AdHoc)
        {
            await authorizations.TryRevokeAsync(authorization, cancellationToken);
        }

        if (tenant.HasTenant)
        {
            await accessTokens.DenyGrantAsync(tenant.TenantId, identifier);
        }

        return revoked;
    }
}
