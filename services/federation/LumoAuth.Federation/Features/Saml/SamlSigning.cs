using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Security.Cryptography.Xml;
using System.Text;
using System.Xml;
using LumoAuth.Contracts;
using LumoAuth.Federation.Data;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>The tenant's signing certificate and a way to use its private key (made for each use: a key object is not shared between threads).</summary>
public sealed class SamlKey(X509Certificate2 certificate, byte[] pkcs8)
{
    public X509Certificate2 Certificate { get; } = certificate;

    public RSA PrivateKey()
    {
        var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(pkcs8, out _);
        return rsa;
    }
}

/// <summary>The statuses of a tenant's SAML keys (<see cref="SamlSigningKey.Status"/>).</summary>
public static class SamlKeyStatus
{
    /// <summary>Signs everything the tenant sends.</summary>
    public const string Current = "current";

    /// <summary>Made ahead of a rotation: published, not yet signing.</summary>
    public const string Next = "next";

    /// <summary>The key the last rotation replaced: still published, no longer signing.</summary>
    public const string Previous = "previous";
}

/// <summary>The key that signs, and every certificate the metadata publishes (current first, then next and previous).</summary>
public sealed record SamlKeySet(SamlKey Current, IReadOnlyList<X509Certificate2> Published)
{
    /// <summary>
    /// Every key an IdP may have encrypted an assertion for: the current one (the metadata's encryption key), then the
    /// next and the previous (an IdP that read the metadata around a rotation).
    /// </summary>
    public IReadOnlyList<SamlKey> Decrypting { get; init; } = [Current];
}

/// <summary>
/// The tenant's SAML signing keys: the current one made on first use (RSA 2048, self-signed for three years, as the docs
/// describe), kept encrypted, cached for a few minutes (a rotation is seen by every replica within that time, which is
/// why the replaced key stays published).
/// </summary>
public sealed class SamlSigningKeys(IDataProtectionProvider dataProtection, IMemoryCache cache, TimeProvider time)
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(10);
    private readonly IDataProtector _protector = dataProtection.CreateProtector("LumoAuth.Federation.SamlSigningKey.v1");

    public async Task<SamlKey> CurrentAsync(FederationDbContext db, Guid tenantId, string slug, CancellationToken cancellationToken) =>
        (await KeysAsync(db, tenantId, slug, cancellationToken)).Current;

    public async Task<SamlKeySet> KeysAsync(FederationDbContext db, Guid tenantId, string slug, CancellationToken cancellationToken)
    {
        if (cache.TryGetValue(CacheKey(tenantId), out SamlKeySet? cached))
        {
            return cached!;
        }

        var rows = await db.SamlSigningKeys.IgnoreQueryFilters().AsNoTracking().Where(k => k.TenantId == tenantId).ToListAsync(cancellationToken);
        var current = rows.FirstOrDefault(k => k.Status == SamlKeyStatus.Current) ?? await CreateAsync(db, tenantId, slug, SamlKeyStatus.Current, cancellationToken);
        var others = rows.Where(k => k.Status != SamlKeyStatus.Current).OrderBy(k => k.Status == SamlKeyStatus.Next ? 0 : 1);
        var keys = new[] { current }.Concat(others)
            .Select(k => new SamlKey(X509CertificateLoader.LoadCertificate(k.Certificate), Convert.FromBase64String(_protector.Unprotect(k.ProtectedPrivateKey))))
            .ToList();
        var set = new SamlKeySet(keys[0], [.. keys.Select(k => k.Certificate)]) { Decrypting = keys };
        return cache.Set(CacheKey(tenantId), set, CacheFor);
    }

    /// <summary>Makes this process read the tenant's keys again (after a rotation here; other replicas within <see cref="CacheFor"/>).</summary>
    public void Forget(Guid tenantId) => cache.Remove(CacheKey(tenantId));

    /// <summary>A new key with <paramref name="status"/>; when one with it exists already (made meanwhile), that one.</summary>
    public async Task<SamlSigningKey> CreateAsync(
        FederationDbContext db, Guid tenantId, string slug, string status, CancellationToken cancellationToken, Func<SamlSigningKey, IntegrationEvent>? recordedAs = null)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest($"CN=LumoAuth SAML {slug}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        // The SP metadata offers the key for encryption too (an IdP may check that its usage allows it).
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, critical: true));
        var now = time.GetUtcNow();
        using var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(3));
        return await AddAsync(db, tenantId, status, certificate, rsa.ExportPkcs8PrivateKey(), cancellationToken, recordedAs);
    }

    /// <summary>
    /// Keeps <paramref name="certificate"/> and its private key (PKCS#8, encrypted at rest) as the tenant's key with
    /// <paramref name="status"/>: a key made here, or one the tenant brought (<see cref="SamlKeyImport"/>). When a key with
    /// that status exists already (made meanwhile), that one. <paramref name="recordedAs"/>: the event the new key is audited
    /// with, saved with it.
    /// </summary>
    public async Task<SamlSigningKey> AddAsync(
        FederationDbContext db, Guid tenantId, string status, X509Certificate2 certificate, byte[] pkcs8, CancellationToken cancellationToken,
        Func<SamlSigningKey, IntegrationEvent>? recordedAs = null)
    {
        var row = new SamlSigningKey
        {
            Id = Guid.CreateVersion7(), TenantId = tenantId, Status = status, Certificate = certificate.Export(X509ContentType.Cert),
            ProtectedPrivateKey = _protector.Protect(Convert.ToBase64String(pkcs8)), NotAfter = certificate.NotAfter.ToUniversalTime(), CreatedAt = time.GetUtcNow(),
        };
        CryptographicOperations.ZeroMemory(pkcs8);
        db.SamlSigningKeys.Add(row);
        if (recordedAs is not null)
        {
            db.AddEvent(recordedAs(row));
        }

        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return row;
        }
        catch (DbUpdateException exception) when (exception.IsUniqueViolation())
        {
            // Another request made the tenant's key first: that one is the key.
            db.ChangeTracker.Clear();
            return await db.SamlSigningKeys.IgnoreQueryFilters().AsNoTracking().FirstAsync(k => k.TenantId == tenantId && k.Status == status, cancellationToken);
        }
    }

    private static string CacheKey(Guid tenantId) => "saml-key:" + tenantId.ToString("N");
}

