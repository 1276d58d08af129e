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

    public const string XmlEnc = "http://www.w3.org/2001/04/xmlenc#";

    /// <summary>How a test IdP encrypts an assertion: the content cipher, the key transport, and where the wrapped key sits.</summary>
    public sealed record Encryption(string Cipher = "gcm", string KeyTransport = "rsa-oaep-mgf1p", bool KeyBesideData = false);

    /// <summary>
    /// Replaces <paramref name="assertion"/> by a <c>saml:EncryptedAssertion</c> for <paramref name="spCertificate"/>, as
    /// IdPs write them (XML Encryption: AES-GCM or AES-CBC content, RSA key transport), the serialised assertion relying on
    /// the response's namespace declarations.
    /// </summary>
    public static XmlElement Encrypt(XmlElement assertion, X509Certificate2 spCertificate, Encryption how)
    {
        var document = assertion.OwnerDocument;
        var plain = System.Text.Encoding.UTF8.GetBytes(assertion.OuterXml);
        var key = RandomNumberGenerator.GetBytes(how.Cipher.EndsWith("128", StringComparison.Ordinal) ? 16 : 32);
        string algorithm;
        byte[] content;
        if (how.Cipher.StartsWith("gcm", StringComparison.Ordinal))
        {
            algorithm = $"http://www.w3.org/2009/xmlenc11#aes{key.Length * 8}-gcm";
            var nonce = RandomNumberGenerator.GetBytes(12);
            var cipher = new byte[plain.Length];
            var tag = new byte[16];
            using var gcm = new AesGcm(key, 16);
            gcm.Encrypt(nonce, plain, cipher, tag);
            content = [.. nonce, .. cipher, .. tag];
        }
        else
        {
            algorithm = $"{XmlEnc}aes{key.Length * 8}-cbc";
            using var aes = Aes.Create();
            aes.Key = key;
            var iv = RandomNumberGenerator.GetBytes(16);
            content = [.. iv, .. aes.EncryptCbc(plain, iv, PaddingMode.PKCS7)];
        }

        using var rsa = spCertificate.GetRSAPublicKey()!;
        var (transport, padding) = how.KeyTransport switch
        {
            "rsa-1_5" => (XmlEnc + "rsa-1_5", RSAEncryptionPadding.Pkcs1),
            "rsa-oaep-sha256" => ("http://www.w3.org/2009/xmlenc11#rsa-oaep", RSAEncryptionPadding.OaepSHA256),
            _ => (XmlEnc + "rsa-oaep-mgf1p", RSAEncryptionPadding.OaepSHA1),
        };
        var wrapped = rsa.Encrypt(key, padding);

        var wrapper = document.CreateElement("saml", "EncryptedAssertion", Assertion);
        var data = (XmlElement)wrapper.AppendChild(document.CreateElement("xenc", "EncryptedData", XmlEnc))!;
        data.SetAttribute("Type", XmlEnc + "Element");
        ((XmlElement)data.AppendChild(document.CreateElement("xenc", "EncryptionMethod", XmlEnc))!).SetAttribute("Algorithm", algorithm);
        var keyInfo = (XmlElement)data.AppendChild(document.CreateElement("ds", "KeyInfo", SignedXml.XmlDsigNamespaceUrl))!;
        var encryptedKey = document.CreateElement("xenc", "EncryptedKey", XmlEnc);
        var keyMethod = (XmlElement)encryptedKey.AppendChild(document.CreateElement("xenc", "EncryptionMethod", XmlEnc))!;
        keyMethod.SetAttribute("Algorithm", transport);
        if (how.KeyTransport == "rsa-oaep-sha256")
        {
            ((XmlElement)keyMethod.AppendChild(document.CreateElement("ds", "DigestMethod", SignedXml.XmlDsigNamespaceUrl))!).SetAttribute("Algorithm", XmlEnc + "sha256");
            ((XmlElement)keyMethod.AppendChild(document.CreateElement("xenc11", "MGF", "http://www.w3.org/2009/xmlenc11#"))!).SetAttribute("Algorithm", "http://www.w3.org/2009/xmlenc11#mgf1sha256");
        }

        var keyData = encryptedKey.AppendChild(document.CreateElement("xenc", "CipherData", XmlEnc))!;
        keyData.AppendChild(document.CreateElement("xenc", "CipherValue", XmlEnc))!.InnerText = Convert.ToBase64String(wrapped);
        if (how.KeyBesideData)
        {
            // SAML Core §2.3.4 lets the key sit beside the data, the KeyInfo pointing to it.
            keyInfo.AppendChild(document.CreateElement("ds", "RetrievalMethod", SignedXml.XmlDsigNamespaceUrl));
            wrapper.AppendChild(encryptedKey);
        }
        else
        {
            keyInfo.AppendChild(encryptedKey);
        }

        var cipherData = data.AppendChild(document.CreateElement("xenc", "CipherData", XmlEnc))!;
        cipherData.AppendChild(document.CreateElement("xenc", "CipherValue", XmlEnc))!.InnerText = Convert.ToBase64String(content);
        assertion.ParentNode!.ReplaceChild(wrapper, assertion);
        return wrapper;
    }

    /// <summary>The certificate a tenant's SP metadata offers for encryption (what an IdP encrypts assertions for).</summary>
    public static async Task<X509Certificate2> SpEncryptionCertificateAsync(HttpClient browser, string tenantSlug)
    {
        var metadata = new XmlDocument();
        metadata.LoadXml(await browser.GetStringAsync($"/t/{tenantSlug}/saml/sp/metadata"));
        var names = new XmlNamespaceManager(metadata.NameTable);
        names.AddNamespace("md", "urn:oasis:names:tc:SAML:2.0:metadata");
        names.AddNamespace("ds", SignedXml.XmlDsigNamespaceUrl);
        Assert.NotNull(metadata.SelectSingleNode("//md:KeyDescriptor[@use='encryption']/md:EncryptionMethod[@Algorithm='http://www.w3.org/2009/xmlenc11#aes256-gcm']", names));
        return X509CertificateLoader.LoadCertificate(Convert.FromBase64String(
            metadata.SelectSingleNode("//md:KeyDescriptor[@use='encryption']/ds:KeyInfo/ds:X509Data/ds:X509Certificate", names)!.InnerText));
    }

    /// <summary>A SAML instant (xs:dateTime in UTC, to the second).</summary>
    public static string Instant(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
}
