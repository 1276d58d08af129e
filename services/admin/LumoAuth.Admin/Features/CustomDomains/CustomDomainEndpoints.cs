using System.Security.Cryptography;
using System.Text.Json.Serialization;
using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Tenants;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Features.CustomDomains;

/// <summary>
/// A tenant's own domains (ADM-68/69 and the portal's verify, set-primary and remove). A domain is served by the gateway
/// once verified (each names its own issuer); the primary one is where links point. Also under <c>/admin/custom-domains</c>.
/// </summary>
public static class CustomDomainEndpoints
{
    public const string DomainTaken = "domain_taken";
    public const string VerificationFailed = "domain_verification_failed";
    public const string NotVerified = "domain_not_verified";
    public const string LimitReached = "limit_exceeded";

    public static IEndpointRouteBuilder MapCustomDomainEndpoints(this IEndpointRouteBuilder app)
    {
        foreach (var prefix in (string[])["/t/{tenantSlug}/api/v1/custom-domains", "/t/{tenantSlug}/api/v1/admin/custom-domains"])
        {
            var alias = prefix.Contains("/admin/", StringComparison.Ordinal) ? "Admin" : string.Empty;
            var group = app.MapGroup(prefix).RequireAuthorization(Policies.TenantAdmin).WithTags("Custom domains");
            group.MapGet("/", ListDomains).WithName(alias + "ListCustomDomains");
            group.MapPost("/", AddDomain).WithName(alias + "AddCustomDomain");
            group.MapGet("/{domainId:guid}", GetDomain).WithName(alias + "GetCustomDomain");
            group.MapPost("/{domainId:guid}/verify", VerifyDomain).WithName(alias + "VerifyCustomDomain");
            group.MapPost("/{domainId:guid}/primary", MakePrimary).WithName(alias + "MakeCustomDomainPrimary");
            group.MapDelete("/{domainId:guid}", RemoveDomain).WithName(alias + "RemoveCustomDomain");
        }

        return app;
    }

    public static async Task<IResult> ListDomains(AdminDbContext db, DomainVerifier verifier, CancellationToken cancellationToken)
    {
        // A tenant holds a handful (CustomDomains:MaxPerTenant), so one page holds them all.
        var domains = await db.CustomDomains.AsNoTracking().OrderBy(d => d.CreatedAt).ThenBy(d => d.Id).ToListAsync(cancellationToken);
        var page = PageRequest.From(1, Math.Max(1, domains.Count));
        return TypedResults.Ok(new PagedResponse<CustomDomainResponse>(
            domains.Select(d => CustomDomainResponse.From(d, verifier.Target)).ToList(), PageMeta.For(page, domains.Count)));
    }

    public static async Task<IResult> GetDomain(Guid domainId, AdminDbContext db, DomainVerifier verifier, CancellationToken cancellationToken) =>
        await db.CustomDomains.AsNoTracking().FirstOrDefaultAsync(d => d.Id == domainId, cancellationToken) is { } domain
            ? TypedResults.Ok(new DataResponse<CustomDomainResponse>(CustomDomainResponse.From(domain, verifier.Target)))
            : ApiErrors.NotFound("Custom domain");

