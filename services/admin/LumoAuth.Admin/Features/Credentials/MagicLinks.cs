using System.Security.Cryptography;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.CustomDomains;
using LumoAuth.Admin.Features.Internal;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// One-time sign-in links (TOK-16) for the token service's hosted pages. Every address gets the same 202; afterwards a
/// link is recorded (with an unguessable placeholder hash: the mail sender issues the real token) for an active user of a
/// tenant that has links on. A link works once, until it expires (the tenant's <c>magicLinkExpiryMinutes</c>), only the
/// newest of a user's links works, and it signs in as a password would (lockout, blocked accounts, the TOTP factor).
/// </summary>
public static class MagicLinks
{
    public const string AcceptedMessage = "If an account exists for this address, a sign-in link has been sent to it";
    private const int MaxReturnUrlLength = 8192;

    public static IEndpointRouteBuilder MapMagicLinkEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(string.Empty).RequireAuthorization(Policies.Internal).WithTags("Internal");
        group.MapPost(EmailLinkPaths.RequestMagicLink, Request).WithName("InternalRequestMagicLink");
        group.MapPost(EmailLinkPaths.CompleteMagicLink, Complete).WithName("InternalCompleteMagicLink");
        return app;
    }

    /// <summary>The same 202 and body for every address, after the same work (<see cref="AddressLinkRequests"/>); <see cref="StageForAddressAsync"/> acts on it later.</summary>
    public static Task<IResult> Request(RequestMagicLink request, AdminDbContext db, TenantContext tenant, CancellationToken cancellationToken) =>
        AddressLinkRequests.AcceptAsync(db, tenant, request.TenantId, request.Email, AddressLinkKinds.MagicLink,
            request.ReturnUrl is { Length: > 0 and <= MaxReturnUrlLength } returnUrl ? returnUrl : null, AcceptedMessage, cancellationToken,
            request.Domain is { Length: > 0 and <= 253 } domain ? domain.ToLowerInvariant() : null, request.Language);

    /// <summary>
    /// Acts on a sign-in link request, in the tenant entered: a link (and its event) is staged only for an active user of a
    /// tenant with links on; the caller saves.
    /// </summary>
    public static async Task StageForAddressAsync(
        AdminDbContext db, Guid tenantId, string normalizedEmail, string? returnUrl, string? domain, string? pageLanguage, CancellationToken cancellationToken)
    {
        var policy = (await TenantSettings.LoadAsync(db, tenantId, cancellationToken)).LoginPolicy;
        var user = await db.Users.AsNoTracking()
            .FirstOrDefaultAsync(u => u.NormalizedEmail == normalizedEmail && !u.Blocked && u.IsActive && u.SoftDeletedAt == null, cancellationToken);
        // At most one link per address every MinimumSpacing: a flood of requests for someone's address neither fills their
        // inbox nor keeps replacing the link they are about to click (only the newest works).
        var recently = DateTimeOffset.UtcNow - PasswordResetRequests.MinimumSpacing;
        if (user is null || !(policy.MagicLinkEnabled || policy.MagicLinkOnly)
            || await db.MagicLinkTokens.AnyAsync(t => t.UserId == user.Id && t.CreatedAt > recently, cancellationToken))
        {
            return;
        }

        // Only the newest link works.
        await db.MagicLinkTokens.Where(t => t.UserId == user.Id && t.UsedAt == null).ExecuteDeleteAsync(cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var link = new MagicLinkToken
        {
            Id = Guid.CreateVersion7(), TenantId = user.TenantId, UserId = user.Id,
            TokenHash = SHA256.HashData(RandomNumberGenerator.GetBytes(32)),
            ReturnUrl = returnUrl is { Length: > 0 and <= MaxReturnUrlLength } ? returnUrl : null,
            // Only one of the tenant's verified domains; the mail sender checks again when it builds the link.
            Domain = domain is not null && await db.IsVerifiedDomainAsync(domain, cancellationToken) ? domain : null,
            CreatedAt = now, ExpiresAt = now.AddMinutes(policy.MagicLinkExpiryMinutes),
        };
        db.MagicLinkTokens.Add(link);
        db.AddEvent(new UserMagicLinkRequested(user.Id, link.ExpiresAt) { TenantId = user.TenantId, LinkId = link.Id, Language = pageLanguage });
    }

    public static async Task<IResult> Complete(
        CompleteMagicLink request, AdminDbContext db, TenantContext tenant, Authenticator authenticator, CancellationToken cancellationToken)
    {
        var invalid = TypedResults.Ok(new MagicLinkSignIn(
            new AuthenticateResponse(AuthenticationOutcomes.InvalidCredentials, null, null, null, false, null, []), null));
        if (!await InternalTenantScope.EnterAsync(db, tenant, request.TenantId, cancellationToken) || request.Token is not { Length: > 0 and <= 200 })
        {
            return invalid;
        }

        // Switching links off also ends the ones already sent.
        var policy = (await TenantSettings.LoadAsync(db, request.TenantId, cancellationToken)).LoginPolicy;
        var hash = TokenRedemptionEndpoints.HashOf(request.Token);
        var now = DateTimeOffset.UtcNow;
        var link = await db.MagicLinkTokens.AsNoTracking().FirstOrDefaultAsync(t => t.TokenHash == hash && t.UsedAt == null && t.ExpiresAt > now, cancellationToken);
        var user = link is null ? null : await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == link.UserId, cancellationToken);
        if (link is null || user is null || !(policy.MagicLinkEnabled || policy.MagicLinkOnly))
        {
            return invalid;
        }

        // Used up only by the sign-in itself, and only once even when clicked twice at the same moment.
        var verdict = await authenticator.SignInWithLinkAsync(request, user,
            async ct => await db.MagicLinkTokens.Where(t => t.Id == link.Id && t.UsedAt == null).ExecuteUpdateAsync(s => s.SetProperty(t => t.UsedAt, now), ct) == 1,
            cancellationToken);
        return TypedResults.Ok(new MagicLinkSignIn(verdict, verdict.Outcome == AuthenticationOutcomes.Success ? link.ReturnUrl : null));
    }
}
