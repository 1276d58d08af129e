using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.Tokens;
using NSec.Cryptography;

namespace LumoAuth.Agents.Features.AAuth;

/// <summary>
/// Verifying a signature with a party's public JWK, for HTTP message signatures (RFC 9421 §3.3 algorithm names) and for
/// the JWS of agent tokens (RFC 7518 names; EdDSA per RFC 8037). Public keys only, asymmetric algorithms only, and the
/// algorithm must fit the key: an RSA key never verifies an ECDSA name, nor a P-384 key a P-256 one.
/// </summary>
public static class SigningKeys
{
    public const string Ed25519 = "ed25519";
    public const string EcdsaP256 = "ecdsa-p256-sha256";
    public const string EcdsaP384 = "ecdsa-p384-sha384";
    public const string RsaPssSha512 = "rsa-pss-sha512";
    public const string RsaSha256 = "rsa-v1_5-sha256";

    /// <summary>The HTTP message signature algorithms taken (RFC 9421 §6.2.2's registry, without HMAC: a shared secret is no identity).</summary>
    public static readonly IReadOnlyList<string> MessageAlgorithms = [Ed25519, EcdsaP256, EcdsaP384, RsaPssSha512, RsaSha256];

    /// <summary>The JWS algorithms agent tokens may be signed with.</summary>
    public static readonly IReadOnlyList<string> TokenAlgorithms = ["EdDSA", "ES256", "ES384", "PS256", "PS512", "RS256"];

    private const int MinRsaBits = 2048;
    private const int MaxRsaBits = 4096;

    /// <summary>The message algorithm a key implies when the signature names none.</summary>
    public static string? DefaultAlgorithm(JsonWebKey key) => key.Kty switch
    {
        "OKP" when key.Crv == "Ed25519" => Ed25519,
        JsonWebAlgorithmsKeyTypes.EllipticCurve when key.Crv == JsonWebKeyECTypes.P256 => EcdsaP256,
        JsonWebAlgorithmsKeyTypes.EllipticCurve when key.Crv == JsonWebKeyECTypes.P384 => EcdsaP384,
        _ => null,
    };

    /// <summary>Whether <paramref name="signature"/> is <paramref name="key"/>'s over <paramref name="data"/> with <paramref name="algorithm"/>; false for any misfit or malformed key.</summary>
    public static bool Verify(JsonWebKey key, string algorithm, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        try
        {
            switch (algorithm)
            {
                case Ed25519 or "EdDSA":
                    return key.Kty == "OKP" && key.Crv == "Ed25519" && Base64UrlEncoder.DecodeBytes(key.X) is { Length: 32 } raw
                        && PublicKey.TryImport(SignatureAlgorithm.Ed25519, raw, KeyBlobFormat.RawPublicKey, out var publicKey)
                        && SignatureAlgorithm.Ed25519.Verify(publicKey!, data, signature);
                case EcdsaP256 or "ES256":
                    return VerifyEcdsa(key, JsonWebKeyECTypes.P256, ECCurve.NamedCurves.nistP256, HashAlgorithmName.SHA256, data, signature);
                case EcdsaP384 or "ES384":
                    return VerifyEcdsa(key, JsonWebKeyECTypes.P384, ECCurve.NamedCurves.nistP384, HashAlgorithmName.SHA384, data, signature);
                case RsaPssSha512 or "PS512":
                    return VerifyRsa(key, HashAlgorithmName.SHA512, RSASignaturePadding.Pss, data, signature);
                case "PS256":
                    return VerifyRsa(key, HashAlgorithmName.SHA256, RSASignaturePadding.Pss, data, signature);
                case RsaSha256 or "RS256":
                    return VerifyRsa(key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1, data, signature);
                default:
                    return false;
            }
        }
        catch (Exception exception) when (exception is CryptographicException or FormatException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>The key's RFC 7638 thumbprint, base64url (RFC 8037 §2 for Ed25519): what <c>cnf.jkt</c> names.</summary>
    public static string Thumbprint(JsonWebKey key) => key.Kty == "OKP"
        ? Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes($"{{\"crv\":\"{key.Crv}\",\"kty\":\"OKP\",\"x\":\"{key.X}\"}}")))
        : Base64UrlEncoder.Encode(key.ComputeJwkThumbprint());

    /// <summary>
    /// Whether the JWK is a public signing key we can verify with: no private parts, no symmetric keys, parts of the right
    /// sizes (an RSA key of 2048 to 4096 bits with a small exponent: a huge one would make each check costly).
    /// </summary>
    public static bool IsUsablePublicKey(JsonWebKey key)
    {
        try
        {
            return key.Use is null or JsonWebKeyUseNames.Sig && string.IsNullOrEmpty(key.D) && key.Kty switch
            {
                "OKP" => key.Crv == "Ed25519" && key.X is { Length: > 0 } x && Base64UrlEncoder.DecodeBytes(x).Length == 32,
                JsonWebAlgorithmsKeyTypes.EllipticCurve => key.Crv is JsonWebKeyECTypes.P256 or JsonWebKeyECTypes.P384
                    && key.X is { Length: > 0 } && key.Y is { Length: > 0 } && Base64UrlEncoder.DecodeBytes(key.X).Length == Base64UrlEncoder.DecodeBytes(key.Y).Length,
                JsonWebAlgorithmsKeyTypes.RSA => string.IsNullOrEmpty(key.P) && key.N is { Length: > 0 } n && key.E is { Length: > 0 } e
                    && Base64UrlEncoder.DecodeBytes(n).Length * 8 is >= MinRsaBits and <= MaxRsaBits && Base64UrlEncoder.DecodeBytes(e).Length <= 4,
                _ => false,
            };
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static bool VerifyEcdsa(JsonWebKey key, string curveName, ECCurve curve, HashAlgorithmName hash, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (key.Kty != JsonWebAlgorithmsKeyTypes.EllipticCurve || key.Crv != curveName)
        {
            return false;
        }

        using var ecdsa = ECDsa.Create(new ECParameters { Curve = curve, Q = new ECPoint { X = Base64UrlEncoder.DecodeBytes(key.X), Y = Base64UrlEncoder.DecodeBytes(key.Y) } });
        // RFC 9421 §3.3.4 and JWS alike: r and s side by side (IEEE P1363), .NET's default form.
        return ecdsa.VerifyData(data, signature, hash);
    }

    private static bool VerifyRsa(JsonWebKey key, HashAlgorithmName hash, RSASignaturePadding padding, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (key.Kty != JsonWebAlgorithmsKeyTypes.RSA)
        {
            return false;
        }

        using var rsa = RSA.Create(new RSAParameters { Modulus = Base64UrlEncoder.DecodeBytes(key.N), Exponent = Base64UrlEncoder.DecodeBytes(key.E) });
        return rsa.KeySize is >= MinRsaBits and <= MaxRsaBits && rsa.VerifyData(data, signature, hash, padding);
    }
}
