using System.Text;
using System.Xml;
using LumoAuth.Federation.Features.Login;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>What a partner's metadata document (SAML Metadata 2.0) says of it, for the Admin API to fill in what was not given.</summary>
/// <param name="Certificate">Its signing certificate, base64 DER (a KeyDescriptor for signing, or for any use).</param>
/// <param name="NameIdFormat">The first NameID format it lists that we offer, by our short name.</param>
/// <param name="RequestsSigned">An IdP's <c>WantAuthnRequestsSigned</c>, an SP's <c>AuthnRequestsSigned</c>.</param>
public sealed record SamlPartnerMetadata(string EntityId, string? SsoUrl, string? SloUrl, string? AcsUrl, string? Certificate, string? NameIdFormat, bool RequestsSigned, string? SloSoapUrl = null)
{
    /// <summary>A second signing certificate it lists (the next key, ahead of a rollover), base64 DER.</summary>
    public string? NextCertificate { get; init; }
}

/// <summary>
/// Reads an IdP's or an SP's metadata, given inline (<c>metadataXml</c>) or by URL (<c>metadataUrl</c>, fetched once,
/// over https, through the SSRF-guarded client). Nothing in it is trusted beyond what an administrator typing the same
/// values would be: the document is only a way to fill in the fields (its own signature is not checked; the values it
/// gives go through the same checks as typed ones).
/// </summary>
public sealed class SamlMetadataImport(IHttpClientFactory httpClients, Microsoft.Extensions.Options.IOptions<FederationOptions> options)
{
    /// <summary>Federation metadata of large IdPs (Entra ID, ADFS) runs to tens of kilobytes; aggregates are not taken.</summary>
    public const int MaxCharacters = 256 * 1024;

    public enum Role
    {
        IdentityProvider,
        ServiceProvider,
    }

    /// <summary>The partner's metadata, or the field to blame and why; (null, null, null) when neither field was given.</summary>
    public async Task<(SamlPartnerMetadata? Metadata, string? Field, string? Problem)> ReadAsync(
        string? xml, string? url, Role role, string? entityId, CancellationToken cancellationToken)
    {
        if (xml is not null && url is not null)
        {
            return (null, "metadataUrl", "give metadataXml or metadataUrl, not both");
        }

        if (xml is not null)
        {
            return Read(Encoding.UTF8.GetBytes(xml), "metadataXml", role, entityId);
        }

        if (url is null)
        {
            return (null, null, null);
        }

        // Checked as a partner's URL, then as an outside target (local and internal names), before the guarded client connects.
        if ((url.Length > 2048 ? "must be at most 2048 characters" : SamlInput.UrlProblem(url) ?? LumoAuth.ServiceDefaults.Security.SsrfGuard.ProblemWith(url, options.Value.AllowPrivateTargets))
            is { } urlProblem)
        {
            return (null, "metadataUrl", urlProblem);
        }

        try
        {
            using var response = await httpClients.CreateClient(UpstreamSignIn.HttpClientName).GetAsync(url, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return (null, "metadataUrl", $"answered {(int)response.StatusCode}");
            }

            return Read(await response.Content.ReadAsByteArrayAsync(cancellationToken), "metadataUrl", role, entityId);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            return (null, "metadataUrl", "could not be fetched (" + exception.GetType().Name + ")");
        }
    }