    public static async Task<IResult> AddDomain(
        AddCustomDomainRequest request, AdminDbContext db, TenantContext tenant, DomainVerifier verifier,
        IOptions<CustomDomainOptions> options, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Required("domain", request.Domain, DomainNames.MaxLength);
        if (validation.IsValid && !DomainNames.TryNormalize(request.Domain!, verifier.PlatformHosts, out _, out var problem))
        {
            validation.Add("domain", problem);
        }

        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        DomainNames.TryNormalize(request.Domain!, verifier.PlatformHosts, out var name, out _);
        if (await db.CustomDomains.AnyAsync(d => d.Domain == name, cancellationToken))
        {
            return ApiErrors.Duplicate("This tenant has already registered this domain");
        }

        if (await db.CustomDomains.CountAsync(cancellationToken) >= options.Value.MaxPerTenant)
        {
            return ApiErrors.Create(StatusCodes.Status409Conflict, LimitReached,
                $"A tenant may register at most {options.Value.MaxPerTenant} custom domains; remove one first");
        }

        var domain = new CustomDomain
        {
            Id = Guid.CreateVersion7(), TenantId = tenant.TenantId, Domain = name,
            VerificationToken = System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(24)), CreatedAt = DateTimeOffset.UtcNow,
        };
        db.CustomDomains.Add(domain);
        db.AddEvent(new CustomDomainAdded(domain.Id, domain.Domain) { TenantId = tenant.TenantId });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.IsUniqueViolation())
        {
            return ApiErrors.Duplicate("This tenant has already registered this domain");
        }

        return TypedResults.Created(
            $"/t/{tenant.Slug}/api/v1/custom-domains/{domain.Id}",
            new DataResponse<CustomDomainResponse>(CustomDomainResponse.From(domain, verifier.Target), "Custom domain added; publish the DNS records, then verify it"));
    }

    public static async Task<IResult> VerifyDomain(
        Guid domainId, AdminDbContext db, TenantContext tenant, DomainVerifier verifier, IOptions<CustomDomainOptions> options, HttpContext http,
        CancellationToken cancellationToken)
    {
        var domain = await db.CustomDomains.FirstOrDefaultAsync(d => d.Id == domainId, cancellationToken);
        if (domain is null)
        {
            return ApiErrors.NotFound("Custom domain");
        }

        if (domain.VerifiedAt is not null)
        {
            return TypedResults.Ok(new DataResponse<CustomDomainResponse>(CustomDomainResponse.From(domain, verifier.Target), "Custom domain is verified"));
        }

        // Each check sends several uncached DNS questions about a name the tenant chose: one per domain every few seconds.
        // Claimed in one statement, so requests at once cannot all pass the check before any records its time.
        var cooldown = options.Value.CheckCooldown;
        var now = DateTimeOffset.UtcNow;
        var since = now - cooldown;
        var claimed = await db.CustomDomains
            .Where(d => d.Id == domainId && (d.LastCheckedAt == null || d.LastCheckedAt <= since))
            .ExecuteUpdateAsync(set => set.SetProperty(d => d.LastCheckedAt, now), cancellationToken);
        if (claimed == 0)
        {
            var last = domain.LastCheckedAt ?? now;
            var wait = Math.Max(1, (int)Math.Ceiling((cooldown - (now - last)).TotalSeconds));
            http.Response.Headers.RetryAfter = wait.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return ApiErrors.Create(StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimitExceeded,
                "This domain was checked a moment ago; try again shortly", new { retryAfter = wait });
        }

        if (await TakenElsewhereAsync(db, domain, cancellationToken))
        {
            return Taken();
        }

        var check = await verifier.CheckAsync(domain.Domain, domain.VerificationToken, cancellationToken);
        domain.LastCheckedAt = now;
        domain.LastCheckError = check.Passed ? null : Truncate(string.Join("; ", check.Problems), 500);
        if (check.Passed)
        {
            domain.VerifiedAt = domain.LastCheckedAt;
            db.AddEvent(new CustomDomainVerified(domain.Id, domain.Domain) { TenantId = tenant.TenantId });
            RaiseTenantUpdated(db, tenant);
        }

        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.IsUniqueViolation())
        {
            // Another tenant proved the same name a moment earlier.
            return Taken();
        }

        return check.Passed
            ? TypedResults.Ok(new DataResponse<CustomDomainResponse>(CustomDomainResponse.From(domain, verifier.Target), "Custom domain verified"))
            : ApiErrors.Create(StatusCodes.Status422UnprocessableEntity, VerificationFailed,
                "DNS does not prove the domain yet; publish the records, allow for propagation, then verify again",
                new { ownership = check.Owned, routing = check.Routed, problems = check.Problems });
    }

    public static async Task<IResult> MakePrimary(
        Guid domainId, AdminDbContext db, TenantContext tenant, DomainVerifier verifier, CancellationToken cancellationToken)
    {
        var domains = await db.CustomDomains.Where(d => d.Id == domainId || d.IsPrimary).ToListAsync(cancellationToken);
        var domain = domains.FirstOrDefault(d => d.Id == domainId);
        if (domain is null)
        {
            return ApiErrors.NotFound("Custom domain");
        }

        if (domain.VerifiedAt is null)
        {
            return ApiErrors.Create(StatusCodes.Status409Conflict, NotVerified, "Only a verified domain can be the primary one; verify it first");
        }

        if (!domain.IsPrimary)
        {
            foreach (var previous in domains.Where(d => d.IsPrimary))
            {
                previous.IsPrimary = false;
            }

            try
            {
                // The partial unique index allows one primary per tenant at any instant: the old one is cleared first.
                await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
                await db.SaveChangesAsync(cancellationToken);
                domain.IsPrimary = true;
                RaisePrimaryChanged(db, tenant, domain);
                await db.SaveChangesAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
            }
            catch (DbUpdateException ex) when (ex.IsUniqueViolation())
            {
                return ApiErrors.Create(StatusCodes.Status409Conflict, ErrorCodes.InvalidRequest,
                    "Another request changed the primary domain at the same time; read the domains and try again");
            }
        }

        return TypedResults.Ok(new DataResponse<CustomDomainResponse>(
            CustomDomainResponse.From(domain, verifier.Target), "Primary domain set; the tenant's links and notifications now point there"));
    }

    public static async Task<IResult> RemoveDomain(Guid domainId, AdminDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        var domain = await db.CustomDomains.FirstOrDefaultAsync(d => d.Id == domainId, cancellationToken);
        if (domain is null)
        {
            return ApiErrors.NotFound("Custom domain");
        }

        db.CustomDomains.Remove(domain);
        db.AddEvent(new CustomDomainRemoved(domain.Id, domain.Domain) { TenantId = tenant.TenantId });
        if (domain.IsPrimary)
        {
            db.AddEvent(new PrimaryDomainChanged(null, null) { TenantId = tenant.TenantId });
        }

        // Always, not only for the primary one: a verified domain is one of the tenant's issuers, and a set-primary racing
        // this removal must not leave the services with a tenant that still names the removed domain.
        RaiseTenantUpdated(db, tenant);

        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    private static void RaisePrimaryChanged(AdminDbContext db, TenantContext tenant, CustomDomain primary)
    {
        db.AddEvent(new PrimaryDomainChanged(primary.Id, primary.Domain) { TenantId = tenant.TenantId });
        RaiseTenantUpdated(db, tenant);
    }

    /// <summary>
    /// The tenant's verified domains (its issuers) and primary one travel in every service's <c>TenantInfo</c>: each service
    /// evicts its cached tenant on <c>TenantUpdated</c>.
    /// </summary>
    private static void RaiseTenantUpdated(AdminDbContext db, TenantContext tenant)
    {
        var current = tenant.Tenant!;
        db.AddEvent(new TenantUpdated(current.Id, current.Slug, current.Status) { TenantId = current.Id });
    }

    private static Task<bool> TakenElsewhereAsync(AdminDbContext db, CustomDomain domain, CancellationToken cancellationToken) =>
        db.CustomDomains.IgnoreQueryFilters()
            .AnyAsync(d => d.Domain == domain.Domain && d.VerifiedAt != null && d.TenantId != domain.TenantId, cancellationToken);

    private static IResult Taken() => ApiErrors.Create(StatusCodes.Status409Conflict, DomainTaken,
        "Another tenant has already verified this domain");

    private static string Truncate(string value, int length) => value.Length <= length ? value : value[..length];
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record AddCustomDomainRequest(string? Domain);

/// <summary>A DNS record the domain's owner publishes.</summary>
public sealed record DnsRecordResponse(string Type, string Name, string Value);

public sealed record CustomDomainResponse(
    Guid Id, string Domain, string Status, bool Primary, DateTimeOffset CreatedAt, DateTimeOffset? VerifiedAt,
    DateTimeOffset? LastCheckedAt, string? LastCheckError, IReadOnlyList<DnsRecordResponse> DnsRecords)
{
    /// <summary>Since when a verified domain's ownership record has been missing at its rechecks (it stops being served after a while).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? RecordMissingSince { get; init; }

    public static CustomDomainResponse From(CustomDomain domain, string target) => new(
        domain.Id, domain.Domain, domain.VerifiedAt is null ? "pending" : "verified", domain.IsPrimary, domain.CreatedAt, domain.VerifiedAt,
        domain.LastCheckedAt, domain.LastCheckError,
        [
            new("TXT", DomainVerifier.ChallengeName(domain.Domain), DomainVerifier.ChallengeValue(domain.VerificationToken)),
            new("CNAME", domain.Domain, target),
        ])
    {
        RecordMissingSince = domain.CheckFailingSince,
    };
}
