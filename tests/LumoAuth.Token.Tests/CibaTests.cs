using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using LumoAuth.Testing;
using LumoAuth.Token.Data;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests;

/// <summary>A token service whose CIBA clients may poll every second and be pinged on 127.0.0.1.</summary>
public sealed class CibaSuite : TokenSuite
{
    /// <summary>While armed, throws from the save that would store an issued token (after the request was marked redeemed).</summary>
    public InjectedSaveCrash Crash { get; } = new(
        changes => changes.Entries<TokenToken>().Any(e => e.State == EntityState.Added), "Injected crash while storing the redemption's tokens");

    protected override void ConfigureTokenServices(IServiceCollection services) =>
        services.ConfigureDbContext<TokenDbContext>(options => options.AddInterceptors(Crash));

    protected override IDictionary<string, string?> TokenSettings => new Dictionary<string, string?>
    {
        ["Token:CibaPollingIntervalSeconds"] = "1",
        ["Token:AllowPrivateLogoutTargets"] = "true",
    };
}

/// <summary>
/// Client-Initiated Backchannel Authentication (OpenID CIBA Core 1.0, TOK-09): the client names the user, the user
/// approves on the hosted page the notification links to, the client polls (or is pinged) and redeems once.
/// </summary>
[RunsLong(95)]
public sealed partial class CibaTests(CibaSuite suite) : IClassFixture<CibaSuite>
{
    private const string CibaGrant = "urn:openid:params:grant-type:ciba";

