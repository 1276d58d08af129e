namespace LumoAuth.Federation.Features.Saml;

/// <summary>The SAML 2.0 names this service speaks (namespaces, bindings, formats, statuses), in one place.</summary>
public static class SamlNames
{
    public const string Protocol = "urn:oasis:names:tc:SAML:2.0:protocol";
    public const string Assertion = "urn:oasis:names:tc:SAML:2.0:assertion";
    public const string Metadata = "urn:oasis:names:tc:SAML:2.0:metadata";
    public const string XmlDsig = "http://www.w3.org/2000/09/xmldsig#";
    public const string XmlSchema = "http://www.w3.org/2001/XMLSchema";
    public const string XmlSchemaInstance = "http://www.w3.org/2001/XMLSchema-instance";

    public const string RedirectBinding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
    public const string PostBinding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
    public const string SoapBinding = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP";

    public const string BearerConfirmation = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
    public const string BasicAttributeFormat = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";
    public const string PasswordProtectedTransport = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
    public const string UnspecifiedAuthnContext = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified";

    public const string Success = "urn:oasis:names:tc:SAML:2.0:status:Success";
    public const string Requester = "urn:oasis:names:tc:SAML:2.0:status:Requester";
    public const string Responder = "urn:oasis:names:tc:SAML:2.0:status:Responder";
    public const string NoPassive = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
    public const string InvalidNameIdPolicy = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
    public const string RequestDenied = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";

    /// <summary>The NameID formats offered, by the short name the Admin API uses.</summary>
    public static readonly IReadOnlyDictionary<string, string> NameIdFormats = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["emailAddress"] = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        ["persistent"] = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        ["transient"] = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
        ["unspecified"] = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    };

    /// <summary>The short name of a format URN, or null when it is not one offered.</summary>
    public static string? NameIdFormatName(string urn) =>
        NameIdFormats.FirstOrDefault(f => f.Value == urn).Key;

    /// <summary>Signature algorithms (RSA, PKCS#1 v1.5) a request may be signed with; SHA-1 is refused (collisions are practical).</summary>
    public static readonly IReadOnlyDictionary<string, System.Security.Cryptography.HashAlgorithmName> SignatureAlgorithms =
        new Dictionary<string, System.Security.Cryptography.HashAlgorithmName>(StringComparer.Ordinal)
        {
            ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"] = System.Security.Cryptography.HashAlgorithmName.SHA256,
            ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"] = System.Security.Cryptography.HashAlgorithmName.SHA384,
            ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"] = System.Security.Cryptography.HashAlgorithmName.SHA512,
        };

    public const string RsaSha256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

    /// <summary>The IdP's entity ID: its metadata URL on the deployment's host (stable whatever host a request uses).</summary>
    public static string IdpEntityId(ServiceDefaults.LumoAuthOptions options, string slug) => IdpUrl(options, slug, "metadata");

    /// <summary>The tenant as SP: its entity ID is its SP metadata URL (the docs' <c>saml/sp.md</c>).</summary>
    public static string SpEntityId(ServiceDefaults.LumoAuthOptions options, string slug) => SpUrl(options, slug, "metadata");

    public static string SpUrl(ServiceDefaults.LumoAuthOptions options, string slug, string endpoint) =>
        $"{options.PublicBaseUrl.TrimEnd('/')}/t/{slug}/saml/sp/{endpoint}";

    /// <summary>
    /// The SP's assertion consumer service: on the deployment's host, or on the tenant's custom domain a sign-in began on
    /// (where its binding cookie is). The entity ID stays the deployment's, whatever the host.
    /// </summary>
    public static string SpAcsUrl(ServiceDefaults.LumoAuthOptions options, string slug, string? domain = null) =>
        domain is null ? SpUrl(options, slug, "acs") : $"{options.OriginFor(domain)}/saml/sp/acs";

    public static string IdpUrl(ServiceDefaults.LumoAuthOptions options, string slug, string endpoint) =>
        $"{options.PublicBaseUrl.TrimEnd('/')}/t/{slug}/saml/idp/{endpoint}";
}
