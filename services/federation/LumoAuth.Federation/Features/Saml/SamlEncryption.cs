using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Security;
using System.Xml;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>
/// Assertion encryption (XML Encryption 1.1). As IdP, to an SP's certificate: the signed assertion under a fresh
/// AES-256-GCM key (GCM, not the CBC mode XML Encryption 1.0 had, whose padding errors let an attacker decrypt by asking),
/// the key under the SP's RSA key with OAEP. As SP, an outside IdP's encrypted assertion is decrypted with the tenant's
/// SAML keys: AES-GCM always, AES-CBC only inside a response whose signature was checked first (so nobody can probe it
/// with altered ciphertexts), keys carried by RSA-OAEP only (RSA PKCS#1 v1.5 is Bleichenbacher's).
/// </summary>
public static class SamlEncryption
{
    public const string XmlEnc = "http://www.w3.org/2001/04/xmlenc#";
    public const string XmlEnc11 = "http://www.w3.org/2009/xmlenc11#";
    public const string Aes256Gcm = XmlEnc11 + "aes256-gcm";
    public const string RsaOaep = XmlEnc + "rsa-oaep-mgf1p";
    public const string RsaOaep11 = XmlEnc11 + "rsa-oaep";
    public const string Rsa15 = XmlEnc + "rsa-1_5";

    /// <summary>The content ciphers taken, with their key length and whether they are GCM.</summary>
    public static readonly IReadOnlyDictionary<string, (int KeyBytes, bool Gcm)> ContentCiphers = new Dictionary<string, (int, bool)>(StringComparer.Ordinal)
    {
        [XmlEnc11 + "aes128-gcm"] = (16, true),
        [XmlEnc11 + "aes192-gcm"] = (24, true),
        [Aes256Gcm] = (32, true),
        [XmlEnc + "aes128-cbc"] = (16, false),
        [XmlEnc + "aes192-cbc"] = (24, false),
        [XmlEnc + "aes256-cbc"] = (32, false),
    };

    /// <summary>OAEP's digest (and mask generation) hashes by their XML names; SHA-1 is the default the specification gives both.</summary>
    private static readonly Dictionary<string, HashAlgorithmName> Hashes = new(StringComparer.Ordinal)
    {
        ["http://www.w3.org/2000/09/xmldsig#sha1"] = HashAlgorithmName.SHA1,
        [XmlEnc + "sha256"] = HashAlgorithmName.SHA256,
        ["http://www.w3.org/2001/04/xmldsig-more#sha384"] = HashAlgorithmName.SHA384,
        [XmlEnc + "sha512"] = HashAlgorithmName.SHA512,
        [XmlEnc11 + "mgf1sha1"] = HashAlgorithmName.SHA1,
        [XmlEnc11 + "mgf1sha256"] = HashAlgorithmName.SHA256,
        [XmlEnc11 + "mgf1sha384"] = HashAlgorithmName.SHA384,
        [XmlEnc11 + "mgf1sha512"] = HashAlgorithmName.SHA512,
    };

