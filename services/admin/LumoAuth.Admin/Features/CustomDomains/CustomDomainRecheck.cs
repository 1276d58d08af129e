using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Tenants;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Features.CustomDomains;

/// <summary>
/// Looks again, across tenants, for the ownership record of every verified domain (daily; hourly while it is missing).
/// A domain whose record has been gone for <see cref="CustomDomainOptions.UnverifyAfter"/> is no longer served nor
/// primary (<see cref="CustomDomainUnverified"/>, and <c>TenantUpdated</c> so every service drops it as an issuer), and
/// another tenant may then prove it: a name that changed hands is not held by its former tenant for good. An unanswered
/// question concludes nothing.
/// </summary>
public sealed partial class CustomDomainRecheck(IServiceScopeFactory scopeFactory, TimeProvider time, ILogger<CustomDomainRecheck> logger)
    : PeriodicJob(scopeFactory, time, logger)
{
    private const int BatchSize = 50;

    protected override TimeSpan Interval => TimeSpan.FromMinutes(15);

    protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var unverified = await RecheckDueAsync(
            services.GetRequiredService<AdminDbContext>(), services.GetRequiredService<DomainVerifier>(),
            services.GetRequiredService<IOptions<CustomDomainOptions>>().Value, Time.GetUtcNow(), cancellationToken);
        if (unverified > 0)
        {
            LogUnverified(Logger, unverified);
        }
    }

    /// <summary>Rechecks the verified domains due at <paramref name="now"/>; how many were unverified.</summary>
    public static async Task<int> RecheckDueAsync(
        AdminDbContext db, DomainVerifier verifier, CustomDomainOptions options, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (settled, failing) = (now - options.RecheckInterval, now - options.FailingRecheckInterval);
        var due = await db.CustomDomains.IgnoreQueryFilters().AsNoTracking()
            .Where(d => d.VerifiedAt != null
                        && (d.LastCheckedAt == null || (d.CheckFailingSince == null ? d.LastCheckedAt <= settled : d.LastCheckedAt <= failing)))
            .OrderBy(d => d.LastCheckedAt)
            .Take(BatchSize)
            .ToListAsync(cancellationToken);
        var unverified = 0;
        foreach (var domain in due)
        {
            var owned = await verifier.OwnershipAsync(domain.Domain, domain.VerificationToken, cancellationToken);
            // Each write names the state it read (still verified, the same failing time): a removal, a new verification
            // or another replica's round meanwhile wins.
            var row = db.CustomDomains.IgnoreQueryFilters().Where(d => d.Id == domain.Id && d.VerifiedAt != null && d.CheckFailingSince == domain.CheckFailingSince);
            if (owned is null)
            {
                await row.ExecuteUpdateAsync(set => set.SetProperty(d => d.LastCheckedAt, now), cancellationToken);
            }
            else if (owned.Value)
            {
                await row.ExecuteUpdateAsync(
                    set => set.SetProperty(d => d.LastCheckedAt, now).SetProperty(d => d.CheckFailingSince, (DateTimeOffset?)null).SetProperty(d => d.LastCheckError, (string?)null),
                    cancellationToken);
            }
            else if (domain.CheckFailingSince is { } since && now - since >= options.UnverifyAfter)
            {
                unverified += await UnverifyAsync(db, row, domain, now, cancellationToken) ? 1 : 0;
            }
            else
            {
                var missingSince = domain.CheckFailingSince ?? now;
                var problem = $"no TXT record at {DomainVerifier.ChallengeName(domain.Domain)} holds \"{DomainVerifier.ChallengeValue(domain.VerificationToken)}\" "
                              + $"(missing since {missingSince:u}; the domain stops being served at {missingSince + options.UnverifyAfter:u} unless it is back)";
                await row.ExecuteUpdateAsync(
                    set => set.SetProperty(d => d.LastCheckedAt, now).SetProperty(d => d.CheckFailingSince, missingSince).SetProperty(d => d.LastCheckError, problem),
                    cancellationToken);
            }
        }

        return unverified;
    }

    /// <summary>Takes the domain out of service, with its events, in one transaction; false when someone changed it first.</summary>
    /// <param name="row">The domain's row as it was read (still verified, the same failing time).</param>
    private static async Task<bool> UnverifyAsync(AdminDbContext db, IQueryable<CustomDomain> row, CustomDomain domain, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var taken = await row.ExecuteUpdateAsync(
                set => set.SetProperty(d => d.VerifiedAt, (DateTimeOffset?)null).SetProperty(d => d.IsPrimary, false).SetProperty(d => d.LastCheckedAt, now)
                    .SetProperty(d => d.CheckFailingSince, (DateTimeOffset?)null)
                    .SetProperty(d => d.LastCheckError, $"no longer served: its TXT record at {DomainVerifier.ChallengeName(domain.Domain)} was gone too long; publish it and verify again"),
                cancellationToken);
        if (taken != 1 || await db.Tenants.IgnoreQueryFilters().AsNoTracking().FirstOrDefaultAsync(t => t.Id == domain.TenantId, cancellationToken) is not { } tenant)
        {
            return false;
        }

        db.AddEvent(new CustomDomainUnverified(domain.Id, domain.Domain) { TenantId = tenant.Id });
        if (domain.IsPrimary)
        {
            db.AddEvent(new PrimaryDomainChanged(null, null) { TenantId = tenant.Id });
        }

        db.AddEvent(new TenantUpdated(tenant.Id, tenant.Slug, tenant.Status) { TenantId = tenant.Id });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} custom domains are no longer served: their ownership records were gone too long")]
    private static partial void LogUnverified(ILogger logger, int count);
}
