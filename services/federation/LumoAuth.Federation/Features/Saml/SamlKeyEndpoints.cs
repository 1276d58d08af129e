using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Serialization;
using LumoAuth.Contracts.Authorization;
using LumoAuth.Contracts.Federation;
using LumoAuth.Federation.Data;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>
/// Rotating the tenant's SAML signing key (IdP and SP alike), in two steps so partners that read the metadata never see a
/// signature by a key they do not know: <c>POST /admin/saml-keys</c> makes the next key, which the metadata publishes
/// beside the current one; once partners have read it, <c>POST /admin/saml-keys/{id}/activate</c> makes it sign, and
/// the replaced key stays published as the previous one until the rotation after. Reads for any tenant administrator;
/// rotating needs a credential that writes everything.
/// </summary>
public static class SamlKeyEndpoints
{
    public static IEndpointRouteBuilder MapSamlKeyEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/t/{tenantSlug}/api/v1/admin/saml-keys").RequireAuthorization(Policies.TenantAdmin).WithTags("SAML keys");
        admin.MapGet("/", List).WithName("ListSamlKeys");
        var writes = admin.WritesNeedingFullAccess("Rotating the SAML signing key");
        writes.MapPost("/", CreateNext).WithName("CreateNextSamlKey");
        writes.MapPost("/{keyId:guid}/activate", Activate).WithName("ActivateSamlKey");
        return app;
    }

    public static async Task<IResult> List(FederationDbContext db, SamlSigningKeys keys, TenantContext tenant, CancellationToken cancellationToken)
    {
        // The current key is made on first use: a tenant that never used SAML has one to show as well.
        await keys.KeysAsync(db, tenant.TenantId, tenant.Slug, cancellationToken);
        return TypedResults.Ok(new { data = await ListedAsync(db, cancellationToken) });
    }

    /// <summary>
    /// Makes the next key (published, not signing) — or, with a body, takes the tenant's own certificate and private key as
    /// the next key (<see cref="SamlKeyImport"/>); the previous one, if any, has served its time and goes.
    /// </summary>
    public static async Task<IResult> CreateNext(
        SamlKeyImport? body, FederationDbContext db, SamlSigningKeys keys, TenantContext tenant, TimeProvider time, CancellationToken cancellationToken)
    {
        (X509Certificate2? Certificate, byte[]? PrivateKey, SamlKeyImport.Problem? Problem)? imported = body?.Read(time.GetUtcNow());
        if (imported is { Problem: { } problem })
        {
            return ApiErrors.Validation(problem.Field, problem.Message);
        }

        await keys.KeysAsync(db, tenant.TenantId, tenant.Slug, cancellationToken);
        if (await db.SamlSigningKeys.AnyAsync(k => k.Status == SamlKeyStatus.Next, cancellationToken))
        {
            return ApiErrors.Duplicate("A next key exists already: activate it first");
        }

        await db.SamlSigningKeys.Where(k => k.Status == SamlKeyStatus.Previous).ExecuteDeleteAsync(cancellationToken);
        SamlSigningKey next;
        if (imported is { Certificate: { } certificate, PrivateKey: { } pkcs8 })
        {
            using (certificate)
            {
                next = await keys.AddAsync(db, tenant.TenantId, SamlKeyStatus.Next, certificate, pkcs8, cancellationToken,
                    key => new SamlSigningKeyChanged(key.Id, "imported") { TenantId = key.TenantId });
            }
        }
        else
        {
            next = await keys.CreateAsync(db, tenant.TenantId, tenant.Slug, SamlKeyStatus.Next, cancellationToken,
                key => new SamlSigningKeyChanged(key.Id, ConfigurationChanges.Created) { TenantId = key.TenantId });
        }

        keys.Forget(tenant.TenantId);
        return TypedResults.Created($"/t/{tenant.Slug}/api/v1/admin/saml-keys/{next.Id}", new { data = SamlKeyResponse.From(next) });
    }

    /// <summary>The next key signs from now on (every replica within minutes); the replaced one stays published as the previous.</summary>
    public static async Task<IResult> Activate(Guid keyId, FederationDbContext db, SamlSigningKeys keys, TenantContext tenant, CancellationToken cancellationToken)
    {
        var next = await db.SamlSigningKeys.FirstOrDefaultAsync(k => k.Id == keyId, cancellationToken);
        if (next is null)
        {
            return ApiErrors.NotFound("SAML key");
        }

        if (next.Status != SamlKeyStatus.Next)
        {
            return ApiErrors.Create(StatusCodes.Status409Conflict, "key_not_next", "Only the next key can be activated");
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        try
        {
            // One status change per statement: the (tenant, status) index is checked as each one runs.
            await db.SamlSigningKeys.Where(k => k.Status == SamlKeyStatus.Previous).ExecuteDeleteAsync(cancellationToken);
            var replaced = await db.SamlSigningKeys.Where(k => k.Status == SamlKeyStatus.Current)
                .ExecuteUpdateAsync(k => k.SetProperty(x => x.Status, SamlKeyStatus.Previous), cancellationToken);
            var activated = await db.SamlSigningKeys.Where(k => k.Id == keyId && k.Status == SamlKeyStatus.Next)
                .ExecuteUpdateAsync(k => k.SetProperty(x => x.Status, SamlKeyStatus.Current), cancellationToken);
            if (replaced > 1 || activated != 1)
            {
                // Activated meanwhile by another request.
                return ApiErrors.Create(StatusCodes.Status409Conflict, "key_not_next", "Only the next key can be activated");
            }

            db.AddEvent(new SamlSigningKeyChanged(keyId, "activated") { TenantId = tenant.TenantId });
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (DbUpdateException exception) when (exception.IsUniqueViolation() || exception.InnerException is Npgsql.PostgresException { SqlState: "23505" })
        {
            return ApiErrors.Create(StatusCodes.Status409Conflict, "key_not_next", "Only the next key can be activated");
        }
        catch (Npgsql.PostgresException exception) when (exception.SqlState == "23505")
        {
            return ApiErrors.Create(StatusCodes.Status409Conflict, "key_not_next", "Only the next key can be activated");
        }

        keys.Forget(tenant.TenantId);
        return TypedResults.Ok(new { data = await ListedAsync(db, cancellationToken) });
    }

    private static async Task<List<SamlKeyResponse>> ListedAsync(FederationDbContext db, CancellationToken cancellationToken) =>
        [.. (await db.SamlSigningKeys.AsNoTracking().ToListAsync(cancellationToken))
            .OrderBy(k => k.Status switch { SamlKeyStatus.Current => 0, SamlKeyStatus.Next => 1, _ => 2 })
            .Select(SamlKeyResponse.From)];
}

/// <summary>
/// The tenant's own SAML key (an enterprise's PKI, a certificate partners already trust): its X.509 certificate (PEM or
/// base64 DER) and its unencrypted RSA private key (PEM, PKCS#8 or PKCS#1). The key must be RSA of 2048 bits or more and be
/// the certificate's; the certificate must be valid now and for at least a day more, and allow signatures if it names its
/// usages. Never logged or shown again: the private key is kept encrypted like the keys made here.
/// </summary>
public sealed record SamlKeyImport(
    [property: JsonPropertyName("certificate")] string? Certificate,
    [property: JsonPropertyName("privateKey")] string? PrivateKey)
{
    public const int MinKeyBits = 2048;

    public sealed record Problem(string Field, string Message);

    /// <summary>The certificate and the key (PKCS#8) the import holds, or what is wrong with it.</summary>
    public (X509Certificate2? Certificate, byte[]? PrivateKey, Problem? Problem) Read(DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(Certificate) || Certificate.Length > 20_000)
        {
            return Refuse("certificate", "is required with privateKey: the X.509 certificate, PEM or base64 DER");
        }

        if (string.IsNullOrWhiteSpace(PrivateKey) || PrivateKey.Length > 20_000)
        {
            return Refuse("privateKey", "is required with certificate: the RSA private key, PEM (unencrypted PKCS#8 or PKCS#1)");
        }

        if (SamlInput.ReadCertificate(Certificate) is not { } der)
        {
            return Refuse("certificate", "must be an X.509 certificate with an RSA key, PEM or base64 DER");
        }

        var certificate = X509CertificateLoader.LoadCertificate(der);
        using var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(PrivateKey);
        }
        catch (Exception exception) when (exception is ArgumentException or CryptographicException)
        {
            certificate.Dispose();
            return Refuse("privateKey", "must be an unencrypted RSA private key in PEM (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)");
        }

        using var published = certificate.GetRSAPublicKey()!;
        var problem =
            rsa.KeySize < MinKeyBits ? new Problem("privateKey", $"must be an RSA key of at least {MinKeyBits} bits")
            : !published.ExportParameters(false).Modulus.AsSpan().SequenceEqual(rsa.ExportParameters(false).Modulus)
                ? new Problem("privateKey", "is not the key of the certificate")
            : certificate.NotBefore.ToUniversalTime() > now.UtcDateTime.AddMinutes(5) || certificate.NotAfter.ToUniversalTime() < now.UtcDateTime.AddDays(1)
                ? new Problem("certificate", "must be valid now and for at least another day")
            : certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault() is { } usage && !usage.KeyUsages.HasFlag(X509KeyUsageFlags.DigitalSignature)
                ? new Problem("certificate", "must allow digital signatures (its key usage)")
            : null;
        if (problem is not null)
        {
            certificate.Dispose();
            return (null, null, problem);
        }

        return (certificate, rsa.ExportPkcs8PrivateKey(), null);
    }

    private static (X509Certificate2?, byte[]?, Problem?) Refuse(string field, string message) => (null, null, new Problem(field, message));

    public override string ToString() => "SamlKeyImport { (key material) }";
}

/// <summary>A SAML key as the Admin API shows it: its certificate (public), never the private key.</summary>
public sealed record SamlKeyResponse(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("certificate")] string Certificate,
    [property: JsonPropertyName("thumbprint")] string Thumbprint,
    [property: JsonPropertyName("notAfter")] DateTimeOffset NotAfter,
    [property: JsonPropertyName("createdAt")] DateTimeOffset CreatedAt)
{
    public static SamlKeyResponse From(SamlSigningKey key)
    {
        using var certificate = X509CertificateLoader.LoadCertificate(key.Certificate);
        return new SamlKeyResponse(key.Id, key.Status, certificate.ExportCertificatePem(), certificate.GetCertHashString(HashAlgorithmName.SHA256), key.NotAfter, key.CreatedAt);
    }
}
