using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;
using NSec.Cryptography;

namespace LumoAuth.Testing;

/// <summary>
/// An AAuth agent or resource as the tests play it: an https identifier, a key (Ed25519 or P-256) published as a JWKS,
/// and the signed requests it sends (RFC 9421 in the docs' <c>Agent-Auth</c> spelling or the RFC's own headers).
/// </summary>
public sealed class AAuthParty : IDisposable
{
    private readonly Key? _ed25519;
    private readonly ECDsa? _ecdsa;

    private AAuthParty(string identifier, string keyId, Key? ed25519, ECDsa? ecdsa)
    {
        (Identifier, KeyId, _ed25519, _ecdsa) = (identifier, keyId, ed25519, ecdsa);
        if (ed25519 is not null)
        {
            var x = Base64UrlEncoder.Encode(ed25519.PublicKey.Export(KeyBlobFormat.RawPublicKey));
            Jwk = new Dictionary<string, object> { ["kty"] = "OKP", ["crv"] = "Ed25519", ["x"] = x, ["kid"] = keyId, ["use"] = "sig" };
            Thumbprint = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes($"{{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"{x}\"}}")));
            Algorithm = "ed25519";
        }
        else
        {
            var parameters = ecdsa!.ExportParameters(false);
            Jwk = new Dictionary<string, object>
            {
                ["kty"] = "EC", ["crv"] = "P-256", ["x"] = Base64UrlEncoder.Encode(parameters.Q.X), ["y"] = Base64UrlEncoder.Encode(parameters.Q.Y), ["kid"] = keyId,
            };
            Thumbprint = Base64UrlEncoder.Encode(new JsonWebKey(JsonSerializer.Serialize(Jwk)).ComputeJwkThumbprint());
            Algorithm = "ecdsa-p256-sha256";
        }
    }

    public static AAuthParty Ed25519(string identifier, string keyId = "key-1") =>
        new(identifier, keyId, Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.None }), null);

    public static AAuthParty P256(string identifier, string keyId = "key-1") => new(identifier, keyId, null, ECDsa.Create(ECCurve.NamedCurves.nistP256));

    public string Identifier { get; }

    public string KeyId { get; }

    public string Algorithm { get; }

    /// <summary>The RFC 7638 thumbprint tokens are bound to (<c>cnf.jkt</c>).</summary>
    public string Thumbprint { get; }

    public Dictionary<string, object> Jwk { get; }

    public object Jwks => new { keys = new[] { Jwk } };

    public byte[] Sign(byte[] data) => _ed25519 is not null ? SignatureAlgorithm.Ed25519.Sign(_ed25519, data) : _ecdsa!.SignData(data, HashAlgorithmName.SHA256);

    /// <summary>A compact JWS of <paramref name="claims"/> by this party's key (EdDSA or ES256).</summary>
    public string Jws(object claims, string type)
    {
        var header = new Dictionary<string, object> { ["alg"] = _ed25519 is not null ? "EdDSA" : "ES256", ["typ"] = type, ["kid"] = KeyId };
        var signingInput = Base64UrlEncoder.Encode(JsonSerializer.Serialize(header)) + "." + Base64UrlEncoder.Encode(JsonSerializer.Serialize(claims));
        return signingInput + "." + Base64UrlEncoder.Encode(Sign(Encoding.ASCII.GetBytes(signingInput)));
    }

    /// <summary>
    /// A signed JSON POST to <paramref name="url"/> (the public URL the signature names). <paramref name="standard"/> uses
    /// <c>Signature-Input</c>/<c>Signature</c>; else the docs' <c>Agent-Auth</c>. The knobs break one rule each.
    /// </summary>
    public HttpRequestMessage SignedPost(
        string url, object body, bool standard = false, DateTimeOffset? created = null, string? keyId = null, string? tamperedBody = null,
        string? bearer = null, bool coverDigest = true)
    {
        var json = JsonSerializer.Serialize(body);
        var digest = "sha-256=:" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(json))) + ":";
        var components = new List<(string Name, string Value)> { ("@method", "POST"), ("@target-uri", url), ("content-type", "application/json") };
        if (coverDigest)
        {
            components.Add(("content-digest", digest));
        }

        var when = (created ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        var keyid = keyId ?? $"{Identifier}#{KeyId}";
        var lines = string.Join('\n', components.Select(c => $"\"{c.Name}\": {c.Value}"));
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(url).PathAndQuery)
        {
            Content = new StringContent(tamperedBody ?? json, Encoding.UTF8, "application/json"),
        };
        request.Content.Headers.ContentType!.CharSet = null;
        request.Headers.Add("Content-Digest", digest);
        if (bearer is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }

        if (standard)
        {
            // A nonce makes each signature unique, so two alike requests within one second are not taken for a copy.
            var parameters = $"({string.Join(' ', components.Select(c => $"\"{c.Name}\""))});created={when};keyid=\"{keyid}\";alg=\"{Algorithm}\";nonce=\"{Guid.NewGuid():N}\"";
            var signatureBase = lines + "\n\"@signature-params\": " + parameters;
            request.Headers.Add("Signature-Input", "sig1=" + parameters);
            request.Headers.Add("Signature", "sig1=:" + Convert.ToBase64String(Sign(Encoding.UTF8.GetBytes(signatureBase))) + ":");
        }
        else
        {
            var signature = Convert.ToBase64String(Sign(Encoding.UTF8.GetBytes(lines)));
            request.Headers.TryAddWithoutValidation("Agent-Auth",
                $"sig1=:{signature}:; label=\"sig1\"; alg=\"{Algorithm}\"; keyid=\"{keyid}\"; created={when}; covered=\"{string.Join(' ', components.Select(c => c.Name))}\"");
        }

        return request;
    }

    public void Dispose()
    {
        _ed25519?.Dispose();
        _ecdsa?.Dispose();
    }
}
