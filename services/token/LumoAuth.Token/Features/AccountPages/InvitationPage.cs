using LumoAuth.Contracts.Internal;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>
/// <c>/t/{slug}/register/invitation</c>, where an invitation mail leads: the invitee picks a name and a password and
/// admin creates the account (its address verified by the link). The page does not sign the invitee in: there is
/// no application to return to, and the login page stays the one door where the tenant's sign-in rules apply.
/// </summary>
public static class InvitationPage
{
    public static IResult Show(HttpContext http, string? token, [AsParameters] AccountPageServices services) =>
        AccountPage.IsWellFormedToken(token)
            ? Form(http, services, token!, name: null, [])
            : InvalidInvitation(http, services);

    public static async Task<IResult> Submit(HttpContext http, [AsParameters] AccountPageServices services)
    {
        var (form, token, refusal) = await AccountPage.ReadLinkFormAsync(http, services.Antiforgery, () => InvalidInvitation(http, services));
        if (refusal is not null)
        {
            return refusal;
        }

        var t = PageText.Of(http);
        var name = form["name"].ToString().Trim();
        var password = form["password"].ToString();
        var problem = name.Length > 200 ? t["The name is too long."] : AccountPage.CheckNewPassword(t, password, form["confirm"].ToString());
        if (problem is not null)
        {
            return Form(http, services, token, name, [problem], StatusCodes.Status400BadRequest);
        }

        var result = await services.Links.AcceptInvitationAsync(services.Tenant.TenantId, token, password, name.Length == 0 ? null : name, PageText.Of(http).Language, http.RequestAborted);
        return result.Outcome switch
        {
            LinkOutcome.Done => HostedPage.Render(http, t["Your account is ready"],
                $"<p>{t.Html("You can now sign in with your email address and the password you chose.")}</p>" + AccountPage.SignInLink(t, services.Tenant.Slug)),
            LinkOutcome.InvalidToken => InvalidInvitation(http, services),
            // The link proves the address is the invitee's, so saying that it has an account tells them nothing new.
            LinkOutcome.AccountExists => HostedPage.Render(http, t["You already have an account"],
                $"<p class=\"error\" role=\"alert\" data-error=\"account_exists\">{t.Html("This email address already has an account here. Sign in, or ask for a password reset if you forgot the password.")}</p>" +
                $"<p>{t.Link("Reset the password", $"/t/{services.Tenant.Slug}/forgot-password").Html}</p>" +
                AccountPage.SignInLink(t, services.Tenant.Slug), StatusCodes.Status409Conflict),
            LinkOutcome.Invalid => Form(http, services, token, name, AccountPage.Describe(t, result.Problems), StatusCodes.Status400BadRequest),
            _ => AccountPage.Unavailable(http),
        };
    }

    private static IResult InvalidInvitation(HttpContext http, AccountPageServices services)
    {
        var t = PageText.Of(http);
        return AccountPage.InvalidLink(http, services.Tenant.Slug,
            t.Html("An invitation works once, until it expires, and only its newest link works. Ask whoever invited you to send it again."));
    }

    private static IResult Form(HttpContext http, AccountPageServices services, string token, string? name, IEnumerable<string> errors, int status = StatusCodes.Status200OK)
    {
        var t = PageText.Of(http);
        var body =
            AccountPage.Errors(errors) +
            $"<p>{t.Html("You were invited to create an account. Choose a password to accept.")}</p>" +
            AccountPage.FormStart(http, services.Antiforgery, $"/t/{services.Tenant.Slug}{EmailLinkPaths.Invitation}", token) +
            $"<label for=\"name\">{t.Html("Full name")}</label><input id=\"name\" name=\"name\" autocomplete=\"name\" maxlength=\"200\" value=\"{HostedPage.Encode(name)}\">" +
            AccountPage.NewPasswordFields(t, t["Password"]) +
            $"<button type=\"submit\">{t.Html("Accept the invitation")}</button></form>";
        return HostedPage.Render(http, t["Accept your invitation"], body, status);
    }
}