    [Fact]
    public async Task Poll_UserApprovesThroughTheNotifiedLink_ClientGetsTokensOnce()
    {
        var (setup, client) = await CallCentreAsync();

        using var started = await BackchannelAsync(setup, client, new()
        {
            ["scope"] = "profile offline_access", ["login_hint"] = setup.Email.ToUpperInvariant(), ["binding_message"] = "Call centre 4711",
        });
        var answer = await HttpAssert.JsonAsync(started, HttpStatusCode.OK);
        var authReqId = answer.GetProperty("auth_req_id").GetString()!;
        Assert.Equal(20, System.Buffers.Text.Base64Url.DecodeFromChars(authReqId).Length); // 160 random bits (CIBA Core §7.3)
        Assert.Equal(120, answer.GetProperty("expires_in").GetInt32());
        Assert.Equal(1, answer.GetProperty("interval").GetInt32());
        Assert.Equal("no-store", started.Headers.CacheControl?.ToString());

        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, client, authReqId), HttpStatusCode.BadRequest, "authorization_pending");

        // The tenant's notification channel gets the event (audit entry, webhook ciba.authentication_requested) with the link.
        var requested = await suite.AuditEntryAsync(setup, "ciba_authentication_requested");
        Assert.Equal("authentication", requested.GetProperty("category").GetString());
        var link = requested.GetProperty("metadata").GetProperty("approvalUrl").GetString()!;
        Assert.Equal("Call centre 4711", requested.GetProperty("metadata").GetProperty("bindingMessage").GetString());
        Assert.DoesNotContain(authReqId, requested.GetRawText(), StringComparison.Ordinal);

        using var browser = suite.Browser();
        var page = await OpenApprovalAsync(browser, setup, new Uri(link).PathAndQuery);
        Assert.Contains("Call centre 4711", page, StringComparison.Ordinal);
        Assert.Contains("Call centre app", page, StringComparison.Ordinal);
        using (var decided = await DecideAsync(browser, page, accept: true))
        {
            Assert.Contains("approved", await decided.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await Task.Delay(TimeSpan.FromSeconds(1.1));
        using var granted = await PollAsync(setup, client, authReqId);
        var tokens = await HttpAssert.JsonAsync(granted, HttpStatusCode.OK);
        var access = new JsonWebToken(tokens.GetProperty("access_token").GetString());
        Assert.Equal(setup.UserId.ToString(), access.Subject);
        Assert.Equal(client.ClientId, access.GetClaim("client_id").Value);
        var identity = new JsonWebToken(tokens.GetProperty("id_token").GetString());
        Assert.Equal(setup.UserId.ToString(), identity.Subject);
        Assert.Equal(client.ClientId, identity.Audiences.Single());
        Assert.Contains("openid", tokens.GetProperty("scope").GetString()!.Split(' '));
        var refreshToken = tokens.GetProperty("refresh_token").GetString()!;

        // Redeemed once: the same auth_req_id is spent.
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, client, authReqId), HttpStatusCode.BadRequest, "invalid_grant");

        // The refresh token works as any grant's.
        using var refreshed = await suite.PostFormAsync(setup.TokenEndpoint,
            [new("grant_type", "refresh_token"), new("refresh_token", refreshToken)], (client.ClientId, client.Secret));
        await HttpAssert.JsonAsync(refreshed, HttpStatusCode.OK);

        var decision = await suite.AuditEntryAsync(setup, "ciba_authentication_decided");
        Assert.True(decision.GetProperty("metadata").GetProperty("approved").GetBoolean());

        // Whoever reads the log must not be able to poll in the client's place, nor learn whom it asked for.
        suite.Logs.AssertNeverLogged(authReqId, setup.Email, refreshToken, access.EncodedToken);
    }

    /// <summary>acr_values=2 (CIBA Core §7.1): the approval link signs a one-factor session in again with the second step, once.</summary>
    [Fact]
    public async Task AskingForTwoFactors_TheApprovalPageAsksForTheSecondStep_AndTheTokensSayAcr2()
    {
        var (setup, client) = await CallCentreAsync();
        using var browser = await StepUpFlow.OneFactorSessionAsync(suite, setup);
        var totp = await suite.EnrolTotpAsync(setup);
        var authReqId = await StartAsync(setup, client, new() { ["acr_values"] = "2" });
        var link = new Uri((await suite.AuditEntryAsync(setup, "ciba_authentication_requested")).GetProperty("metadata").GetProperty("approvalUrl").GetString()!).PathAndQuery;

        using var opened = await browser.GetAsync(link);
        var login = HostedFlow.LocalRedirect(opened);
        Assert.NotNull(login);
        Assert.Contains("/login?", login, StringComparison.Ordinal);
        using var back = await browser.GetAsync(await StepUpFlow.SignInWithSecondStepAsync(browser, setup, login, totp));
        var page = await back.Content.ReadAsStringAsync();
        Assert.Contains("ciba_decision", page, StringComparison.Ordinal);
        using (await DecideAsync(browser, page, accept: true))
        {
        }

        using var granted = await PollAsync(setup, client, authReqId);
        var tokens = await HttpAssert.JsonAsync(granted, HttpStatusCode.OK);
        Assert.Equal("2", new JsonWebToken(tokens.GetProperty("id_token").GetString()).GetClaim("acr").Value);
    }

    /// <summary>The levels are voluntary: a user without a second step signs in once and approves with acr 1; level 1 asks nothing.</summary>
    [Fact]
    public async Task AskingForTwoFactors_OfAUserWithoutASecondStep_SignsInOnce_AndAcr1IsIssued()
    {
        var (setup, client) = await CallCentreAsync();
        using var browser = await StepUpFlow.OneFactorSessionAsync(suite, setup);
        var authReqId = await StartAsync(setup, client, new() { ["acr_values"] = "2 1" });
        var link = new Uri((await suite.AuditEntryAsync(setup, "ciba_authentication_requested")).GetProperty("metadata").GetProperty("approvalUrl").GetString()!).PathAndQuery;

        using var opened = await browser.GetAsync(link);
        using var password = await HostedFlow.SubmitLoginAsync(browser, HostedFlow.LocalRedirect(opened)!, setup.Email, setup.Password);
        using var back = await browser.GetAsync(HostedFlow.LocalRedirect(password)!);
        var page = await back.Content.ReadAsStringAsync();
        Assert.Contains("ciba_decision", page, StringComparison.Ordinal);
        using (await DecideAsync(browser, page, accept: true))
        {
        }

        using var granted = await PollAsync(setup, client, authReqId);
        Assert.Equal("1", new JsonWebToken((await HttpAssert.JsonAsync(granted, HttpStatusCode.OK)).GetProperty("id_token").GetString()).GetClaim("acr").Value);

        // Level one (or a level not ours) asks for no sign-in from a signed-in browser.
        await StartAsync(setup, client, new() { ["acr_values"] = "1" });
        using var plain = await browser.GetAsync($"/t/{setup.Tenant.Slug}/ciba");
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
    }

    /// <summary>As for codes and refresh tokens: a scope withdrawn from the client after the request is not issued from it.</summary>
    [Fact]
    public async Task ScopeDeletedBeforeTheRedemption_IsNotIssued()
    {
        var (setup, client) = await CallCentreAsync();
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var created = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/scopes", new { name = "orders.read", description = "See your orders" });
        var scopeId = (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data").GetProperty("id").GetInt32();
        using (var allowed = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{client.ClientId}",
                   new { allowedScopes = new[] { "openid", "profile", "offline_access", "orders.read" } }))
        {
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        }

        var authReqId = await StartAsync(setup, client, new() { ["scope"] = "openid profile offline_access orders.read" });
        using (var deleted = await admin.DeleteAsync($"{setup.Tenant.Api}/admin/scopes/{scopeId}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        var tokens = await ApprovedTokensAsync(setup, client, authReqId);
        Assert.Equal(["offline_access", "openid", "profile"], tokens.GetProperty("scope").GetString()!.Split(' ').Order(StringComparer.Ordinal));
        var access = new JsonWebToken(tokens.GetProperty("access_token").GetString());
        Assert.DoesNotContain("orders.read", access.GetClaim("scope").Value.Split(' '));
    }

    /// <summary>Terms of service the user has not accepted in their current version are asked beside the request: approving records them first.</summary>
    [Fact]
    public async Task TermsNotYetAcceptedAndAttributesNotYetGiven_AreAskedBesideTheRequest_AndApprovingRecordsThemFirst()
    {
        var (setup, client) = await CallCentreAsync();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new
            {
                termsOfService = new { url = "https://legal.example.com/terms", version = "2026-12" },
                userProfile = new { attributes = new[] { new { name = "desk", label = "Desk", required = true, type = "integer" } } },
            }));
        }

        var authReqId = await StartAsync(setup, client);
        using var browser = suite.Browser();
        var page = await ApiAssert.EventuallyAsync(async () =>
        {
            var html = await OpenApprovalAsync(browser, setup, $"/t/{setup.Tenant.Slug}/ciba");
            return html.Contains("name=\"accept_terms\" value=\"2026-12\"", StringComparison.Ordinal) && html.Contains("name=\"attr_desk\"", StringComparison.Ordinal) ? html : null;
        });
        using (var unticked = await DecideAsync(browser, page, accept: true, profile: new() { ["attr_desk"] = "12" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, unticked.StatusCode);
            var html = await unticked.Content.ReadAsStringAsync();
            Assert.Contains("Accept the terms of service to go on.", html, StringComparison.Ordinal);
            Assert.Contains("value=\"12\"", html, StringComparison.Ordinal);
        }

        using (var wrong = await DecideAsync(browser, page, accept: true, acceptedTerms: "2026-12", profile: new() { ["attr_desk"] = "twelve" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
            Assert.Contains("Desk must be a whole number.", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, client, authReqId), HttpStatusCode.BadRequest, "authorization_pending");
        using (await DecideAsync(browser, page, accept: true, acceptedTerms: "2026-12", profile: new() { ["attr_desk"] = "12" }))
        {
        }

        using var admin2 = suite.Admin.ClientFor(setup.Tenant);
        var user = (await ApiAssert.OkAsync(await admin2.GetAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}")))["data"]!;
        Assert.Equal("2026-12", user["termsAcceptedVersion"]!.GetValue<string>());
        Assert.Equal(12, (await ApiAssert.OkAsync(await admin2.GetAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/attributes")))["data"]!["attributes"]!["desk"]!.GetValue<long>());
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        using var granted = await PollAsync(setup, client, authReqId);
        await HttpAssert.JsonAsync(granted, HttpStatusCode.OK);

        // Given once: the next request's page asks no more.
        await StartAsync(setup, client);
        var next = await OpenApprovalAsync(browser, setup, $"/t/{setup.Tenant.Slug}/ciba");
        Assert.DoesNotContain("accept_terms", next, StringComparison.Ordinal);
        Assert.DoesNotContain("attr_desk", next, StringComparison.Ordinal);
    }

    /// <summary>While admin cannot say whether the user may still sign in, the approved request is neither refused nor used up.</summary>
    [Fact]
    public async Task Poll_WhileAdminIsDown_Is503_AndTheApprovedRequestIsRedeemedAfterwards()
    {
        var (setup, client) = await CallCentreAsync();
        var authReqId = await StartAsync(setup, client);
        using var browser = suite.Browser();
        using (await DecideAsync(browser, await OpenApprovalAsync(browser, setup, $"/t/{setup.Tenant.Slug}/ciba"), accept: true))
        {
        }

        suite.CutAdmin();
        try
        {
            using var refused = await PollAsync(setup, client, authReqId);
            await HttpAssert.OAuthErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "temporarily_unavailable");
        }
        finally
        {
            suite.RestoreAdmin();
        }

        await Task.Delay(TimeSpan.FromSeconds(1.1));
        using var granted = await PollAsync(setup, client, authReqId);
        Assert.True((await HttpAssert.JsonAsync(granted, HttpStatusCode.OK)).TryGetProperty("access_token", out _));
        using var again = await PollAsync(setup, client, authReqId);
        await HttpAssert.OAuthErrorAsync(again, HttpStatusCode.BadRequest, "invalid_grant");
    }

    /// <summary>The redemption and the tokens stored for it commit together: a failure between them leaves the request approved.</summary>
    [Fact]
    public async Task Poll_FailingWhileTheTokensAreStored_LeavesTheRequestApproved_AndTheNextPollRedeemsIt()
    {
        var (setup, client) = await CallCentreAsync();
        var authReqId = await StartAsync(setup, client);
        using var browser = suite.Browser();
        using (await DecideAsync(browser, await OpenApprovalAsync(browser, setup, $"/t/{setup.Tenant.Slug}/ciba"), accept: true))
        {
        }

        suite.Crash.Arm();
        try
        {
            using var crashed = await PollAsync(setup, client, authReqId);
            Assert.Equal(HttpStatusCode.InternalServerError, crashed.StatusCode);
        }
        finally
        {
            suite.Crash.Disarm();
        }

        await Task.Delay(TimeSpan.FromSeconds(1.1));
        using var granted = await PollAsync(setup, client, authReqId);
        Assert.True((await HttpAssert.JsonAsync(granted, HttpStatusCode.OK)).TryGetProperty("refresh_token", out _));
        using var again = await PollAsync(setup, client, authReqId);
        await HttpAssert.OAuthErrorAsync(again, HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task UserDenies_ClientGetsAccessDenied()
    {
        var (setup, client) = await CallCentreAsync();
        var authReqId = await StartAsync(setup, client);

        using var browser = suite.Browser();
        var page = await OpenApprovalAsync(browser, setup, $"/t/{setup.Tenant.Slug}/ciba");
        using (var decided = await DecideAsync(browser, page, accept: false))
        {
            Assert.Contains("denied", await decided.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, client, authReqId), HttpStatusCode.BadRequest, "access_denied");

        // Answered: the page no longer offers it.
        using var again = await browser.GetAsync($"/t/{setup.Tenant.Slug}/ciba");
        Assert.Contains("No sign-in request is waiting", await again.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PollingFasterThanTheInterval_IsSlowDown_AndTheIntervalGrows()
    {
        var (setup, client) = await CallCentreAsync();
        var authReqId = await StartAsync(setup, client);

        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, client, authReqId), HttpStatusCode.BadRequest, "authorization_pending");
        // As if the next poll came at once, however slow the run: the first poll's time is moved to now.
        await using (var scope = suite.Token.Services.CreateAsyncScope())
        {
            var hash = LumoAuth.Token.Features.Ciba.BackchannelAuthenticationEndpoints.HashOf(authReqId);
            await scope.ServiceProvider.GetRequiredService<TokenDbContext>().BackchannelAuthentications.IgnoreQueryFilters()
                .Where(x => x.AuthReqIdHash == hash)
                .ExecuteUpdateAsync(u => u.SetProperty(x => x.LastPolledAt, DateTimeOffset.UtcNow));
        }

        using var tooSoon = await PollAsync(setup, client, authReqId);
        await HttpAssert.OAuthErrorAsync(tooSoon, HttpStatusCode.BadRequest, "slow_down");

        // Now six seconds (1 + 5): a poll two seconds later is still too soon.
        await Task.Delay(TimeSpan.FromSeconds(2));
        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, client, authReqId), HttpStatusCode.BadRequest, "slow_down");
    }

    [Fact]
    public async Task RequestedExpiry_Passed_IsExpiredToken_AndThePageNoLongerShowsIt()
    {
        var (setup, client) = await CallCentreAsync();
        var authReqId = await StartAsync(setup, client, new() { ["requested_expiry"] = "1" });

        await Task.Delay(TimeSpan.FromSeconds(1.2));
        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, client, authReqId), HttpStatusCode.BadRequest, "expired_token");
        using var browser = suite.Browser();
        using var login = await browser.GetAsync($"/t/{setup.Tenant.Slug}/ciba");
        var page = await OpenApprovalAsync(browser, setup, $"/t/{setup.Tenant.Slug}/ciba", expectRequest: false);
        Assert.Contains("No sign-in request is waiting", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UserCode_MustBeTypedToApprove()
    {
        var (setup, client) = await CallCentreAsync();
        var authReqId = await StartAsync(setup, client, new() { ["user_code"] = "2468" });

        using var browser = suite.Browser();
        var page = await OpenApprovalAsync(browser, setup, $"/t/{setup.Tenant.Slug}/ciba");
        Assert.Contains("name=\"user_code\"", page, StringComparison.Ordinal);
        using (var wrong = await DecideAsync(browser, page, accept: true, userCode: "1357"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
            page = await wrong.Content.ReadAsStringAsync();
            Assert.Contains("not the code", page, StringComparison.Ordinal);
        }

        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, client, authReqId), HttpStatusCode.BadRequest, "authorization_pending");
        using (var right = await DecideAsync(browser, page, accept: true, userCode: "2468"))
        {
            Assert.Contains("approved", await right.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await Task.Delay(TimeSpan.FromSeconds(1.1));
        await HttpAssert.JsonAsync(await PollAsync(setup, client, authReqId), HttpStatusCode.OK);
    }

    [Fact]
    public async Task FiveWrongUserCodes_DenyTheRequest()
    {
        var (setup, client) = await CallCentreAsync();
        var authReqId = await StartAsync(setup, client, new() { ["user_code"] = "2468" });
        using var browser = suite.Browser();
        var page = await OpenApprovalAsync(browser, setup, $"/t/{setup.Tenant.Slug}/ciba");
        for (var attempt = 1; attempt <= 5; attempt++)
        {
            using var wrong = await DecideAsync(browser, page, accept: true, userCode: "0000");
            var html = await wrong.Content.ReadAsStringAsync();
            if (attempt < 5)
            {
                page = html;
            }
            else
            {
                Assert.Contains("denied", html, StringComparison.Ordinal);
            }
        }

        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, client, authReqId), HttpStatusCode.BadRequest, "access_denied");
    }

    [Fact]
    public async Task WrongUserCodesAtOnce_AreCountedOneByOne_AndTheFifthDenies()
    {
        var (setup, client) = await CallCentreAsync();
        var authReqId = await StartAsync(setup, client, new() { ["user_code"] = "2468" });
        using var browser = suite.Browser();
        var page = await OpenApprovalAsync(browser, setup, $"/t/{setup.Tenant.Slug}/ciba");

        // Eight guesses from one page at once: judged under the request's lock, four are told "wrong", the fifth denies,
        // and the rest find the request closed. None is lost, so none gets a guess past the limit.
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            using var guess = await DecideAsync(browser, page, accept: true, userCode: "0000");
            return await guess.Content.ReadAsStringAsync();
        }));
        Assert.Equal(4, answers.Count(a => a.Contains("That is not the code", StringComparison.Ordinal)));
        Assert.Equal(1, answers.Count(a => a.Contains("You denied the request", StringComparison.Ordinal)));
        Assert.Equal(3, answers.Count(a => a.Contains("no longer waiting", StringComparison.Ordinal)));
        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, client, authReqId), HttpStatusCode.BadRequest, "access_denied");
    }

    [Fact]
    public async Task OnlyTheNamedUser_SeesOrAnswersTheRequest()
    {
        var (setup, client) = await CallCentreAsync();
        var authReqId = await StartAsync(setup, client);
        var requestId = new Uri((await suite.AuditEntryAsync(setup, "ciba_authentication_requested"))
            .GetProperty("metadata").GetProperty("approvalUrl").GetString()!).Query.Split('=')[1];

        var bobEmail = $"bob-{Guid.NewGuid():N}"[..12] + "@example.com";
        await suite.Admin.CreateUserAsync(setup.Tenant, bobEmail, setup.Password, "Bob Example");
        var bob = setup with { Email = bobEmail };
        using var browser = suite.Browser();
        var page = await OpenApprovalAsync(browser, bob, $"/t/{setup.Tenant.Slug}/ciba?request={requestId}", expectRequest: false);
        Assert.Contains("No sign-in request is waiting", page, StringComparison.Ordinal);

        // Bob forges the decision with his own form token: nothing happens to Alice's request.
        var form = HostedFlow.HiddenFields(await FormPageAsync(browser, setup));
        form["request"] = requestId;
        form["ciba_decision"] = "accept";
        using var forged = await browser.PostAsync($"/t/{setup.Tenant.Slug}/ciba", new FormUrlEncodedContent(form));
        Assert.Contains("no longer waiting", await forged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, client, authReqId), HttpStatusCode.BadRequest, "authorization_pending");
    }

    [Fact]
    public async Task ForgedDecisionWithoutAntiforgeryToken_IsRefused()
    {
        var (setup, client) = await CallCentreAsync();
        var authReqId = await StartAsync(setup, client);
        using var browser = suite.Browser();
        var page = await OpenApprovalAsync(browser, setup, $"/t/{setup.Tenant.Slug}/ciba");
        var form = HostedFlow.HiddenFields(page);
        form.Remove("__csrf");
        form["ciba_decision"] = "accept";
        using var forged = await browser.PostAsync($"/t/{setup.Tenant.Slug}/ciba", new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, client, authReqId), HttpStatusCode.BadRequest, "authorization_pending");
    }

    [Fact]
    public async Task IdTokenHint_AndLoginHintToken_NameTheUser()
    {
        var key = new RsaSecurityKey(RSA.Create(2048)) { KeyId = "call-centre-key" };
        var (setup, client) = await CallCentreAsync(jwks: ClientAssertions.PublicJwks(key));

        // An ID token this tenant issued to the client (from an earlier approval).
        var idToken = (await ApprovedTokensAsync(setup, client, await StartAsync(setup, client))).GetProperty("id_token").GetString()!;
        using (var byIdToken = await BackchannelAsync(setup, client, new() { ["scope"] = "openid", ["id_token_hint"] = idToken }))
        {
            await HttpAssert.JsonAsync(byIdToken, HttpStatusCode.OK);
        }

        // The same ID token encrypted to the tenant's published key (a client that received it encrypted sends it so).
        using (var http = suite.Token.CreateClient())
        {
            var jwk = new JsonWebKeySet(await http.GetStringAsync(setup.Issuer + "/.well-known/jwks.json")).Keys.Single(k => k.Use == "enc");
            using var tenantKey = ECDiffieHellman.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = Base64UrlEncoder.DecodeBytes(jwk.X), Y = Base64UrlEncoder.DecodeBytes(jwk.Y) },
            });
            var sealedHint = Jose.JWT.Encode(idToken, tenantKey, "ECDH-ES+A256KW", "A128CBC-HS256", extraHeaders: new Dictionary<string, object> { ["kid"] = jwk.Kid, ["cty"] = "JWT" });
            using var bySealedIdToken = await BackchannelAsync(setup, client, new() { ["scope"] = "openid", ["id_token_hint"] = sealedHint });
            await HttpAssert.JsonAsync(bySealedIdToken, HttpStatusCode.OK);
        }

        // A hint token the client signed, naming the user by email or by issuer and subject (RFC 9493).
        foreach (var subId in new object[]
                 {
                     new { format = "email", email = setup.Email },
                     new { format = "iss_sub", iss = setup.Issuer, sub = setup.UserId.ToString() },
                 })
        {
            using var byHintToken = await BackchannelAsync(setup, client, new() { ["scope"] = "openid", ["login_hint_token"] = HintToken(key, subId) });
            await HttpAssert.JsonAsync(byHintToken, HttpStatusCode.OK);
        }

        using var expired = await BackchannelAsync(setup, client, new()
        {
            ["scope"] = "openid", ["login_hint_token"] = HintToken(key, new { format = "email", email = setup.Email }, expiresIn: TimeSpan.FromMinutes(-5)),
        });
        await HttpAssert.OAuthErrorAsync(expired, HttpStatusCode.BadRequest, "expired_login_hint_token");
        using var unsigned = await BackchannelAsync(setup, client, new()
        {
            ["scope"] = "openid", ["login_hint_token"] = HintToken(new RsaSecurityKey(RSA.Create(2048)) { KeyId = "call-centre-key" }, new { format = "email", email = setup.Email }),
        });
        await HttpAssert.OAuthErrorAsync(unsigned, HttpStatusCode.BadRequest, "invalid_request");
        using var foreignIdToken = await BackchannelAsync(setup, client, new() { ["scope"] = "openid", ["id_token_hint"] = HintToken(key, new { format = "email", email = setup.Email }) });
        await HttpAssert.OAuthErrorAsync(foreignIdToken, HttpStatusCode.BadRequest, "invalid_request");

        // An expiry outside the calendar is the client's oddity: far future is not expired, far past is.
        foreach (var (rawExpiry, past) in new[] { (253_402_300_800L, false), (long.MaxValue, false), (-62_135_596_801L, true) })
        {
            using var odd = await BackchannelAsync(setup, client, new()
            {
                ["scope"] = "openid", ["login_hint_token"] = HintToken(key, new { format = "email", email = setup.Email }, rawExpiry: rawExpiry),
            });
            if (past)
            {
                await HttpAssert.OAuthErrorAsync(odd, HttpStatusCode.BadRequest, "expired_login_hint_token");
            }
            else
            {
                await HttpAssert.JsonAsync(odd, HttpStatusCode.OK);
            }
        }

        // Members of the wrong JSON type are a bad hint, not a failure of ours.
        foreach (var oddSubId in new object[] { new { format = 1 }, new { format = "email", email = 5 }, new { format = "iss_sub", iss = true, sub = 7 } })
        {
            using var odd = await BackchannelAsync(setup, client, new() { ["scope"] = "openid", ["login_hint_token"] = HintToken(key, oddSubId) });
            await HttpAssert.OAuthErrorAsync(odd, HttpStatusCode.BadRequest, "invalid_request");
        }
    }

    [Fact]
    public async Task PrivateKeyJwt_AuthenticatesAtTheBackChannel_OnceOnly()
    {
        var key = new RsaSecurityKey(RSA.Create(2048)) { KeyId = "call-centre-key" };
        var (setup, client) = await CallCentreAsync(jwks: ClientAssertions.PublicJwks(key));
        var assertion = ClientAssertions.Create(client.ClientId, setup.Issuer, key);
        Dictionary<string, string> Form() => new()
        {
            ["scope"] = "openid", ["login_hint"] = setup.Email,
            ["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", ["client_assertion"] = assertion,
        };

        using (var first = await suite.PostFormAsync(setup.Issuer + "/oauth/bc-authorize", Form()))
        {
            await HttpAssert.JsonAsync(first, HttpStatusCode.OK);
        }

        using var replayed = await suite.PostFormAsync(setup.Issuer + "/oauth/bc-authorize", Form());
        await HttpAssert.OAuthErrorAsync(replayed, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task SignedRequest_CarriesTheParameters_OnceOnly()
    {
        var key = new RsaSecurityKey(RSA.Create(2048)) { KeyId = "call-centre-key" };
        var (setup, client) = await CallCentreAsync(jwks: ClientAssertions.PublicJwks(key));
        string Signed(object claims, SecurityKey? by = null, string? jti = null, string? audience = null, TimeSpan? lifetime = null)
        {
            var now = DateTime.UtcNow;
            var values = JsonSerializer.SerializeToElement(claims).EnumerateObject().ToDictionary(p => p.Name, p => (object)p.Value);
            values["jti"] = jti ?? Guid.NewGuid().ToString();
            return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Issuer = client.ClientId, Audience = audience ?? setup.Issuer, IssuedAt = now, NotBefore = now, Expires = now + (lifetime ?? TimeSpan.FromMinutes(5)),
                Claims = values, SigningCredentials = new SigningCredentials(by ?? key, SecurityAlgorithms.RsaSha256),
            });
        }

        var request = Signed(new { scope = "openid profile", login_hint = setup.Email, binding_message = "Signed 7", requested_expiry = 300 });
        using (var accepted = await BackchannelAsync(setup, client, new() { ["request"] = request }))
        {
            Assert.Equal(300, (await HttpAssert.JsonAsync(accepted, HttpStatusCode.OK)).GetProperty("expires_in").GetInt32());
        }

        using var browser = suite.Browser();
        Assert.Contains("Signed 7", await OpenApprovalAsync(browser, setup, $"/t/{setup.Tenant.Slug}/ciba"), StringComparison.Ordinal);

        async Task Refused(Dictionary<string, string> form)
        {
            using var response = await BackchannelAsync(setup, client, form);
            await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
        }

        await Refused(new() { ["request"] = request });
        await Refused(new() { ["request"] = Signed(new { scope = "openid", login_hint = setup.Email }), ["login_hint"] = setup.Email });
        await Refused(new() { ["request"] = Signed(new { scope = "openid", login_hint = setup.Email }, by: new RsaSecurityKey(RSA.Create(2048)) { KeyId = "call-centre-key" }) });
        await Refused(new() { ["request"] = Signed(new { scope = "openid", login_hint = setup.Email }, audience: "https://elsewhere.example.com") });
        await Refused(new() { ["request"] = Signed(new { scope = "openid", login_hint = setup.Email }, lifetime: TimeSpan.FromHours(2)) });
        await Refused(new() { ["request_uri"] = "urn:example:request" });

        // Authorization details inside a signed request are judged as beside one: this client is registered for no type.
        var withDetails = Signed(new { scope = "openid", login_hint = setup.Email, authorization_details = new[] { new { type = "payment_initiation" } } });
        using var detailed = await BackchannelAsync(setup, client, new() { ["request"] = withDetails });
        await HttpAssert.OAuthErrorAsync(detailed, HttpStatusCode.BadRequest, "invalid_authorization_details");
    }

    [Fact]
    public async Task BackchannelRequests_DocumentedFailures()
    {
        var (setup, client) = await CallCentreAsync();
        var other = await suite.CreateClientAsync(setup, new
        {
            name = "Second call centre", applicationType = "web", grantTypes = new[] { CibaGrant }, allowedScopes = new[] { "openid" },
        });
        var plain = await suite.CreateClientAsync(setup, new { name = "Batch job", applicationType = "m2m", grantTypes = new[] { "client_credentials" } });
        var (elsewhere, elsewhereClient) = await CallCentreAsync();

        async Task Refused(Dictionary<string, string> form, HttpStatusCode status, string error, (string, string)? credentials = null)
        {
            using var response = await suite.PostFormAsync(setup.Issuer + "/oauth/bc-authorize", form, credentials ?? (client.ClientId, client.Secret));
            await HttpAssert.OAuthErrorAsync(response, status, error);
        }

        var hint = setup.Email;
        await Refused(new() { ["scope"] = "openid" }, HttpStatusCode.BadRequest, "invalid_request");
        await Refused(new() { ["scope"] = "openid", ["login_hint"] = hint, ["id_token_hint"] = "x.y.z" }, HttpStatusCode.BadRequest, "invalid_request");
        await Refused(new() { ["login_hint"] = hint }, HttpStatusCode.BadRequest, "invalid_request");
        await Refused(new() { ["scope"] = "openid", ["login_hint"] = "nobody@example.com" }, HttpStatusCode.BadRequest, "unknown_user_id");
        await Refused(new() { ["scope"] = "openid", ["login_hint"] = elsewhere.Email }, HttpStatusCode.BadRequest, "unknown_user_id");
        await Refused(new() { ["scope"] = "openid email", ["login_hint"] = hint }, HttpStatusCode.BadRequest, "invalid_scope");
        await Refused(new() { ["scope"] = "openid", ["login_hint"] = hint, ["binding_message"] = new string('x', 101) }, HttpStatusCode.BadRequest, "invalid_binding_message");
        await Refused(new() { ["scope"] = "openid", ["login_hint"] = hint, ["requested_expiry"] = "soon" }, HttpStatusCode.BadRequest, "invalid_request");
        await Refused(new() { ["scope"] = "openid", ["login_hint"] = hint, ["requested_expiry"] = "3600" }, HttpStatusCode.BadRequest, "invalid_request");
        await Refused(new() { ["scope"] = "openid", ["login_hint"] = hint, ["request"] = "eyJ.eyJ.sig" }, HttpStatusCode.BadRequest, "invalid_request");
        await Refused(new() { ["scope"] = "openid", ["login_hint"] = hint }, HttpStatusCode.Unauthorized, "invalid_client", (client.ClientId, "cs_wrong"));
        await Refused(new() { ["scope"] = "openid", ["login_hint"] = hint }, HttpStatusCode.BadRequest, "unauthorized_client",
            (plain.GetProperty("clientId").GetString()!, plain.GetProperty("secret").GetString()!));
        // A client of another tenant is unknown here.
        await Refused(new() { ["scope"] = "openid", ["login_hint"] = hint }, HttpStatusCode.Unauthorized, "invalid_client", (elsewhereClient.ClientId, elsewhereClient.Secret));

        using (var anonymous = await suite.PostFormAsync(setup.Issuer + "/oauth/bc-authorize", [new("scope", "openid"), new("login_hint", hint)]))
        {
            await HttpAssert.OAuthErrorAsync(anonymous, HttpStatusCode.Unauthorized, "invalid_client");
            Assert.StartsWith("Basic", anonymous.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }

        using (var json = await suite.Token.CreateClient().PostAsJsonAsync(setup.Issuer + "/oauth/bc-authorize", new { scope = "openid", login_hint = hint }))
        {
            await HttpAssert.OAuthErrorAsync(json, HttpStatusCode.BadRequest, "invalid_request");
        }

        // At the token endpoint: unknown, another client's, and another tenant's auth_req_id are all invalid_grant.
        var authReqId = await StartAsync(setup, client);
        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, client, Guid.NewGuid().ToString()), HttpStatusCode.BadRequest, "invalid_grant");
        await HttpAssert.OAuthErrorAsync(
            await PollAsync(setup, (other.GetProperty("clientId").GetString()!, other.GetProperty("secret").GetString()!), authReqId),
            HttpStatusCode.BadRequest, "invalid_grant");
        await HttpAssert.OAuthErrorAsync(await PollAsync(elsewhere, elsewhereClient, authReqId), HttpStatusCode.BadRequest, "invalid_grant");
        await HttpAssert.OAuthErrorAsync(await PollAsync(setup, client, authReqId), HttpStatusCode.BadRequest, "authorization_pending");
        using var missing = await suite.PostFormAsync(setup.TokenEndpoint, [new("grant_type", CibaGrant)], (client.ClientId, client.Secret));
        await HttpAssert.OAuthErrorAsync(missing, HttpStatusCode.BadRequest, "invalid_request");
        // A client without the grant cannot redeem at all.
        using var notAllowed = await suite.PostFormAsync(setup.TokenEndpoint, [new("grant_type", CibaGrant), new("auth_req_id", authReqId)],
            (plain.GetProperty("clientId").GetString()!, plain.GetProperty("secret").GetString()!));
        await HttpAssert.OAuthErrorAsync(notAllowed, HttpStatusCode.BadRequest, "unauthorized_client");
    }

    [Fact]
    public async Task Ping_TheClientIsCalledBackWithItsToken_ThenRedeems()
    {
        using var receiver = new LoopbackReceiver("ciba/ping", (int)HttpStatusCode.NoContent);
        var (setup, client) = await CallCentreAsync(ping: receiver.Uri);
        using (var noToken = await BackchannelAsync(setup, client, new() { ["scope"] = "openid", ["login_hint"] = setup.Email }))
        {
            await HttpAssert.OAuthErrorAsync(noToken, HttpStatusCode.BadRequest, "invalid_request");
        }

        var authReqId = await StartAsync(setup, client, new() { ["client_notification_token"] = "notify-me-8c1f" });
        using var browser = suite.Browser();
        using (var decided = await DecideAsync(browser, await OpenApprovalAsync(browser, setup, $"/t/{setup.Tenant.Slug}/ciba"), accept: true))
        {
            Assert.Contains("approved", await decided.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var (authorization, body) = await receiver.NextAsync();
        Assert.Equal("Bearer notify-me-8c1f", authorization);
        Assert.Equal(authReqId, JsonDocument.Parse(body).RootElement.GetProperty("auth_req_id").GetString());
        await HttpAssert.JsonAsync(await PollAsync(setup, client, authReqId), HttpStatusCode.OK);
    }

    [Fact]
    public async Task ClientRegistration_CibaRules()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        async Task<string> Invalid(object body)
        {
            using var response = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", body);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
            return text;
        }

        Assert.Contains("push delivery is not offered", await Invalid(new { name = "P", applicationType = "web", grantTypes = new[] { CibaGrant }, backchannelTokenDeliveryMode = "push" }), StringComparison.Ordinal);
        Assert.Contains("required for ping", await Invalid(new { name = "P", applicationType = "web", grantTypes = new[] { CibaGrant }, backchannelTokenDeliveryMode = "ping" }), StringComparison.Ordinal);
        Assert.Contains("https", await Invalid(new
        {
            name = "P", applicationType = "web", grantTypes = new[] { CibaGrant }, backchannelTokenDeliveryMode = "ping",
            backchannelClientNotificationEndpoint = "http://ciba.example.com/ping",
        }), StringComparison.Ordinal);
        Assert.Contains("public client cannot use CIBA", await Invalid(new { name = "P", applicationType = "spa", grantTypes = new[] { CibaGrant }, allowedOrigins = new[] { "https://spa.example.com" } }), StringComparison.Ordinal);
        Assert.Contains("back-channel delivery mode", await Invalid(new { name = "P", applicationType = "web", redirectUris = new[] { "https://app.example.com/cb" }, backchannelTokenDeliveryMode = "poll" }), StringComparison.Ordinal);

        var created = await suite.CreateClientAsync(setup, new { name = "Kiosk", applicationType = "m2m", grantTypes = new[] { CibaGrant, "refresh_token" }, allowedScopes = new[] { "openid" } });
        Assert.Equal("poll", created.GetProperty("backchannelTokenDeliveryMode").GetString());
    }

    [Fact]
    public async Task Discovery_AdvertisesTheBackChannel()
    {
        var (setup, _) = await CallCentreAsync();
        using var http = suite.Token.CreateClient();
        var discovery = JsonDocument.Parse(await http.GetStringAsync(setup.Issuer + "/.well-known/openid-configuration")).RootElement;
        Assert.Equal(setup.Issuer + "/oauth/bc-authorize", discovery.GetProperty("backchannel_authentication_endpoint").GetString());
        Assert.Equal(["poll", "ping"], discovery.GetProperty("backchannel_token_delivery_modes_supported").EnumerateArray().Select(e => e.GetString()));
        Assert.True(discovery.GetProperty("backchannel_user_code_parameter_supported").GetBoolean());
        Assert.Equal(["RS256", "ES256", "PS256"], discovery.GetProperty("backchannel_authentication_request_signing_alg_values_supported").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains(CibaGrant, discovery.GetProperty("grant_types_supported").EnumerateArray().Select(e => e.GetString()));
    }

    private sealed record CibaClient(string ClientId, string Secret);

    private async Task<(SignInSetup Setup, CibaClient Client)> CallCentreAsync(object? jwks = null, string? ping = null)
    {
        var setup = await suite.SetUpAsync();
        var created = await suite.CreateClientAsync(setup, new
        {
            name = "Call centre app",
            applicationType = "web",
            grantTypes = new[] { CibaGrant, "refresh_token" },
            allowedScopes = new[] { "openid", "profile", "offline_access" },
            jwks,
            backchannelTokenDeliveryMode = ping is null ? null : "ping",
            backchannelClientNotificationEndpoint = ping,
        });
        return (setup, new CibaClient(created.GetProperty("clientId").GetString()!, created.GetProperty("secret").GetString()!));
    }

    private Task<HttpResponseMessage> BackchannelAsync(SignInSetup setup, CibaClient client, Dictionary<string, string> form) =>
        suite.PostFormAsync(setup.Issuer + "/oauth/bc-authorize", form, (client.ClientId, client.Secret));

    private async Task<string> StartAsync(SignInSetup setup, CibaClient client, Dictionary<string, string>? extra = null)
    {
        var form = new Dictionary<string, string> { ["scope"] = "openid profile offline_access", ["login_hint"] = setup.Email };
        foreach (var (name, value) in extra ?? [])
        {
            form[name] = value;
        }

        using var response = await BackchannelAsync(setup, client, form);
        return (await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("auth_req_id").GetString()!;
    }

    private Task<HttpResponseMessage> PollAsync(SignInSetup setup, CibaClient client, string authReqId) =>
        PollAsync(setup, (client.ClientId, client.Secret), authReqId);

    private Task<HttpResponseMessage> PollAsync(SignInSetup setup, (string ClientId, string Secret) client, string authReqId) =>
        suite.PostFormAsync(setup.TokenEndpoint, [new("grant_type", CibaGrant), new("auth_req_id", authReqId)], client);

    private async Task<JsonElement> ApprovedTokensAsync(SignInSetup setup, CibaClient client, string authReqId)
    {
        using var browser = suite.Browser();
        using (await DecideAsync(browser, await OpenApprovalAsync(browser, setup, $"/t/{setup.Tenant.Slug}/ciba"), accept: true))
        {
        }

        using var granted = await PollAsync(setup, client, authReqId);
        return await HttpAssert.JsonAsync(granted, HttpStatusCode.OK);
    }

    /// <summary>Follows the page through the hosted login as the setup's user; the approval page's HTML.</summary>
    private static async Task<string> OpenApprovalAsync(HttpClient browser, SignInSetup setup, string path, bool expectRequest = true)
    {
        var html = await HostedFlow.OpenSignedInAsync(browser, setup, path);
        Assert.Equal(expectRequest, html.Contains("ciba_decision", StringComparison.Ordinal));
        return html;
    }

    /// <summary>A page of the signed-in browser that carries a form token (for forging decisions).</summary>
    private static async Task<string> FormPageAsync(HttpClient browser, SignInSetup setup)
    {
        using var response = await browser.GetAsync($"/t/{setup.Tenant.Slug}/forgot-password");
        return await response.Content.ReadAsStringAsync();
    }

    private static async Task<HttpResponseMessage> DecideAsync(
        HttpClient browser, string page, bool accept, string? userCode = null, string? acceptedTerms = null, Dictionary<string, string>? profile = null)
    {
        var form = HostedFlow.HiddenFields(page);
        foreach (var (name, value) in profile ?? [])
        {
            form[name] = value;
        }

        form["ciba_decision"] = accept ? "accept" : "deny";
        if (acceptedTerms is not null)
        {
            form["accept_terms"] = acceptedTerms;
        }

        if (userCode is not null)
        {
            form["user_code"] = userCode;
        }

        var action = WebUtility.HtmlDecode(FormAction().Match(page).Groups[1].Value);
        return await browser.PostAsync(action, new FormUrlEncodedContent(form));
    }

    private static string HintToken(SecurityKey key, object subId, TimeSpan? expiresIn = null, long? rawExpiry = null)
    {
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object> { ["sub_id"] = JsonSerializer.SerializeToElement(subId) };
        if (rawExpiry is { } exp)
        {
            claims["exp"] = exp;
        }

        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            IssuedAt = now.AddMinutes(-10),
            NotBefore = now.AddMinutes(-10),
            Expires = rawExpiry is null ? now + (expiresIn ?? TimeSpan.FromMinutes(5)) : null,
            Subject = new ClaimsIdentity(),
            Claims = claims,
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
    }

    [GeneratedRegex("<form method=\"post\" action=\"([^\"]+)\"")]
    private static partial Regex FormAction();
}
