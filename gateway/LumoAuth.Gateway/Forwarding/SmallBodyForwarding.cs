using Yarp.ReverseProxy.Forwarder;

namespace LumoAuth.Gateway.Forwarding;

/// <summary>
/// The forwarder's HTTP client with <see cref="SmallBodyHandler"/> in front of YARP's own handler stack.
/// </summary>
public sealed class GatewayHttpClientFactory : ForwarderHttpClientFactory
{
    protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler) =>
        new SmallBodyHandler { InnerHandler = base.WrapHandler(context, handler) };
}

/// <summary>
/// YARP sends a forwarded request's headers at once and then streams its body after them, which suits large and
/// streaming bodies. For a small body of declared length (a token request, a JSON command) that is two writes, and
/// the service wakes twice for one request. Reading such a body first sends headers and body in one write.
/// Bodies without a declared length, larger ones and <c>Expect: 100-continue</c> requests still stream.
/// </summary>
public sealed class SmallBodyHandler : DelegatingHandler
{
    /// <summary>Bodies up to this size are read before forwarding.</summary>
    public const int MaxBufferedBytes = 16 * 1024;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Content is { Headers.ContentLength: > 0 and <= MaxBufferedBytes and var length } streamed
            && request.Headers.ExpectContinue != true)
        {
            // Reading goes through YARP's content, so a client that breaks off mid-body fails as it would when streamed.
            var body = new MemoryStream((int)length);
            await streamed.CopyToAsync(body, cancellationToken);
            var buffered = new ByteArrayContent(body.GetBuffer(), 0, (int)body.Length);
            foreach (var (name, values) in streamed.Headers)
            {
                buffered.Headers.TryAddWithoutValidation(name, values);
            }

            request.Content = buffered;
        }

        return await base.SendAsync(request, cancellationToken);
    }
}
