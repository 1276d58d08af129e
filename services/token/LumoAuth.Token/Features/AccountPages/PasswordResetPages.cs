using LumoAuth.Contracts.Internal;
using LumoAuth.Token.Features.Login;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>
/// <c>/t/{slug}/forgot-password</c> asks admin to mail a reset link and always answers with the same page, so
/// it tells nobody whether an address has an account; <c>/t/{slug}/forgot-password/reset</c> is where the link
/// leads: the new password (twice) and the link's token go to admin, which applies the tenant's policy.
/// </summary>
public static class PasswordResetPages
{
    public static IResult ShowRequest(HttpContext http, [AsParameters] AccountPageServices services) =>
        RequestForm(http, services, email: null, error: null);

    public static async Task<IResult> SubmitRequest(HttpContext http, [AsParameters] AccountPageServices services)
    {
        if (await AccountPage.RefuseForgedFormAsync(http, services.Antiforgery) is { } refused)
        {
            return refused;
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var email = form["email"].ToString().Trim();
        if (email.Length is 0 or > 320)
        {
            return RequestForm(http, services, email, "Enter your email address.", StatusCodes.Status400BadRequest);
        }

        var result = await services.Links.RequestPasswordResetAsync(services.Tenant.TenantId, email, http.RequestAborted);
        return result.Outcome switch
        {
            LinkOutcome.Done => HostedPage.Render(http, "Check your email",
                "<p>If an account exists for this address, we have sent it a link to choose a new password. The link works for one hour.</p>" +
                AccountPage.SignInLink(services.Tenant.Slug)),
            // Only the address's shape is judged here, never whether it has an account.
            LinkOutcome.Invalid => RequestForm(http, services, email, "Enter a valid email address.", StatusCodes.Status400BadRequest),
            _ => AccountPage.Unavailable(http),
        };
    }

    public static IResult ShowReset(HttpContext http, string? token, [AsParameters] AccountPageServices services) =>
        AccountPage.IsWellFormedToken(token)
            ? ResetForm(http, services, token!, [])
            : InvalidResetLink(http, services);

    public static async Task<IResult> SubmitReset(HttpContext http, [AsParameters] AccountPageServices services)
    {
        if (await AccountPage.RefuseForgedFormAsync(http, services.Antiforgery) is { } refused)
        {
            return refused;
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var token = form["token"].ToString();
        if (!AccountPage.IsWellFormedToken(token))
        {
            return InvalidResetLink(http, services);
        }

        var password = form["password"].ToString();
        if (AccountPage.CheckNewPassword(password, form["confirm"].ToString()) is { } problem)
        {
            return ResetForm(http, services, token, [problem], StatusCodes.Status400BadRequest);
        }

        var result = await services.Links.CompletePasswordResetAsync(services.Tenant.TenantId, token, password, http.RequestAborted);
        return result.Outcome switch
        {
            LinkOutcome.Done => HostedPage.Render(http, "Your password was changed",
                "<p>You can now sign in with your new password.</p>" + AccountPage.SignInLink(services.Tenant.Slug)),
            LinkOutcome.InvalidToken => InvalidResetLink(http, services),
            LinkOutcome.Invalid => ResetForm(http, services, token, AccountPage.Describe(result.Problems), StatusCodes.Status400BadRequest),
            _ => AccountPage.Unavailable(http),
        };
    }

    private static IResult InvalidResetLink(HttpContext http, AccountPageServices services) =>
        AccountPage.InvalidLink(http, services.Tenant.Slug,
            $"Only the newest reset link works, for one hour. <a href=\"/t/{HostedPage.Encode(services.Tenant.Slug)}/forgot-password\">Ask for a new one</a>.");

    private static IResult RequestForm(HttpContext http, AccountPageServices services, string? email, string? error, int status = StatusCodes.Status200OK)
    {
        var body =
            AccountPage.Errors(error is null ? [] : [error]) +
            "<p>Enter the email address of your account. If it has one, we will send it a link to choose a new password.</p>" +
            AccountPage.FormStart(http, services.Antiforgery, $"/t/{services.Tenant.Slug}/forgot-password", token: null) +
            $"<label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" required value=\"{HostedPage.Encode(email)}\">" +
            "<button type=\"submit\">Send the link</button></form>" +
            AccountPage.SignInLink(services.Tenant.Slug);
        return HostedPage.Render(http, "Forgot your password?", body, status);
    }

    private static IResult ResetForm(HttpContext http, AccountPageServices services, string token, IEnumerable<string> errors, int status = StatusCodes.Status200OK)
    {
        var body =
            AccountPage.Errors(errors) +
            AccountPage.FormStart(http, services.Antiforgery, $"/t/{services.Tenant.Slug}{EmailLinkPaths.PasswordReset}", token) +
            AccountPage.NewPasswordFields("New password") +
            "<button type=\"submit\">Change the password</button></form>";
        return HostedPage.Render(http, "Choose a new password", body, status);
    }
}
