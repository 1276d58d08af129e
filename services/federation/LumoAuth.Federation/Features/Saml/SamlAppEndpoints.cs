using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Serialization;
using LumoAuth.Contracts.Authorization;
using LumoAuth.Contracts.Federation;
using LumoAuth.Federation.Data;
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
/// The applications that use the tenant as their SAML IdP ("SAML apps", portal-only in the docs) in the Tenant Admin API:
/// <c>/admin/saml-apps</c>. Reads for any tenant administrator; writes need a credential that writes everything, since
/// an app decides where signed assertions about users are sent.
/// </summary>
public static class SamlAppEndpoints
{
    public static IEndpointRouteBuilder MapSamlAppEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/t/{tenantSlug}/api/v1/admin/saml-apps").RequireAuthorization(Policies.TenantAdmin).WithTags("SAML apps");
        admin.MapGet("/", List).WithName("ListSamlApps");
        admin.MapGet("/{appId:guid}", Get).WithName("GetSamlApp");
        var writes = admin.WritesNeedingFullAccess("Adding and changing SAML apps");
        writes.MapPost("/", Create).WithName("CreateSamlApp");
        writes.MapPut("/{appId:guid}", Update).WithName("UpdateSamlApp");
        writes.MapPatch("/{appId:guid}", Update).WithName("PatchSamlApp");
        writes.MapDelete("/{appId:guid}", Delete).WithName("DeleteSamlApp");
        return app;
    }

    public static async Task<IResult> List(FederationDbContext db, IOptions<LumoAuthOptions> lumo, TenantContext tenant, int? page, int? limit, CancellationToken cancellationToken)
    {
        var paging = PageRequest.From(page, limit);
        var query = db.SamlServiceProviders.AsNoTracking();
        var total = await query.LongCountAsync(cancellationToken);
        var apps = await query.OrderBy(p => p.CreatedAt).ThenBy(p => p.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<SamlAppResponse>([.. apps.Select(a => SamlAppResponse.From(a, lumo.Value, tenant.Slug))], PageMeta.For(paging, total)));
    }

    public static async Task<IResult> Get(Guid appId, FederationDbContext db, IOptions<LumoAuthOptions> lumo, TenantContext tenant, CancellationToken cancellationToken) =>
        await db.SamlServiceProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == appId, cancellationToken) is { } found
            ? TypedResults.Ok(new DataResponse<SamlAppResponse>(SamlAppResponse.From(found, lumo.Value, tenant.Slug)))
            : ApiErrors.NotFound("SAML app");

    public static async Task<IResult> Create(
        SamlAppRequest request, FederationDbContext db, TenantContext tenant, IOptions<LumoAuthOptions> lumo, SamlMetadataImport metadata, CancellationToken cancellationToken)
    {
        var imported = await WithMetadataAsync(request, metadata, cancellationToken);
        if (imported.Problem is { } unreadable)
        {
            return unreadable;
        }

        request = imported.Request!;
        var validation = new RequestValidator()
            .Required("name", request.Name, SamlServiceProvider.NameLength)
            .Required("entityId", request.EntityId, SamlServiceProvider.EntityIdLength)
            .Required("acsUrl", request.AcsUrl, SamlServiceProvider.UrlLength);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var now = DateTimeOffset.UtcNow;
        var sp = new SamlServiceProvider
        {
            Id = Guid.CreateVersion7(), TenantId = tenant.TenantId, AttributeMappings = SamlAttributes.Defaults(), CreatedAt = now, UpdatedAt = now,
        };
        if (Apply(request, sp) is { } invalid)
        {
            return invalid;
        }

        db.SamlServiceProviders.Add(sp);
        db.AddEvent(new SamlAppChanged(sp.Id, sp.EntityId, ConfigurationChanges.Created) { TenantId = sp.TenantId });
        return await db.SaveOrDuplicateAsync($"A SAML app named '{sp.Name}' or with entity ID '{sp.EntityId}' exists already", cancellationToken) ?? TypedResults.Created(
            $"/t/{tenant.Slug}/api/v1/admin/saml-apps/{sp.Id}",
            new DataResponse<SamlAppResponse>(SamlAppResponse.From(sp, lumo.Value, tenant.Slug), "SAML app added. Give the application the IdP metadata URL."));
    }

    /// <summary>Changes the fields the body names (PUT and PATCH alike).</summary>
    public static async Task<IResult> Update(
        Guid appId, SamlAppRequest request, FederationDbContext db, TenantContext tenant, IOptions<LumoAuthOptions> lumo, SamlMetadataImport metadata,
        CancellationToken cancellationToken)
    {
        var imported = await WithMetadataAsync(request, metadata, cancellationToken);
        if (imported.Problem is { } unreadable)
        {
            return unreadable;
        }

        request = imported.Request!;
        var sp = await db.SamlServiceProviders.FirstOrDefaultAsync(p => p.Id == appId, cancellationToken);
        if (sp is null)
        {
            return ApiErrors.NotFound("SAML app");
        }

        if (Apply(request, sp) is { } invalid)
        {
            return invalid;
        }

        sp.UpdatedAt = DateTimeOffset.UtcNow;
        db.AddEvent(new SamlAppChanged(sp.Id, sp.EntityId, ConfigurationChanges.Updated) { TenantId = sp.TenantId });
        return await db.SaveOrDuplicateAsync($"A SAML app named '{sp.Name}' or with entity ID '{sp.EntityId}' exists already", cancellationToken)
               ?? TypedResults.Ok(new DataResponse<SamlAppResponse>(SamlAppResponse.From(sp, lumo.Value, tenant.Slug), "SAML app updated"));
    }

    public static async Task<IResult> Delete(Guid appId, FederationDbContext db, CancellationToken cancellationToken)
    {
        var sp = await db.SamlServiceProviders.FirstOrDefaultAsync(p => p.Id == appId, cancellationToken);
        if (sp is null)
        {
            return ApiErrors.NotFound("SAML app");
        }

        db.SamlServiceProviders.Remove(sp);
        db.AddEvent(new SamlAppChanged(sp.Id, sp.EntityId, ConfigurationChanges.Deleted) { TenantId = sp.TenantId });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            // Deleted by a parallel request first.
            return ApiErrors.NotFound("SAML app");
        }

        return TypedResults.NoContent();
    }

    /// <summary>
    /// The request with what the application's SP metadata (<c>metadataXml</c> or <c>metadataUrl</c>) says filled in where
    /// it gave nothing: entity ID, ACS (HTTP-POST, the default one) and SLO URLs, certificate, NameID format, whether it
    /// signs its requests.
    /// </summary>
    private static async Task<(SamlAppRequest? Request, IResult? Problem)> WithMetadataAsync(SamlAppRequest request, SamlMetadataImport import, CancellationToken cancellationToken)
    {
        var (metadata, field, problem) = await import.ReadAsync(request.MetadataXml, request.MetadataUrl, SamlMetadataImport.Role.ServiceProvider, request.EntityId, cancellationToken);
        if (problem is not null)
        {
            return (null, ApiErrors.Validation(field!, problem));
        }

        return (metadata is null ? request : request with
        {
            EntityId = request.EntityId ?? metadata.EntityId,
            AcsUrl = request.AcsUrl ?? metadata.AcsUrl,
            SloUrl = request.SloUrl ?? metadata.SloUrl,
            SloSoapUrl = request.SloSoapUrl ?? metadata.SloSoapUrl,
            Certificate = request.Certificate ?? metadata.Certificate,
            NameIdFormat = request.NameIdFormat ?? metadata.NameIdFormat,
            RequireSignedRequests = request.RequireSignedRequests ?? (metadata.RequestsSigned && metadata.Certificate is not null ? true : null),
        }, null);
    }

    /// <summary>Checks the request's fields and applies them; the 400 when something is wrong.</summary>
    private static IResult? Apply(SamlAppRequest request, SamlServiceProvider sp)
    {
        var validation = new RequestValidator()
            .Optional("name", request.Name, SamlServiceProvider.NameLength)
            .Optional("entityId", request.EntityId, SamlServiceProvider.EntityIdLength)
            .Optional("acsUrl", request.AcsUrl, SamlServiceProvider.UrlLength)
            .Optional("sloUrl", request.SloUrl, SamlServiceProvider.UrlLength)
            .Optional("sloSoapUrl", request.SloSoapUrl, SamlServiceProvider.UrlLength);
        validation.Check(request.Name is null || request.Name.Trim().Length > 0, "name", "must not be blank");
        validation.Check(request.EntityId is null || (request.EntityId.Trim().Length > 0 && !request.EntityId.AsSpan().ContainsAnyExceptInRange('\x20', '\x7E')),
            "entityId", "must be printable ASCII (usually the application's URL)");
        if (request.AcsUrl is not null && SamlInput.UrlProblem(request.AcsUrl) is { } acs)
        {
            validation.Add("acsUrl", acs);
        }

        if (request.SloUrl is { Length: > 0 } && SamlInput.UrlProblem(request.SloUrl) is { } slo)
        {
            validation.Add("sloUrl", slo);
        }

        // We call this one ourselves: besides the URL rules, it is checked against SSRF when called (SamlAppLogout).
        if (request.SloSoapUrl is { Length: > 0 } && SamlInput.UrlProblem(request.SloSoapUrl) is { } soap)
        {
            validation.Add("sloSoapUrl", soap);
        }

        validation.Check(request.NameIdFormat is null || SamlNames.NameIdFormats.ContainsKey(request.NameIdFormat),
            "nameIdFormat", $"must be one of {string.Join(", ", SamlNames.NameIdFormats.Keys)}");
        byte[]? certificate = null;
        if (request.Certificate is { Length: > 0 } pem)
        {
            certificate = SamlInput.ReadCertificate(pem);
            validation.Check(certificate is not null, "certificate", "must be an X.509 certificate with an RSA key, PEM or base64 DER");
        }

        var removesCertificate = request.Certificate is { Length: 0 };
        var certificateAfter = certificate ?? (removesCertificate ? null : sp.Certificate);
        validation.Check(!(request.RequireSignedRequests ?? sp.RequireSignedRequests) || certificateAfter is not null,
            "requireSignedRequests", "needs the application's certificate to check its signatures with");
        validation.Check(!(request.EncryptAssertions ?? sp.EncryptAssertions) || certificateAfter is not null,
            "encryptAssertions", "needs the application's certificate to encrypt to");
        if (request.AttributeMappings is { } mappings)
        {
            validation.Check(mappings.Count <= SamlServiceProvider.MaxAttributes, "attributeMappings", $"may map at most {SamlServiceProvider.MaxAttributes} attributes");
            foreach (var (name, source) in mappings)
            {
                validation.Check(name.Length is > 0 and <= 256 && !name.AsSpan().ContainsAnyExceptInRange('\x21', '\x7E'), "attributeMappings",
                    $"'{Shorten(name)}' is not an attribute name (printable ASCII without spaces, 256 characters at most)");
                validation.Check(source is not null && SamlAttributes.IsSource(source), "attributeMappings",
                    $"'{Shorten(name)}' must map to one of {string.Join(", ", SamlAttributes.Sources)} or attributes.<key>");
            }
        }

        validation.Check(request.SignResponse is not false || (request.SignAssertion ?? sp.SignAssertion), "signAssertion",
            "the response or the assertion must be signed");
        validation.Check(request.SignAssertion is not false || (request.SignResponse ?? sp.SignResponse), "signResponse",
            "the response or the assertion must be signed");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        sp.Name = request.Name?.Trim() ?? sp.Name;
        sp.EntityId = request.EntityId?.Trim() ?? sp.EntityId;
        sp.AcsUrl = request.AcsUrl ?? sp.AcsUrl;
        sp.SloUrl = request.SloUrl is null ? sp.SloUrl : request.SloUrl.Length == 0 ? null : request.SloUrl;
        sp.SloSoapUrl = request.SloSoapUrl is null ? sp.SloSoapUrl : request.SloSoapUrl.Length == 0 ? null : request.SloSoapUrl;
        sp.NameIdFormat = request.NameIdFormat ?? sp.NameIdFormat;
        sp.Certificate = certificateAfter;
        sp.RequireSignedRequests = request.RequireSignedRequests ?? sp.RequireSignedRequests;
        sp.SignResponse = request.SignResponse ?? sp.SignResponse;
        sp.SignAssertion = request.SignAssertion ?? sp.SignAssertion;
        sp.EncryptAssertions = request.EncryptAssertions ?? sp.EncryptAssertions;
        sp.AllowIdpInitiated = request.AllowIdpInitiated ?? sp.AllowIdpInitiated;
        sp.AttributeMappings = request.AttributeMappings is { } wanted ? new Dictionary<string, string>(wanted!, StringComparer.Ordinal) : sp.AttributeMappings;
        sp.IsEnabled = request.IsEnabled ?? sp.IsEnabled;
        return null;
    }

    private static string Shorten(string value) => value.Length <= 40 ? value : value[..40] + "…";
}

