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
        _credentials = SampleAccessToken.Credentials(Algorithm);
        _secret = ClientSecrets.Generate();
        _storedSecret = ClientSecrets.Hash(_secret);
    }

    [Benchmark]
    public bool VerifyClientSecret() => ClientSecrets.Verify(_secret, _storedSecret);

    [Benchmark]
    public string SignAccessToken() => _handler.CreateToken(SampleAccessToken.Describe(_credentials));
}
