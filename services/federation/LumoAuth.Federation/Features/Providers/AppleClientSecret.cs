using System.Security.Cryptography;
using LumoAuth.Federation.Data;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Federation.Features.Providers;

/// <summary>
/// Sign in with Apple's client secret: not a fixed string but a JWT signed (ES256) with the tenant's Sign in with Apple
/// key, naming the developer team as issuer, our Services ID as subject and Apple as audience. One is made for each code
/// exchange and lives five minutes, so nothing long-lived crosses the network (Apple allows six months).
/// </summary>
public static class AppleClientSecret
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    private const string P256 = "1.2.840.10045.3.1.7";

    private static readonly JsonWebTokenHandler Handler = new();

    /// <summary>What is wrong with <paramref name="pem"/> as the key Apple gave (its <c>.p8</c> file: a PKCS#8 P-256 key); null when nothing.</summary>
    public static string? KeyProblem(string pem)
    {
        try
        {
            using var key = ECDsa.Create();
            key.ImportFromPem(pem);
            return key.ExportParameters(includePrivateParameters: true) is { D: not null, Curve.Oid.Value: P256 }
                ? null
                : "must be a P-256 private key, as Apple's .p8 files hold";
        }
        catch (Exception exception) when (exception is ArgumentException or CryptographicException)
        {
            return "must be the PEM text of the private key Apple gave (its .p8 file)";
        }
    }

    /// <summary>A client secret for one code exchange at <paramref name="audience"/> (Apple's issuer).</summary>
    /// <exception cref="CryptographicException">The stored key is not a usable P-256 key.</exception>
    public static string Create(string privateKeyPem, AppleSettings apple, string clientId, string audience, DateTimeOffset now)
    {
        using var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(privateKeyPem);
        }
        catch (ArgumentException exception)
        {
            throw new CryptographicException("The Sign in with Apple key is not a PEM private key.", exception);
        }

        // Not cached: the key is disposed here, and another tenant's key must never be found under this one's id.
        var signingKey = new ECDsaSecurityKey(key) { KeyId = apple.KeyId, CryptoProviderFactory = new CryptoProviderFactory { CacheSignatureProviders = false } };
        return Handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = apple.TeamId,
            Audience = audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = now.Add(Lifetime).UtcDateTime,
            Claims = new Dictionary<string, object> { ["sub"] = clientId },
            SigningCredentials = new SigningCredentials(signingKey, SecurityAlgorithms.EcdsaSha256),
        });
    }
}