public sealed record SamlAppRequest(
    [property: JsonPropertyName("name")] string? Name = null,
    [property: JsonPropertyName("entityId")] string? EntityId = null,
    [property: JsonPropertyName("acsUrl")] string? AcsUrl = null,
    [property: JsonPropertyName("sloUrl")] string? SloUrl = null,
    [property: JsonPropertyName("nameIdFormat")] string? NameIdFormat = null,
    [property: JsonPropertyName("certificate")] string? Certificate = null,
    [property: JsonPropertyName("requireSignedRequests")] bool? RequireSignedRequests = null,
    [property: JsonPropertyName("signResponse")] bool? SignResponse = null,
    [property: JsonPropertyName("signAssertion")] bool? SignAssertion = null,
    [property: JsonPropertyName("encryptAssertions")] bool? EncryptAssertions = null,
    [property: JsonPropertyName("attributeMappings")] Dictionary<string, string>? AttributeMappings = null,
    [property: JsonPropertyName("isEnabled")] bool? IsEnabled = null,
    [property: JsonPropertyName("allowIdpInitiated")] bool? AllowIdpInitiated = null,
    [property: JsonPropertyName("metadataXml")] string? MetadataXml = null,
    [property: JsonPropertyName("metadataUrl")] string? MetadataUrl = null,
    [property: JsonPropertyName("sloSoapUrl")] string? SloSoapUrl = null);

