using System.Text.Json;
using LumoAuth.ServiceDefaults.Errors;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// The public keys a client signs its <c>private_key_jwt</c> assertions with (RFC 7523, RFC 7517), and the certificates
/// (<c>x5c</c>) it presents in mutual TLS (<c>self_signed_tls_client_auth</c>, RFC 8705 §2.2).
/// </summary>
public static class ClientKeys
{
    private const int MaxKeys = 5;

    /// <summary>A published set holds the keys in rotation as well: more room than a registration's inline set.</summary>
    public const int MaxPublishedKeys = 20;
    private static readonly string[] PrivateMembers = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];

    /// <summary>A JWKS of public RSA or EC keys as stored JSON, null for an empty set, or a validation problem.</summary>
    public static string? Normalize(JsonElement jwks, RequestValidator validator, int maxKeys = MaxKeys)
    {
        if (jwks.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (jwks.ValueKind != JsonValueKind.Object || !jwks.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
        {
            validator.Add("jwks", "must be a JSON Web Key Set: {\"keys\": [...]}");
            return null;
        }

        if (keys.GetArrayLength() == 0)
        {
            return null;
        }

        if (keys.GetArrayLength() > maxKeys)
        {
            validator.Add("jwks", $"at most {maxKeys} keys");
            return null;
        }

        foreach (var key in keys.EnumerateArray())
        {
            if (key.ValueKind != JsonValueKind.Object)
            {
                validator.Add("jwks", "every key must be a JSON object");
                return null;
            }

            // A private key sent to us is a leaked key: refuse it rather than store it.
            if (PrivateMembers.Any(member => key.TryGetProperty(member, out _)))
            {
                validator.Add("jwks", "keys must be public keys only (no private or symmetric members)");
                return null;
            }

            if (key.TryGetProperty("x5c", out var chain) && !IsCertificateChain(chain))
            {
                validator.Add("jwks", "x5c must be an array of base64 DER X.509 certificates");
                return null;
            }
        }

        JsonWebKeySet set;
        try
        {
            set = new JsonWebKeySet(jwks.GetRawText());
        }
        catch (Exception ex) when (ex is ArgumentException or JsonException)
        {
            validator.Add("jwks", "is not a valid JSON Web Key Set");
            return null;
        }

        if (set.Keys.Count != keys.GetArrayLength() || set.Keys.Any(k => k.Kty is not (JsonWebAlgorithmsKeyTypes.RSA or JsonWebAlgorithmsKeyTypes.EllipticCurve)))
        {
            validator.Add("jwks", "only RSA and EC keys are supported");
            return null;
        }

        return jwks.GetRawText();
    }

    private static bool IsCertificateChain(JsonElement chain)
    {
        if (chain.ValueKind != JsonValueKind.Array || chain.GetArrayLength() is 0 or > 5)
        {
            return false;
        }

        foreach (var entry in chain.EnumerateArray())
        {
            try
            {
                using var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(
                    Convert.FromBase64String(entry.GetString() ?? string.Empty));
            }
            catch (Exception ex) when (ex is FormatException or InvalidOperationException or System.Security.Cryptography.CryptographicException)
            {
                return false;
            }
        }

        return true;
    }
}
