using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Localization;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Branding;

namespace LumoAuth.Token.Features.Localization;

/// <summary>
/// <c>GET admin/localization/pages?language=</c>: every sentence of the hosted pages, with our text in that language and
/// the tenant's own wording, for an editor of <c>localization.texts</c> (admin answers the same for its mails).
/// </summary>
public static class SentenceEndpoints
{
    public static IEndpointRouteBuilder MapSentenceEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/t/{tenantSlug}/api/v1/admin/localization/pages", List)
            .RequireAuthorization(Policies.TenantAdmin).WithTags("Localization").WithName("ListPageSentences");
        return app;
    }

    public static async Task<IResult> List(
        string? language, string? search, int? page, int? limit, TenantContext tenant, HostedPageSettingsCache settings, CancellationToken cancellationToken)
    {
        var validation = SentenceList.Check(language, search, HostedPageLanguages.All);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        if (await settings.GetAsync(tenant.TenantId, cancellationToken) is not { } hosted)
        {
            return ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "The tenant's settings cannot be read right now; try again.");
        }

        return Results.Ok(SentenceList.Page(PageCatalogue.Texts, language!, hosted.Texts?.GetValueOrDefault(language!), search, PageRequest.From(page, limit)));
    }
}
