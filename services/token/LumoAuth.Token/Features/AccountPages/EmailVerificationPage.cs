using LumoAuth.Contracts.Internal;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>
/// <c>/t/{slug}/account/verify-email</c>, where a verification mail leads. Opening the link only shows a button:
/// mail scanners fetch links on their own, and only the person's POST marks the address verified.
/// </summary>
public static class EmailVerificationPage
{
    /// <summary>Where a person whose link expired (or never came) asks for a new one.</summary>
    public const string RequestPath = EmailLinkPaths.EmailVerification + "/request";

    private static AccountPage.AddressRequest NewLink(PageText t) => new(
        t["Verify your email address"],
        t["Enter your email address. If it still needs verifying, we will send it a new link."],
        t["Send a new link"],
        t["If this address needs verifying, we have sent it a new link. The link works for 24 hours."]);

    public static IResult ShowRequest(HttpContext http, [AsParameters] AccountPageServices services) =>
        AccountPage.AddressForm(http, services, NewLink(PageText.Of(http)), $"/t/{services.Tenant.Slug}{RequestPath}", email: null, error: null);

    public static Task<IResult> SubmitRequest(HttpContext http, [AsParameters] AccountPageServices services) =>
        AccountPage.SubmitAddressAsync(http, services, NewLink(PageText.Of(http)), $"/t/{services.Tenant.Slug}{RequestPath}", services.Links.RequestEmailVerificationAsync);

    public static IResult Show(HttpContext http, string? token, [AsParameters] AccountPageServices services)
    {
        if (!AccountPage.IsWellFormedToken(token))
        {
            return InvalidVerification(http, services);
        }

        var t = PageText.Of(http);
        var body =
            $"<p>{t.Html("Confirm that this email address is yours.")}</p>" +
            AccountPage.FormStart(http, services.Antiforgery, $"/t/{services.Tenant.Slug}{EmailLinkPaths.EmailVerification}", token) +
            $"<button type=\"submit\">{t.Html("Verify my email address")}</button></form>";
        return HostedPage.Render(http, t["Verify your email address"], body);
    }

    public static async Task<IResult> Submit(HttpContext http, [AsParameters] AccountPageServices services)
    {
        var (_, token, refusal) = await AccountPage.ReadLinkFormAsync(http, services.Antiforgery, () => InvalidVerification(http, services));
        if (refusal is not null)
        {
            return refusal;
        }

        var t = PageText.Of(http);
        var result = await services.Links.CompleteEmailVerificationAsync(services.Tenant.TenantId, token, http.RequestAborted);
        return result.Outcome switch
        {
            LinkOutcome.Done => HostedPage.Render(http, t["Your email address is verified"],
                $"<p>{t.Html("Thank you. You can close this window or sign in.")}</p>" + AccountPage.SignInLink(t, services.Tenant.Slug)),
            LinkOutcome.InvalidToken or LinkOutcome.Invalid => InvalidVerification(http, services),
            _ => AccountPage.Unavailable(http),
        };
    }

    private static IResult InvalidVerification(HttpContext http, AccountPageServices services)
    {
        var t = PageText.Of(http);
        return AccountPage.InvalidLink(http, services.Tenant.Slug,
            t.Html("A verification link works for 24 hours, and only for the address it was sent to. {0}.", t.Link("Ask for a new one", $"/t/{services.Tenant.Slug}{RequestPath}")));
    }
}
