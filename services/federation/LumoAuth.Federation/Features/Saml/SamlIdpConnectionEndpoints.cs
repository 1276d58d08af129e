using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Serialization;
using LumoAuth.Contracts.Authorization;
using LumoAuth.Contracts.Federation;
using LumoAuth.Federation.Data;
using LumoAuth.Federation.Features.Providers;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>
/// The tenant's outside SAML identity providers ("Enterprise SSO", portal-only in the docs) in the Tenant Admin API:
/// <c>/admin/identity-providers</c>, type <c>saml</c>. Kept with the social providers (their links, the login page's
/// buttons and data exports work alike). Writes need a credential that writes everything: an IdP decides who signs in.
/// </summary>
public static class SamlIdpConnectionEndpoints
{
    private const int MaxDefaultRoles = 20;

    public static IEndpointRouteBuilder MapSamlIdpConnectionEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/t/{tenantSlug}/api/v1/admin/identity-providers").RequireAuthorization(Policies.TenantAdmin).WithTags("Identity providers");
        admin.MapGet("/", List).WithName("ListIdentityProviders");
        admin.MapGet("/{providerId:guid}", Get).WithName("GetIdentityProvider");
        var writes = admin.WritesNeedingFullAccess("Adding and changing identity providers");
        writes.MapPost("/", Create).WithName("CreateIdentityProvider");
        writes.MapPut("/{providerId:guid}", Update).WithName("UpdateIdentityProvider");
        writes.MapPatch("/{providerId:guid}", Update).WithName("PatchIdentityProvider");
        writes.MapDelete("/{providerId:guid}", Delete).WithName("DeleteIdentityProvider");
        return app;
    }

    public static async Task<IResult> List(FederationDbContext db, IOptions<LumoAuthOptions> lumo, TenantContext tenant, int? page, int? limit, CancellationToken cancellationToken)
    {
        var paging = PageRequest.From(page, limit);
        var query = db.IdentityProviders.AsNoTracking().Where(p => p.Type == ProviderTypes.Saml);
        var total = await query.LongCountAsync(cancellationToken);
        var providers = await query.OrderBy(p => p.CreatedAt).ThenBy(p => p.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<SamlIdpResponse>([.. providers.Select(p => SamlIdpResponse.From(p, lumo.Value, tenant))], PageMeta.For(paging, total)));
    }

    public static async Task<IResult> Get(Guid providerId, FederationDbContext db, IOptions<LumoAuthOptions> lumo, TenantContext tenant, CancellationToken cancellationToken) =>
        await db.IdentityProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == providerId && p.Type == ProviderTypes.Saml, cancellationToken) is { } provider
            ? TypedResults.Ok(new DataResponse<SamlIdpResponse>(SamlIdpResponse.From(provider, lumo.Value, tenant)))
            : ApiErrors.NotFound("Identity provider");

    public static async Task<IResult> Create(
        SamlIdpRequest request, FederationDbContext db, TenantContext tenant, IOptions<LumoAuthOptions> lumo, SamlMetadataImport metadata, CancellationToken cancellationToken)
    {
        var imported = await WithMetadataAsync(request, metadata, cancellationToken);
        if (imported.Problem is { } unreadable)
        {
            return unreadable;
        }

        request = imported.Request!;
        var validation = new RequestValidator()
            .Required("name", request.Name, IdentityProvider.NameLength)
            .Required("entityId", request.EntityId, SamlServiceProvider.EntityIdLength)
            .Required("ssoUrl", request.SsoUrl, SamlServiceProvider.UrlLength)
            .Required("certificate", request.Certificate, 20_000);
        validation.Check(request.Type is null or ProviderTypes.Saml, "type", "must be saml (social and OpenID Connect providers are added at /admin/social-providers)");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var now = DateTimeOffset.UtcNow;
        var provider = new IdentityProvider
        {
            Id = Guid.CreateVersion7(), TenantId = tenant.TenantId, Type = ProviderTypes.Saml, Saml = new SamlIdpSettings(), CreatedAt = now, UpdatedAt = now,
        };
        if (Apply(request, provider) is { } invalid)
        {
            return invalid;
        }

        db.IdentityProviders.Add(provider);
        db.AddEvent(ProviderEvents.Changed(provider, ConfigurationChanges.Created));
        return await db.SaveOrDuplicateAsync($"A provider named '{provider.Name}' exists already", cancellationToken) ?? TypedResults.Created(
            $"/t/{tenant.Slug}/api/v1/admin/identity-providers/{provider.Id}",
            new DataResponse<SamlIdpResponse>(SamlIdpResponse.From(provider, lumo.Value, tenant), "Identity provider added. Give it the SP metadata URL."));
    }

    public static async Task<IResult> Update(
        Guid providerId, SamlIdpRequest request, FederationDbContext db, TenantContext tenant, IOptions<LumoAuthOptions> lumo, SamlMetadataImport metadata,
        CancellationToken cancellationToken)
    {
        var imported = await WithMetadataAsync(request, metadata, cancellationToken);
        if (imported.Problem is { } unreadable)
        {
            return unreadable;
        }

        request = imported.Request!;
        var provider = await db.IdentityProviders.FirstOrDefaultAsync(p => p.Id == providerId && p.Type == ProviderTypes.Saml, cancellationToken);
        if (provider is null)
        {
            return ApiErrors.NotFound("Identity provider");
        }

        if (request.Type is not (null or ProviderTypes.Saml))
        {
            return ApiErrors.Validation("type", "is chosen when the provider is added");
        }

        var entityBefore = provider.Saml!.EntityId;
        if (Apply(request, provider) is { } invalid)
        {
            return invalid;
        }

        provider.UpdatedAt = DateTimeOffset.UtcNow;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (provider.Saml.EntityId != entityBefore)
        {
            // Another IdP's subjects are other people: a link made with the old one must not sign anyone in.
            await db.ExternalIdentities.Where(i => i.ProviderId == provider.Id).ExecuteDeleteAsync(cancellationToken);
        }

        db.AddEvent(ProviderEvents.Changed(provider, ConfigurationChanges.Updated));
        if (await db.SaveOrDuplicateAsync($"A provider named '{provider.Name}' exists already", cancellationToken) is { } conflict)
        {
            return conflict;
        }

        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new DataResponse<SamlIdpResponse>(SamlIdpResponse.From(provider, lumo.Value, tenant), "Identity provider updated"));
    }

    /// <summary>Removes the IdP and every account linked through it.</summary>
    public static async Task<IResult> Delete(Guid providerId, FederationDbContext db, CancellationToken cancellationToken) =>
        await db.DeleteProviderAsync(providerId, [ProviderTypes.Saml], cancellationToken) ? TypedResults.NoContent() : ApiErrors.NotFound("Identity provider");

    /// <summary>
    /// The request with what the IdP's metadata (<c>metadataXml</c> or <c>metadataUrl</c>) says filled in where it gave
    /// nothing: entity ID, SSO and SLO URLs, signing certificate, NameID format, whether it wants requests signed.
    /// Sent again on an update, it brings the IdP's current certificate.
    /// </summary>
    private static async Task<(SamlIdpRequest? Request, IResult? Problem)> WithMetadataAsync(SamlIdpRequest request, SamlMetadataImport import, CancellationToken cancellationToken)
    {
        // An empty metadataUrl only stops following it.
        var url = request.MetadataUrl is { Length: > 0 } given ? given : null;
        var (metadata, field, problem) = await import.ReadAsync(request.MetadataXml, url, SamlMetadataImport.Role.IdentityProvider, request.EntityId, cancellationToken);
        if (problem is not null)
        {
            return (null, ApiErrors.Validation(field!, problem));
        }

        return (metadata is null ? request : request with
        {
            EntityId = request.EntityId ?? metadata.EntityId,
            SsoUrl = request.SsoUrl ?? metadata.SsoUrl,
            SloUrl = request.SloUrl ?? metadata.SloUrl,
            Certificate = request.Certificate ?? metadata.Certificate,
            NextCertificate = request.Certificate is null ? metadata.NextCertificate : null,
            NameIdFormat = request.NameIdFormat ?? metadata.NameIdFormat,
            SignAuthnRequests = request.SignAuthnRequests ?? (metadata.RequestsSigned ? true : null),
        }, null);
    }

    private static IResult? Apply(SamlIdpRequest request, IdentityProvider provider)
    {
        var settings = provider.Saml!;
        var validation = new RequestValidator()
            .Optional("name", request.Name, IdentityProvider.NameLength)
            .Optional("entityId", request.EntityId, SamlServiceProvider.EntityIdLength)
            .Optional("ssoUrl", request.SsoUrl, SamlServiceProvider.UrlLength)
            .Optional("sloUrl", request.SloUrl, SamlServiceProvider.UrlLength);
        validation.Check(request.Name is null || request.Name.Trim().Length > 0, "name", "must not be blank");
        validation.Check(request.EntityId is null || (request.EntityId.Trim().Length > 0 && !request.EntityId.AsSpan().ContainsAnyExceptInRange('\x20', '\x7E')),
            "entityId", "must be printable ASCII (the IdP's entity ID, from its metadata)");
        if (request.SsoUrl is not null && SamlInput.UrlProblem(request.SsoUrl) is { } sso)
        {
            validation.Add("ssoUrl", sso);
        }

        if (request.SloUrl is { Length: > 0 } && SamlInput.UrlProblem(request.SloUrl) is { } slo)
        {
            validation.Add("sloUrl", slo);
        }

        byte[]? certificate = null;
        if (request.Certificate is not null)
        {
            certificate = SamlInput.ReadCertificate(request.Certificate);
            validation.Check(certificate is not null, "certificate", "must be the IdP's X.509 signing certificate with an RSA key, PEM or base64 DER");
        }

        validation.Check(request.DefaultRoles is null || (request.DefaultRoles.Count <= MaxDefaultRoles && request.DefaultRoles.All(r => r is { Length: > 0 and <= 100 })),
            "defaultRoles", $"must be at most {MaxDefaultRoles} role slugs, each 1 to 100 characters");
        validation.Check(request.NameIdFormat is null or "emailAddress" or "persistent" or "unspecified", "nameIdFormat", "must be one of emailAddress, persistent, unspecified");
        validation.Check((request.WantResponsesSigned ?? settings.WantResponsesSigned) || (request.WantAssertionsSigned ?? settings.WantAssertionsSigned),
            "wantAssertionsSigned", "the response or the assertion must be signed");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        provider.Name = request.Name?.Trim() ?? provider.Name;
        settings.EntityId = request.EntityId?.Trim() ?? settings.EntityId;
        settings.SsoUrl = request.SsoUrl ?? settings.SsoUrl;
        settings.SloUrl = request.SloUrl is null ? settings.SloUrl : request.SloUrl.Length == 0 ? null : request.SloUrl;
        if (certificate is not null)
        {
            settings.Certificate = Convert.ToBase64String(certificate);
            // The metadata's second signing key, when it came from there; a certificate given by hand stands alone.
            settings.NextCertificate = request.NextCertificate is { } next && SamlInput.ReadCertificate(next) is { } nextDer ? Convert.ToBase64String(nextDer) : null;
        }

        if (request.MetadataUrl is { } metadataUrl)
        {
            settings.MetadataUrl = metadataUrl.Length == 0 ? null : metadataUrl;
            settings.MetadataRefreshedAt = metadataUrl.Length == 0 ? null : DateTimeOffset.UtcNow;
        }
        settings.NameIdFormat = request.NameIdFormat ?? settings.NameIdFormat;
        settings.TrustEmail = request.TrustEmail ?? settings.TrustEmail;
        settings.WantResponsesSigned = request.WantResponsesSigned ?? settings.WantResponsesSigned;
        settings.WantAssertionsSigned = request.WantAssertionsSigned ?? settings.WantAssertionsSigned;
        settings.WantAssertionsEncrypted = request.WantAssertionsEncrypted ?? settings.WantAssertionsEncrypted;
        settings.SignAuthnRequests = request.SignAuthnRequests ?? settings.SignAuthnRequests;
        settings.UpdateUserOnLogin = request.UpdateUserOnLogin ?? settings.UpdateUserOnLogin;
        settings.DefaultRoles = request.DefaultRoles is { } roles ? [.. roles.Distinct(StringComparer.Ordinal)] : settings.DefaultRoles;
        provider.IsEnabled = request.IsEnabled ?? provider.IsEnabled;
        provider.AllowSignup = request.AllowSignup ?? provider.AllowSignup;
        provider.AutoLinkUsers = request.AutoLinkUsers ?? provider.AutoLinkUsers;
        provider.AllowTokenExchange = request.AllowTokenExchange ?? provider.AllowTokenExchange;
        return null;
    }
}

