using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>A token service whose devices may poll every second, so the tests need not wait five.</summary>
public sealed class FastPollingSuite : TokenSuite
{
    protected override IDictionary<string, string?> TokenSettings => new Dictionary<string, string?> { ["Token:DevicePollingIntervalSeconds"] = "1" };
}

/// <summary>
/// The device authorization grant (RFC 8628, TOK-07/08): the device gets a device code and a user code, the user
/// approves on the hosted verification page, the device polls the token endpoint until then.
/// </summary>
public sealed partial class DeviceFlowTests(FastPollingSuite suite) : IClassFixture<FastPollingSuite>
{
    private const string DeviceGrant = "urn:ietf:params:oauth:grant-type:device_code";

    [Fact]
    public async Task DeviceAuthorization_ReturnsTheDocumentedCodes()
    {
        var (setup, _) = await TvAsync();

        var codes = await AuthorizeDeviceAsync(setup, "openid profile");

        Assert.Matches(UserCodePattern(), codes.GetProperty("user_code").GetString());
        Assert.True(codes.GetProperty("device_code").GetString()!.Length >= 32);
        Assert.Equal(setup.Issuer + "/oauth/device", codes.GetProperty("verification_uri").GetString());
        Assert.Equal(setup.Issuer + "/oauth/device?user_code=" + codes.GetProperty("user_code").GetString(),
            codes.GetProperty("verification_uri_complete").GetString());
        Assert.InRange(codes.GetProperty("expires_in").GetInt32(), 590, 600);
        Assert.Equal(1, codes.GetProperty("interval").GetInt32());
    }

