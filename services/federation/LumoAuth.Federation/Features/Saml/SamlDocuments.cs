using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Xml;
using LumoAuth.Contracts.Internal;
using LumoAuth.Federation.Data;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>Who signed in and how, for the assertion: the user's profile, and the session the browser holds at the token service.</summary>
public sealed record SamlSubject(UserProfile User, BrowserSessionInfo Session);

/// <summary>The documents this IdP writes: its metadata, responses with assertions (signed as the SP is set up), logout responses.</summary>
public static class SamlDocuments
{
    /// <summary>How long an assertion may be used: long enough for the browser's post, short enough that a copy soon goes stale.</summary>
    public static readonly TimeSpan AssertionLifetime = TimeSpan.FromMinutes(5);

    /// <summary>How far back <c>NotBefore</c> reaches, for SPs whose clock is a little behind ours.</summary>
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);

    public static string Metadata(string entityId, string ssoUrl, string sloUrl, string soapSloUrl, SamlKeySet keys)
    {
        var document = new XmlDocument();
        var root = Add(document, document, SamlNames.Metadata, "md:EntityDescriptor");
        root.SetAttribute("entityID", entityId);
        var idp = Add(document, root, SamlNames.Metadata, "md:IDPSSODescriptor");
        idp.SetAttribute("WantAuthnRequestsSigned", "false");
        idp.SetAttribute("protocolSupportEnumeration", SamlNames.Protocol);
        AddSigningKeys(document, idp, keys);
        foreach (var (binding, location) in new[] { (SamlNames.RedirectBinding, sloUrl), (SamlNames.PostBinding, sloUrl), (SamlNames.SoapBinding, soapSloUrl) })
        {
            var slo = Add(document, idp, SamlNames.Metadata, "md:SingleLogoutService");
            slo.SetAttribute("Binding", binding);
            slo.SetAttribute("Location", location);
        }

        foreach (var format in SamlNames.NameIdFormats.Values)
        {
            Add(document, idp, SamlNames.Metadata, "md:NameIDFormat").InnerText = format;
        }

        foreach (var binding in new[] { SamlNames.RedirectBinding, SamlNames.PostBinding })
        {
            var sso = Add(document, idp, SamlNames.Metadata, "md:SingleSignOnService");
            sso.SetAttribute("Binding", binding);
            sso.SetAttribute("Location", ssoUrl);
        }

        return Encoding.UTF8.GetString(Serialize(document));
    }

    /// <summary>
    /// A successful response to <paramref name="inResponseTo"/> (null for an unsolicited one): one assertion about the
    /// subject for this SP alone, signed as the SP is set up. The base64 the browser posts.
    /// </summary>
    public static string SignIn(
        string idpEntityId, SamlServiceProvider sp, string? inResponseTo, string nameIdFormat, SamlSubject subject, SamlKey key, DateTimeOffset now,
        string? nameIdValue = null)
    {
        var (document, response) = NewResponse(idpEntityId, sp.AcsUrl, inResponseTo, SamlNames.Success, null, now);
        var assertionId = NewId();
        var assertion = Add(document, response, SamlNames.Assertion, "saml:Assertion");
        // Its own declarations: an SP may take the assertion out of the response (attribute values name xs:string), and
        // an encrypted assertion is read on its own once decrypted.
        assertion.SetAttribute("xmlns:saml", SamlNames.Assertion);
        assertion.SetAttribute("xmlns:xs", SamlNames.XmlSchema);
        assertion.SetAttribute("xmlns:xsi", SamlNames.XmlSchemaInstance);
        assertion.SetAttribute("ID", assertionId);
        assertion.SetAttribute("Version", "2.0");
        assertion.SetAttribute("IssueInstant", Instant(now));
        Add(document, assertion, SamlNames.Assertion, "saml:Issuer").InnerText = idpEntityId;

        var subjectElement = Add(document, assertion, SamlNames.Assertion, "saml:Subject");
        var nameId = Add(document, subjectElement, SamlNames.Assertion, "saml:NameID");
        nameId.SetAttribute("Format", SamlNames.NameIdFormats[nameIdFormat]);
        nameId.InnerText = XmlText(nameIdValue ?? NameIdOf(nameIdFormat, sp, subject.User));
        var confirmation = Add(document, subjectElement, SamlNames.Assertion, "saml:SubjectConfirmation");
        confirmation.SetAttribute("Method", SamlNames.BearerConfirmation);
        var confirmationData = Add(document, confirmation, SamlNames.Assertion, "saml:SubjectConfirmationData");
        if (inResponseTo is not null)
        {
            confirmationData.SetAttribute("InResponseTo", inResponseTo);
        }

        confirmationData.SetAttribute("NotOnOrAfter", Instant(now + AssertionLifetime));
        confirmationData.SetAttribute("Recipient", sp.AcsUrl);

        var conditions = Add(document, assertion, SamlNames.Assertion, "saml:Conditions");
        conditions.SetAttribute("NotBefore", Instant(now - ClockSkew));
        conditions.SetAttribute("NotOnOrAfter", Instant(now + AssertionLifetime));
        Add(document, Add(document, conditions, SamlNames.Assertion, "saml:AudienceRestriction"), SamlNames.Assertion, "saml:Audience").InnerText = sp.EntityId;

        var authn = Add(document, assertion, SamlNames.Assertion, "saml:AuthnStatement");
        authn.SetAttribute("AuthnInstant", Instant(subject.Session.AuthTime));
        authn.SetAttribute("SessionIndex", SessionIndex(subject.Session.SessionId));
        Add(document, Add(document, authn, SamlNames.Assertion, "saml:AuthnContext"), SamlNames.Assertion, "saml:AuthnContextClassRef").InnerText =
            subject.Session.AuthMethod == "password" ? SamlNames.PasswordProtectedTransport : SamlNames.UnspecifiedAuthnContext;

        var attributes = SamlAttributes.Of(sp, subject.User);
        if (attributes.Count > 0)
        {
            var statement = Add(document, assertion, SamlNames.Assertion, "saml:AttributeStatement");
            foreach (var (name, values) in attributes)
            {
                var attribute = Add(document, statement, SamlNames.Assertion, "saml:Attribute");
                attribute.SetAttribute("Name", name);
                attribute.SetAttribute("NameFormat", SamlNames.BasicAttributeFormat);
                foreach (var value in values)
                {
                    var element = Add(document, attribute, SamlNames.Assertion, "saml:AttributeValue");
                    element.SetAttribute("type", SamlNames.XmlSchemaInstance, "xs:string");
                    element.InnerText = XmlText(value);
                }
            }
        }

        // The assertion first (then encrypted, when the SP asks): the response's signature covers what the SP receives.
        if (sp.SignAssertion)
        {
            SamlSignatures.Sign(assertion, assertionId, key);
        }

        if (sp.EncryptAssertions && sp.Certificate is not null)
        {
            using var spCertificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(sp.Certificate);
            response.ReplaceChild(SamlEncryption.Encrypt(assertion, spCertificate), assertion);
        }

        if (sp.SignResponse)
        {
            SamlSignatures.Sign(response, response.GetAttribute("ID"), key);
        }

        return Convert.ToBase64String(Serialize(document));
    }

    /// <summary>A response that refuses the request (SAML Core §3.2.2.2: a top-level status and, optionally, a second-level one), signed.</summary>
    public static string Refusal(string idpEntityId, string acsUrl, string? inResponseTo, string topStatus, string? detailStatus, SamlKey key, DateTimeOffset now)
    {
        var (document, response) = NewResponse(idpEntityId, acsUrl, inResponseTo, topStatus, detailStatus, now);
        SamlSignatures.Sign(response, response.GetAttribute("ID"), key);
        return Convert.ToBase64String(Serialize(document));
    }

    /// <summary>A LogoutResponse, DEFLATE-compressed and base64-encoded for the HTTP-Redirect binding (signed in the query).</summary>
    public static string LogoutResponse(string issuer, string destination, string inResponseTo, string status, DateTimeOffset now) =>
        Deflated(LogoutResponseDocument(issuer, destination, inResponseTo, status, now));

    /// <summary>The same LogoutResponse as a document, for a binding that carries it whole (SOAP: no Destination) and signs it in place.</summary>
    public static XmlDocument LogoutResponseDocument(string issuer, string? destination, string inResponseTo, string status, DateTimeOffset now)
    {
        var (document, response) = NewMessage("samlp:LogoutResponse", NewId(), destination, now);
        response.SetAttribute("InResponseTo", inResponseTo);
        Add(document, response, SamlNames.Assertion, "saml:Issuer").InnerText = issuer;
        Add(document, Add(document, response, SamlNames.Protocol, "samlp:Status"), SamlNames.Protocol, "samlp:StatusCode").SetAttribute("Value", status);
        return document;
    }

    /// <summary>
    /// Our LogoutRequest (SAML Core §3.7.1) — to an outside IdP (SP mode: the person's NameID as the IdP gave it and the
    /// IdP's session index) or to an app (IdP mode: the NameID its assertion gave and our session's index) —
    /// DEFLATE-compressed and base64-encoded for the HTTP-Redirect binding.
    /// </summary>
    public static string LogoutRequest(string id, string issuer, string destination, string nameId, string? nameIdFormat, string? sessionIndex, DateTimeOffset now) =>
        Deflated(LogoutRequestDocument(id, issuer, destination, nameId, nameIdFormat, sessionIndex, now));

    /// <summary>The same LogoutRequest as a document, for a binding that carries it whole (SOAP) and signs it in place.</summary>
    public static XmlDocument LogoutRequestDocument(string id, string issuer, string destination, string nameId, string? nameIdFormat, string? sessionIndex, DateTimeOffset now)
    {
        var (document, request) = NewMessage("samlp:LogoutRequest", id, destination, now);
        request.SetAttribute("NotOnOrAfter", Instant(now + SamlMessages.IssueInstantSkew));
        Add(document, request, SamlNames.Assertion, "saml:Issuer").InnerText = issuer;
        var name = Add(document, request, SamlNames.Assertion, "saml:NameID");
        if (nameIdFormat is not null)
        {
            name.SetAttribute("Format", nameIdFormat);
        }

        name.InnerText = nameId;
        if (sessionIndex is not null)
        {
            Add(document, request, SamlNames.Protocol, "samlp:SessionIndex").InnerText = sessionIndex;
        }

        return document;
    }

    /// <summary>Our request to an outside IdP (SP mode), DEFLATE-compressed and base64-encoded for the HTTP-Redirect binding.</summary>
    public static string AuthnRequest(string id, string spEntityId, string acsUrl, string destination, string nameIdFormat, DateTimeOffset now)
    {
        var (document, request) = NewMessage("samlp:AuthnRequest", id, destination, now);
        request.SetAttribute("AssertionConsumerServiceURL", acsUrl);
        request.SetAttribute("ProtocolBinding", SamlNames.PostBinding);
        Add(document, request, SamlNames.Assertion, "saml:Issuer").InnerText = spEntityId;
        var policy = Add(document, request, SamlNames.Protocol, "samlp:NameIDPolicy");
        policy.SetAttribute("Format", SamlNames.NameIdFormats[nameIdFormat]);
        policy.SetAttribute("AllowCreate", "true");
        return Deflated(document);
    }

    /// <summary>The tenant as SAML SP: where responses and logout messages come, and the key its requests are signed with.</summary>
    /// <param name="acsUrls">The ACS endpoints, the default first (index 0), then one per custom domain.</param>
    public static string SpMetadata(string entityId, IReadOnlyList<string> acsUrls, string sloUrl, string soapSloUrl, SamlKeySet keys)
    {
        var document = new XmlDocument();
        var root = Add(document, document, SamlNames.Metadata, "md:EntityDescriptor");
        root.SetAttribute("entityID", entityId);
        var sp = Add(document, root, SamlNames.Metadata, "md:SPSSODescriptor");
        sp.SetAttribute("AuthnRequestsSigned", "false");
        sp.SetAttribute("WantAssertionsSigned", "true");
        sp.SetAttribute("protocolSupportEnumeration", SamlNames.Protocol);
        AddSigningKeys(document, sp, keys);
        // The key IdPs encrypt assertions for, and the ciphers we prefer (AES-CBC is taken too, inside signed responses).
        var encryption = Add(document, sp, SamlNames.Metadata, "md:KeyDescriptor");
        encryption.SetAttribute("use", "encryption");
        var encryptionKeyInfo = Add(document, encryption, SamlNames.XmlDsig, "ds:KeyInfo");
        Add(document, Add(document, encryptionKeyInfo, SamlNames.XmlDsig, "ds:X509Data"), SamlNames.XmlDsig, "ds:X509Certificate").InnerText =
            Convert.ToBase64String(keys.Current.Certificate.RawData);
        foreach (var algorithm in new[] { SamlEncryption.Aes256Gcm, SamlEncryption.XmlEnc11 + "aes128-gcm", SamlEncryption.RsaOaep, SamlEncryption.RsaOaep11 })
        {
            Add(document, encryption, SamlNames.Metadata, "md:EncryptionMethod").SetAttribute("Algorithm", algorithm);
        }

        var slo = Add(document, sp, SamlNames.Metadata, "md:SingleLogoutService");
        slo.SetAttribute("Binding", SamlNames.RedirectBinding);
        slo.SetAttribute("Location", sloUrl);
        var soap = Add(document, sp, SamlNames.Metadata, "md:SingleLogoutService");
        soap.SetAttribute("Binding", SamlNames.SoapBinding);
        soap.SetAttribute("Location", soapSloUrl);
        foreach (var format in new[] { "emailAddress", "persistent" })
        {
            Add(document, sp, SamlNames.Metadata, "md:NameIDFormat").InnerText = SamlNames.NameIdFormats[format];
        }

        for (var index = 0; index < acsUrls.Count; index++)
        {
            var acs = Add(document, sp, SamlNames.Metadata, "md:AssertionConsumerService");
            acs.SetAttribute("Binding", SamlNames.PostBinding);
            acs.SetAttribute("Location", acsUrls[index]);
            acs.SetAttribute("index", index.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (index == 0)
            {
                acs.SetAttribute("isDefault", "true");
            }
        }

        return Encoding.UTF8.GetString(Serialize(document));
    }

    /// <summary>
    /// The metadata's signing certificates, one KeyDescriptor each: the current one first (partners that take one take
    /// that), then a next and a previous one around a rotation.
    /// </summary>
    private static void AddSigningKeys(XmlDocument document, XmlElement descriptor, SamlKeySet keys)
    {
        foreach (var certificate in keys.Published)
        {
            var keyDescriptor = Add(document, descriptor, SamlNames.Metadata, "md:KeyDescriptor");
            keyDescriptor.SetAttribute("use", "signing");
            var keyInfo = Add(document, keyDescriptor, SamlNames.XmlDsig, "ds:KeyInfo");
            Add(document, Add(document, keyInfo, SamlNames.XmlDsig, "ds:X509Data"), SamlNames.XmlDsig, "ds:X509Certificate").InnerText =
                Convert.ToBase64String(certificate.RawData);
        }
    }

    private static string Deflated(XmlDocument document)
    {
        using var compressed = new MemoryStream();
        using (var deflate = new DeflateStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            deflate.Write(Serialize(document));
        }

        return Convert.ToBase64String(compressed.ToArray());
    }

    /// <summary>The session's index in assertions and logout requests: derived from the session, never the session's own id.</summary>
    public static string SessionIndex(string sessionId) =>
        "_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("lumoauth-saml-session|" + sessionId)))[..32];

    /// <summary>The NameID of the user at this SP in this format (a new one each time for <c>transient</c>).</summary>
    public static string NameIdOf(string format, SamlServiceProvider sp, UserProfile user) => format switch
    {
        // Pairwise and stable: the same person is another name at every SP, and stays theirs across address changes.
        "persistent" => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"lumoauth-saml-persistent|{sp.TenantId:N}|{sp.EntityId}|{user.Id:N}")))[..40],
        "transient" => NewId(),
        _ => user.Email,
    };

    private static (XmlDocument Document, XmlElement Response) NewResponse(
        string idpEntityId, string destination, string? inResponseTo, string topStatus, string? detailStatus, DateTimeOffset now)
    {
        var document = new XmlDocument();
        var response = Add(document, document, SamlNames.Protocol, "samlp:Response");
        response.SetAttribute("xmlns:saml", SamlNames.Assertion);
        response.SetAttribute("xmlns:xs", SamlNames.XmlSchema);
        response.SetAttribute("xmlns:xsi", SamlNames.XmlSchemaInstance);
        response.SetAttribute("ID", NewId());
        response.SetAttribute("Version", "2.0");
        response.SetAttribute("IssueInstant", Instant(now));
        response.SetAttribute("Destination", destination);
        if (inResponseTo is not null)
        {
            response.SetAttribute("InResponseTo", inResponseTo);
        }

        Add(document, response, SamlNames.Assertion, "saml:Issuer").InnerText = idpEntityId;
        var code = Add(document, Add(document, response, SamlNames.Protocol, "samlp:Status"), SamlNames.Protocol, "samlp:StatusCode");
        code.SetAttribute("Value", topStatus);
        if (detailStatus is not null)
        {
            Add(document, code, SamlNames.Protocol, "samlp:StatusCode").SetAttribute("Value", detailStatus);
        }

        return (document, response);
    }

    /// <summary>
    /// A user's value as XML can carry it: characters XML 1.0 has no place for (control characters a profile may hold)
    /// are left out rather than fail the sign-in.
    /// </summary>
    private static string XmlText(string value)
    {
        var builder = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (XmlConvert.IsXmlChar(value[i]))
            {
                builder.Append(value[i]);
            }
            else if (i + 1 < value.Length && XmlConvert.IsXmlSurrogatePair(value[i + 1], value[i]))
            {
                builder.Append(value[i]).Append(value[i + 1]);
                i++;
            }
        }

        return builder.ToString();
    }

    /// <summary>A protocol message's document and root, with what every request and response carries (SAML Core §3.2.1, §3.2.2).</summary>
    private static (XmlDocument Document, XmlElement Root) NewMessage(string qualifiedName, string id, string? destination, DateTimeOffset now)
    {
        var document = new XmlDocument();
        var root = Add(document, document, SamlNames.Protocol, qualifiedName);
        root.SetAttribute("ID", id);
        root.SetAttribute("Version", "2.0");
        root.SetAttribute("IssueInstant", Instant(now));
        if (destination is not null)
        {
            root.SetAttribute("Destination", destination);
        }

        return (document, root);
    }

    /// <summary>An ID (an NCName: it must not start with a digit) nobody can guess.</summary>
    public static string NewId() => "_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));

    private static string Instant(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    private static XmlElement Add(XmlDocument document, XmlNode parent, string ns, string qualifiedName) =>
        (XmlElement)parent.AppendChild(document.CreateElement(qualifiedName, ns))!;

    /// <summary>UTF-8 without a byte order mark, as sent.</summary>
    private static byte[] Serialize(XmlDocument document)
    {
        using var buffer = new MemoryStream();
        using (var writer = XmlWriter.Create(buffer, new XmlWriterSettings { Encoding = new UTF8Encoding(false), Indent = false }))
        {
            document.Save(writer);
        }

        return buffer.ToArray();
    }
}
