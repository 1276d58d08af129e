using LumoAuth.Contracts.Internal;
using LumoAuth.Token.Features.Login;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>The hosted pages behind the links admin e-mails (<see cref="EmailLinkPaths"/>), and the forgot-password page that asks for one.</summary>
public static class AccountPageEndpoints
{
    public static IEndpointRouteBuilder MapAccountPages(this IEndpointRouteBuilder app)
    {
        // Anonymous on purpose: whoever holds the link is the one it was mailed to. CSRF is checked by the handlers,
        // so a forged form gets the friendly page rather than a bare 400; POSTs share the login page's rate limit.
        var pages = app.MapGroup("/t/{tenantSlug}").AllowAnonymous().ExcludeFromDescription();
        pages.MapGet("/forgot-password", PasswordResetPages.ShowRequest).WithName("ForgotPasswordPage");
        pages.MapPost("/forgot-password", PasswordResetPages.SubmitRequest).DisableAntiforgery().RequireRateLimiting(LoginEndpoints.RateLimitPolicy);
        pages.MapGet(EmailLinkPaths.PasswordReset, PasswordResetPages.ShowReset).WithName("PasswordResetPage");
        pages.MapPost(EmailLinkPaths.PasswordReset, PasswordResetPages.SubmitReset).DisableAntiforgery().RequireRateLimiting(LoginEndpoints.RateLimitPolicy);
        pages.MapGet(EmailLinkPaths.Invitation, InvitationPage.Show).WithName("InvitationPage");
        pages.MapPost(EmailLinkPaths.Invitation, InvitationPage.Submit).DisableAntiforgery().RequireRateLimiting(LoginEndpoints.RateLimitPolicy);
        pages.MapGet(EmailLinkPaths.EmailVerification, EmailVerificationPage.Show).WithName("EmailVerificationPage");
        pages.MapPost(EmailLinkPaths.EmailVerification, EmailVerificationPage.Submit).DisableAntiforgery().RequireRateLimiting(LoginEndpoints.RateLimitPolicy);
        pages.MapGet(EmailVerificationPage.RequestPath, EmailVerificationPage.ShowRequest).WithName("EmailVerificationRequestPage");
        pages.MapPost(EmailVerificationPage.RequestPath, EmailVerificationPage.SubmitRequest).DisableAntiforgery().RequireRateLimiting(LoginEndpoints.RateLimitPolicy);
        return app;
    }
}
