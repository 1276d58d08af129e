using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Outbox;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// The first proof of an address by a link that uses none of the account's credentials (a sign-in link, a password
/// reset link). For an account someone registered themselves (<see cref="User.SelfRegisteredUnproven"/>) anyone could
/// have registered the address and set the account up — a password, an app, a phone for texted codes, e-mailed codes,
/// passkeys, backup codes — waiting for its owner to take it over and keep those in place for them. The proof removes
/// all of it, with the adaptive authentication's known devices and networks (the token service forgets the trusted
/// browsers on <see cref="UserMfaReset"/>), and ends the sessions opened before it
/// (<see cref="UserUnprovenCredentialsRemoved"/>). Accounts an admin, SCIM or an invitation made keep their credentials
/// even while the address is unverified: those were vouched for by whoever made the account.
/// </summary>
public static class UnprovenCredentials
{
    /// <summary>What <see cref="ProveAddressAsync"/> did.</summary>
    /// <param name="ProvenNow">The address was unverified or an unproven self-registration, and is proven now.</param>
    /// <param name="Removed">It was an unproven self-registration: what it had went, and the sessions before this moment end.</param>
    public sealed record Outcome(bool ProvenNow, bool Removed);

    private static readonly Outcome AlreadyProven = new(false, false);

    /// <summary>
    /// Marks the address proven, in the caller's transaction, and for an unproven self-registration removes what the account
    /// got before. Nothing happens to an address proven already (by another link meanwhile): the conditional updates decide,
    /// so two proofs at once remove once. <paramref name="keepPassword"/>: the caller has just set the password (a reset),
    /// which stays.
    /// </summary>
    public static async Task<Outcome> ProveAddressAsync(AdminDbContext db, User user, bool keepPassword, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var mine = db.Users.IgnoreQueryFilters().Where(u => u.Id == user.Id && u.TenantId == user.TenantId);
        var unvouched = mine.Where(u => u.SelfRegisteredUnproven);
        var passwordRemoved = !keepPassword && await unvouched.Where(u => u.PasswordHash != null).ExecuteUpdateAsync(s => s
            .SetProperty(u => u.EmailVerified, true)
            .SetProperty(u => u.SelfRegisteredUnproven, false)
            .SetProperty(u => u.PasswordHash, (string?)null)
            .SetProperty(u => u.PasswordChangedAt, (DateTimeOffset?)null)
            .SetProperty(u => u.MustChangePassword, true)
            .SetProperty(u => u.UpdatedAt, now), cancellationToken) == 1;
        var removing = passwordRemoved || await unvouched.ExecuteUpdateAsync(s => s
            .SetProperty(u => u.EmailVerified, true)
            .SetProperty(u => u.SelfRegisteredUnproven, false)
            .SetProperty(u => u.UpdatedAt, now), cancellationToken) == 1;
        if (!removing)
        {
            // Made by an admin, SCIM or an invitation (or proven before and its address changed since): only verified.
            var verifiedNow = await mine.Where(u => !u.EmailVerified).ExecuteUpdateAsync(s => s
                .SetProperty(u => u.EmailVerified, true)
                .SetProperty(u => u.UpdatedAt, now), cancellationToken) == 1;
            if (!verifiedNow)
            {
                return AlreadyProven;
            }

            db.AddEvent(new UserUpdated(user.Id, ["emailVerified"]) { TenantId = user.TenantId });
            await db.SaveChangesAsync(cancellationToken);
            return new Outcome(true, false);
        }

        var factorsRemoved = await RemoveSecondFactorsAsync(db, user, cancellationToken);
        // Passwords nobody proved are not the owner's history: keeping them would refuse (and so reveal) the same choice.
        await db.PasswordHistory.IgnoreQueryFilters().Where(h => h.TenantId == user.TenantId && h.UserId == user.Id).ExecuteDeleteAsync(cancellationToken);
        await db.SignInTraits.IgnoreQueryFilters().Where(t => t.TenantId == user.TenantId && t.UserId == user.Id).ExecuteDeleteAsync(cancellationToken);

        db.AddEvent(new UserUpdated(user.Id, passwordRemoved ? ["emailVerified", "password"] : ["emailVerified"]) { TenantId = user.TenantId });
        if (factorsRemoved)
        {
            db.AddEvent(new UserMfaReset(user.Id) { TenantId = user.TenantId });
        }

        // Every session before this moment was opened with what just went: the token service ends them from this event
        // (committed with the removal, so a lost browser or a token-service hiccup cannot skip it).
        db.AddEvent(new UserUnprovenCredentialsRemoved(user.Id) { TenantId = user.TenantId, OccurredAt = now });
        await db.SaveChangesAsync(cancellationToken);
        return new Outcome(true, true);
    }

    /// <summary>Every factor (confirmed or pending), backup code and passkey of the user; whether there was any.</summary>
    private static async Task<bool> RemoveSecondFactorsAsync(AdminDbContext db, User user, CancellationToken cancellationToken)
    {
        var factors = await db.MfaFactors.IgnoreQueryFilters()
            .Where(f => f.TenantId == user.TenantId && f.UserId == user.Id).ExecuteDeleteAsync(cancellationToken);
        var backupCodes = await db.BackupCodes.IgnoreQueryFilters()
            .Where(c => c.TenantId == user.TenantId && c.UserId == user.Id).ExecuteDeleteAsync(cancellationToken);
        var passkeys = await db.Passkeys.IgnoreQueryFilters()
            .Where(p => p.TenantId == user.TenantId && p.UserId == user.Id).ExecuteDeleteAsync(cancellationToken);
        return factors + backupCodes + passkeys > 0;
    }
}
