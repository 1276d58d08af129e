using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>The gateway's <c>Client-Cert</c> header (RFC 9440) becomes the request's client certificate only from a trusted proxy.</summary>
public sealed class ForwardedClientCertificateTests
{
    private static readonly X509Certificate2 Certificate = MakeCertificate();

    private static async Task<HttpContext> RunAsync(string peer, params string[] headerValues)
    {
        var http = new DefaultHttpContext();
        http.Connection.RemoteIpAddress = IPAddress.Parse(peer);
        if (headerValues.Length > 0)
        {
            http.Request.Headers[ForwardedClientCertificateMiddleware.HeaderName] = headerValues;
        }

        var options = new ForwardedHeadersOptions();
        options.KnownIPNetworks.Add(System.Net.IPNetwork.Parse("10.1.0.0/16"));
        await new ForwardedClientCertificateMiddleware(_ => Task.CompletedTask, Options.Create(options)).InvokeAsync(http);
        return http;
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("10.1.2.3")]
    public async Task FromATrustedProxy_TheCertificateIsTheRequests(string peer)
    {
        var http = await RunAsync(peer, ForwardedClientCertificateMiddleware.Format(Certificate));

        Assert.Equal(Certificate.RawData, http.Connection.ClientCertificate!.RawData);
        Assert.False(http.Request.Headers.ContainsKey(ForwardedClientCertificateMiddleware.HeaderName));
    }

    [Theory]
    [InlineData("203.0.113.9", ":{cert}:")]
    [InlineData("127.0.0.1", ":not base64:")]
    [InlineData("127.0.0.1", ":AAAA:")]
    public async Task FromAnyoneElse_OrMalformed_TheHeaderIsDropped(string peer, string value)
    {
        var http = await RunAsync(peer, value.Replace("{cert}", Convert.ToBase64String(Certificate.RawData), StringComparison.Ordinal));

        Assert.Null(http.Connection.ClientCertificate);
        Assert.False(http.Request.Headers.ContainsKey(ForwardedClientCertificateMiddleware.HeaderName));
    }

    [Fact]
    public async Task TwoHeaders_AreRefused()
    {
        var value = ForwardedClientCertificateMiddleware.Format(Certificate);
        var http = await RunAsync("127.0.0.1", value, value);

        Assert.Null(http.Connection.ClientCertificate);
    }

    [Fact]
    public void Binding_MatchesOnlyTheSameCertificate()
    {
        using var other = MakeCertificate();
        var confirmation = $$"""{"x5t#S256":"{{ForwardedClientCertificateMiddleware.Thumbprint(Certificate)}}"}""";
        var bound = ForwardedClientCertificateMiddleware.BoundThumbprint(confirmation)!;

        Assert.True(ForwardedClientCertificateMiddleware.IsBoundTo(bound, Certificate));
        Assert.False(ForwardedClientCertificateMiddleware.IsBoundTo(bound, other));
        Assert.False(ForwardedClientCertificateMiddleware.IsBoundTo(bound, null));
        Assert.Null(ForwardedClientCertificateMiddleware.BoundThumbprint("""{"jkt":"abc"}"""));
    }

    private static X509Certificate2 MakeCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return new CertificateRequest("CN=client", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
    }
}