/// <summary>XML signatures made and checked the way SAML uses them (enveloped, exclusive canonicalisation, RSA with SHA-256 or better).</summary>
public static class SamlSignatures
{
    /// <summary>Signs <paramref name="element"/> (its ID <paramref name="id"/>); the signature goes right after its Issuer, where the schema puts it.</summary>
    public static void Sign(XmlElement element, string id, SamlKey key)
    {
        using var rsa = key.PrivateKey();
        var signed = new SignedXml(element) { SigningKey = rsa };
        signed.SignedInfo!.CanonicalizationMethod = SignedXml.XmlDsigExcC14NTransformUrl;
        signed.SignedInfo.SignatureMethod = SignedXml.XmlDsigRSASHA256Url;
        var reference = new Reference("#" + id) { DigestMethod = SignedXml.XmlDsigSHA256Url };
        reference.AddTransform(new XmlDsigEnvelopedSignatureTransform());
        reference.AddTransform(new XmlDsigExcC14NTransform());
        signed.AddReference(reference);
        var keyInfo = new KeyInfo();
        keyInfo.AddClause(new KeyInfoX509Data(key.Certificate));
        signed.KeyInfo = keyInfo;
        signed.ComputeSignature();
        var issuer = SamlMessages.Child(element, SamlNames.Assertion, "Issuer")!;
        element.InsertAfter(element.OwnerDocument.ImportNode(signed.GetXml(), deep: true), issuer);
    }

    /// <summary>Whether the message's root carries a signature (checked or not).</summary>
    public static bool IsSigned(XmlDocument document) =>
        SamlMessages.Child(document.DocumentElement!, SamlNames.XmlDsig, "Signature") is not null;

    /// <summary>
    /// Checks the signature of a signed message (HTTP-POST binding): exactly one signature in the document, on the root,
    /// covering the root by its ID (unique in the document) and nothing else, with the transforms SAML allows. Anything
    /// else — a signature over another element, a second element with the same ID — is how signature wrapping attacks
    /// work, and is refused. Null when it holds; else why not.
    /// </summary>
    /// <summary>Null when <paramref name="verify"/> passes with one of <paramref name="certificates"/> (DER); else the first one's problem.</summary>
    public static string? WithAny(IReadOnlyList<byte[]> certificates, Func<X509Certificate2, string?> verify)
    {
        string? first = null;
        foreach (var der in certificates)
        {
            using var certificate = X509CertificateLoader.LoadCertificate(der);
            if (verify(certificate) is not { } problem)
            {
                return null;
            }

            first ??= problem;
        }

        return first ?? "no certificate is registered to check the signature with";
    }

    /// <summary>
    /// The same checks for a message inside another document (the SOAP binding's envelope): exactly one signature in the
    /// whole document, a child of the message, and one element with an ID, the message.
    /// </summary>
    public static string? VerifyEnclosed(XmlDocument document, XmlElement message, X509Certificate2 certificate)
    {
        if (document.GetElementsByTagName("Signature", SamlNames.XmlDsig) is not { Count: 1 } all
            || SamlMessages.Child(message, SamlNames.XmlDsig, "Signature") is not { } signature || all[0] != signature)
        {
            return "the message must carry exactly one signature, on itself";
        }

        if (document.SelectNodes("//*[@ID]") is not { Count: 1 } identified || identified[0] != message)
        {
            return "the envelope holds an element with an ID besides the message";
        }

        return VerifyElement(message, signature, certificate);
    }