    private static (SamlPartnerMetadata?, string?, string?) Read(byte[] bytes, string field, Role role, string? entityId)
    {
        if (bytes.Length > MaxCharacters * 4 || SamlMessages.Load(bytes, MaxCharacters) is not { } document)
        {
            return (null, field, $"is not a metadata document (well-formed XML without a DTD, at most {MaxCharacters / 1024} KB)");
        }

        var roleName = role == Role.IdentityProvider ? "IDPSSODescriptor" : "SPSSODescriptor";
        var root = document.DocumentElement!;
        var entities = root is { LocalName: "EntityDescriptor", NamespaceURI: SamlNames.Metadata }
            ? [root]
            : document.GetElementsByTagName("EntityDescriptor", SamlNames.Metadata).OfType<XmlElement>().ToList();
        var candidates = entities
            .Select(e => (Entity: e, Descriptor: e.ChildNodes.OfType<XmlElement>().FirstOrDefault(d =>
                d.LocalName == roleName && d.NamespaceURI == SamlNames.Metadata && d.GetAttribute("protocolSupportEnumeration").Split(' ').Contains(SamlNames.Protocol))))
            .Where(c => c.Descriptor is not null && (entityId is null || c.Entity.GetAttribute("entityID") == entityId))
            .ToList();
        if (candidates.Count != 1)
        {
            return (null, field, candidates.Count == 0
                ? $"describes no SAML 2.0 {(role == Role.IdentityProvider ? "identity" : "service")} provider{(entityId is null ? string.Empty : " with that entityId")}"
                : "describes several: name the one meant with entityId");
        }

        var (entity, descriptor) = (candidates[0].Entity, candidates[0].Descriptor!);
        string? Endpoint(string name, string binding, bool preferDefault = false)
        {
            var endpoints = descriptor.ChildNodes.OfType<XmlElement>()
                .Where(e => e.LocalName == name && e.NamespaceURI == SamlNames.Metadata && e.GetAttribute("Binding") == binding && e.GetAttribute("Location").Length > 0)
                .ToList();
            var chosen = preferDefault
                ? endpoints.FirstOrDefault(e => e.GetAttribute("isDefault") == "true")
                  ?? endpoints.OrderBy(e => int.TryParse(e.GetAttribute("index"), out var index) ? index : int.MaxValue).FirstOrDefault()
                : endpoints.FirstOrDefault();
            return chosen?.GetAttribute("Location").Trim();
        }

        var certificates = descriptor.ChildNodes.OfType<XmlElement>()
            .Where(k => k.LocalName == "KeyDescriptor" && k.NamespaceURI == SamlNames.Metadata && k.GetAttribute("use") is "signing" or "")
            .Select(k => k.GetElementsByTagName("X509Certificate", SamlNames.XmlDsig).OfType<XmlElement>().FirstOrDefault()?.InnerText)
            .Where(c => !string.IsNullOrWhiteSpace(c))
            .Select(c => string.Concat(c!.Where(ch => !char.IsWhiteSpace(ch))))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var formats = descriptor.ChildNodes.OfType<XmlElement>()
            .Where(f => f.LocalName == "NameIDFormat" && f.NamespaceURI == SamlNames.Metadata)
            .Select(f => SamlNames.NameIdFormatName(f.InnerText.Trim()))
            .Where(f => f is not null && (role == Role.ServiceProvider || f != "transient"));
        var metadata = new SamlPartnerMetadata(
            entity.GetAttribute("entityID").Trim(),
            role == Role.IdentityProvider ? Endpoint("SingleSignOnService", SamlNames.RedirectBinding) : null,
            Endpoint("SingleLogoutService", SamlNames.RedirectBinding),
            role == Role.ServiceProvider ? Endpoint("AssertionConsumerService", SamlNames.PostBinding, preferDefault: true) : null,
            certificates.FirstOrDefault(),
            formats.FirstOrDefault(),
            descriptor.GetAttribute(role == Role.IdentityProvider ? "WantAuthnRequestsSigned" : "AuthnRequestsSigned") == "true",
            role == Role.ServiceProvider ? Endpoint("SingleLogoutService", SamlNames.SoapBinding) : null)
        {
            NextCertificate = certificates.Skip(1).FirstOrDefault(),
        };
        if (metadata.EntityId.Length == 0)
        {
            return (null, field, "names no entityID");
        }

        return role == Role.IdentityProvider && metadata.SsoUrl is null
            ? (null, field, "offers no SingleSignOnService with the HTTP-Redirect binding")
            : role == Role.ServiceProvider && metadata.AcsUrl is null
                ? (null, field, "offers no AssertionConsumerService with the HTTP-POST binding")
                : (metadata, null, null);
    }
}
