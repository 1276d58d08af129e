using LumoAuth.Contracts.Internal;
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

    private static readonly AccountPage.AddressRequest NewLink = new(
        "Verify your email address",
        "Enter your email address. If it still needs verifying, we will send it a new link.",
        "Send a new link",
        "If this address needs verifying, we have sent it a new link. The link works for 24 hours.");

    public static IResult ShowRequest(HttpContext http, [AsParameters] AccountPageServices services) =>
        AccountPage.AddressForm(http, services, NewLink, $"/t/{services.Tenant.Slug}{RequestPath}", email: null, error: null);

    public static Task<IResult> SubmitRequest(HttpContext http, [AsParameters] AccountPageServices services) =>
        AccountPage.SubmitAddressAsync(http, services, NewLink, $"/t/{services.Tenant.Slug}{RequestPath}", services.Links.RequestEmailVerificationAsync);

    public static IResult Show(HttpContext http, string? token, [AsParameters] AccountPageServices services)
    {
        if (!AccountPage.IsWellFormedToken(token))
        {
            return InvalidVerification(http, services);
        }

        var body =
            "<p>Confirm that this email address is yours.</p>" +
            AccountPage.FormStart(http, services.Antiforgery, $"/t/{services.Tenant.Slug}{EmailLinkPaths.EmailVerification}", token) +
            "<button type=\"submit\">Verify my email address</button></form>";
        return HostedPage.Render(http, "Verify your email address", body);
    }

    public static async Task<IResult> Submit(HttpContext http, [AsParameters] AccountPageServices services)
    {
        var (_, token, refusal) = await AccountPage.ReadLinkFormAsync(http, services.Antiforgery, () => InvalidVerification(http, services));
        if (refusal is not null)
        {
            return refusal;
        }

        var result = await services.Links.CompleteEmailVerificationAsync(services.Tenant.TenantId, token, http.RequestAborted);
        return result.Outcome switch
        {
            LinkOutcome.Done => HostedPage.Render(http, "Your email address is verified",
                "<p>Thank you. You can close this window or sign in.</p>" + AccountPage.SignInLink(services.Tenant.Slug)),
            LinkOutcome.InvalidToken or LinkOutcome.Invalid => InvalidVerification(http, services),
            _ => AccountPage.Unavailable(http),
        };
    }

    private static IResult InvalidVerification(HttpContext http, AccountPageServices services) =>
        AccountPage.InvalidLink(http, services.Tenant.Slug,
            "A verification link works for 24 hours, and only for the address it was sent to. " +
            $"<a href=\"/t/{HostedPage.Encode(services.Tenant.Slug)}{RequestPath}\">Ask for a new one</a>.");
}
