using System.Net;
using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.Token.Features.Localization;
using Microsoft.Extensions.Caching.Memory;

namespace LumoAuth.Token.Features.Login;

/// <summary>
/// What the federation service, which owns sign-in providers, tells the hosted pages: the tenant's enabled providers
/// (kept half a minute: every sign-in page shows them, and a provider's change shows soon enough), and the sign-in
/// behind a one-time ticket its callback sent the browser with.
/// </summary>
public sealed partial class FederatedLogins(IHttpClientFactory httpClientFactory, IMemoryCache cache, ILogger<FederatedLogins> logger)
{
    private static readonly TimeSpan ProvidersLifetime = TimeSpan.FromSeconds(30);

    /// <summary>A sign-in page waits this long for the buttons at most, then shows none (the password form works without them).</summary>
    private static readonly TimeSpan LookupTimeout = TimeSpan.FromSeconds(2);

    /// <summary>After a failed lookup, pages go without buttons this long instead of each waiting for federation again.</summary>
    private static readonly TimeSpan FailureLifetime = TimeSpan.FromSeconds(15);

    /// <summary>The tenant's enabled providers; none while federation cannot say (the page still signs in with a password).</summary>
    public async Task<IReadOnlyList<LoginProvider>> ProvidersAsync(Guid tenantId, CancellationToken cancellationToken)
    {
        if (cache.TryGetValue(("login-providers", tenantId), out IReadOnlyList<LoginProvider>? known) && known is not null)
        {
            return known;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(LookupTimeout);
        try
        {
            var providers = await httpClientFactory.CreateClient(InternalClients.Federation)
                .GetFromJsonAsync<List<LoginProvider>>(LoginProvider.Route(tenantId), timeout.Token) ?? [];
            cache.Set(("login-providers", tenantId), (IReadOnlyList<LoginProvider>)providers, ProvidersLifetime);
            return providers;
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            LogUnavailable(logger, "the sign-in providers", exception);
            cache.Set(("login-providers", tenantId), (IReadOnlyList<LoginProvider>)[], FailureLifetime);
            return [];
        }
    }

    /// <summary>
    /// Where to send the browser so the outside SAML IdP behind an ended session ends its own (federation's page that sends
    /// the LogoutRequest); null when the IdP takes none, or federation cannot say (logged: the logout here stands).
    /// </summary>
    public async Task<string?> SamlLogoutAsync(SamlLogoutRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(LookupTimeout);
            using var response = await httpClientFactory.CreateClient(InternalClients.Federation).PostAsJsonAsync(InternalRoutes.SamlLogouts, request, timeout.Token);
            response.EnsureSuccessStatusCode();
            return (await response.Content.ReadFromJsonAsync<SamlLogoutStart>(timeout.Token))?.LogoutUrl;
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken) || exception is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogUnavailable(logger, "the logout at the SAML identity provider", exception);
            return null;
        }
    }

    /// <summary>
    /// The pages (one iframe each) that sign the browser out of the SAML apps its ended session signed in to; none when
    /// there were none, or when federation does not answer within the lookup timeout (the logout goes on without them).
    /// </summary>
    public async Task<IReadOnlyList<Uri>> SamlAppFramesAsync(SamlAppLogoutRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(LookupTimeout);
            using var response = await httpClientFactory.CreateClient(InternalClients.Federation).PostAsJsonAsync(InternalRoutes.SamlAppLogouts, request, timeout.Token);
            response.EnsureSuccessStatusCode();
            var frames = await response.Content.ReadFromJsonAsync<SamlAppLogoutFrames>(timeout.Token);
            return [.. (frames?.Urls ?? []).Select(url => Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri : null).OfType<Uri>()];
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken) || exception is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogUnavailable(logger, "the logout at the SAML apps", exception);
            return [];
        }
    }

    /// <summary>The sign-in behind the ticket (used up); null when it is unknown, used or expired. Throws when federation cannot say.</summary>
    public async Task<LoginTicket?> RedeemAsync(Guid tenantId, string ticket, CancellationToken cancellationToken)
    {
        using var response = await httpClientFactory.CreateClient(InternalClients.Federation)
            .PostAsJsonAsync(InternalRoutes.LoginTickets, new LoginTicketRequest(tenantId, ticket), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<LoginTicket>(cancellationToken);
    }

    /// <summary>
    /// Who an outside token presented for exchange names: the user, or why there is none (federation's words, for the
    /// client). Throws <see cref="LumoAuth.ServiceDefaults.Errors.DependencyUnavailableException"/> when federation cannot say.
    /// </summary>
    public async Task<(ExternalSubjectResponse? Subject, string? Refusal)> ExternalSubjectAsync(ExternalSubjectRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await httpClientFactory.CreateClient(InternalClients.Federation).PostAsJsonAsync(InternalRoutes.ExternalSubjects, request, cancellationToken);
            if (response.StatusCode == HttpStatusCode.BadRequest)
            {
                using var error = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
                return (null, error.RootElement.TryGetProperty("message", out var message) && message.ValueKind == System.Text.Json.JsonValueKind.String
                    ? message.GetString() : "The subject token is not accepted.");
            }

            response.EnsureSuccessStatusCode();
            return (await response.Content.ReadFromJsonAsync<ExternalSubjectResponse>(cancellationToken), null);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new LumoAuth.ServiceDefaults.Errors.DependencyUnavailableException("The federation service cannot check the subject token; try again.", exception);
        }
    }

    /// <summary>The one-time intent for linking one more account through <paramref name="providerId"/>; null when it is not a provider that can be linked. Throws when federation cannot say.</summary>
    public async Task<string?> LinkIntentAsync(Guid tenantId, Guid userId, Guid providerId, CancellationToken cancellationToken)
    {
        using var response = await httpClientFactory.CreateClient(InternalClients.Federation)
            .PostAsJsonAsync(InternalRoutes.LinkIntents, new LinkIntentRequest(tenantId, userId, providerId), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<LinkIntentResponse>(cancellationToken))?.Intent;
    }

    /// <summary>The user's linked outside accounts; null when federation cannot say.</summary>
    public async Task<IReadOnlyList<ExternalIdentityRecord>?> LinksAsync(Guid tenantId, Guid userId, CancellationToken cancellationToken)
    {
        try
        {
            return await httpClientFactory.CreateClient(InternalClients.Federation)
                .GetFromJsonAsync<List<ExternalIdentityRecord>>(ExternalIdentityRecord.Route(userId, tenantId), cancellationToken) ?? [];
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            LogUnavailable(logger, "a user's linked accounts", exception);
            return null;
        }
    }

    /// <summary>Unlinks one of the user's accounts; false when it is not theirs (or gone). Throws when federation cannot say.</summary>
    public async Task<bool> UnlinkAsync(Guid tenantId, Guid userId, Guid linkId, CancellationToken cancellationToken)
    {
        using var response = await httpClientFactory.CreateClient(InternalClients.Federation)
            .DeleteAsync(ExternalIdentityRecord.DeleteRoute(userId, linkId, tenantId), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        response.EnsureSuccessStatusCode();
        return true;
    }

    /// <summary>
    /// An LDAP directory's verdict on a name and password: the user, or the refusal's code (<see cref="LdapSignInErrors"/>,
    /// <see cref="ExternalUserErrors"/>, <c>not_found</c>, or <c>unavailable</c> when federation or the directory cannot say).
    /// </summary>
    public async Task<(LdapSignInResponse? User, string? Refusal)> LdapSignInAsync(LdapSignInRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await httpClientFactory.CreateClient(InternalClients.Federation).PostAsJsonAsync(InternalRoutes.LdapSignIns, request, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return (await response.Content.ReadFromJsonAsync<LdapSignInResponse>(cancellationToken), null);
            }

            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return (null, "not_found");
            }

            if ((int)response.StatusCode is >= 400 and < 500)
            {
                using var error = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
                return (null, error.RootElement.TryGetProperty("code", out var code) && code.ValueKind == System.Text.Json.JsonValueKind.String ? code.GetString() : "unavailable");
            }
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            LogUnavailable(logger, "an LDAP sign-in", exception);
        }

        return (null, "unavailable");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The federation service cannot be asked for {What}")]
    private static partial void LogUnavailable(ILogger logger, string what, Exception exception);
}

/// <summary>The sign-in buttons of one page view: the tenant's providers, loaded once per request, then written where the page needs them.</summary>
public sealed class ProviderButtons(FederatedLogins logins)
{
    private IReadOnlyList<LoginProvider> _providers = [];

    public async Task LoadAsync(Guid tenantId, CancellationToken cancellationToken) => _providers = await logins.ProvidersAsync(tenantId, cancellationToken);

    /// <summary>A link per provider to federation's start of its sign-in, going on to <paramref name="returnUrl"/> afterwards.</summary>
    public string Html(PageText t, string slug, string? returnUrl)
    {
        if (_providers.Count == 0)
        {
            return string.Empty;
        }

        var html = new System.Text.StringBuilder("<div class=\"providers\">");
        foreach (var provider in _providers)
        {
            var href = provider.StartPath(slug) + (returnUrl is null ? string.Empty : QueryString.Create("returnUrl", returnUrl).Value);
            html.Append("<p><a class=\"button\" href=\"").Append(HostedPage.Encode(href)).Append("\">").Append(t.Html("Continue with {0}", provider.Name)).Append("</a></p>");
        }

        return html.Append("</div>").ToString();
    }
}