    public static string? VerifyEnveloped(XmlDocument document, X509Certificate2 certificate)
    {
        var root = document.DocumentElement!;
        if (document.GetElementsByTagName("Signature", SamlNames.XmlDsig) is not { Count: 1 } all
            || SamlMessages.Child(root, SamlNames.XmlDsig, "Signature") is not { } signature || all[0] != signature)
        {
            return "the message must carry exactly one signature, on its root";
        }

        if (document.SelectNodes("//*[@ID]") is not { Count: 1 })
        {
            return "the message holds more than one element with an ID";
        }

        return VerifyElement(root, signature, certificate);
    }

    /// <summary>
    /// Checks <paramref name="signature"/> (a child of <paramref name="element"/>): one reference, to the element by its
    /// ID, RSA with SHA-256 or better, only the transforms SAML uses, verifying with <paramref name="certificate"/>. The
    /// caller has made sure IDs are unique in the document, so the reference can only mean this element.
    /// </summary>
    public static string? VerifyElement(XmlElement element, XmlElement signature, X509Certificate2 certificate)
    {
        var id = element.GetAttribute("ID");
        var signed = new SignedXml(element.OwnerDocument);
        try
        {
            signed.LoadXml(signature);
        }
        catch (Exception exception) when (exception is CryptographicException or FormatException or XmlException)
        {
            return "the signature is malformed";
        }

        // The reference must resolve to this very element (SignedXml also matches Id and id attributes, and throws when
        // two elements share one of those).
        if (id.Length == 0 || signed.SignedInfo!.References.Count != 1 || signed.SignedInfo.References[0] is not Reference reference || reference.Uri != "#" + id
            || ResolvedElement(signed, element.OwnerDocument, id) != element)
        {
            return "the signature does not cover the message";
        }

        if (!SamlNames.SignatureAlgorithms.ContainsKey(signed.SignatureMethod ?? string.Empty)
            || reference.DigestMethod is not (SignedXml.XmlDsigSHA256Url or "http://www.w3.org/2001/04/xmldsig-more#sha384" or SignedXml.XmlDsigSHA512Url))
        {
            return "the signature's algorithm is not accepted (RSA with SHA-256 or better)";
        }

        for (var i = 0; i < reference.TransformChain.Count; i++)
        {
            if (reference.TransformChain[i] is not (XmlDsigEnvelopedSignatureTransform or XmlDsigExcC14NTransform or XmlDsigC14NTransform))
            {
                return "the signature uses a transform SAML does not";
            }
        }

        try
        {
            return signed.CheckSignature(certificate, verifySignatureOnly: true) ? null : "the signature does not verify with the registered certificate";
        }
        catch (Exception exception) when (exception is CryptographicException or FormatException or XmlException or InvalidOperationException)
        {
            return "the signature does not verify with the registered certificate";
        }
    }

    private static XmlElement? ResolvedElement(SignedXml signed, XmlDocument document, string id)
    {
        try
        {
            return signed.GetIdElement(document, id);
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    /// <summary>
    /// Checks an HTTP-Redirect binding signature (SAML Bindings §3.4.4.1): over the query's own encoded
    /// <c>SAMLRequest</c>/<c>SAMLResponse</c>, <c>RelayState</c> and <c>SigAlg</c>, in that order, as they arrived.
    /// </summary>
    public static string? VerifyRedirect(string signedPart, string? sigAlg, string? signature, X509Certificate2 certificate)
    {
        if (sigAlg is null || !SamlNames.SignatureAlgorithms.TryGetValue(sigAlg, out var hash))
        {
            return "the signature's algorithm (SigAlg) is not accepted (RSA with SHA-256 or better)";
        }

        var bytes = new byte[(signature?.Length ?? 0) * 3 / 4 + 3];
        if (signature is null || !Convert.TryFromBase64String(signature, bytes, out var written))
        {
            return "the Signature is not base64";
        }

        using var rsa = certificate.GetRSAPublicKey();
        return rsa is not null && rsa.VerifyData(Encoding.ASCII.GetBytes(signedPart), bytes.AsSpan(0, written), hash, RSASignaturePadding.Pkcs1)
            ? null
            : "the signature does not verify with the registered certificate";
    }

    /// <summary>Signs an HTTP-Redirect binding query (<c>SAMLResponse=…[&amp;RelayState=…]&amp;SigAlg=…</c>): the query with its Signature.</summary>
    public static string SignRedirect(string query, SamlKey key)
    {
        var signedPart = query + "&SigAlg=" + Uri.EscapeDataString(SamlNames.RsaSha256);
        using var rsa = key.PrivateKey();
        var signature = rsa.SignData(Encoding.ASCII.GetBytes(signedPart), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signedPart + "&Signature=" + Uri.EscapeDataString(Convert.ToBase64String(signature));
    }
}
