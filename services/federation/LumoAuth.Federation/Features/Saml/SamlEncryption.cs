using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Xml;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>
/// Assertion encryption to an SP's certificate (XML Encryption 1.1): the signed assertion under a fresh AES-256-GCM key
/// (GCM, not the CBC mode XML Encryption 1.0 had, whose padding errors let an attacker decrypt by asking), the key under
/// the SP's RSA key with OAEP.
/// </summary>
public static class SamlEncryption
{
    public const string XmlEnc = "http://www.w3.org/2001/04/xmlenc#";
    public const string Aes256Gcm = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
    public const string RsaOaep = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";

    /// <summary>The <c>saml:EncryptedAssertion</c> that replaces <paramref name="assertion"/>.</summary>
    public static XmlElement Encrypt(XmlElement assertion, X509Certificate2 spCertificate)
    {
        var document = assertion.OwnerDocument;
        var key = RandomNumberGenerator.GetBytes(32);
        var nonce = RandomNumberGenerator.GetBytes(AesGcm.NonceByteSizes.MaxSize);
        var plain = Encoding.UTF8.GetBytes(assertion.OuterXml);
        var cipher = new byte[plain.Length];
        var tag = new byte[AesGcm.TagByteSizes.MaxSize];
        using (var aes = new AesGcm(key, tag.Length))
        {
            aes.Encrypt(nonce, plain, cipher, tag);
        }

        using var rsa = spCertificate.GetRSAPublicKey() ?? throw new CryptographicException("The SP's certificate has no RSA key.");
        var wrappedKey = rsa.Encrypt(key, RSAEncryptionPadding.OaepSHA1);
        CryptographicOperations.ZeroMemory(key);

        var wrapper = document.CreateElement("saml", "EncryptedAssertion", SamlNames.Assertion);
        var data = Add(wrapper, "xenc:EncryptedData");
        data.SetAttribute("Type", XmlEnc + "Element");
        Add(data, "xenc:EncryptionMethod").SetAttribute("Algorithm", Aes256Gcm);
        var keyInfo = (XmlElement)data.AppendChild(document.CreateElement("ds", "KeyInfo", SamlNames.XmlDsig))!;
        var encryptedKey = (XmlElement)keyInfo.AppendChild(document.CreateElement("xenc", "EncryptedKey", XmlEnc))!;
        Add(encryptedKey, "xenc:EncryptionMethod").SetAttribute("Algorithm", RsaOaep);
        Add(Add(encryptedKey, "xenc:CipherData"), "xenc:CipherValue").InnerText = Convert.ToBase64String(wrappedKey);
        // XML Encryption 1.1 §5.2.4: the nonce, the ciphertext, then the tag.
        Add(Add(data, "xenc:CipherData"), "xenc:CipherValue").InnerText = Convert.ToBase64String([.. nonce, .. cipher, .. tag]);
        return wrapper;
    }

    private static XmlElement Add(XmlElement parent, string qualifiedName) =>
        (XmlElement)parent.AppendChild(parent.OwnerDocument.CreateElement(qualifiedName, XmlEnc))!;
}
