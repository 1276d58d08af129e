using System.Text.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Sessions;
using LumoAuth.Federation.Data;
using LumoAuth.Federation.Features.Login;
using LumoAuth.Federation.Features.Providers;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Hosting;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace LumoAuth.Federation.Features.Ldap;

/// <summary>
/// Imports a directory's people (Keycloak's "synchronize all users"): every entry the user filter matches is linked to a
/// user before it first signs in — the user found by verified address (with <c>autoLinkUsers</c>) or made (with
/// <c>allowSignup</c>), exactly as at a first sign-in — so administrators can give roles and relationships to people who
/// have not signed in yet. Linked users get their names (with <c>updateUserOnLogin</c>) and their group-mapped roles
/// brought up to date; a linked entry the directory no longer lists loses its mapped roles (its link stays, in case it
/// comes back), and a user the directory made is blocked until it lists them again. Nothing is deleted. One import of a provider runs at a time (a Redis lock).
/// </summary>
public sealed partial class LdapSync(
    LdapDirectory directory, ProviderSecrets secrets, ExternalUsers users, LoginStates states, LdapGroupRoleSync groupRoles, IConnectionMultiplexer redis,
    IOptions<FederationOptions> options, TimeProvider time, ILogger<LdapSync> logger)
{
    /// <summary>How long an import holds its lock at most (a crashed one frees it then).</summary>
    private static readonly TimeSpan LockFor = TimeSpan.FromMinutes(15);

    /// <summary>The import's summary (also kept on the provider); null when an import of the provider is running already.</summary>
    /// <param name="changesOnly">
    /// Read only the entries changed since the latest change an import saw (<c>modifyTimestamp</c>, the directory's clock);
    /// a directory never imported before is imported whole.
    /// </param>
    public async Task<LdapSyncSummary?> RunAsync(FederationDbContext db, TenantContext tenant, IdentityProvider provider, CancellationToken cancellationToken, bool changesOnly = false)
    {
        var lockKey = $"ldap-sync:{provider.Id:N}";
        var owner = Guid.NewGuid().ToString("N");
        var store = redis.GetDatabase();
        if (!await store.LockTakeAsync(lockKey, owner, LockFor))
        {
            return null;
        }

        try
        {
            var (summary, highWater) = await ImportAsync(db, tenant, provider, changesOnly && provider.Ldap!.SyncHighWater is not null, cancellationToken);
            // Only what the import learnt is written: an administrator's change of the settings meanwhile stands.
            var (json, full, mark) = (JsonSerializer.Serialize(summary), summary.ChangesOnly ? null : JsonSerializer.Serialize(summary.At),
                highWater is null ? null : JsonSerializer.Serialize(highWater));
            await db.Database.ExecuteSqlInterpolatedAsync(
                $$"""
                UPDATE identity_providers SET "Ldap" = jsonb_set(jsonb_set(jsonb_set("Ldap", '{LastSync}', {{json}}::jsonb),
                    '{LastFullSyncAt}', COALESCE({{full}}::jsonb, "Ldap"->'LastFullSyncAt', 'null'::jsonb)),
                    '{SyncHighWater}', COALESCE({{mark}}::jsonb, "Ldap"->'SyncHighWater', 'null'::jsonb))
                WHERE "Id" = {{provider.Id}} AND "Ldap" IS NOT NULL
                """,
                CancellationToken.None);
            LogImported(logger, provider.Id, tenant.TenantId, summary.Found, summary.Created, summary.Linked, summary.Skipped, summary.Failed, summary.Problem);
            return summary;
        }
        finally
        {
            await store.LockReleaseAsync(lockKey, owner);
        }
    }

    /// <summary>What the import did, and the latest change it saw when it read everything it was to read (else null: the mark stays).</summary>
    private async Task<(LdapSyncSummary Summary, string? HighWater)> ImportAsync(
        FederationDbContext db, TenantContext tenant, IdentityProvider provider, bool changesOnly, CancellationToken cancellationToken)
    {
        var settings = provider.Ldap!;
        var summary = new LdapSyncSummary { At = time.GetUtcNow(), ChangesOnly = changesOnly };
        var bindPassword = settings.ProtectedBindPassword is { } sealedPassword ? secrets.Reveal(sealedPassword) : null;
        var listing = await directory.ListAsync(
            settings, bindPassword, options.Value.Ldap.SyncMaxEntries, cancellationToken, changedSince: changesOnly ? settings.SyncHighWater : null);
        if (listing.Verdict != LdapVerdict.Success)
        {
            summary.Problem = listing.Problem ?? "the directory cannot be read";
            return (summary, null);
        }

        (summary.Found, summary.Truncated) = (listing.Accounts.Count, listing.Truncated);
        var links = await db.ExternalIdentities.AsNoTracking().Where(i => i.ProviderId == provider.Id)
            .Select(i => new { i.Subject, i.UserId }).ToDictionaryAsync(i => i.Subject, i => i.UserId, StringComparer.Ordinal, cancellationToken);
        var context = new SignInSteps.Context(db, tenant, users, states);
        try
        {
            foreach (var entry in listing.Accounts)
            {
                var account = entry.ToUpstream(settings);
                Guid userId;
                if (links.TryGetValue(entry.Subject, out var linked))
                {
                    userId = linked;
                    if (settings.UpdateUserOnLogin)
                    {
                        await users.UpdateProfileAsync(tenant.TenantId, userId, account, cancellationToken);
                        summary.Updated++;
                    }
                }
                else
                {
                    var link = await SignInSteps.LinkAsync(context, provider, account, cancellationToken, ExternalAccountLinked.ByDirectorySync);
                    if (link.Refusal is not null)
                    {
                        summary.Skipped++;
                        continue;
                    }

                    userId = link.UserId;
                    if (link.UserCreated)
                    {
                        summary.Created++;
                    }
                    else if (link.NewLink)
                    {
                        summary.Linked++;
                    }
                }

                if (settings.GroupRoles.Count > 0 && !await groupRoles.SetAsync(tenant.TenantId, userId, settings, entry.Groups, cancellationToken))
                {
                    summary.Failed++;
                }
            }

            // Entries that left the directory (or its filter) keep no role a group of it gave, and the users the directory
            // made are blocked until it lists them again. Only after a complete listing: a cut-short one, or one of changes,
            // does not say who is gone.
            var listed = listing.Accounts.Select(a => a.Subject).ToHashSet(StringComparer.Ordinal);
            List<Guid> absent = [];
            if (!listing.Truncated && !changesOnly)
            {
                foreach (var (_, userId) in links.Where(l => !listed.Contains(l.Key)))
                {
                    summary.Vanished++;
                    absent.Add(userId);
                    if (settings.GroupRoles.Count > 0 && !await groupRoles.SetAsync(tenant.TenantId, userId, settings, [], cancellationToken))
                    {
                        summary.Failed++;
                    }
                }
            }

            var present = links.Where(l => listed.Contains(l.Key)).Select(l => l.Value).ToList();
            var presence = await users.ReportPresenceAsync(provider.Id, new DirectoryPresenceRequest(tenant.TenantId, present, absent), cancellationToken);
            (summary.Blocked, summary.Unblocked) = (presence.Blocked, presence.Unblocked);
        }
        catch (DependencyUnavailableException exception)
        {
            summary.Problem = $"the import stopped: {exception.Message}";
        }

        // A listing cut short is in no order of time: the next import reads again from the same mark.
        return (summary, summary.Problem is null && !listing.Truncated ? listing.HighWater : null);
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "LDAP import of provider {ProviderId} (tenant {TenantId}): {Found} found, {Created} created, {Linked} linked, {Skipped} skipped, {Failed} failed; {Problem}")]
    private static partial void LogImported(ILogger logger, Guid providerId, Guid tenantId, int found, int created, int linked, int skipped, int failed, string? problem);
}

