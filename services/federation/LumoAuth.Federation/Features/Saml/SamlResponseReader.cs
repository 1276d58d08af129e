using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Xml;
using LumoAuth.Federation.Data;
using LumoAuth.Federation.Features.Login;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>What an outside IdP's response says, once every check held: the account, and how long its assertion may be replayed.</summary>
public sealed record SamlAssertedAccount(UpstreamAccount Account, string AssertionId, DateTimeOffset ValidUntil)
{
    /// <summary>The NameID's format as the IdP wrote it (a logout request repeats it); null when it wrote none.</summary>
    public string? NameIdFormat { get; init; }

    /// <summary>The AuthnStatement's SessionIndex: the IdP's session, which a logout request names.</summary>
    public string? SessionIndex { get; init; }
}

/// <summary>
/// What the SP expects of an assertion: the request it answers (none for a bearer assertion at the token endpoint, which
/// then may name no request), the audiences that are us, the addresses it had to be sent to, and whether it must state a
/// sign-in (an assertion an IdP made for a browser's sign-in does; RFC 7522 lets a bearer assertion leave it out).
/// </summary>
public sealed record SamlExpectation(string? RequestId, IReadOnlyList<string> Audiences, IReadOnlyList<string> Recipients, bool NeedsAuthnStatement = true);

/// <summary>
/// Checks an outside IdP's response to our AuthnRequest (SAML Profiles §4.1.4.3) and reads the account from it. The
/// order matters against signature wrapping: the document may hold exactly one assertion, as a child of the response,
/// IDs are unique, every signature is on the response or on that assertion and covers its own element, and only the
/// elements so covered are read.
/// </summary>
public static class SamlResponseReader
{
    /// <summary>Clock difference allowed between the IdP and us (the docs' 180 s).</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(180);

    private const string EmailClaim = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";

