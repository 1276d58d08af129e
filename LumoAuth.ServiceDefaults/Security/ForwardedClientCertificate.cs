using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.ServiceDefaults.Security;

/// <summary>
/// Mutual TLS ends at the gateway (or at a load balancer in front of it), so the client certificate reaches the services
/// in the RFC 9440 <c>Client-Cert</c> header (<c>:base64 DER:</c>). It is believed only from the proxies that may also
/// set <c>X-Forwarded-For</c> (loopback and <c>LumoAuth:TrustedProxyNetworks</c>), judged on the connection's own
/// peer, and becomes the request's client certificate (<see cref="ConnectionInfo.ClientCertificate"/>); from anyone
/// else the header is dropped. Runs before the forwarded headers are applied, while the peer is still the peer.
/// </summary>
public sealed class ForwardedClientCertificateMiddleware(RequestDelegate next, IOptions<ForwardedHeadersOptions> forwarding)
{
    /// <summary>RFC 9440 §2.2.</summary>
    public const string HeaderName = "Client-Cert";

    /// <summary>A certificate chain of a few KB is normal; anything far larger is not a client certificate.</summary>
    private const int MaxHeaderLength = 16 * 1024;

    public Task InvokeAsync(HttpContext context)
    {
        if (context.Request.Headers.TryGetValue(HeaderName, out var values))
        {
            context.Request.Headers.Remove(HeaderName);
            if (values.Count == 1 && IsTrustedProxy(context.Connection.RemoteIpAddress) && Parse(values[0]) is { } certificate)
            {
                context.Response.RegisterForDispose(certificate);
                context.Features.Set<ITlsConnectionFeature>(new ForwardedTlsConnection(certificate));
            }
        }

        return next(context);
    }

    /// <summary>The header value for a certificate: an RFC 8941 byte sequence of its DER encoding.</summary>
    public static string Format(X509Certificate2 certificate) => ":" + Convert.ToBase64String(certificate.RawData) + ":";

    /// <summary>RFC 8705 §3.1: the <c>x5t#S256</c> confirmation of a certificate (base64url SHA-256 of its DER).</summary>
    public static string Thumbprint(X509Certificate2 certificate) => Base64UrlEncoder.Encode(SHA256.HashData(certificate.RawData));

    /// <summary>The <c>cnf.x5t#S256</c> of an access token's claims, if it is bound to a client certificate.</summary>
    public static string? BoundThumbprint(string? confirmation)
    {
        if (string.IsNullOrEmpty(confirmation) || !confirmation.Contains("x5t#S256", StringComparison.Ordinal))
        {
            return null;
        }

        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(confirmation);
            return document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                && document.RootElement.TryGetProperty("x5t#S256", out var x5t) && x5t.ValueKind == System.Text.Json.JsonValueKind.String
                ? x5t.GetString()
                : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// RFC 8705 §3: whether a token with this <c>cnf</c> may be used by the holder of <paramref name="presented"/> — it is not
    /// bound to a certificate, or it is bound to that one. Every place that accepts a token asks this.
    /// </summary>
    public static bool MayPresent(string? confirmation, X509Certificate2? presented) =>
        BoundThumbprint(confirmation) is not { } bound || IsBoundTo(bound, presented);

    /// <summary>Whether <paramref name="presented"/> is the certificate a token is bound to (fixed-time comparison).</summary>
    public static bool IsBoundTo(string bound, X509Certificate2? presented) =>
        presented is not null
        && CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(bound), System.Text.Encoding.ASCII.GetBytes(Thumbprint(presented)));

    private bool IsTrustedProxy(IPAddress? peer)
    {
        if (peer is null)
        {
            return false;
        }

        peer = peer.IsIPv4MappedToIPv6 ? peer.MapToIPv4() : peer;
        var options = forwarding.Value;
        return options.KnownProxies.Any(p => p.Equals(peer)) || options.KnownIPNetworks.Any(n => n.Contains(peer));
    }

    private static X509Certificate2? Parse(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxHeaderLength)
        {
            return null;
        }

        var text = value.Trim();
        if (text.Length >= 2 && text[0] == ':' && text[^1] == ':')
        {
            text = text[1..^1];
        }

        try
        {
            return X509CertificateLoader.LoadCertificate(Convert.FromBase64String(text));
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            return null;
        }
    }

    private sealed class ForwardedTlsConnection(X509Certificate2 certificate) : ITlsConnectionFeature
    {
        public X509Certificate2? ClientCertificate { get; set; } = certificate;

        public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult(ClientCertificate);
    }
}
