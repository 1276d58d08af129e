using System.Globalization;
using System.IO.Compression;
using System.Xml;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>An SP's request for a sign-in (SAML Core §3.4.1), as far as this IdP uses it.</summary>
public sealed record AuthnRequestMessage(
    string Id, string Issuer, DateTimeOffset IssueInstant, string? Destination, string? AcsUrl, string? ProtocolBinding, string? NameIdFormat,
    bool ForceAuthn, bool IsPassive);

/// <summary>An SP's request to end the user's session (SAML Core §3.7.1).</summary>
public sealed record LogoutRequestMessage(string Id, string Issuer, DateTimeOffset IssueInstant, string? Destination, string? NameId, IReadOnlyList<string> SessionIndexes);

/// <summary>
/// Reading SAML messages safely: the bindings' encodings undone with a size cap (a DEFLATE bomb inflates to nothing
/// useful), XML without DTDs or outside resources, and only the elements and attributes the protocol defines, checked.
/// </summary>
public static class SamlMessages
{
    /// <summary>The largest message taken, encoded or inflated: requests are a few kilobytes.</summary>
    public const int MaxMessageBytes = 64 * 1024;

    /// <summary>The deepest element nesting taken: SAML messages are a dozen levels deep.</summary>
    private const int MaxDepth = 64;

    /// <summary>How far a request's <c>IssueInstant</c> may be from now: clocks drift, and a request is used at once.</summary>
    public static readonly TimeSpan IssueInstantSkew = TimeSpan.FromMinutes(5);