/// <summary>
/// Imports, across tenants, the directories whose <c>syncIntervalMinutes</c> has passed since their last import; a few
/// per round (the others wait for the next), each in a scope of its own tenant.
/// </summary>
public sealed class LdapSyncJob(IServiceScopeFactory scopeFactory, TimeProvider time, ILogger<LdapSyncJob> logger) : PeriodicJob(scopeFactory, time, logger)
{
    private const int BatchSize = 5;

    protected override TimeSpan Interval => TimeSpan.FromMinutes(5);

    protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken cancellationToken) =>
        await ImportDueAsync(services.GetRequiredService<IServiceScopeFactory>(), Time.GetUtcNow(), cancellationToken);

    /// <summary>Imports the directories due at <paramref name="now"/>, whole or their changes; how many were imported.</summary>
    public static async Task<int> ImportDueAsync(IServiceScopeFactory scopes, DateTimeOffset now, CancellationToken cancellationToken)
    {
        List<(Guid Id, Guid TenantId, bool ChangesOnly)> due;
        using (var scope = scopes.CreateScope())
        {
            var scheduled = await scope.ServiceProvider.GetRequiredService<FederationDbContext>().IdentityProviders.IgnoreQueryFilters().AsNoTracking()
                .Where(p => p.Type == ProviderTypes.Ldap && p.IsEnabled && (p.Ldap!.SyncIntervalMinutes != null || p.Ldap.ChangedSyncIntervalMinutes != null))
                .ToListAsync(cancellationToken);
            due = [.. scheduled
                .Select(p => (Provider: p, Due: DueImport(p.Ldap!, now)))
                .Where(p => p.Due is not null)
                .OrderBy(p => p.Provider.Ldap!.LastSync?.At ?? DateTimeOffset.MinValue)
                .Take(BatchSize)
                .Select(p => (p.Provider.Id, p.Provider.TenantId, p.Due == DueKind.Changes))];
        }

        var imported = 0;
        foreach (var (id, tenantId, changesOnly) in due)
        {
            using var scope = scopes.CreateScope();
            var services = scope.ServiceProvider;
            // A suspended tenant's directory waits; a deleted tenant's is gone with it.
            if (await services.GetRequiredService<TenantDirectory>().FindByIdAsync(tenantId, cancellationToken) is not { Status: TenantStatuses.Active } tenant)
            {
                continue;
            }

            var context = services.GetRequiredService<TenantContext>();
            context.Set(tenant);
            var db = services.GetRequiredService<FederationDbContext>();
            if (await db.IdentityProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == id, cancellationToken) is { Ldap: not null } provider
                && await services.GetRequiredService<LdapSync>().RunAsync(db, context, provider, cancellationToken, changesOnly) is not null)
            {
                imported++;
            }
        }

        return imported;
    }

    private enum DueKind
    {
        Whole,
        Changes,
    }

    /// <summary>A whole import when its interval has passed since the last whole one; else the changes, when their interval has passed since any import.</summary>
    private static DueKind? DueImport(LdapSettings settings, DateTimeOffset now) =>
        settings.SyncIntervalMinutes is { } whole && !(settings.LastFullSyncAt > now.AddMinutes(-whole)) ? DueKind.Whole
        : settings.ChangedSyncIntervalMinutes is { } changes && !(settings.LastSync?.At > now.AddMinutes(-changes)) ? DueKind.Changes
        : null;
}