    /// <summary>
    /// Replaces <paramref name="wrapper"/> (a <c>saml:EncryptedAssertion</c>) in its document by the assertion it holds,
    /// decrypted with one of <paramref name="keys"/>; the assertion, or why not. Nothing in the document changes on failure.
    /// </summary>
    public static (XmlElement? Assertion, string? Problem) Decrypt(XmlElement wrapper, IReadOnlyList<SamlKey> keys, bool allowCbc)
    {
        var children = wrapper.ChildNodes.OfType<XmlElement>().ToList();
        if (children.Where(e => Is(e, "EncryptedData")).Take(2).ToList() is not [var data])
        {
            return (null, "the EncryptedAssertion holds no single EncryptedData");
        }

        if (data.HasAttribute("Type") && data.GetAttribute("Type") != XmlEnc + "Element")
        {
            return (null, "the EncryptedData is not an encrypted element");
        }

        var algorithm = SamlMessages.Child(data, XmlEnc, "EncryptionMethod")?.GetAttribute("Algorithm") ?? string.Empty;
        if (!ContentCiphers.TryGetValue(algorithm, out var cipher))
        {
            return (null, $"the assertion is encrypted with {SamlMessages.ForLog(algorithm)}, which is not taken (AES-GCM or AES-CBC)");
        }

        if (!cipher.Gcm && !allowCbc)
        {
            return (null, "an AES-CBC encrypted assertion is taken only inside a signed response: the IdP should sign the response or use AES-GCM");
        }

        // The key: in the EncryptedData's KeyInfo, or beside it in the EncryptedAssertion (SAML Core §2.3.4).
        var keyInfo = SamlMessages.Child(data, SamlNames.XmlDsig, "KeyInfo");
        var encryptedKeys = (keyInfo?.ChildNodes.OfType<XmlElement>() ?? []).Concat(children).Where(e => Is(e, "EncryptedKey")).Take(5).ToList();
        if (encryptedKeys.Count is 0 or > 4)
        {
            return (null, "the EncryptedAssertion carries no key (EncryptedKey), or too many");
        }

        byte[]? key = null;
        string? problem = null;
        foreach (var encryptedKey in encryptedKeys)
        {
            (key, problem) = Unwrap(encryptedKey, keys);
            if (key is not null)
            {
                break;
            }
        }

        if (key is null)
        {
            return (null, problem);
        }

        try
        {
            if (key.Length != cipher.KeyBytes || CipherValue(data) is not { } content
                || (cipher.Gcm ? DecryptGcm(key, content) : DecryptCbc(key, content)) is not { } plain)
            {
                return (null, "the assertion does not decrypt");
            }

            return Replace(wrapper, plain);
        }
        catch (Exception exception) when (exception is XmlException or ArgumentException or InvalidOperationException or CryptographicException)
        {
            return (null, "the decrypted content cannot be read as XML");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>The content key, unwrapped with whichever of the tenant's keys it was wrapped for.</summary>
    private static (byte[]? Key, string? Problem) Unwrap(XmlElement encryptedKey, IReadOnlyList<SamlKey> keys)
    {
        var method = SamlMessages.Child(encryptedKey, XmlEnc, "EncryptionMethod");
        var algorithm = method?.GetAttribute("Algorithm") ?? string.Empty;
        if (algorithm == Rsa15)
        {
            return (null, "the key is wrapped with RSA PKCS#1 v1.5, which is refused: the IdP should use RSA-OAEP");
        }

        if (method is null || algorithm is not (RsaOaep or RsaOaep11))
        {
            return (null, $"the key is wrapped with {SamlMessages.ForLog(algorithm)}, which is not taken (RSA-OAEP)");
        }

        // rsa-oaep-mgf1p fixes MGF1 with SHA-1; XML Encryption 1.1's rsa-oaep names it. .NET's OAEP uses one hash for both.
        var digest = Hash(SamlMessages.Child(method, SamlNames.XmlDsig, "DigestMethod")?.GetAttribute("Algorithm"));
        var mask = algorithm == RsaOaep ? HashAlgorithmName.SHA1 : Hash(SamlMessages.Child(method, XmlEnc11, "MGF")?.GetAttribute("Algorithm"));
        if (digest is null || mask is null || digest != mask || SamlMessages.Child(method, XmlEnc, "OAEPparams") is not null)
        {
            return (null, "the key's RSA-OAEP parameters are not taken (the digest and MGF1 must use the same hash, with no OAEPparams)");
        }

        if (CipherValue(encryptedKey) is not { } wrapped)
        {
            return (null, "the EncryptedKey has no cipher value");
        }

        foreach (var candidate in keys)
        {
            using var rsa = candidate.PrivateKey();
            try
            {
                return (rsa.Decrypt(wrapped, RSAEncryptionPadding.CreateOaep(digest.Value)), null);
            }
            catch (CryptographicException)
            {
                // Wrapped for another of the tenant's keys, or for none.
            }
        }

        return (null, "the key was not wrapped for any of the tenant's SAML keys");
    }

    private static HashAlgorithmName? Hash(string? name) =>
        string.IsNullOrEmpty(name) ? HashAlgorithmName.SHA1 : Hashes.TryGetValue(name, out var hash) ? hash : null;

    private static byte[]? CipherValue(XmlElement parent)
    {
        var value = SamlMessages.Child(parent, XmlEnc, "CipherData") is { } cipherData ? SamlMessages.Child(cipherData, XmlEnc, "CipherValue") : null;
        try
        {
            return value is null ? null : Convert.FromBase64String(value.InnerText.Trim());
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>XML Encryption 1.1 §5.2.4: a 12-byte nonce, the ciphertext, a 16-byte tag.</summary>
    private static byte[]? DecryptGcm(byte[] key, byte[] content)
    {
        const int nonceBytes = 12, tagBytes = 16;
        if (content.Length < nonceBytes + tagBytes)
        {
            return null;
        }

        var plain = new byte[content.Length - nonceBytes - tagBytes];
        using var aes = new AesGcm(key, tagBytes);
        try
        {
            aes.Decrypt(content.AsSpan(0, nonceBytes), content.AsSpan(nonceBytes, plain.Length), content.AsSpan(content.Length - tagBytes), plain);
            return plain;
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
    }

    /// <summary>XML Encryption 1.0 §5.2: a 16-byte IV, then blocks whose last byte counts the padding (its other bytes are arbitrary).</summary>
    private static byte[]? DecryptCbc(byte[] key, byte[] content)
    {
        const int block = 16;
        if (content.Length < 2 * block || content.Length % block != 0)
        {
            return null;
        }

        using var aes = Aes.Create();
        aes.Key = key;
        var padded = aes.DecryptCbc(content.AsSpan(block), content.AsSpan(0, block), PaddingMode.None);
        var padding = padded[^1];
        return padding is >= 1 and <= block ? padded[..^padding] : null;
    }

    /// <summary>
    /// Reads the decrypted element in its place's namespace context (the IdP may have relied on the response's
    /// declarations), as safely as any message, and puts it where the EncryptedAssertion was.
    /// </summary>
    private static (XmlElement?, string?) Replace(XmlElement wrapper, byte[] plain)
    {
        var text = Encoding.UTF8.GetString(plain).TrimStart('\uFEFF');
        if (text.StartsWith("<?xml", StringComparison.Ordinal) && text.IndexOf("?>", StringComparison.Ordinal) is > 0 and var end)
        {
            text = text[(end + 2)..];
        }

        // The declarations in scope where the wrapper stood, nearest first.
        var inScope = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var node = wrapper as XmlNode; node is XmlElement element; node = node.ParentNode)
        {
            foreach (var attribute in element.Attributes.OfType<XmlAttribute>().Where(a => a.NamespaceURI == XmlnsNamespace))
            {
                inScope.TryAdd(attribute.Prefix == "xmlns" ? attribute.LocalName : string.Empty, attribute.Value);
            }
        }

        var declarations = string.Concat(inScope.Select(d => $" {(d.Key.Length == 0 ? "xmlns" : "xmlns:" + d.Key)}=\"{SecurityElement.Escape(d.Value)}\""));

        var holder = SamlMessages.Load(Encoding.UTF8.GetBytes($"<lumo-decrypted{declarations}>{text}</lumo-decrypted>"))?.DocumentElement;
        if (holder is null || holder.ChildNodes.OfType<XmlNode>().Any(n => n is not XmlElement and not XmlWhitespace and not XmlSignificantWhitespace)
            || holder.ChildNodes.OfType<XmlElement>().ToList() is not [var decrypted]
            || decrypted.LocalName != "Assertion" || decrypted.NamespaceURI != SamlNames.Assertion)
        {
            return (null, "the decrypted content is not one well-formed SAML assertion");
        }

        var assertion = (XmlElement)wrapper.OwnerDocument.ImportNode(decrypted, deep: true);
        // Declared on the assertion itself, the context stays when the wrapper (which may have held some) is gone: the
        // canonical form its signature covers is read from these declarations.
        foreach (var (prefix, uri) in inScope)
        {
            var name = prefix.Length == 0 ? "xmlns" : "xmlns:" + prefix;
            if (!assertion.HasAttribute(name))
            {
                var declaration = wrapper.OwnerDocument.CreateAttribute(name, XmlnsNamespace);
                declaration.Value = uri;
                assertion.SetAttributeNode(declaration);
            }
        }

        wrapper.ParentNode!.ReplaceChild(assertion, wrapper);
        return (assertion, null);
    }

    private const string XmlnsNamespace = "http://www.w3.org/2000/xmlns/";

    private static bool Is(XmlElement element, string localName) => element.LocalName == localName && element.NamespaceURI == XmlEnc;

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
