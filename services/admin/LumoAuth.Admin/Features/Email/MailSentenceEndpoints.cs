using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Localization;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;

namespace LumoAuth.Admin.Features.Email;

/// <summary>
/// <c>GET admin/localization/mails?language=</c>: every sentence of the mails and texted codes, with our text in that
/// language and the tenant's own wording, for an editor of <c>localization.texts</c> (the token service answers the
/// same for its pages).
/// </summary>
public static class MailSentenceEndpoints
{
    public static IEndpointRouteBuilder MapMailSentenceEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/t/{tenantSlug}/api/v1/admin/localization/mails", List)
            .RequireAuthorization(Policies.TenantAdmin).WithTags("Settings").WithName("ListMailSentences");
        return app;
    }

    public static async Task<IResult> List(
        string? language, string? search, int? page, int? limit, AdminDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        var validation = SentenceList.Check(language, search, HostedPageLanguages.All);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var texts = (await TenantSettings.LoadAsync(db, tenant.TenantId, cancellationToken)).Localization.Texts;
        return Results.Ok(SentenceList.Page(MailText.Catalogue, language!, texts.GetValueOrDefault(language!), search, PageRequest.From(page, limit)));
    }
}
