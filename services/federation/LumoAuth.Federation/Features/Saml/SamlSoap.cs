using System.Xml;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>The SAML SOAP binding (SAML Bindings §3.2): a message in a SOAP 1.1 envelope's body, over a back channel.</summary>
public static class SamlSoap
{
    public const string EnvelopeNamespace = "http://schemas.xmlsoap.org/soap/envelope/";

    /// <summary>The SOAPAction header SAML Bindings §3.2.3.1 names.</summary>
    public const string Action = "http://www.oasis-open.org/committees/security";

    public const string ContentType = "text/xml; charset=utf-8";

    public static string Envelope(string messageXml) =>
        $"<soap:Envelope xmlns:soap=\"{EnvelopeNamespace}\"><soap:Body>{messageXml}</soap:Body></soap:Envelope>";

    /// <summary>The one element in the envelope's body (the SAML message); null when the document is not such an envelope.</summary>
    public static XmlElement? MessageOf(XmlDocument envelope)
    {
        var root = envelope.DocumentElement;
        if (root is not { LocalName: "Envelope", NamespaceURI: EnvelopeNamespace }
            || root.ChildNodes.OfType<XmlElement>().Where(e => e is { LocalName: "Body", NamespaceURI: EnvelopeNamespace }).ToList() is not [var body])
        {
            return null;
        }

        return body.ChildNodes.OfType<XmlElement>().ToList() is [var message] ? message : null;
    }

    /// <summary>A LogoutRequest as the SOAP binding carries it: the envelope, the request inside it, and a document of its own to read it from.</summary>
    public sealed record LogoutRequestMessage(XmlDocument Envelope, XmlElement Element, XmlDocument Message);

    /// <summary>The LogoutRequest a SOAP body carries (at most 64 KB, no DTD); null when the body is no such envelope.</summary>
    public static async Task<LogoutRequestMessage?> ReadLogoutRequestAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var body = await ReadBodyAsync(request, SamlMessages.MaxMessageBytes, cancellationToken);
        var envelope = body is null ? null : SamlMessages.Load(body);
        // The reader expects the message at the root: it gets a document of its own.
        return (envelope is null ? null : MessageOf(envelope)) is { LocalName: "LogoutRequest", NamespaceURI: SamlNames.Protocol } element
               && SamlMessages.Load(System.Text.Encoding.UTF8.GetBytes(element.OuterXml)) is { } message
            ? new LogoutRequestMessage(envelope!, element, message)
            : null;
    }

    /// <summary>Our LogoutResponse to a back-channel request, signed in the message (there is no query to sign), in an envelope.</summary>
    public static IResult LogoutAnswer(HttpContext http, string issuer, string inResponseTo, string status, SamlKey key, DateTimeOffset now)
    {
        var answer = SamlDocuments.LogoutResponseDocument(issuer, null, inResponseTo, status, now).DocumentElement!;
        SamlSignatures.Sign(answer, answer.GetAttribute("ID"), key);
        http.Response.Headers.CacheControl = "no-store";
        return Results.Content(Envelope(answer.OuterXml), ContentType);
    }

    /// <summary>400 with a SOAP fault (not SOAP 1.1's 500: the fault is the sender's, and bad input is never a server error here).</summary>
    public static IResult FaultResult(string reason) => Results.Content(Fault(reason), ContentType, statusCode: StatusCodes.Status400BadRequest);

    /// <summary>The request's body, or null when it is longer than <paramref name="max"/> bytes.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int max, CancellationToken cancellationToken)
    {
        if (request.ContentLength > max)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > max)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>A SOAP fault for a message that could not be read as one (SOAP 1.1 §4.4: the sender's fault).</summary>
    public static string Fault(string reason) =>
        $"<soap:Envelope xmlns:soap=\"{EnvelopeNamespace}\"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode>"
        + $"<faultstring>{System.Security.SecurityElement.Escape(reason)}</faultstring></soap:Fault></soap:Body></soap:Envelope>";
}