    /// <summary>HTTP-Redirect binding (SAML Bindings §3.4.4.1): base64 of raw DEFLATE.</summary>
    public static byte[]? FromRedirect(string? encoded)
    {
        if (FromBase64(encoded) is not { } compressed)
        {
            return null;
        }

        try
        {
            using var inflate = new DeflateStream(new MemoryStream(compressed), CompressionMode.Decompress);
            using var inflated = new MemoryStream();
            var buffer = new byte[8192];
            int read;
            while ((read = inflate.Read(buffer)) > 0)
            {
                if (inflated.Length + read > MaxMessageBytes)
                {
                    return null;
                }

                inflated.Write(buffer, 0, read);
            }

            return inflated.ToArray();
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>HTTP-POST binding (SAML Bindings §3.5.4): base64 of the XML.</summary>
    public static byte[]? FromPost(string? encoded) => FromBase64(encoded);

    /// <summary>A bare assertion at the token endpoint (RFC 8693 §3): base64url, or the plain base64 the bindings use.</summary>
    public static byte[]? FromBase64Url(string? encoded)
    {
        if (string.IsNullOrWhiteSpace(encoded))
        {
            return null;
        }

        var base64 = encoded.Trim().Replace('-', '+').Replace('_', '/');
        return FromBase64(base64.PadRight(base64.Length + ((4 - base64.Length % 4) % 4), '='));
    }

    private static byte[]? FromBase64(string? encoded)
    {
        if (string.IsNullOrWhiteSpace(encoded) || encoded.Length > MaxMessageBytes * 4 / 3 + 4)
        {
            return null;
        }

        var buffer = new byte[encoded.Length];
        return Convert.TryFromBase64String(encoded.Trim(), buffer, out var written) && written > 0 ? buffer[..written] : null;
    }

    /// <summary>The XML, or null when it is not well-formed or declares a DTD (entity expansion, outside references).</summary>
    public static XmlDocument? Load(byte[] xml, int maxCharacters = MaxMessageBytes)
    {
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, MaxCharactersInDocument = maxCharacters, IgnoreProcessingInstructions = true,
            IgnoreComments = false,
        };
        // Whitespace is kept: a signature covers the document as it was sent.
        var document = new XmlDocument { PreserveWhitespace = true, XmlResolver = null };
        try
        {
            // A first pass refuses deep nesting, which canonicalisation and serialisation would recurse through.
            using (var scan = XmlReader.Create(new MemoryStream(xml), settings))
            {
                while (scan.Read())
                {
                    if (scan.Depth > MaxDepth)
                    {
                        return null;
                    }
                }
            }

            using var reader = XmlReader.Create(new MemoryStream(xml), settings);
            document.Load(reader);
            return document.DocumentElement is null ? null : document;
        }
        catch (XmlException)
        {
            return null;
        }
    }

    /// <summary>The request, or why it is not one this IdP can take.</summary>
    public static (AuthnRequestMessage? Request, string? Problem) ReadAuthnRequest(XmlDocument document, DateTimeOffset now)
    {
        var root = document.DocumentElement!;
        var header = Header(root, "AuthnRequest", now);
        if (header.Problem is { } problem)
        {
            return (null, problem);
        }

        var (id, issuer, issued) = header.Values!.Value;
        var policy = Child(root, SamlNames.Protocol, "NameIDPolicy");
        return (new AuthnRequestMessage(
            id, issuer, issued, Attribute(root, "Destination"), Attribute(root, "AssertionConsumerServiceURL"), Attribute(root, "ProtocolBinding"),
            policy is null ? null : Attribute(policy, "Format"), IsTrue(Attribute(root, "ForceAuthn")), IsTrue(Attribute(root, "IsPassive"))), null);
    }

    public static (LogoutRequestMessage? Request, string? Problem) ReadLogoutRequest(XmlDocument document, DateTimeOffset now)
    {
        var root = document.DocumentElement!;
        var header = Header(root, "LogoutRequest", now);
        if (header.Problem is { } problem)
        {
            return (null, problem);
        }

        var (id, issuer, issued) = header.Values!.Value;
        var indexes = root.ChildNodes.OfType<XmlElement>()
            .Where(e => e.LocalName == "SessionIndex" && e.NamespaceURI == SamlNames.Protocol)
            .Select(e => e.InnerText.Trim()).Where(v => v.Length is > 0 and <= 256).Take(10).ToList();
        return (new LogoutRequestMessage(id, issuer, issued, Attribute(root, "Destination"), Child(root, SamlNames.Assertion, "NameID")?.InnerText.Trim(), indexes), null);
    }

    /// <summary>What every request carries (SAML Core §3.2.1): its ID, version 2.0, when it was issued (now, give or take), who sent it.</summary>
    private static (string? Problem, (string Id, string Issuer, DateTimeOffset IssueInstant)? Values) Header(XmlElement root, string name, DateTimeOffset now)
    {
        if (root.LocalName != name || root.NamespaceURI != SamlNames.Protocol)
        {
            return ($"the message is not a SAML 2.0 {name}", null);
        }

        if (Attribute(root, "Version") != "2.0")
        {
            return ("the message is not SAML version 2.0", null);
        }

        if (Attribute(root, "ID") is not { Length: > 0 and <= 256 } id || !IsNcName(id))
        {
            return ("the message has no valid ID", null);
        }

        if (!DateTimeOffset.TryParse(Attribute(root, "IssueInstant"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var issued))
        {
            return ("the message has no valid IssueInstant", null);
        }

        if ((issued - now).Duration() > IssueInstantSkew)
        {
            return ("the message was not issued just now (IssueInstant)", null);
        }

        if (Child(root, SamlNames.Assertion, "Issuer")?.InnerText.Trim() is not { Length: > 0 } issuer)
        {
            return ("the message names no Issuer", null);
        }

        return (null, (id, issuer, issued));
    }

    /// <summary>
    /// What is wrong with an IdP's LogoutResponse to our request <paramref name="requestId"/> (null: nothing), and whether
    /// it says the IdP's session ended (status Success; a partial logout says more than one status).
    /// </summary>
    public static string? LogoutResponseProblem(XmlDocument document, string requestId, string idpEntityId, out bool succeeded)
    {
        succeeded = false;
        var root = document.DocumentElement!;
        if (root.LocalName != "LogoutResponse" || root.NamespaceURI != SamlNames.Protocol || root.GetAttribute("Version") != "2.0")
        {
            return "the message is not a SAML 2.0 LogoutResponse";
        }

        if (root.GetAttribute("InResponseTo") != requestId)
        {
            return "it does not answer our logout request (InResponseTo)";
        }

        if (Child(root, SamlNames.Assertion, "Issuer") is { } issuer && issuer.InnerText.Trim() != idpEntityId)
        {
            return "its Issuer is not the IdP's entity ID";
        }

        var status = Child(root, SamlNames.Protocol, "Status");
        var code = status is null ? null : Child(status, SamlNames.Protocol, "StatusCode");
        succeeded = code?.GetAttribute("Value") == SamlNames.Success && Child(code, SamlNames.Protocol, "StatusCode") is null;
        return null;
    }

    /// <summary>A value from a message as it may be logged: short, one line.</summary>
    public static string ForLog(string? value)
    {
        var text = value ?? string.Empty;
        text = text.Length > 200 ? text[..200] + "…" : text;
        return string.Create(text.Length, text, (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = char.IsControl(source[i]) ? ' ' : source[i];
            }
        });
    }

    public static XmlElement? Child(XmlElement parent, string ns, string localName) =>
        parent.ChildNodes.OfType<XmlElement>().FirstOrDefault(e => e.LocalName == localName && e.NamespaceURI == ns);

    private static string? Attribute(XmlElement element, string name) => element.HasAttribute(name) ? element.GetAttribute(name) : null;

    private static bool IsTrue(string? value) => value is "true" or "1";

    private static bool IsNcName(string value)
    {
        try
        {
            XmlConvert.VerifyNCName(value);
            return true;
        }
        catch (XmlException)
        {
            return false;
        }
    }
}
