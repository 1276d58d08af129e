using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Security.Cryptography.Xml;
using System.Xml;

namespace LumoAuth.Token.Tests.Support;

/// <summary>What a test playing a SAML IdP or SP signs with: a self-signed certificate, and enveloped signatures as IdPs write them.</summary>
public static class SamlTestSigning
{
    public const string Protocol = "urn:oasis:names:tc:SAML:2.0:protocol";
    public const string Assertion = "urn:oasis:names:tc:SAML:2.0:assertion";

    public static X509Certificate2 SelfSigned(RSA key, string subject) =>
        new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));

    /// <summary>Signs <paramref name="element"/> by its ID (RSA-SHA256, exclusive C14N), the signature placed after its Issuer.</summary>
    public static void Sign(XmlElement element, RSA key, X509Certificate2 certificate)
    {
        var signed = new SignedXml(element.OwnerDocument) { SigningKey = key };
        signed.SignedInfo!.CanonicalizationMethod = SignedXml.XmlDsigExcC14NTransformUrl;
        signed.SignedInfo.SignatureMethod = SignedXml.XmlDsigRSASHA256Url;
        var reference = new Reference("#" + element.GetAttribute("ID")) { DigestMethod = SignedXml.XmlDsigSHA256Url };
        reference.AddTransform(new XmlDsigEnvelopedSignatureTransform());
        reference.AddTransform(new XmlDsigExcC14NTransform());
        signed.AddReference(reference);
        var keyInfo = new KeyInfo();
        keyInfo.AddClause(new KeyInfoX509Data(certificate));
        signed.KeyInfo = keyInfo;
        signed.ComputeSignature();
        element.InsertAfter(element.OwnerDocument.ImportNode(signed.GetXml(), true), element.GetElementsByTagName("Issuer", Assertion)[0]!);
    }

    /// <summary>A SAML instant (xs:dateTime in UTC, to the second).</summary>
    public static string Instant(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
}
