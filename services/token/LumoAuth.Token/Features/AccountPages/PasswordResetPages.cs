using System.Data.Common;
using LumoAuth.Contracts.Internal;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using LumoAuth.Token.Features.Sessions;
using Microsoft.EntityFrameworkCore;
using StackExchange.Redis;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>
/// <c>/t/{slug}/forgot-password</c> asks admin to mail a reset link and always answers with the same page, so
/// it tells nobody whether an address has an account; <c>/t/{slug}/forgot-password/reset</c> is where the link
/// leads: the new password (twice) and the link's token go to admin, which applies the tenant's policy.
/// </summary>
public static partial class PasswordResetPages
{
    private static AccountPage.AddressRequest ForgotPassword(PageText t) => new(
        t["Forgot your password?"],
        t["Enter the email address of your account. If it has one, we will send it a link to choose a new password."],
        t["Send the link"],
        t["If an account exists for this address, we have sent it a link to choose a new password. The link works for one hour."]);

    public static IResult ShowRequest(HttpContext http, [AsParameters] AccountPageServices services) =>
        AccountPage.AddressForm(http, services, ForgotPassword(PageText.Of(http)), RequestPath(services), email: null, error: null);

    public static Task<IResult> SubmitRequest(HttpContext http, [AsParameters] AccountPageServices services) =>
        AccountPage.SubmitAddressAsync(http, services, ForgotPassword(PageText.Of(http)), RequestPath(services), services.Links.RequestPasswordResetAsync);

    private static string RequestPath(AccountPageServices services) => $"/t/{services.Tenant.Slug}/forgot-password";

    public static IResult ShowReset(HttpContext http, string? token, [AsParameters] AccountPageServices services) =>
        AccountPage.IsWellFormedToken(token)
            ? ResetForm(http, services, token!, [])
            : InvalidResetLink(http, services);

    public static async Task<IResult> SubmitReset(
        HttpContext http, [AsParameters] AccountPageServices services, SessionRevocation revocation, TimeProvider time, ILogger<AccountPageServices> logger)
    {
        var (form, token, refusal) = await AccountPage.ReadLinkFormAsync(http, services.Antiforgery, () => InvalidResetLink(http, services));
        if (refusal is not null)
        {
            return refusal;
        }

        var t = PageText.Of(http);
        var password = form["password"].ToString();
        if (AccountPage.CheckNewPassword(t, password, form["confirm"].ToString()) is { } problem)
        {
            return ResetForm(http, services, token, [problem], StatusCodes.Status400BadRequest);
        }

        var signOutEverywhere = form["sign_out_everywhere"] == "on";
        var submitted = time.GetUtcNow();
        var result = await services.Links.CompletePasswordResetAsync(services.Tenant.TenantId, token, password, signOutEverywhere, http.RequestAborted);
        var signedOut = result is { Outcome: LinkOutcome.Done, UserId: { } userId }
            ? await SignOutAsync(userId, result.UnprovenCredentialsRemoved, signOutEverywhere, submitted, revocation, logger, http.RequestAborted)
            : 0;
        return result.Outcome switch
        {
            LinkOutcome.Done => HostedPage.Render(http, t["Your password was changed"],
                $"<p data-password-changed>{t.Html("You can now sign in with your new password.")}</p>" +
                (result.UnprovenCredentialsRemoved ? UnprovenCredentialsRemovedNotice(t) : string.Empty) +
                (signedOut > 0
                    ? $"<p>{(signedOut == 1 ? t.Html("{0} signed-in session was signed out.", signedOut) : t.Html("{0} signed-in sessions were signed out.", signedOut))}</p>"
                    : string.Empty) +
                AccountPage.SignInLink(t, services.Tenant.Slug)),
            LinkOutcome.InvalidToken => InvalidResetLink(http, services),
            LinkOutcome.Invalid => ResetForm(http, services, token, AccountPage.Describe(t, result.Problems), StatusCodes.Status400BadRequest),
            _ => AccountPage.Unavailable(http),
        };
    }

    private static string UnprovenCredentialsRemovedNotice(PageText t) =>
        "<p data-unproven-credentials-removed>" +
        t.Html("This link confirmed your email address for the first time, so the sign-in methods the account had before (its old password, two-step verification, passkeys) were removed: whoever registered the address may not have been you. Set up two-step verification again after you sign in.") +
        "</p>";

    /// <summary>
    /// Whoever knew the old password may hold a session: by default they all end, with every grant of the user. When the
    /// link proved the address for the first time and admin removed what the account had before, they end whatever the
    /// box says: those sessions may be someone else's, who registered the address first. The password has changed by now,
    /// so an outage here does not fail the page: whatever is ended here is ended at once, and admin's event committed with
    /// the password (<c>UserPasswordChanged</c> with <c>SignOutEverywhere</c>, or <c>UserUnprovenCredentialsRemoved</c> for a
    /// first proof) ends the rest, sessions, grants and access tokens, in any case.
    /// </summary>
    private static async Task<int> SignOutAsync(
        Guid userId, bool unprovenCredentialsRemoved, bool signOutEverywhere, DateTimeOffset submitted, SessionRevocation revocation, ILogger logger,
        CancellationToken cancellationToken)
    {
        if (!unprovenCredentialsRemoved && !signOutEverywhere)
        {
            return 0;
        }

        try
        {
            var ended = await revocation.RevokeUserAsync(
                userId, unprovenCredentialsRemoved ? SessionRevocation.Reasons.UnprovenCredentialsRemoved : SessionRevocation.Reasons.PasswordReset, cancellationToken);

            // The consumer of admin's event may have been quicker and ended some or all of them: the page tells of them too.
            return Math.Max(ended, await revocation.CountEndedSinceAsync(userId, submitted, cancellationToken));
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException or DbException or DbUpdateException)
        {
            LogSignOutIncomplete(logger, ex, unprovenCredentialsRemoved);
            return 0;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Signing out after a password reset did not finish (first proof of the address: {FirstProof}); the password was changed")]
    private static partial void LogSignOutIncomplete(ILogger logger, Exception exception, bool firstProof);

    private static IResult InvalidResetLink(HttpContext http, AccountPageServices services)
    {
        var t = PageText.Of(http);
        return AccountPage.InvalidLink(http, services.Tenant.Slug,
            t.Html("Only the newest reset link works, for one hour. {0}.", t.Link("Ask for a new one", RequestPath(services))));
    }

    private static IResult ResetForm(HttpContext http, AccountPageServices services, string token, IEnumerable<string> errors, int status = StatusCodes.Status200OK)
    {
        var t = PageText.Of(http);
        var body =
            AccountPage.Errors(errors) +
            AccountPage.FormStart(http, services.Antiforgery, $"/t/{services.Tenant.Slug}{EmailLinkPaths.PasswordReset}", token) +
            AccountPage.NewPasswordFields(t, t["New password"]) +
            $"<label><input type=\"checkbox\" name=\"sign_out_everywhere\" value=\"on\" checked> {t.Html("Sign out everywhere I am signed in")}</label>" +
            $"<button type=\"submit\">{t.Html("Change the password")}</button></form>";
        return HostedPage.Render(http, t["Choose a new password"], body, status);
    }
}
