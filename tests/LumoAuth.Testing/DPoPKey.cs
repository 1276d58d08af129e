using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Testing;

/// <summary>A client's DPoP key (P-256) and the proofs it signs (RFC 9449 §4.2), with knobs to break each rule.</summary>
public sealed class DPoPKey : IDisposable
{
    private static readonly JsonWebTokenHandler Handler = new() { SetDefaultTimesOnTokenCreation = false };
    private readonly ECDsa _ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public DPoPKey()
    {
        var jwk = JsonWebKeyConverter.ConvertFromECDsaSecurityKey(new ECDsaSecurityKey(_ecdsa));
        PublicJwk = new Dictionary<string, object> { ["kty"] = "EC", ["crv"] = jwk.Crv, ["x"] = jwk.X, ["y"] = jwk.Y };
        Thumbprint = Base64UrlEncoder.Encode(new JsonWebKey(JsonSerializer.Serialize(PublicJwk)).ComputeJwkThumbprint());
        PrivateJwk = new Dictionary<string, object>(PublicJwk) { ["d"] = jwk.D };
    }

    /// <summary>The RFC 7638 thumbprint the server binds tokens to (<c>cnf.jkt</c>).</summary>
    public string Thumbprint { get; }

    public IReadOnlyDictionary<string, object> PublicJwk { get; }

    /// <summary>The key with its private part: a proof must never carry it.</summary>
    public IReadOnlyDictionary<string, object> PrivateJwk { get; }

    /// <summary>
    /// A proof for one request. <paramref name="accessToken"/> adds <c>ath</c>; <paramref name="signedBy"/> signs with
    /// another key than the one in the header; the other parameters replace the claims and header a client would send.
    /// </summary>
    public string Proof(
        string method,
        string url,
        string? accessToken = null,
        string? jti = null,
        DateTimeOffset? issuedAt = null,
        string type = "dpop+jwt",
        IReadOnlyDictionary<string, object>? headerJwk = null,
        DPoPKey? signedBy = null,
        string? nonce = null)
    {
        var claims = new Dictionary<string, object>
        {
            ["jti"] = jti ?? Guid.NewGuid().ToString("N"),
            ["htm"] = method,
            ["htu"] = url,
            ["iat"] = (issuedAt ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds(),
        };
        if (nonce is not null)
        {
            claims["nonce"] = nonce;
        }

        if (accessToken is not null)
        {
            claims["ath"] = AccessTokenHash(accessToken);
        }

        var signer = new ECDsaSecurityKey((signedBy ?? this)._ecdsa);
        return Handler.CreateToken(
            JsonSerializer.Serialize(claims),
            new SigningCredentials(signer, SecurityAlgorithms.EcdsaSha256),
            new Dictionary<string, object> { ["typ"] = type, ["jwk"] = headerJwk ?? PublicJwk });
    }

    /// <summary>The <c>ath</c> of a proof presenting <paramref name="accessToken"/>.</summary>
    public static string AccessTokenHash(string accessToken) =>
        Base64UrlEncoder.Encode(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(accessToken)));

    public void Dispose() => _ecdsa.Dispose();
}
