using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LumoAuth.ServiceDefaults.Errors;

namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// PKI mutual-TLS client authentication (RFC 8705 §2.1, <c>tls_client_auth</c>): a client's certificate is issued by a
/// certificate authority the client's registration names (<c>tlsClientCertificateAuthorities</c>) and carries the
/// registered subject (<c>tlsClientAuthSubjectDn</c>, §2.1.2). Each client brings its own trust anchors, so one tenant's
/// CA never vouches for another tenant's clients. (OpenIddict's own PKI mode trusts one set of CAs for the whole server
/// and matches names against redirect-URI hosts; <see cref="Protocol.TokenApplicationManager"/> applies these rules instead.)
/// </summary>
public static class TlsClientAuth
{
    public const string SubjectDnProperty = "tls_client_auth_subject_dn";
    public const string AuthoritiesProperty = "tls_client_auth_cas";

    private const int MaxAuthorities = 5;

    /// <summary>
    /// OpenIddict enables its PKI path only with a server-wide root: this one, made at start-up with its private key
    /// thrown away, so it can issue nothing and vouches for no client by itself.
    /// </summary>
    public static X509Certificate2Collection PlaceholderRoot()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=LumoAuth placeholder root (trusts nothing)", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(10));
        return [X509CertificateLoader.LoadCertificate(created.RawData)];
    }

    /// <summary>Checks and normalizes the two fields (both or neither; confidential clients only).</summary>
    public static (string? SubjectDn, IReadOnlyList<string>? Authorities) Validate(
        string? requestedDn, IReadOnlyList<string>? requestedAuthorities, ClientSettings? current, bool isConfidential, RequestValidator validator)
    {
        var dn = requestedDn is null ? current?.TlsClientAuthSubjectDn : string.IsNullOrWhiteSpace(requestedDn) ? null : requestedDn.Trim();
        var authorities = requestedAuthorities is null ? current?.TlsClientCertificateAuthorities
            : requestedAuthorities.Count == 0 ? null : requestedAuthorities.Select(a => a?.Trim() ?? string.Empty).Distinct(StringComparer.Ordinal).ToList();
        if (dn is null && authorities is null)
        {
            return (null, null);
        }

        validator.Check(dn is not null && authorities is not null, dn is null ? "tlsClientAuthSubjectDn" : "tlsClientCertificateAuthorities",
            "tls_client_auth needs both the certificate's subject DN and the certificate authorities that issue it");
        validator.Check(isConfidential, "tlsClientAuthSubjectDn", "only confidential clients authenticate with tls_client_auth");
        if (dn is not null && Normalize(dn) is null)
        {
            validator.Add("tlsClientAuthSubjectDn", "is not a distinguished name (like CN=client.example.com,O=Example)");
        }

        if (authorities is not null)
        {
            validator.Check(authorities.Count <= MaxAuthorities, "tlsClientCertificateAuthorities", $"at most {MaxAuthorities} certificate authorities");
            if (authorities.Any(a => !IsAuthority(a)))
            {
                validator.Add("tlsClientCertificateAuthorities", "must be base64 DER (or PEM) certificates of certificate authorities, without private keys");
            }
        }

        return (dn, authorities?.Select(ToBase64Der).ToList());
    }

    /// <summary>The client's chain policy: its own authorities as the only roots, client-authentication certificates only.</summary>
    public static X509ChainPolicy? PolicyFor(IReadOnlyList<string> authorities, X509ChainPolicy basePolicy)
    {
        var policy = basePolicy.Clone();
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.Clear();
        policy.ExtraStore.Clear();
        foreach (var authority in authorities)
        {
            policy.CustomTrustStore.Add(X509CertificateLoader.LoadCertificate(Convert.FromBase64String(authority)));
        }

        return policy;
    }

    /// <summary>Whether the certificate chains to the client's authorities and names the registered subject.</summary>
    public static bool Validate(X509Certificate2 certificate, X509ChainPolicy policy, string subjectDn)
    {
        if (Normalize(subjectDn) is not { } expected || Normalize(certificate.SubjectName) != expected)
        {
            return false;
        }

        using var chain = new X509Chain { ChainPolicy = policy };
        return chain.Build(certificate);
    }

    /// <summary>A DN in one spelling: RFC 4514 order and quoting as .NET writes it, so spacing and case of the names do not matter.</summary>
    private static string? Normalize(string dn)
    {
        try
        {
            return Normalize(new X500DistinguishedName(dn));
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    private static string? Normalize(X500DistinguishedName name) =>
        name.RawData.Length <= 2 ? null : name.Format(multiLine: false).ToUpperInvariant();

    private static bool IsAuthority(string value)
    {
        try
        {
            using var certificate = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(ToBase64Der(value)));
            return !certificate.HasPrivateKey
                && certificate.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority);
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            return false;
        }
    }

    // PEM is accepted and stored as its base64 DER body.
    private static string ToBase64Der(string value) =>
        value.StartsWith("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)
            ? string.Concat(value.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("-----", StringComparison.Ordinal)))
            : value;
}
