using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.AccountPages;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Authorize;

public static partial class AuthorizeEndpoints
{
    private const string ProfileField = "profile_decision";

    /// <summary>
    /// The tenant's required declared attributes the user has still to give for the scopes asked (<see cref="PendingProfile"/>), asked on a page of
    /// their own before any application gets a code, after the terms. <c>prompt=none</c> is <c>interaction_required</c>.
    /// Null: go on.
    /// </summary>
    private static async Task<IResult?> ProfileGateAsync(HttpContext http, AuthorizeServices services, OpenIddictRequest request, UserDirectory.ProfileRead user, IReadOnlyCollection<string> scopes, IFormCollection? form)
    {
        if (await services.Profile.MissingAsync(user, scopes, http.RequestAborted) is not { } missing)
        {
            return null;
        }

        if (form is null || form[ProfileField].ToString().Length == 0)
        {
            return request.HasPromptValue(PromptValues.None)
                ? Forbid(Errors.InteractionRequired, "The user must complete their profile.")
                : ProfilePage(http, services, request, missing, posted: null, problems: []);
        }

        // The page's CSRF token was checked with the other pages' (Authorize).
        return await services.Profile.SaveAsync(PageText.Of(http), services.Tenant.TenantId, user.UserId, missing, form, http.RequestAborted) is { } problems
            ? ProfilePage(http, services, request, missing, form, problems)
            : null;
    }

    private static IResult ProfilePage(
        HttpContext http, AuthorizeServices services, OpenIddictRequest request, MissingAttributes missing, IFormCollection? posted, IReadOnlyList<string> problems)
    {
        var t = PageText.Of(http);
        var tokens = services.Antiforgery.GetAndStoreTokens(http);
        IEnumerable<KeyValuePair<string, string?>> forwarded = SignedForward(http, services, request) ?? Flatten(request);
        var body =
            AccountPage.Errors(problems) +
            $"<p>{t.Html("Before you go on, complete your profile.")}</p>" +
            $"<form method=\"post\" action=\"/t/{HostedPage.Encode(services.Tenant.Slug)}/api/v1/oauth/authorize\">" +
            HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) + FormFields(forwarded, tokens.FormFieldName) +
            PendingProfile.Inputs(t, missing, posted) +
            $"<button type=\"submit\" name=\"{ProfileField}\" value=\"save\">{t.Html("Continue")}</button></form>";
        return HostedPage.Render(http, t["Complete your profile"], body, problems.Count == 0 ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest,
            continuesTo: request.RedirectUri);
    }
}
