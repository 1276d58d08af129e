using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Engine.Abac;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Authorization.Features.Abac;

/// <summary>
/// <c>GET/PUT /admin/abac/settings</c> (mapped with the other ABAC administration, <see cref="AbacAdminEndpoints"/>): how a tenant's matching policies combine. <c>deny_overrides</c> (the default, as the
/// docs describe evaluation): any matching deny decides. <c>priority</c>: the highest-priority matching policy decides, a deny
/// winning a tie — for tenants whose "admin override" allow must beat lower-priority restrictions.
/// </summary>
public static class AbacSettingsEndpoints
{
    public sealed record AbacSettingsRequest(string? CombiningAlgorithm);

    public sealed record AbacSettingsResponse(string CombiningAlgorithm);

    public static CombiningAlgorithm AlgorithmOf(string? stored) =>
        stored == AbacSettingsRow.Priority ? CombiningAlgorithm.Priority : CombiningAlgorithm.DenyOverrides;

    public static async Task<IResult> Get(AuthorizationDbContext db, CancellationToken cancellationToken)
    {
        var stored = await db.AbacSettings.AsNoTracking().Select(x => x.CombiningAlgorithm).FirstOrDefaultAsync(cancellationToken);
        return TypedResults.Ok(new DataResponse<AbacSettingsResponse>(new AbacSettingsResponse(stored ?? AbacSettingsRow.DenyOverrides)));
    }

    public static async Task<IResult> Put(AbacSettingsRequest request, AuthorizationDbContext db, TenantContext tenant, AbacPolicyCache cache, CancellationToken cancellationToken)
    {
        var algorithm = request.CombiningAlgorithm?.Trim();
        if (algorithm is not (AbacSettingsRow.DenyOverrides or AbacSettingsRow.Priority))
        {
            return ApiErrors.Validation("combiningAlgorithm", $"must be {AbacSettingsRow.DenyOverrides} or {AbacSettingsRow.Priority}");
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // The revision lock comes first (in the change's record), so concurrent writes apply one after the other.
        var revision = await AbacPolicyCache.RecordSettingsChangeAsync(db, tenant.TenantId, algorithm, cancellationToken);
        var row = await db.AbacSettings.FirstOrDefaultAsync(cancellationToken);
        if (row is null)
        {
            db.AbacSettings.Add(new AbacSettingsRow { TenantId = tenant.TenantId, CombiningAlgorithm = algorithm, UpdatedAt = DateTimeOffset.UtcNow });
        }
        else
        {
            row.CombiningAlgorithm = algorithm;
            row.UpdatedAt = DateTimeOffset.UtcNow;
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await cache.AfterWriteAsync(tenant.TenantId, revision, cancellationToken);
        return TypedResults.Ok(new DataResponse<AbacSettingsResponse>(new AbacSettingsResponse(algorithm), "ABAC settings updated"));
    }
}