    [Fact]
    public async Task DeviceFlow_UserApprovesOnTheVerificationPage_DeviceGetsTokens()
    {
        var (setup, _) = await TvAsync();
        var codes = await AuthorizeDeviceAsync(setup, "openid profile offline_access");
        var deviceCode = codes.GetProperty("device_code").GetString()!;
        var userCode = codes.GetProperty("user_code").GetString()!;

        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, deviceCode), HttpStatusCode.BadRequest, "authorization_pending");

        // Typed in lower case and without the dash: read as issued.
        using var browser = suite.Browser();
        var confirm = await SignInAndConfirmAsync(browser, setup, userCode.Replace("-", string.Empty, StringComparison.Ordinal).ToLowerInvariant());
        Assert.Contains(userCode, confirm, StringComparison.Ordinal);
        Assert.Contains("TV app", confirm, StringComparison.Ordinal);
        using (var decided = await DecideAsync(browser, confirm, accept: true))
        {
            var done = HostedFlow.LocalRedirect(decided)!;
            using var page = await browser.GetAsync(done);
            Assert.Contains("all set", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await Task.Delay(TimeSpan.FromSeconds(1.1));
        using var granted = await PollAsync(setup, deviceCode);
        var tokens = await HttpAssert.JsonAsync(granted, HttpStatusCode.OK);
        var access = new JsonWebToken(tokens.GetProperty("access_token").GetString());
        Assert.Equal(setup.UserId.ToString(), access.Subject);
        Assert.Equal(setup.ClientId, access.GetClaim("client_id").Value);
        Assert.Equal(setup.UserId.ToString(), new JsonWebToken(tokens.GetProperty("id_token").GetString()).Subject);
        var refreshToken = tokens.GetProperty("refresh_token").GetString()!;

        // The refresh token works as a code grant's does.
        using var http = suite.Token.CreateClient();
        Task<HttpResponseMessage> RefreshAsync(string token) => http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = token, ["client_id"] = setup.ClientId,
        }));
        using var refreshed = await RefreshAsync(refreshToken);
        var rotated = (await HttpAssert.JsonAsync(refreshed, HttpStatusCode.OK)).GetProperty("refresh_token").GetString()!;

        // The device code is spent, and a second use of it is a replay, as for an authorization code: the grant ends.
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, deviceCode), HttpStatusCode.BadRequest, "invalid_grant");
        await HttpAssert.OAuthErrorAsync(await RefreshAsync(rotated), HttpStatusCode.BadRequest, "invalid_grant");

        // Whoever reads the log must not be able to poll, approve or refresh in the device's place.
        suite.Logs.AssertNeverLogged(deviceCode, userCode, userCode.Replace("-", string.Empty, StringComparison.Ordinal), refreshToken, rotated, access.EncodedToken);
    }

    [Fact]
    public async Task DeviceFlow_UserDenies_DeviceGetsAccessDenied()
    {
        var (setup, _) = await TvAsync();
        var codes = await AuthorizeDeviceAsync(setup, "openid");
        using var browser = suite.Browser();
        var confirm = await SignInAndConfirmAsync(browser, setup, codes.GetProperty("user_code").GetString()!);

        using (var decided = await DecideAsync(browser, confirm, accept: false))
        {
            using var page = await browser.GetAsync(HostedFlow.LocalRedirect(decided)!);
            Assert.Contains("not given access", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, codes.GetProperty("device_code").GetString()!), HttpStatusCode.BadRequest, "access_denied");
    }

    /// <summary>
    /// A tenant's terms of service, not yet accepted in their current version, are asked on the device's page: Allow needs
    /// the box for the version shown, which is recorded before the device gets anything; Deny records nothing.
    /// </summary>
    [Fact]
    public async Task TermsNotYetAcceptedAndAttributesNotYetGiven_AreAskedBesideTheDevicesRequest_AndRecordedWithTheApproval()
    {
        var (setup, _) = await TvAsync();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new
            {
                termsOfService = new { url = "https://legal.example.com/terms", version = "v2" },
                userProfile = new { attributes = new[] { new { name = "room", label = "Room", required = true } } },
            }));
        }

        async Task<string?> AcceptedAsync()
        {
            using var admin = suite.Admin.ClientFor(setup.Tenant);
            return (await ApiAssert.OkAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}")))["data"]!["termsAcceptedVersion"]?.GetValue<string>();
        }

        using var browser = suite.Browser();
        var denied = await AuthorizeDeviceAsync(setup, "openid");
        var confirm = await ApiAssert.EventuallyAsync(async () =>
        {
            var html = await SignInAndConfirmAsync(browser, setup, denied.GetProperty("user_code").GetString()!);
            return html.Contains("name=\"accept_terms\" value=\"v2\"", StringComparison.Ordinal) && html.Contains("name=\"attr_room\"", StringComparison.Ordinal) ? html : null;
        });
        Assert.Contains("href=\"https://legal.example.com/terms\"", confirm, StringComparison.Ordinal);
        using (var decided = await DecideAsync(browser, confirm, accept: false))
        {
            Assert.Contains("result=denied", HostedFlow.LocalRedirect(decided), StringComparison.Ordinal);
        }

        Assert.Null(await AcceptedAsync());

        var codes = await AuthorizeDeviceAsync(setup, "openid");
        var deviceCode = codes.GetProperty("device_code").GetString()!;
        confirm = await SignInAndConfirmAsync(browser, setup, codes.GetProperty("user_code").GetString()!);
        foreach (var (ticked, room, problem) in new[]
                 {
                     ((string?)null, "B-12", "Accept the terms of service to go on."), ("v1", "B-12", "The terms have changed since you last accepted them."),
                     ("v2", " ", "Room is required."),
                 })
        {
            using var refused = await DecideAsync(browser, confirm, accept: true, ticked, room);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains(problem, await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Null(await AcceptedAsync());
        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, deviceCode), HttpStatusCode.BadRequest, "authorization_pending");

        using (var approved = await DecideAsync(browser, confirm, accept: true, "v2", "B-12"))
        {
            Assert.Contains("result=approved", HostedFlow.LocalRedirect(approved), StringComparison.Ordinal);
        }

        Assert.Equal("v2", await AcceptedAsync());
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            var attributes = (await ApiAssert.OkAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/attributes")))["data"]!["attributes"]!;
            Assert.Equal("B-12", attributes["room"]!.GetValue<string>());
        }

        await Task.Delay(TimeSpan.FromSeconds(1.1));
        await HttpAssert.JsonAsync(await PollAsync(setup, deviceCode), HttpStatusCode.OK);

        // Given once: the next device's page asks no more.
        var next = await AuthorizeDeviceAsync(setup, "openid");
        var nextPage = await SignInAndConfirmAsync(browser, setup, next.GetProperty("user_code").GetString()!);
        Assert.DoesNotContain("accept_terms", nextPage, StringComparison.Ordinal);
        Assert.DoesNotContain("attr_room", nextPage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Polling_FasterThanTheInterval_IsSlowDown()
    {
        var (setup, _) = await TvAsync();
        var deviceCode = (await AuthorizeDeviceAsync(setup, "openid")).GetProperty("device_code").GetString()!;

        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, deviceCode), HttpStatusCode.BadRequest, "authorization_pending");
        // The first poll's mark lives for the one-second interval; made longer, so the next poll falls within it however slow the run.
        var redis = suite.Token.Services.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>();
        var mark = redis.GetServers()[0].Keys(pattern: $"lumoauth:device-poll:{setup.Tenant.Id:N}:*").Single();
        Assert.True(await redis.GetDatabase().KeyExpireAsync(mark, TimeSpan.FromSeconds(30)));
        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, deviceCode), HttpStatusCode.BadRequest, "slow_down");

        // Once the mark has run out, polling is fine again.
        await redis.GetDatabase().KeyExpireAsync(mark, TimeSpan.FromMilliseconds(100));
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, deviceCode), HttpStatusCode.BadRequest, "authorization_pending");
    }

    [Fact]
    public async Task DeviceRequests_DocumentedFailures()
    {
        var (setup, _) = await TvAsync();
        using var http = suite.Token.CreateClient();

        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, "not-a-device-code"), HttpStatusCode.BadRequest, "invalid_grant");

        // Another tenant's device code, polled by this tenant's client: unknown here.
        var (other, _) = await TvAsync();
        var foreignCode = (await AuthorizeDeviceAsync(other, "openid")).GetProperty("device_code").GetString()!;
        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, foreignCode), HttpStatusCode.BadRequest, "invalid_grant");

        using (var unknown = await http.PostAsync($"{setup.Tenant.Api}/oauth/device_authorization", Form(new() { ["client_id"] = "no-such-client" })))
        {
            await HttpAssert.OAuthErrorAsync(unknown, HttpStatusCode.Unauthorized, "invalid_client");
        }

        using (var scope = await http.PostAsync($"{setup.Tenant.Api}/oauth/device_authorization", Form(new() { ["client_id"] = setup.ClientId, ["scope"] = "openid admin" })))
        {
            await HttpAssert.OAuthErrorAsync(scope, HttpStatusCode.BadRequest, "invalid_scope");
        }

        // A client without the device grant (the sign-in setup's browser client) may not start one.
        var browserClient = await suite.SetUpAsync();
        using (var notAllowed = await http.PostAsync($"{setup.Tenant.Api}/oauth/device_authorization", Form(new() { ["client_id"] = browserClient.ClientId })))
        {
            // That client belongs to another tenant, so here it is unknown; in its own tenant it is unauthorized.
            await HttpAssert.OAuthErrorAsync(notAllowed, HttpStatusCode.Unauthorized, "invalid_client");
        }

        using var own = await http.PostAsync($"{browserClient.Tenant.Api}/oauth/device_authorization", Form(new() { ["client_id"] = browserClient.ClientId }));
        await HttpAssert.OAuthErrorAsync(own, HttpStatusCode.BadRequest, "unauthorized_client");
    }

    [Fact]
    public async Task NoScopeRequested_GetsTheClientsAllowedScopes()
    {
        var (setup, _) = await TvAsync();
        var codes = await AuthorizeDeviceAsync(setup, scope: null);
        using var browser = suite.Browser();

        var confirm = await SignInAndConfirmAsync(browser, setup, codes.GetProperty("user_code").GetString()!);

        // Each in the person's words, its name beside it, as on the consent page.
        foreach (var scope in new[] { "openid", "profile", "offline_access" })
        {
            Assert.Contains($"<small>({scope})</small></li>", confirm, StringComparison.Ordinal);
        }

        Assert.Contains("Read your name and basic profile", confirm, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerificationPage_WrongOrForeignCode_ShowsTheFormAgain()
    {
        var (setup, _) = await TvAsync();
        var (other, _) = await TvAsync();
        var foreignCode = (await AuthorizeDeviceAsync(other, "openid")).GetProperty("user_code").GetString()!;
        using var browser = suite.Browser();

        using (var empty = await browser.GetAsync($"{setup.Tenant.Api}/oauth/device"))
        {
            Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
            Assert.Contains("name=\"user_code\"", await empty.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        foreach (var code in new[] { "BCDF-GHJK", "AEIO-1234", foreignCode })
        {
            using var wrong = await browser.GetAsync($"{setup.Tenant.Api}/oauth/device?user_code={Uri.EscapeDataString(code)}");
            Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
            Assert.Contains("role=\"alert\"", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // The user guide's shorter address leads to the same page.
        using var alias = await browser.GetAsync($"/t/{setup.Tenant.Slug}/device?user_code=BCDF-GHJK");
        Assert.Equal($"{setup.Tenant.Api}/oauth/device?user_code=BCDF-GHJK", HostedFlow.LocalRedirect(alias));
    }

    [Fact]
    public async Task VerificationPage_PostThatIsNotAForm_ShowsTheErrorPage()
    {
        var (setup, _) = await TvAsync();
        using var browser = suite.Browser();

        using var json = await browser.PostAsync($"{setup.Tenant.Api}/oauth/device",
            new StringContent("{\"user_code\":\"BCDF-GHJK\"}", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, json.StatusCode);
        Assert.Equal("text/html", json.Content.Headers.ContentType?.MediaType);
        Assert.Contains("role=\"alert\"", await json.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerificationPage_ForgedDecisionWithoutAntiforgeryToken_IsRefused()
    {
        var (setup, _) = await TvAsync();
        var codes = await AuthorizeDeviceAsync(setup, "openid");
        using var browser = suite.Browser();
        await SignInAndConfirmAsync(browser, setup, codes.GetProperty("user_code").GetString()!);

        using var forged = await browser.PostAsync($"{setup.Tenant.Api}/oauth/device", Form(new()
        {
            ["user_code"] = codes.GetProperty("user_code").GetString()!, ["device_decision"] = "accept",
        }));

        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, codes.GetProperty("device_code").GetString()!), HttpStatusCode.BadRequest, "authorization_pending");
    }

    [Fact]
    public async Task Discovery_AdvertisesTheDeviceEndpointAndGrant()
    {
        var (setup, _) = await TvAsync();
        using var http = suite.Token.CreateClient();

        var discovery = await http.GetFromJsonAsync<JsonElement>($"{setup.Tenant.Api}/.well-known/openid-configuration");

        Assert.Equal(setup.Issuer + "/oauth/device_authorization", discovery.GetProperty("device_authorization_endpoint").GetString());
        Assert.Contains(DeviceGrant, discovery.GetProperty("grant_types_supported").EnumerateArray().Select(g => g.GetString()));
    }

    /// <summary>A tenant with a user and a public TV client of the device grant.</summary>
    [Fact]
    public async Task DeviceRequest_NamingAResource_GetsATokenForIt_AndAnUnregisteredOneIsInvalidTarget()
    {
        const string api = "https://photos.example.com/api";
        var setup = await suite.SetUpAsync(new
        {
            name = "TV app",
            applicationType = "native",
            grantTypes = new[] { DeviceGrant, "refresh_token" },
            allowedScopes = new[] { "openid", "offline_access" },
            audienceUris = new[] { api },
        });
        using var http = suite.Token.CreateClient();
        using (var unregistered = await http.PostAsync($"{setup.Tenant.Api}/oauth/device_authorization",
                   Form(new() { ["client_id"] = setup.ClientId, ["resource"] = "https://elsewhere.example.com/" })))
        {
            await HttpAssert.OAuthErrorAsync(unregistered, HttpStatusCode.BadRequest, "invalid_target");
        }

        using var started = await http.PostAsync($"{setup.Tenant.Api}/oauth/device_authorization",
            Form(new() { ["client_id"] = setup.ClientId, ["scope"] = "openid offline_access", ["resource"] = api }));
        var codes = await HttpAssert.JsonAsync(started, HttpStatusCode.OK);
        using var browser = suite.Browser();
        var confirm = await SignInAndConfirmAsync(browser, setup, codes.GetProperty("user_code").GetString()!);
        using (await DecideAsync(browser, confirm, accept: true))
        {
        }

        await Task.Delay(TimeSpan.FromSeconds(1.1));
        using var granted = await PollAsync(setup, codes.GetProperty("device_code").GetString()!);
        var tokens = await HttpAssert.JsonAsync(granted, HttpStatusCode.OK);
        Assert.Equal([api], new JsonWebToken(tokens.GetProperty("access_token").GetString()).Audiences);

        // The refresh token keeps the grant's resource, and cannot widen it.
        using var widened = await http.PostAsync(setup.TokenEndpoint, Form(new()
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = tokens.GetProperty("refresh_token").GetString()!, ["client_id"] = setup.ClientId,
            ["resource"] = setup.Issuer,
        }));
        await HttpAssert.OAuthErrorAsync(widened, HttpStatusCode.BadRequest, "invalid_target");
    }

    private async Task<(SignInSetup Setup, JsonElement Client)> TvAsync()
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "TV app",
            applicationType = "native",
            grantTypes = new[] { DeviceGrant, "refresh_token" },
            allowedScopes = new[] { "openid", "profile", "offline_access" },
        });
        return (setup, default);
    }

    private async Task<JsonElement> AuthorizeDeviceAsync(SignInSetup setup, string? scope)
    {
        using var http = suite.Token.CreateClient();
        var form = new Dictionary<string, string> { ["client_id"] = setup.ClientId };
        if (scope is not null)
        {
            form["scope"] = scope;
        }

        using var response = await http.PostAsync($"{setup.Tenant.Api}/oauth/device_authorization", Form(form));
        return await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
    }

    private async Task<HttpResponseMessage> PollAsync(SignInSetup setup, string deviceCode)
    {
        using var http = suite.Token.CreateClient();
        return await http.PostAsync(setup.TokenEndpoint, Form(new() { ["grant_type"] = DeviceGrant, ["device_code"] = deviceCode, ["client_id"] = setup.ClientId }));
    }

    /// <summary>Opens the verification page with the code, signs in on the way, and returns the confirmation page.</summary>
    private static async Task<string> SignInAndConfirmAsync(HttpClient browser, SignInSetup setup, string typedCode)
    {
        var html = await HostedFlow.OpenSignedInAsync(browser, setup, $"{setup.Tenant.Api}/oauth/device?user_code={Uri.EscapeDataString(typedCode)}");
        Assert.Contains("device_decision", html, StringComparison.Ordinal);
        return html;
    }

    private static async Task<HttpResponseMessage> DecideAsync(HttpClient browser, string confirmHtml, bool accept, string? acceptedTerms = null, string? room = null)
    {
        var form = HostedFlow.HiddenFields(confirmHtml);
        if (room is not null)
        {
            form["attr_room"] = room;
        }

        form["device_decision"] = accept ? "accept" : "deny";
        if (acceptedTerms is not null)
        {
            form["accept_terms"] = acceptedTerms;
        }

        var action = WebUtility.HtmlDecode(Regex.Match(confirmHtml, "<form method=\"post\" action=\"([^\"]+)\"").Groups[1].Value);
        return await browser.PostAsync(action, new FormUrlEncodedContent(form));
    }

    private static FormUrlEncodedContent Form(Dictionary<string, string> values) => new(values);

    [GeneratedRegex("^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")]
    private static partial Regex UserCodePattern();
}

/// <summary>Device and user codes live 600 s: afterwards the device hears <c>expired_token</c> and the page refuses the code.</summary>
public sealed class DeviceCodeExpiryTests(MovableClockSuite suite) : IClassFixture<MovableClockSuite>
{
    /// <summary>This suite, unlike <see cref="FastPollingSuite"/>, leaves <c>Token:DevicePollingIntervalSeconds</c> unset.</summary>
    [Fact]
    public async Task DeviceAuthorization_WithoutASetting_TellsTheDeviceToPollEveryFiveSeconds()
    {
        var (_, codes) = await StartAsync();

        // RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as the default"; the docs say 5 s, and so does the answer.
        Assert.Equal(5, codes.GetProperty("interval").GetInt32());
    }

    [Fact]
    public async Task DeviceCode_AfterTenMinutes_IsExpiredToken()
    {
        var (setup, codes) = await StartAsync();
        using var http = suite.Token.CreateClient();

        suite.Clock.Advance(TimeSpan.FromMinutes(11));

        using var poll = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "urn:ietf:params:oauth:grant-type:device_code",
            ["device_code"] = codes.GetProperty("device_code").GetString()!, ["client_id"] = setup.ClientId,
        }));
        await HttpAssert.OAuthErrorAsync(poll, HttpStatusCode.BadRequest, "expired_token");

        using var browser = suite.Browser();
        using var page = await browser.GetAsync($"{setup.Tenant.Api}/oauth/device?user_code={codes.GetProperty("user_code").GetString()}");
        Assert.Equal(HttpStatusCode.BadRequest, page.StatusCode);
    }

    /// <summary>A device client of a new tenant starts an authorization: the setup and the device authorization response.</summary>
    private async Task<(SignInSetup Setup, JsonElement Codes)> StartAsync()
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "TV app", applicationType = "native", grantTypes = new[] { "urn:ietf:params:oauth:grant-type:device_code" },
            allowedScopes = new[] { "openid" },
        });
        using var http = suite.Token.CreateClient();
        using var started = await http.PostAsync($"{setup.Tenant.Api}/oauth/device_authorization",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["client_id"] = setup.ClientId }));
        return (setup, await HttpAssert.JsonAsync(started, HttpStatusCode.OK));
    }
}
