using System.Security.Cryptography;
using LumoAuth.ServiceDefaults.Errors;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// JWE (RFC 7516) for what a client asked to receive encrypted to a key of its own (OIDC Core §10.2, OIDC Dynamic
/// Registration §2 <c>*_encrypted_response_alg</c>/<c>_enc</c>): its ID tokens and userinfo answers. The key is one of its
/// registered <c>jwks</c> or of the set at its <c>jwks_uri</c>: an RSA key (2048 bits or more) for RSA-OAEP, an EC key on a NIST curve for ECDH-ES, with
/// <c>use</c> <c>enc</c> or none, and no other <c>alg</c>. RSA1_5 is not offered (padding-oracle attacks, RFC 8725 §3.2).
/// </summary>
public static class ResponseEncryption
{
    public static readonly string[] KeyAlgorithms = ["RSA-OAEP-256", "RSA-OAEP", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW"];
    public static readonly string[] ContentAlgorithms = ["A128CBC-HS256", "A256CBC-HS512", "A128GCM", "A256GCM"];

    /// <summary>OIDC Registration §2: the content algorithm when a client names only the key algorithm.</summary>
    public const string DefaultContentAlgorithm = "A128CBC-HS256";

    private const int MinRsaKeyBits = 2048;
    private static readonly string[] Curves = [JsonWebKeyECTypes.P256, JsonWebKeyECTypes.P384, JsonWebKeyECTypes.P521];

    /// <summary>A client's choice: the key management algorithm and the content encryption algorithm.</summary>
    public sealed record Choice(string Alg, string Enc);

    /// <summary>
    /// The choice after a create or update: an absent algorithm keeps the current one, an empty one removes it; an absent
    /// content algorithm keeps the current one while the algorithm stays, else is the default. The client's keys must hold
    /// one the algorithm can encrypt to, when they are known (a published set that cannot be fetched now is not).
    /// </summary>
    public static Choice? Validate(
        RequestValidator validator, string algField, string encField, string? requestedAlg, string? requestedEnc, Choice? current, string? jwks, bool keysKnown = true)
    {
        var alg = requestedAlg is null ? current?.Alg : requestedAlg.Trim() is { Length: > 0 } trimmed ? trimmed : null;
        var enc = requestedEnc is null
            ? requestedAlg is null ? current?.Enc : null
            : requestedEnc.Trim() is { Length: > 0 } trimmedEnc ? trimmedEnc : null;
        if (alg is null)
        {
            validator.Check(enc is null, encField, $"needs {algField}");
            return null;
        }

        if (!KeyAlgorithms.Contains(alg, StringComparer.Ordinal))
        {
            validator.Add(algField, "must be one of " + string.Join(", ", KeyAlgorithms));
            return null;
        }

        enc ??= DefaultContentAlgorithm;
        if (!ContentAlgorithms.Contains(enc, StringComparer.Ordinal))
        {
            validator.Add(encField, "must be one of " + string.Join(", ", ContentAlgorithms));
            return null;
        }

        validator.Check(!keysKnown || KeyFor(jwks, alg) is not null, algField, IsRsa(alg)
            ? $"{alg} encrypts to the client's RSA public key ({MinRsaKeyBits} bits or more, use 'enc' or none): register it in jwks or publish it at jwksUri"
            : $"{alg} encrypts to the client's EC public key (P-256, P-384 or P-521, use 'enc' or none): register it in jwks or publish it at jwksUri");
        return new Choice(alg, enc);
    }

    /// <summary>The client's first key that <paramref name="alg"/> can encrypt to; null when it has none.</summary>
    public static JsonWebKey? KeyFor(string? jwks, string alg)
    {
        if (jwks is null)
        {
            return null;
        }

        var rsa = IsRsa(alg);
        return new JsonWebKeySet(jwks).Keys.FirstOrDefault(key =>
            (key.Use is null or "" or JsonWebKeyUseNames.Enc)
            && (string.IsNullOrEmpty(key.Alg) || key.Alg == alg)
            && (rsa
                ? key.Kty == JsonWebAlgorithmsKeyTypes.RSA && !string.IsNullOrEmpty(key.N) && !string.IsNullOrEmpty(key.E)
                  && Base64UrlEncoder.DecodeBytes(key.N).AsSpan().TrimStart((byte)0).Length * 8 >= MinRsaKeyBits
                : key.Kty == JsonWebAlgorithmsKeyTypes.EllipticCurve && Curves.Contains(key.Crv)
                  && !string.IsNullOrEmpty(key.X) && !string.IsNullOrEmpty(key.Y)));
    }

    /// <summary>
    /// <paramref name="payload"/> encrypted to the client's key. A signed JWT inside is marked <c>cty: JWT</c> (a Nested
    /// JWT, RFC 7519 §5.2); the key's <c>kid</c> is named so the client knows which private key opens it.
    /// </summary>
    public static string Encrypt(string payload, string? jwks, Choice choice, bool nested)
    {
        var key = KeyFor(jwks, choice.Alg) ?? throw new InvalidOperationException("The client has no key for " + choice.Alg + ".");
        var headers = new Dictionary<string, object>(StringComparer.Ordinal);
        if (!string.IsNullOrEmpty(key.Kid))
        {
            headers["kid"] = key.Kid;
        }

        if (nested)
        {
            headers["cty"] = "JWT";
        }

        using IDisposable material = IsRsa(choice.Alg)
            ? RSA.Create(new RSAParameters { Modulus = Base64UrlEncoder.DecodeBytes(key.N), Exponent = Base64UrlEncoder.DecodeBytes(key.E) })
            : ECDiffieHellman.Create(new ECParameters
            {
                Curve = key.Crv switch
                {
                    JsonWebKeyECTypes.P384 => ECCurve.NamedCurves.nistP384,
                    JsonWebKeyECTypes.P521 => ECCurve.NamedCurves.nistP521,
                    _ => ECCurve.NamedCurves.nistP256,
                },
                Q = new ECPoint { X = Base64UrlEncoder.DecodeBytes(key.X), Y = Base64UrlEncoder.DecodeBytes(key.Y) },
            });
        return Jose.JWT.Encode(payload, material, choice.Alg, choice.Enc, extraHeaders: headers);
    }

    private static bool IsRsa(string alg) => alg.StartsWith("RSA-", StringComparison.Ordinal);
}