/// <summary>The IdP's side of the setup, to give the application.</summary>
public sealed record SamlIdpInfo(
    [property: JsonPropertyName("entityId")] string EntityId,
    [property: JsonPropertyName("metadataUrl")] string MetadataUrl,
    [property: JsonPropertyName("ssoUrl")] string SsoUrl,
    [property: JsonPropertyName("sloUrl")] string SloUrl);

/// <summary>A SAML app as the Admin API shows it: its certificate by thumbprint and expiry, and the IdP's URLs.</summary>
public sealed record SamlAppResponse(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("entityId")] string EntityId,
    [property: JsonPropertyName("acsUrl")] string AcsUrl,
    [property: JsonPropertyName("sloUrl")] string? SloUrl,
    [property: JsonPropertyName("nameIdFormat")] string NameIdFormat,
    [property: JsonPropertyName("certificateThumbprint")] string? CertificateThumbprint,
    [property: JsonPropertyName("certificateExpiresAt")] DateTimeOffset? CertificateExpiresAt,
    [property: JsonPropertyName("requireSignedRequests")] bool RequireSignedRequests,
    [property: JsonPropertyName("signResponse")] bool SignResponse,
    [property: JsonPropertyName("signAssertion")] bool SignAssertion,
    [property: JsonPropertyName("encryptAssertions")] bool EncryptAssertions,
    [property: JsonPropertyName("attributeMappings")] IReadOnlyDictionary<string, string> AttributeMappings,
    [property: JsonPropertyName("isEnabled")] bool IsEnabled,
    [property: JsonPropertyName("allowIdpInitiated")] bool AllowIdpInitiated,
    [property: JsonPropertyName("initiateUrl")] string? InitiateUrl,
    [property: JsonPropertyName("idp")] SamlIdpInfo Idp,
    [property: JsonPropertyName("createdAt")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("updatedAt")] DateTimeOffset UpdatedAt,
    [property: JsonPropertyName("sloSoapUrl")] string? SloSoapUrl)
{
    public static SamlAppResponse From(SamlServiceProvider sp, LumoAuthOptions options, string slug)
    {
        using var certificate = sp.Certificate is null ? null : X509CertificateLoader.LoadCertificate(sp.Certificate);
        return new SamlAppResponse(
            sp.Id, sp.Name, sp.EntityId, sp.AcsUrl, sp.SloUrl, sp.NameIdFormat, certificate?.GetCertHashString(HashAlgorithmName.SHA256),
            certificate is null ? null : new DateTimeOffset(certificate.NotAfter.ToUniversalTime()), sp.RequireSignedRequests, sp.SignResponse, sp.SignAssertion,
            sp.EncryptAssertions, sp.AttributeMappings, sp.IsEnabled, sp.AllowIdpInitiated, sp.AllowIdpInitiated ? SamlNames.IdpUrl(options, slug, $"init/{sp.Id}") : null,
            new SamlIdpInfo(SamlNames.IdpEntityId(options, slug), SamlNames.IdpUrl(options, slug, "metadata"), SamlNames.IdpUrl(options, slug, "sso"),
                SamlNames.IdpUrl(options, slug, "slo")),
            sp.CreatedAt, sp.UpdatedAt, sp.SloSoapUrl);
    }
}
