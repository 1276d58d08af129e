using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Localization;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using Microsoft.AspNetCore.Antiforgery;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>
/// <c>/t/{slug}/account/profile</c>: the signed-in user sees their account and edits their names and their language (the
/// docs' account page; the language is OIDC's <c>locale</c>, which their mails and pages follow). The address is shown, not
/// edited here: changing it needs proof of the new mailbox, which an administrator or a verification link gives.
/// </summary>
public static class ProfileAccountPage
{
    public const string Path = "/account/profile";
    private const int MaxLength = 200;

    public static IEndpointRouteBuilder MapProfileAccountPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/t/{tenantSlug}" + Path, Show).AllowAnonymous().ExcludeFromDescription().WithName("ProfileAccountPage");
        app.MapPost("/t/{tenantSlug}" + Path, Submit).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription()
            .RequireRateLimiting(LoginEndpoints.RateLimitPolicy);
        return app;
    }

    public sealed record ProfileAccountServices(TenantContext Tenant, UserDirectory Users, AccountLinkClient Admin, IAntiforgery Antiforgery, HostedPageSettingsCache Settings);

    public static string PagePath(string slug) => $"/t/{slug}{Path}";

    public static async Task<IResult> Show(HttpContext http, [AsParameters] ProfileAccountServices services)
    {
        if (await SessionCookie.SignedInUserAsync(http) is not { } userId)
        {
            return AccountPage.ToSignIn(services.Tenant.Slug, PagePath(services.Tenant.Slug));
        }

        var declared = await DeclaredAsync(http, services);
        return await services.Users.GetProfileAsync(services.Tenant.TenantId, userId, http.RequestAborted) is { } profile
            ? Form(http, services, profile, declared, new SelfProfileUpdate(profile.Name, profile.GivenName, profile.FamilyName, profile.Locale), [], saved: false)
            : AccountPage.Unavailable(http);
    }

    public static async Task<IResult> Submit(HttpContext http, [AsParameters] ProfileAccountServices services)
    {
        var (signedIn, refusal) = await AccountPage.ReadSignedInFormAsync(http, services.Antiforgery, services.Tenant.Slug, PagePath(services.Tenant.Slug));
        if (signedIn is null)
        {
            return refusal!;
        }

        var t = PageText.Of(http);
        var (userId, _, form) = signedIn;
        // Only a language the tenant offers, or none (the browser's); anything else keeps what the profile says.
        var offered = TenantLanguages.PolicyOf(http).Offered;
        var asked = form["locale"].ToString();
        var locale = asked.Length == 0 ? string.Empty : offered.Contains(asked) ? asked : null;
        var declared = await DeclaredAsync(http, services);
        var editable = declared.Where(a => a.UserEditable).ToList();
        var attributes = ProfileAttributeFields.Read(form, editable);
        var update = new SelfProfileUpdate(form["name"].ToString().Trim(), form["given_name"].ToString().Trim(), form["family_name"].ToString().Trim(), locale)
        {
            Attributes = attributes.Count == 0 ? null : attributes,
        };
        var profile = await services.Users.GetProfileAsync(services.Tenant.TenantId, userId, http.RequestAborted);
        if (profile is null)
        {
            return AccountPage.Unavailable(http);
        }

        if (new[] { update.Name, update.GivenName, update.FamilyName }.Any(v => v!.Length > MaxLength))
        {
            return Form(http, services, profile, declared, update with { Locale = locale ?? profile.Locale }, [t.Format("Each name may have at most {0} characters.", MaxLength)], saved: false, StatusCodes.Status400BadRequest);
        }

        if (ProfileAttributeFields.Problems(t, editable, attributes) is { Count: > 0 } problems)
        {
            return Form(http, services, profile, declared, update with { Locale = locale ?? profile.Locale }, problems, saved: false, StatusCodes.Status400BadRequest);
        }

        var result = await services.Admin.UpdateProfileAsync(services.Tenant.TenantId, userId, update, http.RequestAborted);
        return result.Outcome switch
        {
            LinkOutcome.Done => Saved(http, services, profile, declared, update),
            LinkOutcome.Invalid => Form(http, services, profile, declared, update, AccountPage.Describe(t, result.Problems), saved: false, StatusCodes.Status400BadRequest),
            _ => AccountPage.Unavailable(http),
        };
    }

    /// <summary>The saved form, in the language just chosen: this browser takes it as the person's choice.</summary>
    private static async Task<IReadOnlyList<ProfileAttributeInfo>> DeclaredAsync(HttpContext http, ProfileAccountServices services) =>
        (await services.Settings.GetAsync(services.Tenant.TenantId, http.RequestAborted))?.ProfileAttributes ?? [];

    private static IResult Saved(HttpContext http, ProfileAccountServices services, UserProfile profile, IReadOnlyList<ProfileAttributeInfo> declared, SelfProfileUpdate update)
    {
        if (update.Locale is { Length: > 0 } chosen)
        {
            PageLanguage.Adopt(http, chosen);
        }
        else if (update.Locale is not null)
        {
            PageLanguage.Forget(http, services.Tenant.Slug);
        }

        return Form(http, services, profile, declared, update with { Locale = update.Locale ?? profile.Locale }, [], saved: true);
    }

    /// <param name="names">What the form shows: the names, the language and the declared attributes given (else the profile's).</param>
    private static IResult Form(
        HttpContext http, ProfileAccountServices services, UserProfile profile, IReadOnlyList<ProfileAttributeInfo> declared, SelfProfileUpdate names,
        IEnumerable<string> errors, bool saved, int status = StatusCodes.Status200OK)
    {
        var t = PageText.Of(http);
        string? ValueOf(string name) => names.Attributes?.GetValueOrDefault(name) ?? ProfileAttributeFields.ValueIn(profile.Attributes, name);
        return HostedPage.Render(http, t["Your profile"],
            AccountPage.Errors(errors) +
            (saved ? $"<p data-saved role=\"status\">{t.Html("Your profile is saved.")}</p>" : string.Empty) +
            $"<p>{t.Html("Email: {0}", PageText.Strong(profile.Email))}</p>" +
            ProfileAttributeFields.ReadOnly(t, declared.Where(a => !a.UserEditable && a.UserVisible), ValueOf) +
            AccountPage.FormStart(http, services.Antiforgery, PagePath(services.Tenant.Slug), token: null) +
            Field("name", t["Full name"], names.Name, "name") +
            Field("given_name", t["Given name"], names.GivenName, "given-name") +
            Field("family_name", t["Family name"], names.FamilyName, "family-name") +
            LanguageField(http, t, names.Locale) +
            ProfileAttributeFields.Inputs(t, declared.Where(a => a.UserEditable), ValueOf) +
            $"<button type=\"submit\">{t.Html("Save")}</button></form>",
            status);
    }

    /// <summary>The tenant's languages, each in its own name, and "the browser's" for none.</summary>
    private static string LanguageField(HttpContext http, PageText t, string? current)
    {
        var offered = TenantLanguages.PolicyOf(http).Offered;
        var selected = LanguageTags.Match(current, offered);
        var options = new System.Text.StringBuilder()
            .Append("<option value=\"\"").Append(selected is null ? " selected" : string.Empty).Append('>').Append(t.Html("As my browser asks")).Append("</option>");
        foreach (var language in offered)
        {
            options.Append("<option value=\"").Append(language).Append("\" lang=\"").Append(language).Append('"')
                .Append(language == selected ? " selected" : string.Empty).Append('>').Append(HostedPage.Encode(LanguageTags.NameOf(language))).Append("</option>");
        }

        return $"<label for=\"locale\">{t.Html("Language")}</label><select id=\"locale\" name=\"locale\">{options}</select>";
    }

    /// <param name="label">In the page's language.</param>
    private static string Field(string name, string label, string? value, string autocomplete) =>
        $"<label for=\"{name}\">{HostedPage.Encode(label)}</label>" +
        $"<input id=\"{name}\" name=\"{name}\" value=\"{HostedPage.Encode(value ?? string.Empty)}\" autocomplete=\"{autocomplete}\" maxlength=\"{MaxLength}\">";
}
