using System.Collections.Concurrent;
using System.Net.Http;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LumoAuth.Testing;

/// <summary>One answer of an <see cref="HttpsSite"/>: status, body, content type and an optional <c>Cache-Control</c>.</summary>
/// <summary>What a request to the site carried: its query (with the <c>?</c>), its body, its Authorization header.</summary>
public sealed record SiteRequest(string Query, string Body, string Authorization);

public sealed record SiteAnswer(string Body, int Status = 200, string ContentType = "application/json", string? CacheControl = null, string? Location = null);

/// <summary>
/// A third party's web site on https://127.0.0.1 (Kestrel, a certificate made for the run), for documents our services
/// fetch from the internet (Client ID Metadata Documents). It counts the requests per path. Services under test trust its
/// certificate through <see cref="TrustingHandler"/> and must be allowed private targets.
/// </summary>
public sealed class HttpsSite : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, SiteAnswer> _answers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _requests = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SiteRequest> _lastRequests = new(StringComparer.Ordinal);
    private WebApplication? _app;

    public X509Certificate2 Certificate { get; } = TestCertificates.Server();

    /// <summary><c>https://127.0.0.1:port</c>, once started.</summary>
    public string Origin { get; private set; } = string.Empty;

    public async Task StartAsync()
    {
        (_app, Origin) = await LoopbackApp.StartAsync(app =>
        {
            app.Run(async context =>
            {
                var path = context.Request.Path.Value ?? "/";
                _requests.AddOrUpdate(path, 1, (_, n) => n + 1);
                using (var reader = new StreamReader(context.Request.Body))
                {
                    _lastRequests[path] = new SiteRequest(context.Request.QueryString.Value ?? string.Empty, await reader.ReadToEndAsync(), context.Request.Headers.Authorization.ToString());
                }

                if (!_answers.TryGetValue(path, out var answer))
                {
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return;
                }

                context.Response.StatusCode = answer.Status;
                context.Response.ContentType = answer.ContentType;
                if (answer.CacheControl is not null)
                {
                    context.Response.Headers.CacheControl = answer.CacheControl;
                }

                if (answer.Location is not null)
                {
                    context.Response.Headers.Location = answer.Location;
                }

                await context.Response.WriteAsync(answer.Body);
            });
        }, Certificate);
    }

    /// <summary>Answers <paramref name="path"/> with <paramref name="answer"/> from now on; returns its absolute URL.</summary>
    public string Serve(string path, SiteAnswer answer)
    {
        _answers[path] = answer;
        return Origin + path;
    }

    /// <summary>The last request that reached <paramref name="path"/>, if any.</summary>
    public SiteRequest? LastRequest(string path) => _lastRequests.TryGetValue(path, out var request) ? request : null;

    /// <summary>How many requests reached <paramref name="path"/>.</summary>
    public int Requests(string path) => _requests.TryGetValue(path, out var n) ? n : 0;

    /// <summary>The SSRF-guarded handler our services use, allowed loopback and trusting this site's certificate only.</summary>
    public SocketsHttpHandler TrustingHandler()
    {
        var handler = SsrfGuard.Handler(allowPrivateTargets: true);
        var thumbprint = Certificate.GetCertHashString(HashAlgorithmName.SHA256);
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            errors == SslPolicyErrors.None
            || certificate is not null && certificate.GetCertHashString(HashAlgorithmName.SHA256) == thumbprint;
        return handler;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        Certificate.Dispose();
    }
}
