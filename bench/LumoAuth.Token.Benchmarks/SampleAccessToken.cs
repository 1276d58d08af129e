using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Benchmarks;

/// <summary>
/// An access token shaped like ours (RFC 9068 <c>at+jwt</c>, the same claims), so the in-process figures
/// measure the same JSON and signature work as the token endpoint.
/// </summary>
public static class SampleAccessToken
{
    public static SigningCredentials Credentials(string algorithm)
    {
        SecurityKey key = algorithm == "ES256"
            ? new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = "bench-ec" }
            : new RsaSecurityKey(RSA.Create(2048)) { KeyId = "bench-rsa" };
        return new SigningCredentials(key, algorithm);
    }

    public static SecurityTokenDescriptor Describe(SigningCredentials credentials)
    {
        var now = DateTime.UtcNow;
        return new SecurityTokenDescriptor
        {
            Issuer = "https://auth.example.com/t/acme/api/v1",
            Audience = "https://auth.example.com/t/acme/api/v1",
            TokenType = "at+jwt",
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddHours(1),
            Subject = new ClaimsIdentity(
            [
                new Claim("sub", "5f0c7f0e-4a4c-4d8e-9a53-2b1f4f7a9c11"),
                new Claim("client_id", "5f0c7f0e-4a4c-4d8e-9a53-2b1f4f7a9c11"),
                new Claim("tenant_id", "0b8f4f58-2d0e-4cbe-8d9b-1a2f2a4c6e77"),
                new Claim("scope", "orders.read orders.write"),
                new Claim("jti", Guid.NewGuid().ToString()),
            ]),
            SigningCredentials = credentials,
        };
    }
}