public sealed record SamlIdpRequest(
    [property: JsonPropertyName("type")] string? Type = null,
    [property: JsonPropertyName("name")] string? Name = null,
    [property: JsonPropertyName("entityId")] string? EntityId = null,
    [property: JsonPropertyName("ssoUrl")] string? SsoUrl = null,
    [property: JsonPropertyName("sloUrl")] string? SloUrl = null,
    [property: JsonPropertyName("certificate")] string? Certificate = null,
    [property: JsonPropertyName("nameIdFormat")] string? NameIdFormat = null,
    [property: JsonPropertyName("trustEmail")] bool? TrustEmail = null,
    [property: JsonPropertyName("wantResponsesSigned")] bool? WantResponsesSigned = null,
    [property: JsonPropertyName("wantAssertionsSigned")] bool? WantAssertionsSigned = null,
    [property: JsonPropertyName("signAuthnRequests")] bool? SignAuthnRequests = null,
    [property: JsonPropertyName("defaultRoles")] IReadOnlyList<string>? DefaultRoles = null,
    [property: JsonPropertyName("updateUserOnLogin")] bool? UpdateUserOnLogin = null,
    [property: JsonPropertyName("allowSignup")] bool? AllowSignup = null,
    [property: JsonPropertyName("autoLinkUsers")] bool? AutoLinkUsers = null,
    [property: JsonPropertyName("isEnabled")] bool? IsEnabled = null,
    [property: JsonPropertyName("allowTokenExchange")] bool? AllowTokenExchange = null,
    [property: JsonPropertyName("metadataXml")] string? MetadataXml = null,
    [property: JsonPropertyName("metadataUrl")] string? MetadataUrl = null,
    [property: JsonPropertyName("wantAssertionsEncrypted")] bool? WantAssertionsEncrypted = null)
{
    /// <summary>The metadata's second signing certificate, when the request was filled from metadata (not a field of the API).</summary>
    [JsonIgnore]
    public string? NextCertificate { get; init; }
}

