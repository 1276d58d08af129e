using System.Net;
using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>
/// Who the browser is signed in as: its session cookie for the token service (which owns sessions) is forwarded there,
/// and the user's profile comes from admin (which owns users).
/// </summary>
public sealed class SamlSubjects(IHttpClientFactory httpClientFactory)
{
    /// <summary>The browser's live session at the tenant, or null when it has none.</summary>
    public async Task<BrowserSessionInfo?> SessionAsync(Guid tenantId, string slug, HttpRequest request, CancellationToken cancellationToken)
    {
        if (SessionCookies(request) is not { } cookie)
        {
            return null;
        }

        using var response = await CallTokenAsync(InternalRoutes.BrowserSession, new BrowserSessionRequest(tenantId, slug, cookie), cancellationToken);
        return response.StatusCode == HttpStatusCode.NotFound ? null : await response.Content.ReadFromJsonAsync<BrowserSessionInfo>(cancellationToken);
    }

    /// <summary>Ends the browser's session at the tenant (the token service revokes it; the browser's cookie is removed); false when it had none.</summary>
    public async Task<bool> EndSessionAsync(Guid tenantId, string slug, HttpContext http, CancellationToken cancellationToken)
    {
        if (SessionCookies(http.Request) is not { } cookie)
        {
            return false;
        }

        using var response = await CallTokenAsync(InternalRoutes.EndBrowserSession, new BrowserSessionRequest(tenantId, slug, cookie), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        http.Response.Cookies.Delete(BrowserSessionRequest.CookieName, new CookieOptions { Path = "/t/" + slug });
        return true;
    }

    /// <summary>Ends one session of the user (an app's back-channel logout named it); whether it was live.</summary>
    public async Task<bool> EndSessionByIdAsync(Guid tenantId, Guid userId, string sessionId, CancellationToken cancellationToken)
    {
        using var response = await CallTokenAsync(InternalRoutes.AppSessionLogouts, new AppSessionLogoutRequest(tenantId, userId, sessionId), cancellationToken);
        return response.StatusCode != HttpStatusCode.NotFound;
    }

    /// <summary>Ends the user's sessions an outside SAML IdP opened (its back-channel logout); how many ended.</summary>
    public async Task<int> EndIdpSessionsAsync(IdpSessionLogoutRequest request, CancellationToken cancellationToken)
    {
        using var response = await CallTokenAsync(InternalRoutes.IdpSessionLogouts, request, cancellationToken);
        return response.StatusCode == HttpStatusCode.NotFound ? 0 : (await response.Content.ReadFromJsonAsync<IdpSessionLogoutResult>(cancellationToken))!.Ended;
    }

    /// <summary>The user's profile, or null when the tenant has no such user.</summary>
    public async Task<UserProfile?> ProfileAsync(Guid tenantId, Guid userId, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await httpClientFactory.CreateClient(InternalClients.Admin).GetAsync(
                InternalRoutes.UserProfile.Replace("{userId:guid}", userId.ToString(), StringComparison.Ordinal) + "?tenantId=" + tenantId, cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }

            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<UserProfile>(cancellationToken);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("The user cannot be looked up: admin cannot be reached.", exception);
        }
    }

    private async Task<HttpResponseMessage> CallTokenAsync<T>(string route, T body, CancellationToken cancellationToken)
    {
        try
        {
            var response = await httpClientFactory.CreateClient(InternalClients.Token).PostAsJsonAsync(route, body, cancellationToken);
            if (response.StatusCode != HttpStatusCode.NotFound && !response.IsSuccessStatusCode)
            {
                response.Dispose();
                throw new HttpRequestException($"The token service answered {(int)response.StatusCode}.");
            }

            return response;
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("The browser's session cannot be checked: the token service cannot be reached.", exception);
        }
    }

    /// <summary>Only the session's own cookies go to the token service, as a Cookie header; null when the browser sent none.</summary>
    private static string? SessionCookies(HttpRequest request)
    {
        var cookies = request.Cookies
            .Where(c => c.Key == BrowserSessionRequest.CookieName || c.Key.StartsWith(BrowserSessionRequest.CookieName + "C", StringComparison.Ordinal))
            .Select(c => c.Key + "=" + c.Value)
            .ToList();
        return cookies.Count == 0 ? null : string.Join("; ", cookies);
    }
}
