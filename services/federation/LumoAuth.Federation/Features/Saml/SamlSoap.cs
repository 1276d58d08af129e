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

    /// <summary>A SOAP fault for a message that could not be read as one (SOAP 1.1 §4.4: the sender's fault).</summary>
    public static string Fault(string reason) =>
        $"<soap:Envelope xmlns:soap=\"{EnvelopeNamespace}\"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode>"
        + $"<faultstring>{System.Security.SecurityElement.Escape(reason)}</faultstring></soap:Fault></soap:Body></soap:Envelope>";
}
