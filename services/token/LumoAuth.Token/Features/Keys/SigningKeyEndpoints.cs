using LumoAuth.Contracts.Tokens;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Keys;
using LumoAuth.Token.Protocol;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Token.Features.Keys;

/// <summary>Rotate to a new signing key, optionally of another algorithm; the old one stays published for the grace period.</summary>
public sealed record RotateSigningKeyRequest(string? Algorithm, int? GracePeriodHours);

/// <summary>
/// The tenant's signing keys: <c>/t/{slug}/api/v1/admin/signing-keys</c>. Not in the public API docs (the
/// portal's signing-keys page does this); ours so that rotation and the algorithm choice are scriptable.
/// </summary>
public static class SigningKeyEndpoints
{
    public const int DefaultGracePeriodHours = 24;
    private const int MaxGracePeriodHours = 720;

    public static IEndpointRouteBuilder MapSigningKeyEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin/signing-keys")
            .RequireAuthorization(Policies.TenantAdmin)
            .WithTags("Signing keys");
        group.MapGet("/", ListSigningKeys).WithName("ListSigningKeys");
        group.MapPost("/rotate", RotateSigningKey).WithName("RotateSigningKey");
        return app;
    }

    public sealed record KeyServices(TokenDbContext Db, TenantKeyStore Keys, TenantServerOptionsMonitor ServerOptions, TenantContext Tenant);

    public static async Task<IResult> ListSigningKeys([AsParameters] KeyServices services, CancellationToken cancellationToken) =>
        Results.Ok(new DataResponse<IReadOnlyList<SigningKeyInfo>>(await services.Keys.ListAsync(services.Db, services.Tenant.TenantId, cancellationToken)));

    public static async Task<IResult> RotateSigningKey(RotateSigningKeyRequest? request, [AsParameters] KeyServices services, CancellationToken cancellationToken)
    {
        var tenantId = services.Tenant.TenantId;
        var current = await services.Keys.ListAsync(services.Db, tenantId, cancellationToken);
        var algorithm = request?.Algorithm?.Trim().ToUpperInvariant() ?? current.First(k => k.Status == TenantKeyStore.ActiveStatus).Algorithm;
        var graceHours = request?.GracePeriodHours ?? DefaultGracePeriodHours;
        var validator = new RequestValidator()
            .Check(TenantKeyStore.SigningAlgorithms.Contains(algorithm), "algorithm", "must be one of RS256, PS256, ES256")
            .Check(graceHours is >= 0 and <= MaxGracePeriodHours, "gracePeriodHours", $"must be between 0 and {MaxGracePeriodHours}");
        if (!validator.IsValid)
        {
            return validator.ToResult();
        }

        SigningKeyInfo rotated;
        try
        {
            rotated = await services.Keys.RotateAsync(services.Db, tenantId, algorithm, TimeSpan.FromHours(graceHours),
                (fresh, previous) => services.Db.AddEvent(new SigningKeyRotated(fresh.KeyId, fresh.Algorithm, previous?.KeyId, previous?.PublishedUntil) { TenantId = tenantId }),
                cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.IsUniqueViolation())
        {
            return ApiErrors.Create(StatusCodes.Status409Conflict, ErrorCodes.DuplicateResource, "Another rotation of this tenant's key happened at the same time; list the keys and retry if needed");
        }

        // This replica at once; the others when SigningKeyRotated reaches them.
        services.ServerOptions.Evict(tenantId);
        return Results.Ok(new DataResponse<SigningKeyInfo>(rotated, "Signing key rotated successfully"));
    }
}
