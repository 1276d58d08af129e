using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Sessions;
using LumoAuth.Token.Protocol;
using LumoAuth.Token.Tests.Support;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using ApiAssert = LumoAuth.Testing.ApiAssert;
using LumoAuth.Testing;

namespace LumoAuth.Token.Tests;

/// <summary>
/// ADM-47…50 (sessions admin), the end of a user's sessions and grants when admin blocks the user, and
/// RP-initiated logout with <c>post_logout_redirect_uri</c> validation.
/// </summary>
[RunsLong(145)]
public sealed class SessionsAndLogoutTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private sealed record SignedIn(SignInSetup Setup, HttpClient Browser, string RefreshToken, string IdToken, string SessionId, string AccessToken);

    private async Task<SignedIn> SignInAsync(SignInSetup? setup = null)
    {
        setup ??= await suite.SetUpAsync();
        var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge)))["code"];
        using var http = suite.Token.CreateClient();
        using var response = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));
        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        var idToken = json.GetProperty("id_token").GetString()!;
        return new SignedIn(setup, browser, json.GetProperty("refresh_token").GetString()!, idToken,
            new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(idToken).GetClaim("sid").Value, json.GetProperty("access_token").GetString()!);
    }

    private HttpClient AdminApi(SignInSetup setup)
    {
        var client = suite.Token.CreateClient();
        client.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        return client;
    }

    private async Task<HttpStatusCode> RefreshAsync(SignedIn signedIn)
    {
        using var http = suite.Token.CreateClient();
        using var response = await http.PostAsync(signedIn.Setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = signedIn.RefreshToken, ["client_id"] = signedIn.Setup.ClientId,
        }));
        return response.StatusCode;
    }

    /// <summary>Whether the access token is still accepted (userinfo validates it like any bearer check, deny-list included).</summary>
    private async Task<bool> AccessTokenWorksAsync(SignedIn signedIn)
    {
        using var http = suite.Token.CreateClient();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", signedIn.AccessToken);
        using var response = await http.GetAsync(signedIn.Setup.Issuer + "/oauth/userinfo");
        return response.StatusCode == HttpStatusCode.OK;
    }

    /// <summary>Enters the setup's tenant in <paramref name="scope"/> and gives a Redis connection that never answers (an outage).</summary>
    private static async Task<ConnectionMultiplexer> UnreachableRedisInAsync(AsyncServiceScope scope, SignInSetup setup)
    {
        scope.ServiceProvider.GetRequiredService<TenantContext>().Set(
            new TenantInfo(setup.Tenant.Id, setup.Tenant.Slug, string.Empty, TenantStatuses.Active, string.Empty));
        var unreachable = ConfigurationOptions.Parse("127.0.0.1:1");
        unreachable.AbortOnConnectFail = false;
        unreachable.BacklogPolicy = BacklogPolicy.FailFast;
        unreachable.ConnectTimeout = 200;
        return await ConnectionMultiplexer.ConnectAsync(unreachable);
    }

    private async Task<bool> BrowserIsSignedInAsync(SignedIn signedIn)
    {
        var (_, challenge) = HostedFlow.Pkce();
        using var response = await signedIn.Browser.GetAsync(HostedFlow.AuthorizeUrl(signedIn.Setup, challenge));
        return HostedFlow.LocalRedirect(response) is not { } local || !local.Contains("/login", StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sessions_ListedForTheTenantAndTheUser_WithDevice()
    {
        var signedIn = await SignInAsync();
        var setup = signedIn.Setup;
        using var admin = AdminApi(setup);

        using var all = await admin.GetAsync($"{setup.Tenant.Api}/admin/sessions?userId={setup.UserId}");
        using var mine = await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/sessions");

        var listed = (await HttpAssert.JsonAsync(all, HttpStatusCode.OK)).GetProperty("data").EnumerateArray().Single();
        Assert.Equal(signedIn.SessionId, listed.GetProperty("id").GetString());
        Assert.Equal(setup.UserId.ToString(), listed.GetProperty("userId").GetString());
        Assert.Equal("password", listed.GetProperty("authMethod").GetString());
        Assert.False(listed.GetProperty("mfaVerified").GetBoolean());
        Assert.Equal(JsonValueKind.Object, listed.GetProperty("device").ValueKind);
        Assert.Equal(JsonValueKind.Null, listed.GetProperty("location").ValueKind);
        Assert.Single((await HttpAssert.JsonAsync(mine, HttpStatusCode.OK)).GetProperty("data").EnumerateArray());
        if (listed.GetProperty("ipAddress").GetString() is { } ip)
        {
            using var byIp = await admin.GetAsync($"{setup.Tenant.Api}/admin/sessions?ipAddress={Uri.EscapeDataString(ip)}");
            Assert.Single((await HttpAssert.JsonAsync(byIp, HttpStatusCode.OK)).GetProperty("data").EnumerateArray());
        }

        using var otherIp = await admin.GetAsync($"{setup.Tenant.Api}/admin/sessions?ipAddress=203.0.113.9");
        Assert.Empty((await HttpAssert.JsonAsync(otherIp, HttpStatusCode.OK)).GetProperty("data").EnumerateArray());
        signedIn.Browser.Dispose();
    }

    [Fact]
    public async Task Sessions_OfAnotherTenant_AreInvisibleAndUntouchable()
    {
        var signedIn = await SignInAsync();
        var other = await suite.SetUpAsync();
        using var otherAdmin = AdminApi(other);
        var path = $"{other.Tenant.Api}/admin/users/{signedIn.Setup.UserId}/sessions";

        using var listed = await otherAdmin.GetAsync($"{other.Tenant.Api}/admin/sessions?limit=100");
        using var deleted = await otherAdmin.DeleteAsync($"{path}/{signedIn.SessionId}");
        using var foreignKey = await otherAdmin.GetAsync($"{signedIn.Setup.Tenant.Api}/admin/sessions");

        Assert.DoesNotContain(signedIn.SessionId, await listed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await HttpAssert.EnvelopeAsync(deleted, HttpStatusCode.NotFound, "resource_not_found");
        // The other tenant has no such user at all.
        await HttpAssert.EnvelopeAsync(await otherAdmin.GetAsync(path), HttpStatusCode.NotFound, "resource_not_found");
        await HttpAssert.EnvelopeAsync(await otherAdmin.DeleteAsync(path), HttpStatusCode.NotFound, "resource_not_found");
        await HttpAssert.EnvelopeAsync(foreignKey, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.True(await BrowserIsSignedInAsync(signedIn));
        signedIn.Browser.Dispose();
    }

    [Fact]
    public async Task UserSessions_OfAnUnknownUser_Are404_OfAUserWithoutSessions_AnEmptyAnswer()
    {
        var setup = await suite.SetUpAsync();
        using var admin = AdminApi(setup);
        var unknown = $"{setup.Tenant.Api}/admin/users/{Guid.NewGuid()}/sessions";
        var known = $"{setup.Tenant.Api}/admin/users/{setup.UserId}/sessions";

        await HttpAssert.EnvelopeAsync(await admin.GetAsync(unknown), HttpStatusCode.NotFound, "resource_not_found");
        await HttpAssert.EnvelopeAsync(await admin.DeleteAsync(unknown), HttpStatusCode.NotFound, "resource_not_found");
        Assert.Equal(0, (await HttpAssert.JsonAsync(await admin.GetAsync(known), HttpStatusCode.OK)).GetProperty("data").GetArrayLength());
        Assert.Equal(0, (await HttpAssert.JsonAsync(await admin.DeleteAsync(known), HttpStatusCode.OK)).GetProperty("data").GetProperty("revoked").GetInt32());
    }

    [Fact]
    public async Task RevokeOneSession_SignsTheBrowserOut_AndStopsItsRefreshTokens()
    {
        var signedIn = await SignInAsync();
        using var admin = AdminApi(signedIn.Setup);

        using var revoked = await admin.DeleteAsync($"{signedIn.Setup.Tenant.Api}/admin/users/{signedIn.Setup.UserId}/sessions/{signedIn.SessionId}");
        using var again = await admin.DeleteAsync($"{signedIn.Setup.Tenant.Api}/admin/users/{signedIn.Setup.UserId}/sessions/{signedIn.SessionId}");

        await HttpAssert.JsonAsync(revoked, HttpStatusCode.OK);
        await HttpAssert.EnvelopeAsync(again, HttpStatusCode.NotFound, "resource_not_found");
        Assert.False(await BrowserIsSignedInAsync(signedIn));
        Assert.Equal(HttpStatusCode.BadRequest, await RefreshAsync(signedIn));
        Assert.False(await AccessTokenWorksAsync(signedIn));
        signedIn.Browser.Dispose();
    }

    /// <summary>
    /// Ending a user's other sessions while Redis does not answer still ends them all, with their event, in one save; the
    /// event's consumer — against a Redis that answers — then puts their access tokens on the deny-list. The request
    /// itself could deny nothing (its index reads go to a dead endpoint), so the denial seen here is the event's.
    /// </summary>
    [Fact]
    public async Task RevokeOtherSessions_WhenRedisDoesNotAnswer_EndsThemAll_AndTheirEventDeniesTheirTokens()
    {
        var setup = await suite.SetUpAsync();
        var kept = await SignInAsync(setup);
        var others = new[] { await SignInAsync(setup), await SignInAsync(setup) };

        await using (var scope = suite.Token.Services.CreateAsyncScope())
        {
            await using var down = await UnreachableRedisInAsync(scope, setup);
            var index = ActivatorUtilities.CreateInstance<UserAccessTokenIndex>(scope.ServiceProvider, (IConnectionMultiplexer)down);
            var revocation = ActivatorUtilities.CreateInstance<SessionRevocation>(scope.ServiceProvider, index);

            Assert.Equal(2, await revocation.RevokeOtherSessionsAsync(setup.UserId, kept.SessionId, SessionRevocation.Reasons.User, CancellationToken.None));
        }

        foreach (var other in others)
        {
            Assert.False(await BrowserIsSignedInAsync(other));
            Assert.Equal(HttpStatusCode.BadRequest, await RefreshAsync(other));
        }

        var denyList = suite.Token.Services.GetRequiredService<RedisAccessTokenDenyList>();
        await ApiAssert.EventuallyAsync(async () =>
        {
            foreach (var other in others)
            {
                var jwt = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(other.AccessToken);
                if (!await denyList.IsRevokedAsync(setup.Tenant.Id, new AccessTokenFacts(jwt.Id, setup.ClientId, jwt.IssuedAt), CancellationToken.None))
                {
                    return null;
                }
            }

            return "denied";
        });
        Assert.True(await BrowserIsSignedInAsync(kept));
        Assert.True(await AccessTokenWorksAsync(kept));
    }

    [Fact]
    public async Task RevokedGrant_WhenRedisDoesNotAnswer_IsRevokedAtOnce_AndItsEventDeniesItsAccessTokens()
    {
        var signedIn = await SignInAsync();
        var setup = signedIn.Setup;
        var other = await SignInAsync(setup);

        await using (var scope = suite.Token.Services.CreateAsyncScope())
        {
            await using var down = await UnreachableRedisInAsync(scope, setup);
            var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
            // One grant per sign-in (the remembered consent is an authorization of its own).
            var grants = await db.Set<TokenAuthorization>()
                .Where(a => a.Subject == setup.UserId.ToString() && a.Type == OpenIddict.Abstractions.OpenIddictConstants.AuthorizationTypes.AdHoc)
                .OrderBy(a => a.CreationDate).Select(a => a.Id).ToListAsync();
            Assert.Equal(2, grants.Count);
            var index = ActivatorUtilities.CreateInstance<UserAccessTokenIndex>(scope.ServiceProvider, (IConnectionMultiplexer)down);
            var manager = ActivatorUtilities.CreateInstance<TokenTokenManager>(scope.ServiceProvider, index);

            // The first sign-in's grant: the request's own denial fails, the revocation does not.
            Assert.True(await manager.RevokeByAuthorizationIdAsync(grants[0].ToString(), CancellationToken.None) > 0);
        }

        Assert.Equal(HttpStatusCode.BadRequest, await RefreshAsync(signedIn));
        // The deny-list is what every other service's bearer validation reads.
        var denyList = suite.Token.Services.GetRequiredService<RedisAccessTokenDenyList>();
        Task<bool> DeniedAsync(SignedIn tokens)
        {
            var jwt = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(tokens.AccessToken);
            return denyList.IsRevokedAsync(setup.Tenant.Id, new AccessTokenFacts(jwt.Id, setup.ClientId, jwt.IssuedAt), CancellationToken.None).AsTask();
        }

        await ApiAssert.EventuallyAsync(async () => await DeniedAsync(signedIn) ? "denied" : null);
        Assert.False(await AccessTokenWorksAsync(signedIn));

        // Only that grant: the second sign-in's tokens still work.
        Assert.False(await DeniedAsync(other));
        Assert.True(await AccessTokenWorksAsync(other));
        Assert.Equal(HttpStatusCode.OK, await RefreshAsync(other));
    }

    /// <summary>
    /// RFC 7009 for a refresh token: the token, its grant with the grant's <c>GrantRevoked</c>, and the <c>TokenRevoked</c>
    /// audit event commit together through the outbox. A second revocation finds nothing live: one <c>GrantRevoked</c> in all.
    /// </summary>
    [Fact]
    public async Task RevokeRefreshToken_EndsItsGrantWithOneGrantRevoked_AndReachesTheAuditLog()
    {
        var signedIn = await SignInAsync();
        var setup = signedIn.Setup;
        var grant = (await WithDbAsync(db => db.Set<TokenAuthorization>().IgnoreQueryFilters()
            .Where(a => a.Subject == setup.UserId.ToString() && a.Type == OpenIddict.Abstractions.OpenIddictConstants.AuthorizationTypes.AdHoc)
            .Select(a => a.Id).SingleAsync())).ToString();
        var published = new PublishedGrantRevocations();
        using var observed = suite.Token.Services.GetRequiredService<MassTransit.IBus>().ConnectPublishObserver(published);

        for (var attempt = 0; attempt < 2; attempt++)
        {
            using var http = suite.Token.CreateClient();
            using var revoked = await http.PostAsync(setup.Issuer + "/oauth/revoke", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["token"] = signedIn.RefreshToken, ["token_type_hint"] = "refresh_token", ["client_id"] = setup.ClientId,
            }));
            Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        }

        Assert.Equal(HttpStatusCode.BadRequest, await RefreshAsync(signedIn));
        Assert.False(await AccessTokenWorksAsync(signedIn));
        var entry = await suite.AuditEntryAsync(setup, "token_revoked");
        Assert.Equal("token_management", entry.GetProperty("category").GetString());
        Assert.Equal(setup.ClientId, entry.GetProperty("actor").GetProperty("id").GetString());

        // Counted once the relay has published everything the revocations wrote.
        await ApiAssert.EventuallyAsync(async () =>
        {
            var waiting = await WithDbAsync(db => db.Set<LumoAuth.Messaging.Outbox.OutboxMessage>()
                .AnyAsync(m => m.TenantId == setup.Tenant.Id && m.MessageType == LumoAuth.Messaging.Outbox.ContractTypes.NameOf(typeof(LumoAuth.Contracts.Sessions.GrantRevoked))));
            return !waiting && published.Grants.Contains(grant) ? "published" : null;
        });
        Assert.Single(published.Grants, g => g == grant);
        signedIn.Browser.Dispose();
    }

    private async Task<T> WithDbAsync<T>(Func<TokenDbContext, Task<T>> query)
    {
        await using var scope = suite.Token.Services.CreateAsyncScope();
        return await query(scope.ServiceProvider.GetRequiredService<TokenDbContext>());
    }

    private sealed class PublishedGrantRevocations : MassTransit.IPublishObserver
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Grants { get; } = new();

        public Task PrePublish<T>(MassTransit.PublishContext<T> context)
            where T : class => Task.CompletedTask;

        public Task PostPublish<T>(MassTransit.PublishContext<T> context)
            where T : class
        {
            if (context.Message is LumoAuth.Contracts.Sessions.GrantRevoked revoked)
            {
                Grants.Enqueue(revoked.AuthorizationId);
            }

            return Task.CompletedTask;
        }

        public Task PublishFault<T>(MassTransit.PublishContext<T> context, Exception exception)
            where T : class => Task.CompletedTask;
    }

    [Fact]
    public async Task AdminTokens_ListsTheUsersLiveTokens_AndRevokingThemForcesANewSignIn()
    {
        var signedIn = await SignInAsync();
        var setup = signedIn.Setup;
        using var admin = AdminApi(setup);

        var listed = await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/tokens?userId={setup.UserId}&type=refresh_token"), HttpStatusCode.OK);
        var refresh = listed.GetProperty("data").EnumerateArray().Single();
        Assert.Equal("refresh_token", refresh.GetProperty("type").GetString());
        Assert.Equal(setup.ClientId, refresh.GetProperty("clientId").GetString());
        Assert.Equal(setup.UserId.ToString(), refresh.GetProperty("userId").GetString());
        Assert.DoesNotContain(signedIn.RefreshToken, listed.GetRawText(), StringComparison.Ordinal);
        var byClient = await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/tokens?clientId={setup.ClientId}"), HttpStatusCode.OK);
        Assert.All(byClient.GetProperty("data").EnumerateArray(), t => Assert.Equal(setup.ClientId, t.GetProperty("clientId").GetString()));
        await HttpAssert.EnvelopeAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/tokens?type=id_token"), HttpStatusCode.BadRequest, "validation_error");

        // Another tenant sees none of them and cannot revoke them.
        var other = await suite.SetUpAsync();
        using var otherAdmin = AdminApi(other);
        var foreign = await HttpAssert.JsonAsync(await otherAdmin.GetAsync($"{other.Tenant.Api}/admin/tokens?userId={setup.UserId}"), HttpStatusCode.OK);
        Assert.Empty(foreign.GetProperty("data").EnumerateArray());
        using var foreignRevoke = await otherAdmin.DeleteAsync($"{other.Tenant.Api}/admin/users/{setup.UserId}/tokens");
        Assert.True(await AccessTokenWorksAsync(signedIn));
        var still = await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/tokens?userId={setup.UserId}&type=refresh_token"), HttpStatusCode.OK);
        Assert.Equal(1, still.GetProperty("meta").GetProperty("total").GetInt64());

        using var revoked = await admin.DeleteAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/tokens");
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        Assert.False(await AccessTokenWorksAsync(signedIn));
        Assert.Equal(HttpStatusCode.BadRequest, await RefreshAsync(signedIn));
        Assert.False(await BrowserIsSignedInAsync(signedIn));
        var after = await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/tokens?userId={setup.UserId}"), HttpStatusCode.OK);
        Assert.Equal(0, after.GetProperty("meta").GetProperty("total").GetInt64());
        await HttpAssert.EnvelopeAsync(await admin.DeleteAsync($"{setup.Tenant.Api}/admin/users/not-a-user/tokens"), HttpStatusCode.NotFound, "resource_not_found");
        signedIn.Browser.Dispose();
    }

    [Fact]
    public async Task RevokeAllSessions_EndsEverySessionAndGrantOfTheUser()
    {
        var first = await SignInAsync();
        var second = await SignInAsync(first.Setup);
        using var admin = AdminApi(first.Setup);
        Assert.True(await AccessTokenWorksAsync(first));

        using var revoked = await admin.DeleteAsync($"{first.Setup.Tenant.Api}/admin/users/{first.Setup.UserId}/sessions");

        Assert.Equal(2, (await HttpAssert.JsonAsync(revoked, HttpStatusCode.OK)).GetProperty("data").GetProperty("revoked").GetInt32());
        Assert.Equal(HttpStatusCode.BadRequest, await RefreshAsync(first));
        Assert.Equal(HttpStatusCode.BadRequest, await RefreshAsync(second));
        Assert.False(await BrowserIsSignedInAsync(second));
        Assert.False(await AccessTokenWorksAsync(first));
        Assert.False(await AccessTokenWorksAsync(second));
        first.Browser.Dispose();
        second.Browser.Dispose();
    }

    [Fact]
    public async Task SigningInAgain_InTheSameBrowser_StartsASessionWithANewId()
    {
        var signedIn = await SignInAsync();
        using (var again = await HostedFlow.SubmitLoginAsync(signedIn.Browser, $"/t/{signedIn.Setup.Tenant.Slug}/login", signedIn.Setup.Email, signedIn.Setup.Password))
        {
            Assert.True(again.StatusCode is HttpStatusCode.OK or HttpStatusCode.Found or HttpStatusCode.SeeOther, await again.Content.ReadAsStringAsync());
        }

        using var admin = AdminApi(signedIn.Setup);
        var sessions = JsonDocument.Parse(await admin.GetStringAsync($"{signedIn.Setup.Tenant.Api}/admin/users/{signedIn.Setup.UserId}/sessions")).RootElement.GetProperty("data");
        var ids = sessions.EnumerateArray().Select(s => s.GetProperty("id").GetString()).ToList();
        Assert.Contains(ids, id => id != signedIn.SessionId);
        signedIn.Browser.Dispose();
    }

    [Theory]
    [InlineData("block")]
    [InlineData("delete")]
    public async Task UserBlockedOrDeletedInAdmin_EndsTheUsersSessionsAndGrants(string action)
    {
        var signedIn = await SignInAsync();
        using var adminService = suite.Admin.ClientFor(signedIn.Setup.Tenant);
        var user = $"{signedIn.Setup.Tenant.Api}/admin/users/{signedIn.Setup.UserId}";

        using var changed = action == "block"
            ? await adminService.PostAsync($"{user}/block", JsonContent.Create(new { reason = "test" }))
            : await adminService.DeleteAsync(user);
        Assert.True(changed.IsSuccessStatusCode, await changed.Content.ReadAsStringAsync());

        await ApiAssert.EventuallyAsync(async () => await BrowserIsSignedInAsync(signedIn) ? null : "signed out");
        Assert.Equal(HttpStatusCode.BadRequest, await RefreshAsync(signedIn));
        await ApiAssert.EventuallyAsync(async () => await AccessTokenWorksAsync(signedIn) ? null : "denied");
        if (action == "delete")
        {
            // A deleted user's ended sessions keep nothing personal (client address, browser).
            await ApiAssert.EventuallyAsync(async () =>
            {
                await using var scope = suite.Token.Services.CreateAsyncScope();
                var sessions = await scope.ServiceProvider.GetRequiredService<TokenDbContext>().Sessions.IgnoreQueryFilters()
                    .Where(s => s.UserId == signedIn.Setup.UserId).Select(s => new { s.IpAddress, s.UserAgent }).ToListAsync();
                return sessions.Count > 0 && sessions.All(s => s.IpAddress == null && s.UserAgent == null) ? "forgotten" : null;
            });
        }

        signedIn.Browser.Dispose();
    }

    [Fact]
    public async Task Logout_WithIdTokenHint_EndsTheSession_AndReturnsToTheRegisteredUriWithState()
    {
        var signedIn = await SignInAsync();
        var url = QueryHelpers.AddQueryString($"{signedIn.Setup.Tenant.Api}/oauth/logout", new Dictionary<string, string?>
        {
            ["id_token_hint"] = signedIn.IdToken,
            ["post_logout_redirect_uri"] = SignInSetup.PostLogoutUri,
            ["state"] = "bye-1",
        });

        using var response = await signedIn.Browser.GetAsync(url);

        var location = response.Headers.Location!;
        Assert.StartsWith(SignInSetup.PostLogoutUri, location.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal("bye-1", QueryHelpers.ParseQuery(location.Query)["state"].ToString());
        Assert.False(await BrowserIsSignedInAsync(signedIn));
        Assert.Equal(HttpStatusCode.BadRequest, await RefreshAsync(signedIn));
        signedIn.Browser.Dispose();
    }

    /// <summary>The audit log's documented names find what a real sign-in, refresh and logout recorded.</summary>
    [Fact]
    public async Task AuditLog_DocumentedNames_FindARealRefreshAndLogout()
    {
        var signedIn = await SignInAsync();
        Assert.Equal(HttpStatusCode.OK, await RefreshAsync(signedIn));
        var url = QueryHelpers.AddQueryString($"{signedIn.Setup.Tenant.Api}/oauth/logout", new Dictionary<string, string?>
        {
            ["id_token_hint"] = signedIn.IdToken, ["post_logout_redirect_uri"] = SignInSetup.PostLogoutUri,
        });
        using (var response = await signedIn.Browser.GetAsync(url))
        {
            Assert.StartsWith(SignInSetup.PostLogoutUri, response.Headers.Location!.AbsoluteUri, StringComparison.Ordinal);
        }

        var refreshed = await suite.AuditEntryAsync(signedIn.Setup, "token_refreshed");
        Assert.Equal("refresh_token", refreshed.GetProperty("metadata").GetProperty("grantType").GetString());
        var loggedOut = await suite.AuditEntryAsync(signedIn.Setup, "logout");
        Assert.Equal("logout", loggedOut.GetProperty("metadata").GetProperty("reason").GetString());
        var login = await suite.AuditEntryAsync(signedIn.Setup, "login");
        Assert.Equal(signedIn.Setup.UserId.ToString(), login.GetProperty("actor").GetProperty("id").GetString());
        signedIn.Browser.Dispose();
    }

    [Fact]
    public async Task Logout_FrontchannelClient_IsSignedOutInAnIframe_ThenTheBrowserReturns()
    {
        const string frontchannel = "https://spa.example.com/frontchannel-logout";
        var setup = await suite.SetUpAsync(new
        {
            name = "Dashboard", applicationType = "spa", redirectUris = new[] { SignInSetup.RedirectUri },
            postLogoutRedirectUris = new[] { SignInSetup.PostLogoutUri }, grantTypes = new[] { "authorization_code", "refresh_token" },
            allowedScopes = new[] { "openid", "profile", "email", "offline_access" }, frontchannelLogoutUri = frontchannel,
        });
        var signedIn = await SignInAsync(setup);
        var url = QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/logout", new Dictionary<string, string?>
        {
            ["id_token_hint"] = signedIn.IdToken, ["post_logout_redirect_uri"] = SignInSetup.PostLogoutUri, ["state"] = "bye-3",
        });

        using var response = await signedIn.Browser.GetAsync(url);

        // OIDC Front-Channel Logout §2/§4: an iframe per client, with iss and sid; our page then goes back to the client.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var html = System.Net.WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync());
        var frame = System.Text.RegularExpressions.Regex.Match(html, "<iframe hidden title=\"Signing out\" src=\"([^\"]+)\"").Groups[1].Value;
        Assert.StartsWith(frontchannel + "?", frame, StringComparison.Ordinal);
        var query = QueryHelpers.ParseQuery(new Uri(frame).Query);
        Assert.Equal(setup.Issuer, query["iss"].ToString());
        Assert.Equal(signedIn.SessionId, query["sid"].ToString());
        Assert.Contains($"url={SignInSetup.PostLogoutUri}?state=bye-3", html, StringComparison.Ordinal);
        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("frame-src https://spa.example.com", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.False(await BrowserIsSignedInAsync(signedIn));
        signedIn.Browser.Dispose();
    }

    [Fact]
    public async Task Logout_UnregisteredPostLogoutRedirectUri_ShowsErrorPage_AndKeepsTheSession()
    {
        var signedIn = await SignInAsync();
        var url = QueryHelpers.AddQueryString($"{signedIn.Setup.Tenant.Api}/oauth/logout", new Dictionary<string, string?>
        {
            ["id_token_hint"] = signedIn.IdToken,
            ["post_logout_redirect_uri"] = "https://evil.example.com/",
        });

        using var response = await signedIn.Browser.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
        Assert.Contains("data-error=", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.True(await BrowserIsSignedInAsync(signedIn));
        signedIn.Browser.Dispose();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Logout_WithoutHint_ReturnsToTheUri_OnlyWhenTheClientIsNamed(bool withClientId)
    {
        // RP-Initiated Logout §3: without an ID token hint or client_id nothing says whose URI this is.
        var signedIn = await SignInAsync();
        var url = QueryHelpers.AddQueryString($"{signedIn.Setup.Tenant.Api}/oauth/logout", new Dictionary<string, string?>
        {
            ["post_logout_redirect_uri"] = SignInSetup.PostLogoutUri,
            ["client_id"] = withClientId ? signedIn.Setup.ClientId : null,
            ["state"] = "bye-2",
            ["logout_hint"] = signedIn.Setup.Email,
        }.Where(p => p.Value is not null));
        using var page = await signedIn.Browser.GetAsync(url);
        var form = HostedFlow.HiddenFields(await page.Content.ReadAsStringAsync());
        form["logout_confirmed"] = "yes";

        using var confirmed = await signedIn.Browser.PostAsync($"{signedIn.Setup.Tenant.Api}/oauth/logout", new FormUrlEncodedContent(form));

        Assert.False(await BrowserIsSignedInAsync(signedIn));
        if (withClientId)
        {
            Assert.StartsWith(SignInSetup.PostLogoutUri, confirmed.Headers.Location!.AbsoluteUri, StringComparison.Ordinal);
            Assert.Equal("bye-2", QueryHelpers.ParseQuery(confirmed.Headers.Location.Query)["state"].ToString());
        }
        else
        {
            Assert.Equal(HttpStatusCode.OK, confirmed.StatusCode);
            Assert.Null(confirmed.Headers.Location);
            Assert.Contains("You are signed out", await confirmed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Neither whom the client named nor the form's antiforgery token reaches the log.
        suite.Logs.AssertNeverLogged(signedIn.Setup.Email, form["__csrf"]);
        signedIn.Browser.Dispose();
    }

    [Fact]
    public async Task Logout_WithoutHint_AsksForConfirmation_ThenSignsOut()
    {
        var signedIn = await SignInAsync();

        using var page = await signedIn.Browser.GetAsync($"{signedIn.Setup.Tenant.Api}/oauth/logout");
        var html = await page.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.True(await BrowserIsSignedInAsync(signedIn));
        var form = HostedFlow.HiddenFields(html);
        form["logout_confirmed"] = "yes";
        using var confirmed = await signedIn.Browser.PostAsync($"{signedIn.Setup.Tenant.Api}/oauth/logout", new FormUrlEncodedContent(form));

        Assert.Equal(HttpStatusCode.OK, confirmed.StatusCode);
        Assert.Contains("You are signed out", await confirmed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(await BrowserIsSignedInAsync(signedIn));
        signedIn.Browser.Dispose();
    }

    [Fact]
    public async Task Logout_WithSomeoneElsesIdTokenHint_AsksTheSignedInUser_AndSignsNobodyOutUnasked()
    {
        // A page sends the victim's browser to logout with its own user's ID token (logout CSRF).
        var victim = await SignInAsync();
        var email = $"mallory-{Guid.NewGuid():N}"[..16] + "@example.com";
        var malloryId = await suite.Admin.CreateUserAsync(victim.Setup.Tenant, email, victim.Setup.Password, "Mallory");
        var mallory = await SignInAsync(victim.Setup with { UserId = malloryId, Email = email });
        var url = QueryHelpers.AddQueryString($"{victim.Setup.Tenant.Api}/oauth/logout", new Dictionary<string, string?>
        {
            ["id_token_hint"] = mallory.IdToken, ["post_logout_redirect_uri"] = SignInSetup.PostLogoutUri,
        });

        using var page = await victim.Browser.GetAsync(url);

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Null(page.Headers.Location);
        Assert.True(await BrowserIsSignedInAsync(victim));
        Assert.True(await BrowserIsSignedInAsync(mallory));

        // Confirmed by the user, it ends the user's own session.
        var form = HostedFlow.HiddenFields(await page.Content.ReadAsStringAsync());
        form["logout_confirmed"] = "yes";
        using var confirmed = await victim.Browser.PostAsync($"{victim.Setup.Tenant.Api}/oauth/logout", new FormUrlEncodedContent(form));
        Assert.False(await BrowserIsSignedInAsync(victim));
        Assert.Equal(HttpStatusCode.BadRequest, await RefreshAsync(victim));
        Assert.True(await BrowserIsSignedInAsync(mallory));
        victim.Browser.Dispose();
        mallory.Browser.Dispose();
    }

    [Fact]
    public async Task SessionAndCsrfCookies_AreSecure_WhenThePublicOriginIsHttps()
    {
        await using var https = new TokenFactory { PublicBaseUrl = "https://id.example.com" };
        var lumo = https.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<LumoAuth.ServiceDefaults.LumoAuthOptions>>().Value;

        var csrf = https.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Antiforgery.AntiforgeryOptions>>().Value;
        var session = https.Services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationOptions>>()
            .Get(LumoAuth.Token.Features.Login.SessionCookie.Scheme);

        Assert.Equal("https://id.example.com", lumo.PublicBaseUrl);
        Assert.Equal(Microsoft.AspNetCore.Http.CookieSecurePolicy.Always, csrf.Cookie.SecurePolicy);
        Assert.Equal(Microsoft.AspNetCore.Http.CookieSecurePolicy.Always, session.Cookie.SecurePolicy);
    }
}
