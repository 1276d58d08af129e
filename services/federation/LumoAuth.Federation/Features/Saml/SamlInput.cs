using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>Checks of what an administrator gives for a SAML partner (its URLs, its certificate), shared by SAML apps and SAML IdPs.</summary>
public static class SamlInput
{
    private static readonly System.Buffers.SearchValues<char> UnsafeInPages = System.Buffers.SearchValues.Create("\"'<>;,\\");

    /// <summary>
    /// Where the browser is sent with responses: an absolute https URL (http only on a loopback host, for development),
    /// without credentials, fragment or characters a page's security policy could not name.
    /// </summary>
    public static string? UrlProblem(string url) =>
        !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http") || !string.IsNullOrEmpty(uri.UserInfo) || url.Contains('#', StringComparison.Ordinal)
        || url.AsSpan().ContainsAnyExceptInRange('\x21', '\x7E') || url.AsSpan().ContainsAny(UnsafeInPages)
            ? "must be an absolute https URL without credentials or fragment"
            : uri.Scheme == "http" && !uri.IsLoopback
                ? "must use https (http only on a loopback host)"
                : null;

    /// <summary>The certificate's DER, from PEM or base64; null when it is not a certificate with an RSA key.</summary>
    public static byte[]? ReadCertificate(string text)
    {
        try
        {
            var der = text.Contains("-----BEGIN", StringComparison.Ordinal)
                ? X509Certificate2.CreateFromPem(text).RawData
                : Convert.FromBase64String(string.Concat(text.Where(c => !char.IsWhiteSpace(c))));
            using var certificate = X509CertificateLoader.LoadCertificate(der);
            using var rsa = certificate.GetRSAPublicKey();
            return rsa is null ? null : certificate.RawData;
        }
        catch (Exception exception) when (exception is CryptographicException or FormatException or ArgumentException)
        {
            return null;
        }
    }
}
