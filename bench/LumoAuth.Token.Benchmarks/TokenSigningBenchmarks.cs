using System.Security.Claims;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using LumoAuth.Token.Protocol;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Benchmarks;

/// <summary>
/// The work of one client-credentials token that is not HTTP or OpenIddict's pipeline: checking the client
/// secret (one SHA-256, <see cref="ClientSecrets"/>) and writing the RFC 9068 JWT with the tenant's key, per
/// signing algorithm a tenant can choose. The signature bounds RS256/PS256; ES256 leaves the framework's cost.
/// </summary>
[MemoryDiagnoser]
public class TokenSigningBenchmarks
{
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };
    private SigningCredentials _credentials = null!;
    private string _secret = string.Empty;
    private string _storedSecret = string.Empty;

    [Params("RS256", "PS256", "ES256")]
    public string Algorithm { get; set; } = "RS256";

    [GlobalSetup]
    public void Setup()
    {
        SecurityKey key = Algorithm == "ES256"
            ? new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = "bench-ec" }
            : new RsaSecurityKey(RSA.Create(2048)) { KeyId = "bench-rsa" };
        _credentials = new SigningCredentials(key, Algorithm);
        _secret = ClientSecrets.Generate();
        _storedSecret = ClientSecrets.Hash(_secret);
    }

    [Benchmark]
    public bool VerifyClientSecret() => ClientSecrets.Verify(_secret, _storedSecret);

    [Benchmark]
    public string SignAccessToken()
    {
        var now = DateTime.UtcNow;
        return _handler.CreateToken(new SecurityTokenDescriptor
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
            SigningCredentials = _credentials,
        });
    }
}
