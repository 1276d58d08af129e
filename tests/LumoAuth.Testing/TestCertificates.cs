using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;

namespace LumoAuth.Testing;

/// <summary>Self-signed certificates made for a run: a server's for 127.0.0.1, and mutual-TLS clients' (RFC 8705).</summary>
public static class TestCertificates
{
    /// <summary>A TLS server certificate for 127.0.0.1 (ECDSA P-256).</summary>
    public static X509Certificate2 Server()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        return Reload(request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1)));
    }

    /// <summary>A client's self-signed certificate (RSA 2048, digitalSignature, clientAuth), as RFC 8705 §2.2 clients use.</summary>
    public static X509Certificate2 Client(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        return Reload(request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1)));
    }

    /// <summary>A certificate authority (RSA 2048, with its private key) that issues clients' certificates.</summary>
    public static X509Certificate2 Authority(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return Reload(request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddDays(2)));
    }

    /// <summary>A client certificate for <paramref name="subject"/> issued by <paramref name="authority"/> (RFC 8705 §2.1 PKI clients).</summary>
    public static X509Certificate2 IssuedBy(X509Certificate2 authority, string subject)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var issued = request.Create(authority, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), serial);
        return Reload(issued.CopyWithPrivateKey(key));
    }

    /// <summary>The public JWKS a client registers for <c>self_signed_tls_client_auth</c>: its key with the certificate in <c>x5c</c>.</summary>
    public static JsonObject Jwks(X509Certificate2 certificate)
    {
        var rsa = certificate.GetRSAPublicKey()!.ExportParameters(false);
        return new JsonObject
        {
            ["keys"] = new JsonArray(new JsonObject
            {
                ["kty"] = "RSA",
                ["use"] = "sig",
                ["kid"] = certificate.Thumbprint,
                ["n"] = Microsoft.AspNetCore.WebUtilities.Base64UrlTextEncoder.Encode(rsa.Modulus!),
                ["e"] = Microsoft.AspNetCore.WebUtilities.Base64UrlTextEncoder.Encode(rsa.Exponent!),
                ["x5c"] = new JsonArray(Convert.ToBase64String(certificate.RawData)),
            }),
        };
    }

    // Through PKCS#12 so that the private key is usable by the TLS stack on every platform.
    private static X509Certificate2 Reload(X509Certificate2 created)
    {
        using (created)
        {
            return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), password: null);
        }
    }
}
