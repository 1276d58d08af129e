using System.Security.Cryptography;
using System.Text;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Messaging;
using MassTransit;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Token.Features.Login;

/// <summary>
/// "Remember this device" (the docs' MFA setting <c>mfaPolicy.rememberDeviceDays</c>): after a sign-in with the TOTP step,
/// the user may trust the browser for that many days; a password sign-in from it then skips the TOTP step. The browser
/// keeps a random token in a tenant-path cookie, the database only its SHA-256 and whose it is. Trust ends when it
/// expires, when an administrator clears it (<c>/admin/users/{id}/trusted-devices</c>), and with an MFA reset, a block or
/// a deletion of the user.
/// </summary>
public sealed class TrustedDevices(TokenDbContext db, TimeProvider time)
{
    // Not the device id's cookie (DeviceCookie, lumo_device): each would overwrite the other.
    public const string CookieName = "lumo_trusted";

    /// <summary>The user this browser is trusted for, or null (no cookie, unknown, expired, or the tenant's switch is off).</summary>
    public async Task<Guid?> TrustedUserAsync(HttpContext http, CancellationToken cancellationToken)
    {
        if (http.Request.Cookies[CookieName] is not { Length: > 0 and <= 100 } token)
        {
            return null;
        }

        var hash = Hash(token);
        var now = time.GetUtcNow();
        var device = await db.TrustedDevices.AsNoTracking().FirstOrDefaultAsync(d => d.TokenHash == hash && d.ExpiresAt > now, cancellationToken);
        if (device is null)
        {
            return null;
        }

        // No row updated: the trust was withdrawn (by an administrator, or an MFA reset) since it was read.
        var touched = await db.TrustedDevices.Where(d => d.Id == device.Id)
            .ExecuteUpdateAsync(u => u.SetProperty(d => d.LastUsedAt, now), cancellationToken);
        return touched == 1 ? device.UserId : null;
    }

    /// <summary>Trusts this browser for <paramref name="userId"/> for <paramref name="days"/> days (a new token each time).</summary>
    public async Task RememberAsync(HttpContext http, string tenantSlug, Guid userId, int days, CancellationToken cancellationToken)
    {
        var token = WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));
        var now = time.GetUtcNow();
        var userAgent = http.Request.Headers.UserAgent.ToString();
        db.TrustedDevices.Add(new TrustedDevice
        {
            Id = Guid.CreateVersion7(), UserId = userId, TokenHash = Hash(token), CreatedAt = now, ExpiresAt = now.AddDays(days),
            UserAgent = userAgent.Length > 512 ? userAgent[..512] : userAgent,
        });
        await db.SaveChangesAsync(cancellationToken);
        http.Response.Cookies.Append(CookieName, token, TenantCookies.Options(http, tenantSlug, TimeSpan.FromDays(days)));
    }

    /// <summary>The user's trusted browsers, newest first.</summary>
    public Task<List<TrustedDeviceEndpoints.TrustedDeviceResponse>> ListAsync(Guid userId, CancellationToken cancellationToken) =>
        db.TrustedDevices.AsNoTracking().Where(d => d.UserId == userId).OrderByDescending(d => d.CreatedAt)
            .Select(d => new TrustedDeviceEndpoints.TrustedDeviceResponse(d.Id, d.UserAgent, d.CreatedAt, d.ExpiresAt, d.LastUsedAt))
            .ToListAsync(cancellationToken);

    /// <summary>Ends the trust of every browser of the user; how many there were.</summary>
    public Task<int> ForgetUserAsync(Guid userId, CancellationToken cancellationToken) =>
        db.TrustedDevices.Where(d => d.UserId == userId).ExecuteDeleteAsync(cancellationToken);

    /// <summary>Ends the trust of the user's browsers trusted before <paramref name="before"/> (a browser trusted since stays); how many there were.</summary>
    public Task<int> ForgetUserTrustedBeforeAsync(Guid userId, DateTimeOffset before, CancellationToken cancellationToken) =>
        db.TrustedDevices.Where(d => d.UserId == userId && d.CreatedAt < before).ExecuteDeleteAsync(cancellationToken);

    private static string Hash(string token) => Convert.ToHexString(SHA256.HashData(Encoding.ASCII.GetBytes(token)));
}

/// <summary>Admin API: a user's trusted browsers, listed and cleared ("admins can clear all trusted devices for a user").</summary>
public static class TrustedDeviceEndpoints
{
    public sealed record TrustedDeviceResponse(Guid Id, string? UserAgent, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? LastUsedAt);

    public static IEndpointRouteBuilder MapTrustedDeviceEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin/users/{userId:guid}/trusted-devices")
            .RequireAuthorization(Policies.TenantAdmin)
            .GuardingAdministratorAccounts()
            .WithTags("Trusted devices");
        group.MapGet("/", ListAsync).WithName("ListTrustedDevices");
        group.MapDelete("/", ClearAsync).WithName("ClearTrustedDevices");
        group.MapDelete("/{deviceId:guid}", DeleteAsync).WithName("DeleteTrustedDevice");
        return app;
    }

    private static async Task<IResult> ListAsync(Guid userId, TrustedDevices devices, CancellationToken cancellationToken) =>
        Results.Ok(new DataResponse<IReadOnlyList<TrustedDeviceResponse>>(await devices.ListAsync(userId, cancellationToken)));

    private static async Task<IResult> ClearAsync(Guid userId, TrustedDevices devices, CancellationToken cancellationToken)
    {
        await devices.ForgetUserAsync(userId, cancellationToken);
        return Results.NoContent();
    }

    private static async Task<IResult> DeleteAsync(Guid userId, Guid deviceId, TokenDbContext db, CancellationToken cancellationToken) =>
        await db.TrustedDevices.Where(d => d.UserId == userId && d.Id == deviceId).ExecuteDeleteAsync(cancellationToken) == 0
            ? ApiErrors.NotFound("Trusted device")
            : Results.NoContent();
}

/// <summary>
/// An MFA reset, a block, a deactivation or a deletion ends the user's trusted devices (idempotent: deleting nothing is
/// fine). Only those trusted when it happened (<see cref="EventCutOff"/>): a late or repeated delivery must not end the
/// trust of a browser after the user enrolled again.
/// </summary>
public sealed class TrustedDeviceCleanupConsumer(TenantContext tenant, IServiceProvider services)
    : IConsumer<UserMfaReset>, IConsumer<UserBlocked>, IConsumer<UserDeactivated>, IConsumer<UserDeleted>
{
    public Task Consume(ConsumeContext<UserMfaReset> context) => ForgetAsync(context.Message, context.Message.UserId, context.CancellationToken);

    public Task Consume(ConsumeContext<UserBlocked> context) => ForgetAsync(context.Message, context.Message.UserId, context.CancellationToken);

    public Task Consume(ConsumeContext<UserDeactivated> context) => ForgetAsync(context.Message, context.Message.UserId, context.CancellationToken);

    public Task Consume(ConsumeContext<UserDeleted> context) => ForgetAsync(context.Message, context.Message.UserId, context.CancellationToken);

    private async Task ForgetAsync(IntegrationEvent message, Guid userId, CancellationToken cancellationToken)
    {
        if (message.TenantId is not { } id)
        {
            return;
        }

        tenant.Set(new TenantInfo(id, string.Empty, string.Empty, TenantStatuses.Active, string.Empty));
        await services.GetRequiredService<TrustedDevices>().ForgetUserTrustedBeforeAsync(userId, EventCutOff.Of(message), cancellationToken);
    }
}
