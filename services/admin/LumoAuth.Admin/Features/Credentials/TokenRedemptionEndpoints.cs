using System.Security.Cryptography;
using System.Text;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Internal;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// The token service's hosted pages' side of password resets, invitations and email verification: links
/// are requested by address, and the link's token (sent by e-mail, never stored in clear) is redeemed
/// before it expires.
/// </summary>
public static partial class TokenRedemptionEndpoints
{
    public const string CompletePasswordReset = EmailLinkPaths.CompletePasswordReset;
    public const string AcceptInvitation = EmailLinkPaths.AcceptInvitation;

    public static IEndpointRouteBuilder MapTokenRedemptionEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(string.Empty).RequireAuthorization(Policies.Internal).WithTags("Internal");
        group.MapPost(CompletePasswordReset, CompleteReset).WithName("InternalCompletePasswordReset");
        group.MapPost(AcceptInvitation, Accept).WithName("InternalAcceptInvitation");
        group.MapPost(EmailLinkPaths.RequestPasswordReset, PasswordResetRequests.RequestByEmail).WithName("InternalRequestPasswordReset");
        group.MapPost(EmailLinkPaths.RequestEmailVerification, EmailVerifications.Request).WithName("InternalRequestEmailVerification");
        group.MapPost(EmailLinkPaths.CompleteEmailVerification, EmailVerifications.Complete).WithName("InternalCompleteEmailVerification");
        return app;
    }

    public static byte[] HashOf(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    public static async Task<IResult> CompleteReset(
        CompletePasswordResetRequest request, AdminDbContext db, TenantContext tenant, UserCommands users, CancellationToken cancellationToken)
    {
        if (!await InternalTenantScope.EnterAsync(db, tenant, request.TenantId, cancellationToken) || string.IsNullOrEmpty(request.Token) || request.Token.Length > 200)
        {
            return InvalidToken();
        }

        var hash = HashOf(request.Token);
        var now = DateTimeOffset.UtcNow;
        var token = await db.PasswordResetTokens.AsNoTracking().FirstOrDefaultAsync(t => t.TokenHash == hash && t.UsedAt == null && t.ExpiresAt > now, cancellationToken);
        var user = token is null ? null : await db.Users.FirstOrDefaultAsync(u => u.Id == token.UserId, cancellationToken);
        if (token is null || user is null)
        {
            return InvalidToken();
        }

        // Claimed by a conditional update, so of two submissions of one link only one sets a password; a password the
        // policy refuses rolls the claim back and the link still works.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var claimed = await db.PasswordResetTokens.Where(t => t.Id == token.Id && t.UsedAt == null && t.ExpiresAt > now)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.UsedAt, now), cancellationToken);
        if (claimed != 1)
        {
            return InvalidToken();
        }

        if (await users.SetPasswordAsync(user, request.Password, cancellationToken, request.SignOutEverywhere) is { } refused)
        {
            return refused;
        }

        // The link reached the address without the account's credentials: it is proven, and a self-registration's first
        // proof removes what the account got before (the password being replaced too); the token service then ends the
        // sessions from before (UserUnprovenCredentialsRemoved, committed here).
        var proof = await UnprovenCredentials.ProveAddressAsync(db, user, keepPassword: true, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new ServiceDefaults.Paging.DataResponse<object>(
            new { userId = user.Id, unprovenCredentialsRemoved = proof.Removed }, "Password reset"));
    }

    /// <summary>
    /// Creates the invitee's account (email verified by the link) with the invitation's groups. One sent with a
    /// resource-scoped key gives no roles and skips any group that holds an administering role by now.
    /// </summary>
    public static async Task<IResult> Accept(
        AcceptInvitationRequest request, AdminDbContext db, TenantContext tenant, UserCommands users, RoleHolderLookup roleHolders, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (!await InternalTenantScope.EnterAsync(db, tenant, request.TenantId, cancellationToken) || string.IsNullOrEmpty(request.Token) || request.Token.Length > 200)
        {
            return InvalidToken();
        }

        var hash = HashOf(request.Token);
        var now = DateTimeOffset.UtcNow;
        var invitation = await db.Invitations.AsNoTracking().FirstOrDefaultAsync(
            i => i.TokenHash == hash && i.Status == InvitationStatuses.Pending && i.ExpiresAt > now, cancellationToken);
        if (invitation is null)
        {
            return InvalidToken();
        }

        var (roles, groupIds) = (invitation.Roles, invitation.GroupIds);
        if (!invitation.ByFullAdministrator)
        {
            IReadOnlySet<Guid>? administering = groupIds.Count == 0 ? new HashSet<Guid>() : await roleHolders.AdministeringAsync(invitation.TenantId, [], groupIds, cancellationToken);
            if (administering is null)
            {
                return ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "The invitation cannot be accepted right now; try again shortly");
            }

            if (roles.Count > 0 || administering.Count > 0)
            {
                // Tells administrators why an invitation from a scoped key (or one from before senders were recorded) gave less.
                LogInvitationNarrowed(loggers.CreateLogger(typeof(TokenRedemptionEndpoints)), invitation.Id, roles.Count, administering.Count);
            }

            (roles, groupIds) = ([], [.. groupIds.Where(g => !administering.Contains(g))]);
        }

        // Out of pending only if still pending (not revoked, accepted or expired meanwhile), in the transaction that creates
        // the account: the acceptance commits with the account or not at all.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var moved = await db.Invitations
            .Where(i => i.Id == invitation.Id && i.TenantId == invitation.TenantId && i.Status == InvitationStatuses.Pending && i.ExpiresAt > now)
            .ExecuteUpdateAsync(s => s.SetProperty(i => i.Status, InvitationStatuses.Accepted), cancellationToken);
        if (moved != 1)
        {
            return InvalidToken();
        }

        // A group deleted since the invitation was sent is skipped: the rest of the invitation still stands. The others are
        // held until the account commits, so none is soft-deleted between this check and the membership.
        groupIds = [.. groupIds.Where((await Groups.GroupMembership.LockLiveAsync(db, invitation.TenantId, groupIds, cancellationToken)).Contains)];

        var userId = Guid.CreateVersion7();
        db.AddEvent(new UserInvitationAccepted(invitation.Id, userId, roles) { TenantId = invitation.TenantId });
        var (user, error) = await users.CreateAsync(new NewUser(
            invitation.Email, request.Password, new UserProfileFields(request.Name, null, null, null, null, null) { Locale = request.Locale ?? invitation.Locale }, true, true,
            groupIds.Select(g => g.ToString()).ToList(), Id: userId), cancellationToken);
        if (error is not null)
        {
            return error;
        }

        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Created((string?)null, new ServiceDefaults.Paging.DataResponse<object>(new { userId = user!.Id, email = user.Email }, "Invitation accepted"));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Invitation {InvitationId} was not sent by a full administrator: its {Roles} roles and {Groups} administering groups were not given at acceptance")]
    private static partial void LogInvitationNarrowed(ILogger logger, Guid invitationId, int roles, int groups);

    private static IResult InvalidToken() => ApiErrors.BadRequest(ErrorCodes.InvalidToken, "The link is invalid, expired or already used");
}
