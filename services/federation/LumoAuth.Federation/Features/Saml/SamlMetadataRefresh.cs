using LumoAuth.Federation.Data;
using LumoAuth.Federation.Features.Providers;
using LumoAuth.ServiceDefaults.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>
/// Reads again, on a schedule (<c>Federation:Saml:MetadataRefreshInterval</c>, default 12 hours), the metadata of every
/// SAML IdP set up from a metadata URL, and applies what it now says: its signing certificates (the first, and a second
/// one published ahead of a key rollover, whose signatures are then taken too) and its sign-in and logout URLs. An IdP
/// that rolls its key this way keeps signing people in without anyone updating the provider. The entity ID never changes
/// this way (another entity's people are other people); a document that names another one, or cannot be read, changes
/// nothing and is logged.
/// </summary>
public sealed partial class SamlMetadataRefresh(IServiceScopeFactory scopeFactory, TimeProvider time, ILogger<SamlMetadataRefresh> logger)
    : PeriodicJob(scopeFactory, time, logger)
{
    /// <summary>IdPs read per round: a deployment with more catches up over the next rounds.</summary>
    private const int BatchSize = 100;

    protected override TimeSpan Interval => TimeSpan.FromMinutes(10);

    protected override Task RunOnceAsync(IServiceProvider services, CancellationToken cancellationToken) =>
        RefreshDueAsync(
            services.GetRequiredService<FederationDbContext>(), services.GetRequiredService<SamlMetadataImport>(), Time.GetUtcNow(),
            services.GetRequiredService<IOptions<FederationOptions>>().Value.Saml.MetadataRefreshInterval, Logger, cancellationToken);

    /// <summary>Refreshes, across tenants, the IdPs whose metadata was last read <paramref name="every"/> or longer before <paramref name="now"/>; how many were read.</summary>
    public static async Task<int> RefreshDueAsync(
        FederationDbContext db, SamlMetadataImport import, DateTimeOffset now, TimeSpan every, ILogger logger, CancellationToken cancellationToken)
    {
        var following = await db.IdentityProviders.IgnoreQueryFilters()
            .Where(p => p.Type == ProviderTypes.Saml && p.Saml!.MetadataUrl != null)
            .ToListAsync(cancellationToken);
        var due = following.Where(p => p.Saml!.MetadataRefreshedAt is not { } at || at <= now - every).OrderBy(p => p.Saml!.MetadataRefreshedAt).Take(BatchSize).ToList();
        foreach (var provider in due)
        {
            var settings = provider.Saml!;
            var (metadata, _, problem) = await import.ReadAsync(null, settings.MetadataUrl, SamlMetadataImport.Role.IdentityProvider, settings.EntityId, cancellationToken);
            if (metadata is null || metadata.EntityId != settings.EntityId)
            {
                LogUnread(logger, provider.Id, provider.TenantId, problem ?? $"it names the entity {SamlMessages.ForLog(metadata?.EntityId)}, not this IdP's");
                continue;
            }

            var changed = Apply(settings, metadata);
            settings.MetadataRefreshedAt = now;
            if (changed.Count > 0)
            {
                provider.UpdatedAt = now;
                LogChanged(logger, provider.Id, provider.TenantId, string.Join(", ", changed));
            }

            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateConcurrencyException)
            {
                // An administrator changed the provider since it was read: their edit stands; the next round reads it again.
                db.ChangeTracker.Clear();
                LogChangedMeanwhile(logger, provider.Id, provider.TenantId);
            }
        }

        return due.Count;
    }

    /// <summary>Takes from the metadata what passes the checks a typed value would; the names of what changed.</summary>
    private static List<string> Apply(SamlIdpSettings settings, SamlPartnerMetadata metadata)
    {
        var changed = new List<string>();
        var certificates = new[] { metadata.Certificate, metadata.NextCertificate }
            .Select(c => c is null ? null : SamlInput.ReadCertificate(c))
            .OfType<byte[]>()
            .Select(Convert.ToBase64String)
            .ToList();
        if (certificates.Count > 0 && (certificates[0] != settings.Certificate || certificates.ElementAtOrDefault(1) != settings.NextCertificate))
        {
            (settings.Certificate, settings.NextCertificate) = (certificates[0], certificates.ElementAtOrDefault(1));
            changed.Add("signing certificates");
        }

        if (metadata.SsoUrl is { } sso && sso != settings.SsoUrl && sso.Length <= SamlServiceProvider.UrlLength && SamlInput.UrlProblem(sso) is null)
        {
            settings.SsoUrl = sso;
            changed.Add("ssoUrl");
        }

        if (metadata.SloUrl is { } slo && slo != settings.SloUrl && slo.Length <= SamlServiceProvider.UrlLength && SamlInput.UrlProblem(slo) is null)
        {
            settings.SloUrl = slo;
            changed.Add("sloUrl");
        }

        return changed;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "SAML IdP {ProviderId} of tenant {TenantId}: its metadata changed the {Changes}")]
    private static partial void LogChanged(ILogger logger, Guid providerId, Guid tenantId, string changes);

    [LoggerMessage(Level = LogLevel.Information, Message = "SAML IdP {ProviderId} of tenant {TenantId} was changed while its metadata was read; the next round reads it again")]
    private static partial void LogChangedMeanwhile(ILogger logger, Guid providerId, Guid tenantId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SAML IdP {ProviderId} of tenant {TenantId}: its metadata could not be used ({Problem}); its settings stay")]
    private static partial void LogUnread(ILogger logger, Guid providerId, Guid tenantId, string problem);
}
