using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Admin.Features.Sms;
using LumoAuth.Admin.Security;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Outbox;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// Password login, with its second step (TOTP, a code by e-mail or a backup code) — asked for always, or where the tenant uses
/// adaptive authentication only when <see cref="SignInRisk"/> finds the sign-in risky — for the token service. Every path that ends in "invalid credentials" costs one
/// PBKDF2 verification, whether or not the user exists, so neither timing nor answer tells them apart.
/// Failures count towards the tenant's lockout; a lock answers "locked" whatever the password.
/// </summary>
public sealed class Authenticator(
    AdminDbContext db, PasswordHasher hasher, TotpFactors totp, SecondStepCodes secondStepCodes, SmsPhones smsPhones, SignInRisk signInRisk)
{

    public async Task<AuthenticateResponse> AuthenticateAsync(AuthenticateRequest request, CancellationToken cancellationToken)
    {
        var email = (request.Email ?? string.Empty).Trim().ToLowerInvariant();
        var password = request.Password ?? string.Empty;
        var user = email.Length is > 0 and <= 320
            ? await db.Users.IgnoreQueryFilters().AsNoTracking()
                .FirstOrDefaultAsync(u => u.TenantId == request.TenantId && u.NormalizedEmail == email, cancellationToken)
            : null;

        // Oversized input is refused after the same work as any other failure.
        var usable = password.Length is > 0 and <= PasswordPolicy.AbsoluteMaxLength;
        var passwordOk = hasher.Verify(usable ? password : "x", user?.PasswordHash ?? hasher.DummyHash) && usable && user?.PasswordHash is not null;

        if (user is null)
        {
            await PublishAsync(request, null, new UserLoginFailed(null, "unknown_user"), cancellationToken);
            return Failure(AuthenticationOutcomes.InvalidCredentials);
        }

        var now = DateTimeOffset.UtcNow;
        if (user.LockedUntil > now)
        {
            await PublishAsync(request, user, new UserLoginFailed(user.Id, "locked"), cancellationToken);
            return Failure(AuthenticationOutcomes.Locked, user.LockedUntil);
        }

        if (!passwordOk)
        {
            return await RecordFailureAsync(request, user, "invalid_password", AuthenticationOutcomes.InvalidCredentials, cancellationToken);
        }

        if (hasher.NeedsRehash(user.PasswordHash!))
        {
            // Made with fewer iterations than new hashes get: stored again, stronger, now that the password is at hand (only
            // if it is still the hash just checked: a change meanwhile wins).
            var stronger = hasher.Hash(password);
            await db.Users.IgnoreQueryFilters().Where(u => u.Id == user.Id && u.PasswordHash == user.PasswordHash)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.PasswordHash, stronger), cancellationToken);
        }

        // Revealed only to someone who knows the password.
        return await SecondStepAsync(request, user, ["pwd"], addressProven: false, claim: null, cancellationToken);
    }

    /// <summary>
    /// Sign-in with an e-mailed link the caller has found (<see cref="MagicLinks"/>): the link stands for the password and
    /// proves the address, so it also verifies an unverified one. <paramref name="claim"/> uses the link up, inside the
    /// success transaction; false (someone used it meanwhile) refuses the sign-in.
    /// </summary>
    public async Task<AuthenticateResponse> SignInWithLinkAsync(
        CompleteMagicLink link, User user, Func<CancellationToken, Task<bool>> claim, CancellationToken cancellationToken)
    {
        var request = new AuthenticateRequest(link.TenantId, user.Email, string.Empty, link.TotpCode, link.IpAddress) { DeviceId = link.DeviceId };
        if (user.LockedUntil > DateTimeOffset.UtcNow)
        {
            await PublishAsync(request, user, new UserLoginFailed(user.Id, "locked"), cancellationToken);
            return Failure(AuthenticationOutcomes.Locked, user.LockedUntil);
        }

        var verdict = await SecondStepAsync(request, user, ["email"], addressProven: true, claim, cancellationToken);
        if (verdict.Outcome != AddressChangedMeanwhile)
        {
            return verdict;
        }

        // Proven (or changed) by another link while this one was checked: what the second step asks for has changed too.
        var current = await db.Users.IgnoreQueryFilters().AsNoTracking()
            .FirstOrDefaultAsync(u => u.Id == user.Id && u.TenantId == user.TenantId, cancellationToken);
        verdict = current is null ? verdict : await SecondStepAsync(request, current, ["email"], addressProven: true, claim, cancellationToken);
        return verdict.Outcome == AddressChangedMeanwhile ? Failure(AuthenticationOutcomes.InvalidCredentials) : verdict;
    }

    /// <summary>
    /// Sign-in with a passkey the caller has verified (<see cref="Passkeys"/>): possession of the key and the user's
    /// verification on the authenticator are two factors already, so no TOTP code is asked.
    /// </summary>
    public async Task<AuthenticateResponse> SignInWithPasskeyAsync(Guid tenantId, User user, string? ipAddress, CancellationToken cancellationToken)
    {
        var request = new AuthenticateRequest(tenantId, user.Email, string.Empty, null, ipAddress);
        if (user.LockedUntil > DateTimeOffset.UtcNow)
        {
            await PublishAsync(request, user, new UserLoginFailed(user.Id, "locked"), cancellationToken);
            return Failure(AuthenticationOutcomes.Locked, user.LockedUntil);
        }

        return await SecondStepAsync(request, user, ["hwk", "user", "mfa"], addressProven: false, claim: null, cancellationToken);
    }

    /// <summary>
    /// Sign-in with an outside account the caller has checked (a social or OpenID Connect provider's answer): the
    /// provider stands for the password (<c>fed</c>); the user's second step, blocks, locks and risk apply as to any sign-in.
    /// </summary>
    public async Task<AuthenticateResponse> SignInFederatedAsync(Guid userId, FederatedSignInRequest federated, CancellationToken cancellationToken)
    {
        var user = await db.Users.IgnoreQueryFilters().AsNoTracking()
            .FirstOrDefaultAsync(u => u.Id == userId && u.TenantId == federated.TenantId, cancellationToken);
        if (user is null)
        {
            return Failure(AuthenticationOutcomes.InvalidCredentials);
        }

        var request = new AuthenticateRequest(federated.TenantId, user.Email, string.Empty, federated.TotpCode, federated.IpAddress)
        {
            DeviceId = federated.DeviceId, MfaMethod = federated.MfaMethod,
        };
        if (user.LockedUntil > DateTimeOffset.UtcNow)
        {
            await PublishAsync(request, user, new UserLoginFailed(user.Id, "locked"), cancellationToken);
            return Failure(AuthenticationOutcomes.Locked, user.LockedUntil);
        }

        return await SecondStepAsync(request, user, ["fed"], addressProven: false, claim: null, cancellationToken);
    }

    /// <summary>
    /// The second step's answer, checked only in the sign-in's transaction once the account is known not to be locked, so
    /// that a locked account uses up no code. <see cref="CheckAsync"/> answers whether it passed, and with an enrolment's
    /// confirmation the first backup codes, and whether it was a code mailed to the address (which proves it); the rest is
    /// what a wrong answer is told.
    /// </summary>
    private sealed record SecondStepAnswer(
        Func<CancellationToken, Task<(bool Passed, IReadOnlyList<string>? BackupCodes, bool Mailed)>> CheckAsync,
        string? Method = null, string? Hint = null, string? OtherMethod = null);

    /// <summary>Never leaves: the address was proven or changed while a link's sign-in was checked; the caller starts again.</summary>
    private const string AddressChangedMeanwhile = "address_changed_meanwhile";

    /// <summary>After the first factor: blocked accounts, unverified addresses, the second step, then the sign-in itself.</summary>
    private async Task<AuthenticateResponse> SecondStepAsync(
        AuthenticateRequest request, User user, IReadOnlyList<string> factors, bool addressProven, Func<CancellationToken, Task<bool>>? claim, CancellationToken cancellationToken)
    {
        if (user.Blocked || !user.IsActive || user.SoftDeletedAt is not null)
        {
            await PublishAsync(request, user, new UserLoginFailed(user.Id, "blocked"), cancellationToken);
            return Failure(AuthenticationOutcomes.Blocked);
        }

        // A tenant that requires verified addresses lets nobody in before theirs is verified (also revealed only
        // to someone who knows the password).
        var settings = await TenantSettings.LoadAsync(db, user.TenantId, cancellationToken);
        if (!user.EmailVerified && !addressProven && settings.LoginPolicy.EmailVerificationRequired)
        {
            await PublishAsync(request, user, new UserLoginFailed(user.Id, "email_not_verified"), cancellationToken);
            return Failure(AuthenticationOutcomes.EmailNotVerified);
        }

        var methods = factors.ToList();
        // A link that proves the address of a self-registered account for the first time is not asked for what the account
        // got before: that may be someone else's (who registered the address first), and goes with this sign-in
        // (UnprovenCredentials). An account an admin, SCIM or an invitation made keeps its second step, verified or not.
        var firstProof = addressProven && user.SelfRegisteredUnproven;
        // A sign-in that took more than one factor already (a passkey) needs no second step. Otherwise the second step is the
        // user's TOTP app, else codes by text message, else by e-mail — whichever they have; someone with several may choose
        // (their phone is elsewhere). No mailed code after an e-mailed link: it would prove the same thing twice.
        var twoFactorsAlready = methods.Contains("mfa");
        var confirmed = twoFactorsAlready || firstProof ? [] : await db.MfaFactors.IgnoreQueryFilters().AsNoTracking()
            .Where(f => f.UserId == user.Id && f.Confirmed && (f.Type == MfaFactorTypes.Totp || f.Type == MfaFactorTypes.Sms || f.Type == MfaFactorTypes.Email))
            .OrderBy(f => f.CreatedAt).ToListAsync(cancellationToken);
        var totpFactor = confirmed.FirstOrDefault(f => f.Type == MfaFactorTypes.Totp);
        var smsFactor = secondStepCodes.CanText(settings) ? confirmed.FirstOrDefault(f => f.Type == MfaFactorTypes.Sms) : null;
        var emailUsable = !twoFactorsAlready && !addressProven && secondStepCodes.AreTheFactorOf(settings, user, confirmed.Any(f => f.Type == MfaFactorTypes.Email));
        var available = new List<string>(3);
        if (totpFactor is not null)
        {
            available.Add(MfaFactorTypes.Totp);
        }

        if (smsFactor is not null)
        {
            available.Add(MfaFactorTypes.Sms);
        }

        if (emailUsable)
        {
            available.Add(MfaFactorTypes.Email);
        }

        // The docs' "passkeys as MFA": where a second factor is required and the user's only one is a passkey, the password is
        // followed by the passkey (its own sign-in then completes the step, so the answer only names it; a backup code may
        // stand in). Without this the passkey would excuse the user from enrolling and the password alone would open the account.
        if (available.Count == 0 && !twoFactorsAlready && !firstProof && settings.MfaPolicy.Required && settings.PasskeysAreASecondFactor
            && await db.Passkeys.IgnoreQueryFilters().AnyAsync(p => p.UserId == user.Id, cancellationToken))
        {
            available.Add(MfaFactorTypes.WebAuthn);
        }

        var chosen = available.Contains(request.MfaMethod ?? string.Empty) ? request.MfaMethod : available.FirstOrDefault();
        var other = available.Count > 1 ? available[(available.IndexOf(chosen!) + 1) % available.Count] : null;
        var secondStep = chosen is not null;

        // Adaptive authentication: a risky sign-in is refused; otherwise the second step is asked for only at medium risk —
        // by a mailed code for a user with no factor of their own, where codes can reach them.
        var risk = settings.AdaptiveAuth.Enabled && !twoFactorsAlready ? await signInRisk.AssessAsync(settings.AdaptiveAuth, user, request, cancellationToken) : null;
        if (risk?.Travel is { } travel && string.IsNullOrEmpty(request.TotpCode))
        {
            await PublishAsync(request, user, new AdaptiveAuthImpossibleTravel(user.Id, travel.DistanceKm, travel.Hours), cancellationToken);
        }
        if (risk is { Level: RiskLevels.High })
        {
            await PublishAsync(request, user, new AdaptiveAuthHighRisk(user.Id, risk.Score, risk.Signals), cancellationToken);
            return Failure(AuthenticationOutcomes.RiskBlocked);
        }

        var ask = secondStep && (request.RequireSecondStep || risk is not { Level: RiskLevels.Low });
        if (risk is { Level: RiskLevels.Medium } && !secondStep && !addressProven && secondStepCodes.CanReach(settings, user))
        {
            (chosen, ask) = (MfaFactorTypes.Email, true);
        }

        // A browser the user trusted after an earlier second step ("remember device") is not asked again; the sign-in
        // itself is still one factor (amr pwd), so tokens do not claim more than this sign-in proved.
        var trustedDevice = ask && request.TrustedDeviceUserId == user.Id && settings.MfaPolicy.RememberDeviceDays > 0;
        SecondStepAnswer? answer = null;
        if (ask && !trustedDevice)
        {
            var step = chosen!;
            var hint = step switch
            {
                MfaFactorTypes.Email => SecondStepCodes.Hint(user.Email),
                MfaFactorTypes.Sms => SmsPhones.Hint(smsPhones.NumberOf(smsFactor!)),
                _ => null,
            };
            if (string.IsNullOrEmpty(request.TotpCode))
            {
                if (step is MfaFactorTypes.Sms or MfaFactorTypes.Email)
                {
                    await secondStepCodes.SendAsync(user, cancellationToken, step == MfaFactorTypes.Sms ? smsFactor : null);
                }

                if (risk is not null)
                {
                    await PublishAsync(request, user, new AdaptiveAuthMediumRisk(user.Id, risk.Score, risk.Signals, step), cancellationToken);
                }

                return Failure(AuthenticationOutcomes.MfaRequired) with { MfaMethod = step, MfaCodeHint = hint, MfaOtherMethod = other };
            }

            var code = request.TotpCode.Trim();
            answer = new SecondStepAnswer(ct => CheckCodeAsync(user, step, totpFactor, smsFactor, code, ct), step, hint, other);
            // RFC 8176: "sms" for a texted code, "otp" for an app's or a mailed one.
            methods.AddRange([step == MfaFactorTypes.Sms ? "sms" : "otp", "mfa"]);
        }

        DateTimeOffset? enrolmentDueAt = null;
        // The tenant requires a second factor and the user has none (no TOTP, no texted or e-mailed codes, no passkey that counts):
        // reminded until the grace period ends, made to enrol after it.
        if (!secondStep && !twoFactorsAlready && settings.MfaPolicy.Required)
        {
            var due = settings.MfaPolicy.EnrolmentDueFor(user.CreatedAt);
            if (DateTimeOffset.UtcNow < due)
            {
                enrolmentDueAt = due;
            }
            else
            {
                switch (await EnrolAsync(request, user, settings, cancellationToken))
                {
                    case (null, var confirmation):
                        answer = confirmation;
                        methods.AddRange(["otp", "mfa"]);
                        break;
                    case (var refusal, _):
                        return refusal!;
                }
            }
        }

        return await SignInAsync(request, user, methods, addressProven, claim, answer, risk, ask && !trustedDevice, trustedDevice, enrolmentDueAt, cancellationToken);
    }

    /// <summary>
    /// The second step's code: the chosen method's, or a backup code in its place (each used up when right); whether it was
    /// the code mailed to the user's address.
    /// </summary>
    private async Task<(bool Passed, IReadOnlyList<string>? BackupCodes, bool Mailed)> CheckCodeAsync(
        User user, string step, MfaFactor? totpFactor, MfaFactor? smsFactor, string code, CancellationToken cancellationToken)
    {
        var passed = step switch
        {
            MfaFactorTypes.Totp => await totp.VerifyAndConsumeAsync(totpFactor!, code, cancellationToken),
            // The passkey answers at its own endpoint; here only a backup code can stand in for it.
            MfaFactorTypes.WebAuthn => false,
            _ => await secondStepCodes.TryUseAsync(user, code, step == MfaFactorTypes.Sms ? smsFactor!.Id : null, cancellationToken),
        };
        if (passed)
        {
            return (true, null, step == MfaFactorTypes.Email);
        }

        return (BackupCodes.LooksLikeOne(code) && await BackupCodes.TryUseAsync(db, user.Id, code, cancellationToken), null, false);
    }

    /// <summary>
    /// The sign-in itself, in one transaction: the account must still be unlocked (its row held until the end, so failures
    /// checked alongside wait), then the second step's answer is checked and used up, the link claimed, and the address
    /// proven by a first link.
    /// </summary>
    private async Task<AuthenticateResponse> SignInAsync(
        AuthenticateRequest request, User user, List<string> methods, bool addressProven, Func<CancellationToken, Task<bool>>? claim,
        SecondStepAnswer? answer, RiskAssessment? risk, bool asked, bool trustedDevice, DateTimeOffset? enrolmentDueAt,
        CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // Wrong guesses sent alongside this one may have locked the account after its user row was read: then this sign-in
        // is refused like any other, before it uses up a code the user will need once the lock ends.
        var unvouched = await db.Database.SqlQuery<bool>($"""
            SELECT "SelfRegisteredUnproven" AS "Value" FROM users
            WHERE "Id" = {user.Id} AND ("LockedUntil" IS NULL OR "LockedUntil" <= {now})
            FOR NO KEY UPDATE
            """).ToListAsync(cancellationToken);
        if (unvouched.Count == 0)
        {
            await transaction.RollbackAsync(cancellationToken);
            return await LockedAsync(request, user, cancellationToken);
        }

        // Proven by another link meanwhile: the second step this one skipped (or asked for) is no longer the right one.
        if (addressProven && unvouched.Single() != user.SelfRegisteredUnproven)
        {
            await transaction.RollbackAsync(cancellationToken);
            return Failure(AddressChangedMeanwhile);
        }

        IReadOnlyList<string>? backupCodes = null;
        var mailed = false;
        if (answer is not null)
        {
            (var passed, backupCodes, mailed) = await answer.CheckAsync(cancellationToken);
            if (!passed)
            {
                // Kept: a wrong guess counts against the code it was for (only so many are allowed), and towards the lockout —
                // counted under the row lock this transaction holds, so guesses queued behind it see the lock it may set.
                var failure = await RecordFailureAsync(request, user, "invalid_mfa", AuthenticationOutcomes.MfaInvalid, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return failure with { MfaMethod = answer.Method, MfaCodeHint = answer.Hint, MfaOtherMethod = answer.OtherMethod };
            }
        }

        if (claim is not null && !await claim(cancellationToken))
        {
            await transaction.RollbackAsync(cancellationToken);
            return Failure(AuthenticationOutcomes.InvalidCredentials);
        }

        await db.Users.IgnoreQueryFilters().Where(u => u.Id == user.Id).ExecuteUpdateAsync(s => s
            .SetProperty(u => u.FailedLoginCount, 0)
            .SetProperty(u => u.LockedUntil, (DateTimeOffset?)null)
            .SetProperty(u => u.LoginCount, u => u.LoginCount + 1)
            .SetProperty(u => u.LastLoginAt, now), cancellationToken);

        // The link reached the address: it is verified now, as by a verification link, and what an unproven self-registration
        // got before goes (UnprovenCredentials); the owner chooses their own password by a reset.
        var proof = addressProven && (!user.EmailVerified || user.SelfRegisteredUnproven)
            ? await UnprovenCredentials.ProveAddressAsync(db, user, keepPassword: false, cancellationToken)
            : null;
        if (mailed && user.SelfRegisteredUnproven)
        {
            // A code mailed to the address, with the password: whoever reads the mailbox knows the password too, so what the
            // account has is theirs (the address was verified already: codes are mailed only to verified ones).
            await db.Users.IgnoreQueryFilters().Where(u => u.Id == user.Id && u.SelfRegisteredUnproven)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.SelfRegisteredUnproven, false).SetProperty(u => u.UpdatedAt, now), cancellationToken);
        }

        // The assessment of a sign-in that asked for no second step (one that did was recorded when it asked).
        if (risk is not null && !asked)
        {
            await PublishAsync(request, user, risk.Level == RiskLevels.Low
                ? new AdaptiveAuthLowRisk(user.Id, risk.Score, risk.Signals)
                : new AdaptiveAuthMediumRisk(user.Id, risk.Score, risk.Signals, trustedDevice ? "trusted_device" : "none_available"), cancellationToken);
        }

        // Where this browser and network are known from, for adaptive authentication (kept even while the tenant does not use it).
        await signInRisk.RememberAsync(user, request, now, cancellationToken);
        await PublishAsync(request, user, new UserLoginSucceeded(user.Id, methods), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new AuthenticateResponse(AuthenticationOutcomes.Success, user.Id, user.Email, user.Name, user.EmailVerified || addressProven, null, methods)
        {
            BackupCodes = backupCodes, MfaEnrolmentDueAt = enrolmentDueAt, UnprovenCredentialsRemoved = proof?.Removed ?? false, Locale = user.Locale,
        };
    }

    /// <summary>
    /// Enrolment during sign-in: without a code (or without a pending factor) a new TOTP secret is offered for the sign-in
    /// page; with a code from it, the answer that confirms the factor in the sign-in's transaction and gives its first
    /// backup codes.
    /// </summary>
    private async Task<(AuthenticateResponse? Refusal, SecondStepAnswer? Confirmation)> EnrolAsync(
        AuthenticateRequest request, User user, TenantSettings settings, CancellationToken cancellationToken)
    {
        var pending = await db.MfaFactors.IgnoreQueryFilters()
            .FirstOrDefaultAsync(f => f.UserId == user.Id && f.Type == MfaFactorTypes.Totp && !f.Confirmed, cancellationToken);
        if (!request.OfferMfaEnrolment || !settings.MfaPolicy.AllowedMethods.Contains(MfaFactorTypes.Totp))
        {
            return (Failure(AuthenticationOutcomes.MfaEnrollmentRequired), null);
        }

        if (string.IsNullOrEmpty(request.TotpCode) || pending is null)
        {
            if (pending is not null)
            {
                db.MfaFactors.Remove(pending);
            }

            var (factor, secret) = totp.NewFactor(user.TenantId, user.Id);
            db.MfaFactors.Add(factor);
            await db.SaveChangesAsync(cancellationToken);
            var issuer = await db.Tenants.IgnoreQueryFilters().Where(t => t.Id == user.TenantId).Select(t => t.Name).FirstOrDefaultAsync(cancellationToken);
            var offer = new TotpEnrolmentOffer(secret, TotpFactors.OtpAuthUri(string.IsNullOrWhiteSpace(issuer) ? CredentialEndpoints.TotpIssuerFallback : issuer, user.Email, secret));
            return (Failure(AuthenticationOutcomes.MfaEnrollmentRequired) with { TotpEnrolment = offer }, null);
        }

        var code = request.TotpCode.Trim();
        return (null, new SecondStepAnswer(ct => ConfirmEnrolmentAsync(user, pending, code, ct)));
    }

    /// <summary>Confirms the pending factor with a code from it; the first backup codes, to show with the success.</summary>
    private async Task<(bool Passed, IReadOnlyList<string>? BackupCodes, bool Mailed)> ConfirmEnrolmentAsync(
        User user, MfaFactor pending, string code, CancellationToken cancellationToken)
    {
        if (!await totp.VerifyAndConsumeAsync(pending, code, cancellationToken))
        {
            return (false, null, false);
        }

        pending.Confirmed = true;
        pending.ConfirmedAt = DateTimeOffset.UtcNow;
        var codes = await BackupCodes.ReplaceAsync(db, user, cancellationToken);
        db.AddEvent(new UserMfaEnrolled(user.Id, MfaFactorTypes.Totp) { TenantId = user.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        return (true, codes, false);
    }

    /// <summary>A wrong password outside sign-in (changing it on the account page) counts as a failed sign-in would.</summary>
    public Task<AuthenticateResponse> RecordWrongPasswordAsync(User user, CancellationToken cancellationToken) =>
        RecordFailureAsync(new AuthenticateRequest(user.TenantId, user.Email, string.Empty, null, null), user, "invalid_password",
            AuthenticationOutcomes.InvalidCredentials, cancellationToken);

    /// <summary>
    /// Counts a failure atomically (concurrent failures all count) and locks at the tenant's threshold. Inside a caller's
    /// transaction (a sign-in that holds the user's row) it counts there, and the caller commits.
    /// </summary>
    private async Task<AuthenticateResponse> RecordFailureAsync(
        AuthenticateRequest request, User user, string reason, string outcome, CancellationToken cancellationToken)
    {
        var policy = (await TenantSettings.LoadAsync(db, user.TenantId, cancellationToken)).LoginPolicy;
        await using var transaction = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(cancellationToken) : null;
        // Not while a lock is in force: guesses checked alongside the one that locked the account neither count towards
        // the next lock nor lock it again (which would restart the count below the threshold).
        var now = DateTimeOffset.UtcNow;
        var counted = await db.Database.SqlQuery<int>($"""
            UPDATE users SET "FailedLoginCount" = "FailedLoginCount" + 1
            WHERE "Id" = {user.Id} AND ("LockedUntil" IS NULL OR "LockedUntil" <= {now})
            RETURNING "FailedLoginCount" AS "Value"
            """).ToListAsync(cancellationToken);
        if (counted.Count == 0)
        {
            if (transaction is not null)
            {
                await transaction.RollbackAsync(cancellationToken);
            }

            return await LockedAsync(request, user, cancellationToken);
        }

        var count = counted.Single();
        await PublishAsync(request, user, new UserLoginFailed(user.Id, reason), cancellationToken);
        DateTimeOffset? lockedUntil = null;
        if (count >= policy.MaxFailedAttempts)
        {
            lockedUntil = DateTimeOffset.UtcNow.AddSeconds(policy.LockoutDuration);
            await db.Users.IgnoreQueryFilters().Where(u => u.Id == user.Id).ExecuteUpdateAsync(s => s
                .SetProperty(u => u.FailedLoginCount, 0)
                .SetProperty(u => u.LockedUntil, lockedUntil), cancellationToken);
            await PublishAsync(request, user, new UserLockedOut(user.Id, lockedUntil.Value), cancellationToken);
        }

        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        return lockedUntil is null ? Failure(outcome) : Failure(AuthenticationOutcomes.Locked, lockedUntil);
    }

    /// <summary>Answers "locked" for an account found locked after its row was read (by guesses checked at the same time).</summary>
    private async Task<AuthenticateResponse> LockedAsync(AuthenticateRequest request, User user, CancellationToken cancellationToken)
    {
        var lockedUntil = await db.Users.IgnoreQueryFilters().Where(u => u.Id == user.Id).Select(u => u.LockedUntil).FirstOrDefaultAsync(cancellationToken);
        await PublishAsync(request, user, new UserLoginFailed(user.Id, "locked"), cancellationToken);
        return Failure(AuthenticationOutcomes.Locked, lockedUntil);
    }

    /// <summary>
    /// The caller is the token service, so who and where come from the request, not from the HTTP call.
    /// </summary>
    private async Task PublishAsync(AuthenticateRequest request, User? user, IntegrationEvent @event, CancellationToken cancellationToken)
    {
        db.AddEvent(@event with
        {
            TenantId = request.TenantId,
            IpAddress = request.IpAddress,
            Actor = user is null ? new EventActor(ActorTypes.System, "login") : new EventActor(ActorTypes.User, user.Id.ToString(), user.Email),
        });
        await db.SaveChangesAsync(cancellationToken);
    }

    private static AuthenticateResponse Failure(string outcome, DateTimeOffset? lockedUntil = null) =>
        new(outcome, null, null, null, false, lockedUntil, []);
}
