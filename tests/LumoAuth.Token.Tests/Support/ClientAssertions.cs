using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests.Support;

/// <summary>
/// <c>private_key_jwt</c> client assertions (RFC 7523) as OpenIddict 7 requires them (draft-ietf-oauth-rfc7523bis):
/// audience = the issuer, <c>typ</c> <c>client-authentication+jwt</c>; and the public JWKS a client registers.
/// </summary>
public static class ClientAssertions
{
    public const string AssertionType = "client-authentication+jwt";

    public static object PublicJwks(RsaSecurityKey key)
    {
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(key.Rsa.ExportParameters(false)) { KeyId = key.KeyId });
        return new { keys = new[] { new { kty = jwk.Kty, kid = jwk.Kid, use = "sig", alg = "RS256", n = jwk.N, e = jwk.E } } };
    }

    public static string Create(string clientId, string audience, SecurityKey key, string? jti = null, TimeSpan? lifetime = null, bool withJti = true, string type = AssertionType, DateTimeOffset? now = null)
    {
        var issuedAt = (now ?? DateTimeOffset.UtcNow).UtcDateTime;
        var claims = new List<Claim> { new("sub", clientId) };
        if (withJti)
        {
            claims.Add(new Claim("jti", jti ?? Guid.NewGuid().ToString()));
        }

        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = clientId,
            Audience = audience,
            TokenType = type,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = issuedAt,
            NotBefore = issuedAt,
            Expires = issuedAt + (lifetime ?? TimeSpan.FromMinutes(2)),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
    }
}