    private static readonly string[] EmailNames = ["email", "mail", "emailaddress", EmailClaim];
    private static readonly string[] GivenNames = ["givenname", "firstname", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"];
    private static readonly string[] FamilyNames = ["surname", "lastname", "sn", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"];
    private static readonly string[] DisplayNames = ["displayname", "name", "cn", "http://schemas.microsoft.com/identity/claims/displayname", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"];

    /// <summary>
    /// The account, or why the response is not believed (for the log; the person sees a fixed reason). An encrypted
    /// assertion is decrypted with <paramref name="decryptionKeys"/> (the tenant's SAML keys) once the response's own
    /// signature, if any, holds, and is then read as a plain one.
    /// </summary>
    public static (SamlAssertedAccount? Account, string? Problem, bool Cancelled) Read(
        XmlDocument document, IdentityProvider provider, SamlExpectation expected, DateTimeOffset now, IReadOnlyList<SamlKey> decryptionKeys)
    {
        var settings = provider.Saml!;
        var root = document.DocumentElement!;
        if (root.LocalName != "Response" || root.NamespaceURI != SamlNames.Protocol || root.GetAttribute("Version") != "2.0")
        {
            return Problem("the message is not a SAML 2.0 Response");
        }

        if (root.GetAttribute("InResponseTo") != expected.RequestId)
        {
            return Problem("the response does not answer this sign-in's request (InResponseTo)");
        }

        if (root.HasAttribute("Destination") && !expected.Recipients.Contains(root.GetAttribute("Destination"), StringComparer.Ordinal))
        {
            return Problem("the response's Destination is not this ACS");
        }

        if (SamlMessages.Child(root, SamlNames.Assertion, "Issuer") is { } responseIssuer && responseIssuer.InnerText.Trim() != settings.EntityId)
        {
            return Problem("the response's Issuer is not the IdP's entity ID");
        }

        var status = SamlMessages.Child(root, SamlNames.Protocol, "Status");
        var code = status is null ? null : SamlMessages.Child(status, SamlNames.Protocol, "StatusCode");
        if (code?.GetAttribute("Value") != SamlNames.Success)
        {
            // The person did not (or could not) sign in at the IdP.
            return (null, $"the IdP answered {SamlMessages.ForLog(code?.GetAttribute("Value") ?? "no status")}", true);
        }

        var responseVerified = false;
        if (document.GetElementsByTagName("EncryptedAssertion", SamlNames.Assertion) is { Count: > 0 } encrypted)
        {
            if (encrypted.Count != 1 || encrypted[0] is not XmlElement wrapper || wrapper.ParentNode != root
                || document.GetElementsByTagName("Assertion", SamlNames.Assertion).Count != 0)
            {
                return Problem("the response must hold exactly one assertion, directly");
            }

            if (!HasUniqueIds(document))
            {
                return Problem("two elements share an ID");
            }

            // The response's signature covers the ciphertext: it is checked before anything is decrypted, so an altered
            // ciphertext is never tried.
            var responseSignature = SamlMessages.Child(root, SamlNames.XmlDsig, "Signature");
            if (document.GetElementsByTagName("Signature", SamlNames.XmlDsig).Count != (responseSignature is null ? 0 : 1))
            {
                return Problem("a signature sits somewhere other than on the response or the assertion");
            }

            if (responseSignature is null && settings.WantResponsesSigned)
            {
                return Problem("the response must be signed");
            }

            if (responseSignature is not null)
            {
                if (SamlSignatures.WithAny(settings.SigningCertificates(), certificate => SamlSignatures.VerifyElement(root, responseSignature, certificate)) is { } forged)
                {
                    return Problem(forged);
                }

                responseVerified = true;
            }

            if (SamlEncryption.Decrypt(wrapper, decryptionKeys, allowCbc: responseVerified).Problem is { } undecrypted)
            {
                return Problem(undecrypted);
            }
        }
        else if (settings.WantAssertionsEncrypted)
        {
            return Problem("the assertion must be encrypted");
        }

        if (document.GetElementsByTagName("Assertion", SamlNames.Assertion) is not { Count: 1 } assertions
            || assertions[0] is not XmlElement assertion || assertion.ParentNode != root)
        {
            return Problem("the response must hold exactly one assertion, directly");
        }

        if (!HasUniqueIds(document))
        {
            return Problem("two elements share an ID");
        }

        if (SignatureProblem(document, root, assertion, settings, responseVerified) is { } unsigned)
        {
            return Problem(unsigned);
        }

        return ReadAssertion(assertion, settings, expected, now);
    }

    private static bool HasUniqueIds(XmlDocument document) =>
        document.SelectNodes("//*[@ID]") is { } withIds && withIds.Cast<XmlElement>().Select(e => e.GetAttribute("ID")).Distinct(StringComparer.Ordinal).Count() == withIds.Count;

    /// <summary>
    /// A bare assertion presented at the token endpoint (RFC 7522 §3, RFC 8693's <c>saml2</c> subject token): issued by one
    /// of <paramref name="providers"/>, always signed on itself with that IdP's certificate whatever its settings ask of
    /// browser sign-ins (nothing else carries it), and then held to the same rules as one in a response. It may come
    /// encrypted for the tenant (an <c>EncryptedAssertion</c>), with AES-GCM only: no signature covers the ciphertext.
    /// </summary>
    public static (SamlAssertedAccount? Account, IdentityProvider? Provider, string? Problem) ReadBearer(
        XmlDocument document, IReadOnlyList<IdentityProvider> providers, SamlExpectation expected, DateTimeOffset now, IReadOnlyList<SamlKey> decryptionKeys)
    {
        var assertion = document.DocumentElement!;
        if (assertion.LocalName == "EncryptedAssertion" && assertion.NamespaceURI == SamlNames.Assertion)
        {
            if (document.GetElementsByTagName("Signature", SamlNames.XmlDsig).Count != 0)
            {
                return (null, null, "a signature sits outside the encrypted assertion");
            }

            var (decrypted, undecrypted) = SamlEncryption.Decrypt(assertion, decryptionKeys, allowCbc: false);
            if (decrypted is null)
            {
                return (null, null, undecrypted);
            }

            assertion = decrypted;
        }
        if (assertion.LocalName != "Assertion" || assertion.NamespaceURI != SamlNames.Assertion)
        {
            return (null, null, "the token is not a SAML 2.0 assertion");
        }

        var issuer = SamlMessages.Child(assertion, SamlNames.Assertion, "Issuer")?.InnerText.Trim();
        if (providers.FirstOrDefault(p => p.Saml!.EntityId == issuer) is not { } provider)
        {
            return (null, null, "the assertion's Issuer is no identity provider of this organisation");
        }

        if (!HasUniqueIds(document))
        {
            return (null, provider, "two elements share an ID");
        }

        var signature = SamlMessages.Child(assertion, SamlNames.XmlDsig, "Signature");
        if (signature is null || document.GetElementsByTagName("Signature", SamlNames.XmlDsig).Count != 1)
        {
            return (null, provider, "the assertion must carry exactly one signature, its own");
        }

        if (SamlSignatures.WithAny(provider.Saml!.SigningCertificates(), certificate => SamlSignatures.VerifyElement(assertion, signature, certificate)) is { } unsigned)
        {
            return (null, provider, unsigned);
        }

        var (account, problem, _) = ReadAssertion(assertion, provider.Saml, expected, now);
        return (account, provider, problem);
    }

    /// <summary>Why the signatures do not hold, or null; a response signature <paramref name="responseVerified"/> before decryption is not checked again.</summary>
    private static string? SignatureProblem(XmlDocument document, XmlElement root, XmlElement assertion, SamlIdpSettings settings, bool responseVerified)
    {
        var responseSignature = SamlMessages.Child(root, SamlNames.XmlDsig, "Signature");
        var assertionSignature = SamlMessages.Child(assertion, SamlNames.XmlDsig, "Signature");
        var expected = (responseSignature is null ? 0 : 1) + (assertionSignature is null ? 0 : 1);
        if (document.GetElementsByTagName("Signature", SamlNames.XmlDsig).Count != expected)
        {
            return "a signature sits somewhere other than on the response or the assertion";
        }

        if (responseSignature is null && assertionSignature is null)
        {
            return "the response is not signed";
        }

        if (settings.WantResponsesSigned && responseSignature is null)
        {
            return "the response must be signed";
        }

        if (settings.WantAssertionsSigned && assertionSignature is null)
        {
            return "the assertion must be signed";
        }

        return SamlSignatures.WithAny(settings.SigningCertificates(), certificate =>
            (responseSignature is null || responseVerified ? null : SamlSignatures.VerifyElement(root, responseSignature, certificate))
            ?? (assertionSignature is null ? null : SamlSignatures.VerifyElement(assertion, assertionSignature, certificate)));
    }

    private static (SamlAssertedAccount?, string?, bool) ReadAssertion(XmlElement assertion, SamlIdpSettings settings, SamlExpectation expected, DateTimeOffset now)
    {
        if (assertion.GetAttribute("Version") != "2.0" || SamlMessages.Child(assertion, SamlNames.Assertion, "Issuer")?.InnerText.Trim() != settings.EntityId)
        {
            return Problem("the assertion's Issuer is not the IdP's entity ID");
        }

        var subject = SamlMessages.Child(assertion, SamlNames.Assertion, "Subject");
        var nameId = subject is null ? null : SamlMessages.Child(subject, SamlNames.Assertion, "NameID");
        if (nameId?.InnerText.Trim() is not { Length: > 0 and <= 500 } subjectId)
        {
            return Problem("the assertion names no subject (NameID)");
        }

        var format = nameId.GetAttribute("Format");
        if (format == SamlNames.NameIdFormats["transient"])
        {
            return Problem("a transient NameID names nobody for good: the IdP must send a persistent or e-mail NameID");
        }

        // Bearer confirmation (Profiles §4.1.4.2, RFC 7522 §3): for this ACS or token endpoint, still current, for this
        // request (or for none, at the token endpoint).
        var confirmed = subject!.ChildNodes.OfType<XmlElement>()
            .Where(e => e.LocalName == "SubjectConfirmation" && e.NamespaceURI == SamlNames.Assertion && e.GetAttribute("Method") == SamlNames.BearerConfirmation)
            .Select(e => SamlMessages.Child(e, SamlNames.Assertion, "SubjectConfirmationData"))
            .Any(data => data is not null && expected.Recipients.Contains(data.GetAttribute("Recipient"), StringComparer.Ordinal)
                         && Instant(data.GetAttribute("NotOnOrAfter")) is { } until && now - ClockSkew < until
                         && (!data.HasAttribute("InResponseTo") || data.GetAttribute("InResponseTo") == expected.RequestId)
                         && !data.HasAttribute("NotBefore"));
        if (!confirmed)
        {
            return Problem("no bearer confirmation for this recipient and request is current");
        }

        var conditions = SamlMessages.Child(assertion, SamlNames.Assertion, "Conditions");
        if (conditions is null || Instant(conditions.GetAttribute("NotOnOrAfter")) is not { } validUntil)
        {
            return Problem("the assertion has no Conditions with NotOnOrAfter");
        }

        if (now - ClockSkew >= validUntil || (conditions.HasAttribute("NotBefore") && (Instant(conditions.GetAttribute("NotBefore")) is not { } notBefore || now + ClockSkew < notBefore)))
        {
            return Problem("the assertion is expired or not yet valid");
        }

        var restrictions = conditions.ChildNodes.OfType<XmlElement>().Where(e => e.LocalName == "AudienceRestriction" && e.NamespaceURI == SamlNames.Assertion).ToList();
        if (restrictions.Count == 0 || !restrictions.All(r => r.ChildNodes.OfType<XmlElement>().Any(a => a.LocalName == "Audience" && expected.Audiences.Contains(a.InnerText.Trim(), StringComparer.Ordinal))))
        {
            return Problem("the assertion is not for this SP (Audience)");
        }

        var authn = SamlMessages.Child(assertion, SamlNames.Assertion, "AuthnStatement");
        if (expected.NeedsAuthnStatement && authn is null)
        {
            return Problem("the assertion states no sign-in (AuthnStatement)");
        }

        var attributes = Attributes(assertion);
        var email = First(attributes, EmailNames) ?? (format == SamlNames.NameIdFormats["emailAddress"] ? subjectId : null);
        var account = new UpstreamAccount(
            subjectId, email, settings.TrustEmail && email is not null, First(attributes, DisplayNames), First(attributes, GivenNames), First(attributes, FamilyNames), null);
        // Remembered against replay until it expires (a day at most, whatever the IdP wrote).
        var rememberUntil = validUntil < now + TimeSpan.FromDays(1) ? validUntil + ClockSkew : now + TimeSpan.FromDays(1);
        return (new SamlAssertedAccount(account, assertion.GetAttribute("ID"), rememberUntil)
        {
            NameIdFormat = format is { Length: > 0 and <= 256 } ? format : null,
            SessionIndex = authn?.GetAttribute("SessionIndex") is { Length: > 0 and <= 256 } index ? index : null,
        }, null, false);
    }

    /// <summary>Attribute values by name (lower case), the first value of each.</summary>
    private static Dictionary<string, string> Attributes(XmlElement assertion)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var statement in assertion.ChildNodes.OfType<XmlElement>().Where(e => e.LocalName == "AttributeStatement" && e.NamespaceURI == SamlNames.Assertion))
        {
            foreach (var attribute in statement.ChildNodes.OfType<XmlElement>().Where(e => e.LocalName == "Attribute" && e.NamespaceURI == SamlNames.Assertion))
            {
                var value = attribute.ChildNodes.OfType<XmlElement>().FirstOrDefault(e => e.LocalName == "AttributeValue")?.InnerText.Trim();
                if (value is { Length: > 0 and <= 500 })
                {
                    values.TryAdd(attribute.GetAttribute("Name").ToLowerInvariant(), value);
                }
            }
        }

        return values;
    }

    private static string? First(Dictionary<string, string> attributes, string[] names) =>
        names.Select(n => attributes.GetValueOrDefault(n)).FirstOrDefault(v => v is not null);

    private static DateTimeOffset? Instant(string value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant) ? instant : null;

    private static (SamlAssertedAccount?, string?, bool) Problem(string problem) => (null, problem, false);
}
