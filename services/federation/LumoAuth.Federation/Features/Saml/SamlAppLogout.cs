using LumoAuth.Contracts.Internal;
using LumoAuth.Federation.Data;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>
/// Single logout fanned out to the apps (SAML Profiles §4.4, front channel): when a browser's session ends here — by an
/// app's LogoutRequest or the token service's logout — every other app the session signed in to gets our LogoutRequest,
/// signed in the query, naming the person as its assertion did and the session's index, in a hidden iframe of the
/// signed-out page (as OpenID Connect front-channel logout does for clients). The apps' LogoutResponses come back to
/// <c>slo</c>, where nothing more is done: the session ended already. Each app is told once; apps without a logout URL,
/// disabled or removed since, are not told.
/// </summary>
public sealed partial class SamlAppLogout(
    SamlStates states, SamlSigningKeys keys, IOptions<LumoAuthOptions> options, IOptions<FederationOptions> federation, IHttpClientFactory httpClients,
    TimeProvider time, ILogger<SamlAppLogout> logger)
{
    /// <summary>
    /// The back channel (SAML Bindings §3.2, SOAP): a session that ended without a browser (revoked by an administrator, its
    /// user blocked or deleted, a new sign-in past the session limit…) is ended at each of its apps that has a SOAP logout
    /// URL, with our signed LogoutRequest posted to it. Apps without one are left to their own session's end. Each app is
    /// forgotten once it answered, so a redelivery tells only those not told yet; how many were told.
    /// </summary>
    public async Task<int> BackChannelAsync(FederationDbContext db, Guid tenantId, string slug, string sessionId, CancellationToken cancellationToken)
    {
        var apps = await states.AppsAsync(tenantId, sessionId);
        if (apps.Count == 0)
        {
            return 0;
        }

        var ids = apps.Select(a => a.AppId).ToList();
        var told = await db.SamlServiceProviders.IgnoreQueryFilters().AsNoTracking()
            .Where(p => p.TenantId == tenantId && ids.Contains(p.Id) && p.IsEnabled && p.SloSoapUrl != null)
            .ToListAsync(cancellationToken);
        var key = told.Count == 0 ? null : await keys.CurrentAsync(db, tenantId, slug, cancellationToken);
        var (issuer, sessionIndex, sent) = (SamlNames.IdpEntityId(options.Value, slug), SamlDocuments.SessionIndex(sessionId), 0);
        foreach (var sp in told)
        {
            var app = apps.First(a => a.AppId == sp.Id);
            var id = SamlDocuments.NewId();
            var document = SamlDocuments.LogoutRequestDocument(id, issuer, sp.SloSoapUrl!, app.NameId, app.NameIdFormat, sessionIndex, time.GetUtcNow());
            // No query to sign on this binding: the signature is in the message.
            SamlSignatures.Sign(document.DocumentElement!, id, key!);
            if (await PostAsync(sp, document.DocumentElement!.OuterXml, cancellationToken))
            {
                await states.ForgetAppAsync(tenantId, sessionId, sp.Id);
                sent++;
            }
        }

        return sent;
    }

    /// <summary>Posts the message in a SOAP envelope; whether the app answered at all (its LogoutResponse's status is only logged).</summary>
    private async Task<bool> PostAsync(SamlServiceProvider sp, string message, CancellationToken cancellationToken)
    {
        if (LumoAuth.ServiceDefaults.Security.SsrfGuard.ProblemWith(sp.SloSoapUrl!, federation.Value.AllowPrivateTargets) is { } problem)
        {
            LogNotTold(logger, sp.Id, problem);
            return false;
        }

        try
        {
            using var content = new StringContent(SamlSoap.Envelope(message), System.Text.Encoding.UTF8, "text/xml");
            using var request = new HttpRequestMessage(HttpMethod.Post, sp.SloSoapUrl) { Content = content };
            request.Headers.TryAddWithoutValidation("SOAPAction", SamlSoap.Action);
            using var response = await httpClients.CreateClient(Login.UpstreamSignIn.HttpClientName).SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                LogNotTold(logger, sp.Id, $"answered {(int)response.StatusCode}");
                return false;
            }

            return true;
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogNotTold(logger, sp.Id, exception.GetType().Name);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "SAML app {AppId} was not told of a session's end over the back channel: {Problem}")]
    private static partial void LogNotTold(ILogger logger, Guid appId, string problem);

    /// <summary>The iframe addresses for the session's apps, but <paramref name="exceptAppId"/> (the one that asked, answered apart).</summary>
    public async Task<IReadOnlyList<string>> FramesAsync(
        FederationDbContext db, Guid tenantId, string slug, string sessionId, Guid? exceptAppId, CancellationToken cancellationToken)
    {
        var apps = (await states.TakeAppsAsync(tenantId, sessionId)).Where(a => a.AppId != exceptAppId).ToList();
        if (apps.Count == 0)
        {
            return [];
        }

        var ids = apps.Select(a => a.AppId).ToList();
        var told = await db.SamlServiceProviders.IgnoreQueryFilters().AsNoTracking()
            .Where(p => p.TenantId == tenantId && ids.Contains(p.Id) && p.IsEnabled && p.SloUrl != null)
            .OrderBy(p => p.Name)
            .ToListAsync(cancellationToken);
        if (told.Count == 0)
        {
            return [];
        }

        var key = await keys.CurrentAsync(db, tenantId, slug, cancellationToken);
        var (issuer, now, sessionIndex) = (SamlNames.IdpEntityId(options.Value, slug), time.GetUtcNow(), SamlDocuments.SessionIndex(sessionId));
        return [.. told.Select(sp =>
        {
            var app = apps.First(a => a.AppId == sp.Id);
            var request = SamlDocuments.LogoutRequest(SamlDocuments.NewId(), issuer, sp.SloUrl!, app.NameId, app.NameIdFormat, sessionIndex, now);
            return SamlBindings.SignedRedirectUrl(sp.SloUrl!, "SAMLRequest", request, relayState: null, key);
        })];
    }
}

/// <summary>The token service's question as a browser signs out: which SAML apps to sign it out of.</summary>
public static class SamlAppLogoutEndpoints
{
    public static IEndpointRouteBuilder MapSamlAppLogoutEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost(InternalRoutes.SamlAppLogouts, FramesForTokenServiceAsync).RequireAuthorization(Policies.Internal).WithTags("Internal").WithName("InternalSamlAppLogouts");
        return app;
    }

    /// <summary>The token service ended a browser's session: the frames that sign it out of the session's SAML apps.</summary>
    public static async Task<IResult> FramesForTokenServiceAsync(
        SamlAppLogoutRequest request, FederationDbContext db, SamlAppLogout logout, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty || string.IsNullOrEmpty(request.TenantSlug) || request.SessionId is not { Length: > 0 and <= 200 })
        {
            return ApiErrors.Validation("sessionId", "names no session");
        }

        return TypedResults.Ok(new SamlAppLogoutFrames(await logout.FramesAsync(db, request.TenantId, request.TenantSlug, request.SessionId, null, cancellationToken)));
    }
}
