using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Keys;

/// <summary>The token service validates bearer tokens against its own key store, without an HTTP hop to itself.</summary>
public sealed class LocalJwksSource(TenantKeyStore keys) : IJwksSource
{
    public async Task<JsonWebKeySet> GetAsync(TenantInfo tenant, CancellationToken cancellationToken) =>
        (await keys.GetAsync(tenant.Id, cancellationToken)).PublicKeySet();
}