/// <summary>The SP's side of the setup, to give the IdP.</summary>
public sealed record SamlSpInfo(
    [property: JsonPropertyName("entityId")] string EntityId,
    [property: JsonPropertyName("metadataUrl")] string MetadataUrl,
    [property: JsonPropertyName("acsUrl")] string AcsUrl,
    [property: JsonPropertyName("sloUrl")] string SloUrl)
{
    /// <summary>Where the IdP may end sessions over the back channel (SOAP), without a browser.</summary>
    [JsonPropertyName("sloSoapUrl")]
    public string? SloSoapUrl { get; init; }

    /// <summary>The ACS on each of the tenant's verified custom domains (listed in the SP metadata too), for sign-ins that begin there.</summary>
    [JsonPropertyName("customDomainAcsUrls")]
    public IReadOnlyList<string> CustomDomainAcsUrls { get; init; } = [];
}

public sealed record SamlIdpResponse(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("entityId")] string EntityId,
    [property: JsonPropertyName("ssoUrl")] string SsoUrl,
    [property: JsonPropertyName("sloUrl")] string? SloUrl,
    [property: JsonPropertyName("certificateThumbprint")] string CertificateThumbprint,
    [property: JsonPropertyName("certificateExpiresAt")] DateTimeOffset CertificateExpiresAt,
    [property: JsonPropertyName("nameIdFormat")] string NameIdFormat,
    [property: JsonPropertyName("trustEmail")] bool TrustEmail,
    [property: JsonPropertyName("wantResponsesSigned")] bool WantResponsesSigned,
    [property: JsonPropertyName("wantAssertionsSigned")] bool WantAssertionsSigned,
    [property: JsonPropertyName("signAuthnRequests")] bool SignAuthnRequests,
    [property: JsonPropertyName("defaultRoles")] IReadOnlyList<string> DefaultRoles,
    [property: JsonPropertyName("updateUserOnLogin")] bool UpdateUserOnLogin,
    [property: JsonPropertyName("allowSignup")] bool AllowSignup,
    [property: JsonPropertyName("autoLinkUsers")] bool AutoLinkUsers,
    [property: JsonPropertyName("allowTokenExchange")] bool AllowTokenExchange,
    [property: JsonPropertyName("isEnabled")] bool IsEnabled,
    [property: JsonPropertyName("loginUrl")] string LoginUrl,
    [property: JsonPropertyName("sp")] SamlSpInfo Sp,
    [property: JsonPropertyName("createdAt")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("updatedAt")] DateTimeOffset UpdatedAt)
{
    /// <summary>The metadata URL the provider follows (its keys and endpoints are read again on a schedule); null when it follows none.</summary>
    [JsonPropertyName("metadataUrl")]
    public string? MetadataUrl { get; init; }

    [JsonPropertyName("metadataRefreshedAt")]
    public DateTimeOffset? MetadataRefreshedAt { get; init; }

    /// <summary>The second signing certificate the metadata lists (a key rollover under way), whose signatures are taken too.</summary>
    [JsonPropertyName("nextCertificateThumbprint")]
    public string? NextCertificateThumbprint { get; init; }

    /// <summary>Whether only encrypted assertions are taken from the IdP (encrypted ones are taken either way).</summary>
    [JsonPropertyName("wantAssertionsEncrypted")]
    public bool WantAssertionsEncrypted { get; init; }

    public static SamlIdpResponse From(IdentityProvider provider, LumoAuthOptions options, TenantContext tenant)
    {
        var slug = tenant.Slug;
        var saml = provider.Saml!;
        using var certificate = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(saml.Certificate));
        using var next = saml.NextCertificate is null ? null : X509CertificateLoader.LoadCertificate(Convert.FromBase64String(saml.NextCertificate));
        return new SamlIdpResponse(
            provider.Id, provider.Type, provider.Name, saml.EntityId, saml.SsoUrl, saml.SloUrl, certificate.GetCertHashString(HashAlgorithmName.SHA256),
            new DateTimeOffset(certificate.NotAfter.ToUniversalTime()), saml.NameIdFormat, saml.TrustEmail, saml.WantResponsesSigned, saml.WantAssertionsSigned,
            saml.SignAuthnRequests, saml.DefaultRoles, saml.UpdateUserOnLogin, provider.AllowSignup, provider.AutoLinkUsers, provider.AllowTokenExchange, provider.IsEnabled, SamlNames.SpUrl(options, slug, $"login/{provider.Id}"),
            new SamlSpInfo(SamlNames.SpEntityId(options, slug), SamlNames.SpUrl(options, slug, "metadata"), SamlNames.SpUrl(options, slug, "acs"), SamlNames.SpUrl(options, slug, "slo"))
            {
                CustomDomainAcsUrls = [.. (tenant.Tenant?.Domains ?? []).Select(domain => SamlNames.SpAcsUrl(options, slug, domain))],
                SloSoapUrl = SamlNames.SpUrl(options, slug, "slo/soap"),
            },
            provider.CreatedAt, provider.UpdatedAt)
        {
            MetadataUrl = saml.MetadataUrl, MetadataRefreshedAt = saml.MetadataRefreshedAt, NextCertificateThumbprint = next?.GetCertHashString(HashAlgorithmName.SHA256),
            WantAssertionsEncrypted = saml.WantAssertionsEncrypted,
        };
    }
}
