using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Authorization.Tests.Agents;

/// <summary>
/// AAuth (AG-14…16) through the gateway: registration, signed requests (RFC 9421), resource tokens, the four request
/// types, a person's consent on the token service's page, delegation, exchange, replays and tenant isolation.
/// </summary>
public sealed class AAuthTests(AgentsSuite suite) : IClassFixture<AgentsSuite>
{
    private const string Origin = "http://localhost";

    [Fact]
    public async Task DirectFlow_GivesAKeyBoundAuthToken_AndRefreshRotates_AndAReusedRefreshRevokesTheGrant()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var agent = AAuthParty.Ed25519("https://agent.example.com");
        using var resource = AAuthParty.P256("https://api.example.com");
        await RegisterAgentAsync(tenant, agent, new { allowedScopes = new[] { "read", "write", "delete" } });
        await RegisterResourceAsync(tenant, resource, "none", ["read", "write"]);
        using var http = suite.Agents.CreateClient();

        var resourceToken = await ResourceTokenAsync(http, tenant, resource);
        var issuedResourceToken = new JsonWebToken(resourceToken);
        Assert.Equal("resource+jwt", issuedResourceToken.Typ);
        Assert.Equal(resource.Identifier, issuedResourceToken.Subject);
        Assert.Equal(Origin + tenant.Api, Assert.Single(issuedResourceToken.Audiences));
        Assert.Equal(resource.Thumbprint, Jkt(issuedResourceToken));
        Assert.InRange((issuedResourceToken.ValidTo - issuedResourceToken.IssuedAt).TotalSeconds, 1, 300);

        using var answer = await http.SendAsync(agent.SignedPost(AgentTokenUrl(tenant), new { request_type = "auth", resource_token = resourceToken, scope = "read write delete" }));
        var tokens = await ApiAssert.OkAsync(answer);
        Assert.Equal("Bearer", tokens["token_type"]!.GetValue<string>());
        Assert.Equal(3600, tokens["expires_in"]!.GetValue<int>());
        // Only what both the agent is allowed and the resource supports.
        Assert.Equal("read write", tokens["scope"]!.GetValue<string>());
        var authToken = new JsonWebToken(tokens["access_token"]!.GetValue<string>());
        Assert.Equal("auth+jwt", authToken.Typ);
        Assert.Equal(resource.Identifier, Assert.Single(authToken.Audiences));
        Assert.Equal(agent.Identifier, authToken.Subject);
        Assert.Equal(agent.Identifier, authToken.GetPayloadValue<string>("agent"));
        Assert.Equal(agent.Thumbprint, Jkt(authToken));
        Assert.Equal(Origin + tenant.Api, authToken.Issuer);
        var refresh = tokens["refresh_token"]!.GetValue<string>();
        Assert.StartsWith("aauth_refresh_", refresh);

        // Refresh: a new pair, narrowed on request; widening is refused.
        using (var widened = await http.SendAsync(agent.SignedPost(AgentTokenUrl(tenant), new { request_type = "refresh", refresh_token = refresh, scope = "read delete" })))
        {
            await OAuthErrorAsync(widened, 400, "invalid_scope");
        }

        var refreshed = await ApiAssert.OkAsync(await http.SendAsync(agent.SignedPost(AgentTokenUrl(tenant), new { request_type = "refresh", refresh_token = refresh, scope = "read" })));
        Assert.Equal("read", refreshed["scope"]!.GetValue<string>());
        var next = refreshed["refresh_token"]!.GetValue<string>();
        Assert.NotEqual(refresh, next);

        // The replaced token again: a copy is about, and the grant ends (its newest token too).
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(AgentTokenUrl(tenant), new { request_type = "refresh", refresh_token = refresh })), 400, "invalid_grant");
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(AgentTokenUrl(tenant), new { request_type = "refresh", refresh_token = next })), 400, "invalid_grant");

        // Housekeeping keeps a live grant, and forgets it a day after its refresh token expired.
        var live = (await ApiAssert.OkAsync(await http.SendAsync(agent.SignedPost(AgentTokenUrl(tenant),
            new { request_type = "auth", resource_token = await ResourceTokenAsync(http, tenant, resource), scope = "read" }))))["refresh_token"]!.GetValue<string>();
        using var scope = suite.Agents.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<LumoAuth.Agents.Data.AgentsDbContext>();
        await LumoAuth.Agents.Features.AAuth.AAuthHousekeeping.PruneAsync(db, DateTimeOffset.UtcNow, CancellationToken.None);
        live = (await ApiAssert.OkAsync(await http.SendAsync(agent.SignedPost(AgentTokenUrl(tenant), new { request_type = "refresh", refresh_token = live }))))["refresh_token"]!.GetValue<string>();
        Assert.True(await LumoAuth.Agents.Features.AAuth.AAuthHousekeeping.PruneAsync(db, DateTimeOffset.UtcNow.AddDays(32), CancellationToken.None) > 0);
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(AgentTokenUrl(tenant), new { request_type = "refresh", refresh_token = live })), 400, "invalid_grant");
    }

    [Fact]
    public async Task Signatures_AreChecked_ForKey_Body_Age_Coverage_AndReplay_InBothSpellings()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var agent = AAuthParty.Ed25519("https://agent.example.com/");
        using var impostor = AAuthParty.Ed25519("https://agent.example.com/");
        using var resource = AAuthParty.Ed25519("https://api.example.com");
        await RegisterAgentAsync(tenant, agent, new { allowedScopes = new[] { "read" } });
        await RegisterResourceAsync(tenant, resource, "authenticated", ["read"]);
        using var http = suite.Agents.CreateClient();
        var resourceToken = await ResourceTokenAsync(http, tenant, resource);
        object Body() => new { request_type = "auth", resource_token = resourceToken, scope = "read" };
        var url = AgentTokenUrl(tenant);

        await OAuthErrorAsync(await http.SendAsync(impostor.SignedPost(url, Body())), 401, "invalid_signature");
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, Body(), tamperedBody: $"{{\"request_type\":\"auth\",\"resource_token\":\"{resourceToken}\",\"scope\":\"read write\"}}")), 401, "invalid_signature");
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, Body(), created: DateTimeOffset.UtcNow.AddMinutes(-10))), 401, "invalid_signature");
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, Body(), coverDigest: false)), 401, "invalid_signature");
        // The URL signed must be the one addressed.
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url.Replace(tenant.Slug, "elsewhere", StringComparison.Ordinal), Body()) is var misdirected
            && misdirected.RequestUri is not null ? Redirected(misdirected, new Uri(url).PathAndQuery) : misdirected), 401, "invalid_signature");
        using (var unsigned = new HttpRequestMessage(HttpMethod.Post, new Uri(url).PathAndQuery) { Content = JsonContent.Create(Body()) })
        {
            await OAuthErrorAsync(await http.SendAsync(unsigned), 401, "invalid_signature");
        }

        // Identifiers match exactly: without the trailing slash it is another agent.
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, Body(), keyId: "https://agent.example.com#key-1")), 404, "agent_not_found");

        // Both spellings verify; the same signed request twice is a replay.
        using var first = agent.SignedPost(url, Body(), standard: true);
        var copy = await CopyAsync(first);
        await ApiAssert.OkAsync(await http.SendAsync(first));
        await OAuthErrorAsync(await http.SendAsync(copy), 401, "invalid_signature");
        await ApiAssert.OkAsync(await http.SendAsync(agent.SignedPost(url, Body())));
    }

    [Fact]
    public async Task ResourceTokens_OnlyForRegisteredResources_SigningForThemselves()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var resource = AAuthParty.P256("https://api.example.com");
        using var stranger = AAuthParty.P256("https://unknown.example.com");
        await RegisterResourceAsync(tenant, resource, "none", ["read"]);
        using var http = suite.Agents.CreateClient();
        var url = Origin + tenant.Api + "/aauth/resource/token";
        object Body(string identifier, string? audience = null, int lifetime = 300) =>
            new { resource_identifier = identifier, audience = audience ?? Origin + tenant.Api, lifetime };

        await OAuthErrorAsync(await http.SendAsync(stranger.SignedPost(url, Body(stranger.Identifier), standard: true, bearer: stranger.Identifier)), 401, "invalid_resource");
        // Naming the resource is not enough: its key must sign, in the form that signs its own time.
        await OAuthErrorAsync(await http.SendAsync(stranger.SignedPost(url, Body(resource.Identifier), standard: true, keyId: resource.Identifier + "#key-1", bearer: resource.Identifier)), 401, "invalid_signature");
        await OAuthErrorAsync(await http.SendAsync(resource.SignedPost(url, Body(resource.Identifier), bearer: resource.Identifier)), 401, "invalid_signature");
        await OAuthErrorAsync(await http.SendAsync(resource.SignedPost(url, Body(resource.Identifier), standard: true, bearer: "https://other.example.com")), 401, "invalid_resource");
        await OAuthErrorAsync(await http.SendAsync(resource.SignedPost(url, Body(resource.Identifier, audience: "https://elsewhere.example.com/api/v1"), standard: true)), 400, "invalid_request");
        await OAuthErrorAsync(await http.SendAsync(resource.SignedPost(url, Body(resource.Identifier, lifetime: 3600), standard: true)), 400, "invalid_request");
        using (var garbage = new HttpRequestMessage(HttpMethod.Post, new Uri(url).PathAndQuery) { Content = new StringContent("{not json", System.Text.Encoding.UTF8, "application/json") })
        {
            await OAuthErrorAsync(await http.SendAsync(garbage), 400, "invalid_request");
        }

        var token = (await ApiAssert.OkAsync(await http.SendAsync(resource.SignedPost(url, Body(resource.Identifier, lifetime: 60), standard: true, bearer: resource.Identifier))))["resource_token"]!.GetValue<string>();
        Assert.InRange((new JsonWebToken(token).ValidTo - DateTime.UtcNow).TotalSeconds, 30, 61);
    }

    [Fact]
    public async Task AuthorizedLevel_AsksThePerson_WhoseApprovalGivesACode_ExchangedOnceByTheSameKey()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var email = $"alice-{Guid.NewGuid():N}@example.com";
        var userId = await suite.Admin.CreateUserAsync(tenant, email, "Correct-Horse-9", "Alice");
        using var agent = AAuthParty.Ed25519("https://mail-agent.example.com");
        using var otherKey = AAuthParty.Ed25519("https://mail-agent.example.com", "key-2");
        using var resource = AAuthParty.P256("https://mail.example.com");
        await RegisterAgentAsync(tenant, agent, new
        {
            allowedScopes = new[] { "email:read", "email:send" }, redirectUris = new[] { "https://mail-agent.example.com/callback" },
            jwks = new { keys = new[] { agent.Jwk, otherKey.Jwk } },
        });
        await RegisterResourceAsync(tenant, resource, "authorized", ["email:read", "email:send"]);
        using var http = suite.Agents.CreateClient();
        var url = AgentTokenUrl(tenant);

        var asked = await RequestConsentAsync(http, tenant, agent, resource, "xyz");
        var requestToken = asked["request_token"]!.GetValue<string>();
        Assert.StartsWith("aauth_req_", requestToken);
        Assert.True(asked["authorization_required"]!.GetValue<bool>());
        var authUrl = new Uri(asked["auth_url"]!.GetValue<string>());
        Assert.Equal($"/t/{tenant.Slug}/aauth/authorize", authUrl.AbsolutePath);
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "code", code = "nothing-yet", request_token = requestToken })), 400, "authorization_pending");

        // The person signs in on the token service's page, sees who asks for what, and allows it.
        using var browser = suite.Browser();
        var page = await OpenSignedInAsync(browser, authUrl.PathAndQuery, email, "Correct-Horse-9");
        Assert.Contains("wants to access", page, StringComparison.Ordinal);
        Assert.Contains("https://mail-agent.example.com", page, StringComparison.Ordinal);
        Assert.Contains("email:send", page, StringComparison.Ordinal);
        var redirect = await DecideAsync(browser, page, accept: true);
        Assert.StartsWith("https://mail-agent.example.com/callback?", redirect.AbsoluteUri, StringComparison.Ordinal);
        var query = QueryHelpers.ParseQuery(redirect.Query);
        Assert.Equal("xyz", query["state"].ToString());
        var code = query["code"].ToString();

        // Only the key that asked may exchange it, once.
        await OAuthErrorAsync(await http.SendAsync(otherKey.SignedPost(url, new { request_type = "code", code, request_token = requestToken })), 400, "invalid_grant");
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "code", code = code + "x", request_token = requestToken })), 400, "invalid_grant");
        var tokens = await ApiAssert.OkAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "code", code, request_token = requestToken })));
        var authToken = new JsonWebToken(tokens["access_token"]!.GetValue<string>());
        Assert.Equal(userId.ToString(), authToken.Subject);
        Assert.Equal("authorized", authToken.GetPayloadValue<string>("auth_level"));
        Assert.Equal("email:read email:send", tokens["scope"]!.GetValue<string>());
        // (Signed in the other spelling: the same bytes signed twice would be refused as a copy before the code is looked at.)
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "code", code, request_token = requestToken }, standard: true)), 400, "invalid_grant");
        // The replay revoked the grant: its refresh token is gone too.
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "refresh", refresh_token = tokens["refresh_token"]!.GetValue<string>() })), 400, "invalid_grant");

        // The audit log has the person's answer, the token, and the revocation.
        using var auditor = suite.Admin.ClientFor(tenant);
        foreach (var action in new[] { "agent_auth_consent_decided", "agent_auth_token_issued", "agent_auth_grant_revoked", "agent_auth_registration_changed" })
        {
            var entry = await ApiAssert.EventuallyAsync(async () =>
                (await ApiAssert.OkAsync(await auditor.GetAsync($"{tenant.Api}/admin/audit-logs?action={action}")))["data"]!.AsArray().FirstOrDefault());
            Assert.Equal(action, entry!["action"]!.GetValue<string>());
        }

        // The page no longer shows an answered request; a denial reaches the agent as access_denied.
        Assert.Contains("no longer waiting", await OpenSignedInAsync(browser, authUrl.PathAndQuery, email, "Correct-Horse-9"), StringComparison.Ordinal);
        var second = await RequestConsentAsync(http, tenant, agent, resource, state: null);
        var denied = await DecideAsync(browser, await OpenSignedInAsync(browser, new Uri(second["auth_url"]!.GetValue<string>()).PathAndQuery, email, "Correct-Horse-9"), accept: false);
        Assert.Equal("access_denied", QueryHelpers.ParseQuery(denied.Query)["error"].ToString());
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "code", code = "any", request_token = second["request_token"]!.GetValue<string>() })), 400, "access_denied");

        // The user level: the person has just signed in (present), and the grant gets no refresh token to outlive them.
        using var present = AAuthParty.P256("https://present.example.com");
        await RegisterResourceAsync(tenant, present, "user", ["email:read"]);
        var third = await RequestConsentAsync(http, tenant, agent, present, state: null);
        var approved = await DecideAsync(browser, await OpenSignedInAsync(browser, new Uri(third["auth_url"]!.GetValue<string>()).PathAndQuery, email, "Correct-Horse-9"), accept: true);
        var userLevel = await ApiAssert.OkAsync(await http.SendAsync(agent.SignedPost(url,
            new { request_type = "code", code = QueryHelpers.ParseQuery(approved.Query)["code"].ToString(), request_token = third["request_token"]!.GetValue<string>() })));
        Assert.Null(userLevel["refresh_token"]);
        Assert.Equal("user", new JsonWebToken(userLevel["access_token"]!.GetValue<string>()).GetPayloadValue<string>("auth_level"));

        // A person blocked takes their consent with them: the agent's refresh token stops working.
        var fourth = await RequestConsentAsync(http, tenant, agent, resource, state: null);
        var allowed = await DecideAsync(browser, await OpenSignedInAsync(browser, new Uri(fourth["auth_url"]!.GetValue<string>()).PathAndQuery, email, "Correct-Horse-9"), accept: true);
        var lasting = (await ApiAssert.OkAsync(await http.SendAsync(agent.SignedPost(url,
            new { request_type = "code", code = QueryHelpers.ParseQuery(allowed.Query)["code"].ToString(), request_token = fourth["request_token"]!.GetValue<string>() }))))["refresh_token"]!.GetValue<string>();
        lasting = (await ApiAssert.OkAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "refresh", refresh_token = lasting }))))["refresh_token"]!.GetValue<string>();
        using (var blocked = await auditor.PostAsync($"{tenant.Api}/admin/users/{userId}/block", null))
        {
            Assert.True(blocked.IsSuccessStatusCode, await blocked.Content.ReadAsStringAsync());
        }

        var ended = await ApiAssert.EventuallyAsync(async () =>
        {
            using var answer = await http.SendAsync(agent.SignedPost(url, new { request_type = "refresh", refresh_token = lasting }));
            if (answer.IsSuccessStatusCode)
            {
                lasting = (await ApiAssert.OkAsync(answer))["refresh_token"]!.GetValue<string>();
                return null;
            }

            return (await ApiAssert.OkAsync(answer, 400))["error"]!.GetValue<string>();
        });
        Assert.Equal("invalid_grant", ended);
    }

    [Fact]
    public async Task AgentTokens_LetADelegateKeySign_OnlyWithDelegationEnabled_AndOnlyForThisTenant()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var agent = AAuthParty.Ed25519("https://primary.example.com");
        using var session = AAuthParty.Ed25519("https://primary.example.com/session/alice-123", "delegate");
        using var resource = AAuthParty.P256("https://api.example.com");
        var agentId = await RegisterAgentAsync(tenant, agent, new { allowedScopes = new[] { "read" }, delegationEnabled = true });
        await RegisterResourceAsync(tenant, resource, "none", ["read"]);
        using var http = suite.Agents.CreateClient();
        var resourceToken = await ResourceTokenAsync(http, tenant, resource);
        string AgentToken(string audience, object? cnf = null) => agent.Jws(new
        {
            iss = agent.Identifier, sub = session.Identifier, aud = new[] { audience }, iat = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            exp = DateTimeOffset.UtcNow.AddMinutes(30).ToUnixTimeSeconds(), jti = Guid.NewGuid().ToString("N"), cnf = cnf ?? new { jwk = session.Jwk },
        }, "agent+jwt");
        object Body(string agentToken) => new { request_type = "auth", agent_token = agentToken, resource_token = resourceToken, scope = "read" };
        var url = AgentTokenUrl(tenant);

        var tokens = await ApiAssert.OkAsync(await http.SendAsync(session.SignedPost(url, Body(AgentToken(Origin + tenant.Api)), keyId: session.Identifier + "#delegate")));
        var authToken = new JsonWebToken(tokens["access_token"]!.GetValue<string>());
        // The agent is the subject; its delegate, the actor (never a subject it could name freely).
        Assert.Equal(agent.Identifier, authToken.Subject);
        Assert.Equal(session.Identifier, authToken.GetPayloadValue<System.Text.Json.JsonElement>("act").GetProperty("sub").GetString());
        Assert.Equal(agent.Identifier, authToken.GetPayloadValue<string>("agent"));
        Assert.Equal(session.Thumbprint, Jkt(authToken));

        // The agent's own key may not sign for a token naming the delegate's; another tenant's token is refused.
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, Body(AgentToken(Origin + tenant.Api)))), 401, "invalid_signature");
        await OAuthErrorAsync(await http.SendAsync(session.SignedPost(url, Body(AgentToken(Origin + "/t/other/api/v1")))), 400, "invalid_token");
        var longLived = agent.Jws(new
        {
            iss = agent.Identifier, sub = session.Identifier, aud = Origin + tenant.Api, iat = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            exp = DateTimeOffset.UtcNow.AddDays(30).ToUnixTimeSeconds(), cnf = new { jwk = session.Jwk },
        }, "agent+jwt");
        await OAuthErrorAsync(await http.SendAsync(session.SignedPost(url, Body(longLived))), 400, "invalid_token");
        await OAuthErrorAsync(await http.SendAsync(session.SignedPost(url, Body("a.b.c"))), 400, "invalid_token");
        // A token signed by the delegate itself is not the agent's word.
        var forged = session.Jws(new { iss = agent.Identifier, sub = session.Identifier, aud = Origin + tenant.Api, exp = DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds(), cnf = new { jwk = session.Jwk } }, "agent+jwt");
        await OAuthErrorAsync(await http.SendAsync(session.SignedPost(url, Body(forged))), 400, "invalid_token");

        using var admin = suite.AdminClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/aauth/agents/{agentId}", new { delegationEnabled = false }));
        await OAuthErrorAsync(await http.SendAsync(session.SignedPost(url, Body(AgentToken(Origin + tenant.Api)))), 400, "invalid_token");
    }

    [Fact]
    public async Task Exchange_TradesAnAuthTokenForAnotherResource_ByItsKeyHolder_NeverIntoConsent()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var agent = AAuthParty.Ed25519("https://agent.example.com");
        using var other = AAuthParty.Ed25519("https://other-agent.example.com");
        using var first = AAuthParty.P256("https://first.example.com");
        using var second = AAuthParty.P256("https://second.example.com");
        using var guarded = AAuthParty.P256("https://guarded.example.com");
        var agentId = await RegisterAgentAsync(tenant, agent, new { allowedScopes = new[] { "read", "write" }, tokenExchangeEnabled = true });
        await RegisterAgentAsync(tenant, other, new { allowedScopes = new[] { "read", "write" }, tokenExchangeEnabled = true });
        await RegisterResourceAsync(tenant, first, "none", ["read", "write"]);
        await RegisterResourceAsync(tenant, second, "none", ["read"]);
        await RegisterResourceAsync(tenant, guarded, "authorized", ["read"]);
        using var http = suite.Agents.CreateClient();
        var url = AgentTokenUrl(tenant);
        var subject = (await ApiAssert.OkAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "auth", resource_token = await ResourceTokenAsync(http, tenant, first), scope = "read write" }))))["access_token"]!.GetValue<string>();

        var exchanged = await ApiAssert.OkAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "exchange", subject_token = subject, resource_token = await ResourceTokenAsync(http, tenant, second) })));
        Assert.Equal("read", exchanged["scope"]!.GetValue<string>());
        Assert.Null(exchanged["refresh_token"]);
        Assert.Equal(second.Identifier, Assert.Single(new JsonWebToken(exchanged["access_token"]!.GetValue<string>()).Audiences));

        // Another agent holding a copy of the token cannot use it: it is bound to the first agent's key.
        await OAuthErrorAsync(await http.SendAsync(other.SignedPost(url, new { request_type = "exchange", subject_token = subject, resource_token = await ResourceTokenAsync(http, tenant, second) })), 400, "invalid_grant");
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "exchange", subject_token = subject, resource_token = await ResourceTokenAsync(http, tenant, guarded) })), 400, "invalid_grant");
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "exchange", subject_token = "a.b.c", resource_token = await ResourceTokenAsync(http, tenant, second) })), 400, "invalid_token");

        using var admin = suite.AdminClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/aauth/agents/{agentId}", new { tokenExchangeEnabled = false }));
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "exchange", subject_token = subject, resource_token = await ResourceTokenAsync(http, tenant, second) })), 403, "unauthorized_client");
    }

    [Fact]
    public async Task Tenants_AreIsolated_AndAKeySetUrlIsFetched()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var elsewhere = await suite.Admin.CreateTenantAsync();
        using var agent = AAuthParty.Ed25519("https://agent.example.com");
        using var resource = AAuthParty.P256("https://api.example.com");
        // This tenant knows the agent by a key set URL; the other by nothing.
        var jwksUri = suite.Issuers.Serve($"/aauth/{Guid.NewGuid():N}/jwks.json", new SiteAnswer(System.Text.Json.JsonSerializer.Serialize(agent.Jwks)));
        using var admin = suite.AdminClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/aauth/agents", new { name = "Agent", identifier = agent.Identifier, jwksUri, allowedScopes = new[] { "read" } }), 201);
        await RegisterResourceAsync(tenant, resource, "none", ["read"]);
        await RegisterResourceAsync(elsewhere, resource, "none", ["read"]);
        using var http = suite.Agents.CreateClient();

        var resourceToken = await ResourceTokenAsync(http, tenant, resource);
        await ApiAssert.OkAsync(await http.SendAsync(agent.SignedPost(AgentTokenUrl(tenant), new { request_type = "auth", resource_token = resourceToken, scope = "read" })));
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(AgentTokenUrl(elsewhere), new { request_type = "auth", resource_token = resourceToken, scope = "read" })), 404, "agent_not_found");

        // Registered in both, the agent still cannot carry one tenant's resource token to the other.
        await RegisterAgentAsync(elsewhere, agent, new { allowedScopes = new[] { "read" } });
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(AgentTokenUrl(elsewhere), new { request_type = "auth", resource_token = resourceToken, scope = "read" })), 400, "invalid_token");
        using var otherAdmin = suite.AdminClientFor(elsewhere);
        var listed = await ApiAssert.OkAsync(await otherAdmin.GetAsync($"{elsewhere.Api}/admin/aauth/agents"));
        Assert.Single(listed["data"]!.AsArray());

        // Registered without keys, an agent's keys are the set its own metadata names (on its own origin only).
        var path = $"/agents/{Guid.NewGuid():N}";
        using var published = AAuthParty.Ed25519(suite.Issuers.Origin + path);
        suite.Issuers.Serve(path + "/.well-known/aauth-agent", new SiteAnswer(System.Text.Json.JsonSerializer.Serialize(new { jwks_uri = suite.Issuers.Origin + path + "/jwks.json" })));
        suite.Issuers.Serve(path + "/jwks.json", new SiteAnswer(System.Text.Json.JsonSerializer.Serialize(published.Jwks)));
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/aauth/agents", new { name = "Published", identifier = published.Identifier, allowedScopes = new[] { "read" } }), 201);
        await ApiAssert.OkAsync(await http.SendAsync(published.SignedPost(AgentTokenUrl(tenant),
            new { request_type = "auth", resource_token = await ResourceTokenAsync(http, tenant, resource), scope = "read" })));

        var elsewherePath = $"/agents/{Guid.NewGuid():N}";
        using var misdirected = AAuthParty.Ed25519(suite.Issuers.Origin + elsewherePath);
        suite.Issuers.Serve(elsewherePath + "/.well-known/aauth-agent", new SiteAnswer(System.Text.Json.JsonSerializer.Serialize(new { jwks_uri = "https://keys.example.com/jwks.json" })));
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/aauth/agents", new { name = "Misdirected", identifier = misdirected.Identifier, allowedScopes = new[] { "read" } }), 201);
        await OAuthErrorAsync(await http.SendAsync(misdirected.SignedPost(AgentTokenUrl(tenant),
            new { request_type = "auth", resource_token = await ResourceTokenAsync(http, tenant, resource), scope = "read" })), 401, "invalid_signature");
    }

    [Fact]
    public async Task Registration_RefusesUnsafeKeysAndIdentifiers_AndTheIssuerMetadataDescribesTheServer()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.AdminClientFor(tenant);
        using var agent = AAuthParty.Ed25519("https://agent.example.com");
        var withPrivatePart = new Dictionary<string, object>(agent.Jwk) { ["d"] = "AAAA" };
        async Task Refused(object body, string field)
        {
            var error = await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/aauth/agents", body), 400, "validation_error");
            Assert.NotNull(error["details"]![field]);
        }

        await Refused(new { name = "A", identifier = "http://agent.example.com", jwks = agent.Jwks }, "identifier");
        await Refused(new { name = "A", identifier = "https://agent.example.com#x", jwks = agent.Jwks }, "identifier");
        await Refused(new { name = "A", identifier = agent.Identifier, jwks = new { keys = new[] { withPrivatePart } } }, "jwks");
        await Refused(new { name = "A", identifier = agent.Identifier, jwks = new { keys = new[] { new { kty = "oct", k = "c2VjcmV0" } } } }, "jwks");
        await Refused(new { name = "A", identifier = agent.Identifier, jwks = agent.Jwks, jwksUri = "https://agent.example.com/jwks" }, "jwksUri");
        await Refused(new { name = "A", identifier = agent.Identifier, jwksUri = "http://agent.example.com/jwks" }, "jwksUri");
        await Refused(new { name = "A", identifier = agent.Identifier, jwks = agent.Jwks, redirectUris = new[] { "http://agent.example.com/cb" } }, "redirectUris");
        var created = await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/aauth/agents", new { name = "A", identifier = agent.Identifier, jwks = agent.Jwks }), 201);
        Assert.True(created["data"]!["userAuthorizationEnabled"]!.GetValue<bool>());
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/aauth/agents", new { name = "B", identifier = agent.Identifier, jwks = agent.Jwks }), 409, "duplicate_resource");
        var resourceError = await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/aauth/resources", new { name = "R", identifier = "https://api.example.com", jwks = agent.Jwks, authLevel = "everyone" }), 400, "validation_error");
        Assert.NotNull(resourceError["details"]!["authLevel"]);
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{tenant.Api}/admin/aauth/agents/{Guid.NewGuid()}"), 404, "resource_not_found");
        using (var anonymous = suite.Agents.CreateClient())
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"{tenant.Api}/admin/aauth/agents")).StatusCode);
            var metadata = await ApiAssert.OkAsync(await anonymous.GetAsync($"/t/{tenant.Slug}/.well-known/aauth-issuer"));
            Assert.Equal(Origin + tenant.Api, metadata["issuer"]!.GetValue<string>());
            Assert.Equal(Origin + tenant.Api + "/aauth/agent/token", metadata["agent_token_endpoint"]!.GetValue<string>());
            Assert.Contains("ed25519", metadata["signature_algorithms_supported"]!.AsArray().Select(n => n!.GetValue<string>()));
            Assert.Contains("auth+jwt", metadata["token_types_supported"]!.AsArray().Select(n => n!.GetValue<string>()));
            Assert.Equal(metadata.ToJsonString(), (await ApiAssert.OkAsync(await anonymous.GetAsync($"{tenant.Api}/.well-known/aauth-issuer"))).ToJsonString());
        }

        using var http = suite.Agents.CreateClient();
        var url = AgentTokenUrl(tenant);
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "steal" })), 400, "invalid_request");
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "auth", scope = "read" })), 400, "invalid_request");
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "auth", resource_token = "x.y.z", scope = "read" })), 400, "invalid_token");

        // Deleted, the agent is unknown.
        var createdId = created["data"]!["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{tenant.Api}/admin/aauth/agents/{createdId}")).StatusCode);
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{tenant.Api}/admin/aauth/agents/{createdId}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await admin.DeleteAsync($"{tenant.Api}/admin/aauth/agents/{createdId}"), 404, "resource_not_found");
        await OAuthErrorAsync(await http.SendAsync(agent.SignedPost(url, new { request_type = "auth", resource_token = "x.y.z", scope = "read" })), 404, "agent_not_found");
    }

    private static string AgentTokenUrl(TestTenant tenant) => Origin + tenant.Api + "/aauth/agent/token";

    private async Task<Guid> RegisterAgentAsync(TestTenant tenant, AAuthParty agent, object settings)
    {
        var body = System.Text.Json.JsonSerializer.SerializeToNode(settings)!.AsObject();
        body["name"] ??= "Agent " + agent.Identifier;
        body["identifier"] ??= agent.Identifier;
        body["jwks"] ??= System.Text.Json.JsonSerializer.SerializeToNode(agent.Jwks);
        using var admin = suite.AdminClientFor(tenant);
        var created = await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/aauth/agents", body), 201);
        return created["data"]!["id"]!.GetValue<Guid>();
    }

    private async Task RegisterResourceAsync(TestTenant tenant, AAuthParty resource, string level, string[] scopes)
    {
        using var admin = suite.AdminClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/aauth/resources",
            new { name = "Resource " + resource.Identifier, identifier = resource.Identifier, jwks = resource.Jwks, supportedScopes = scopes, defaultAuthLevel = level }), 201);
    }

    private static async Task<string> ResourceTokenAsync(HttpClient http, TestTenant tenant, AAuthParty resource)
    {
        var body = new { resource_identifier = resource.Identifier, audience = Origin + tenant.Api, lifetime = 300 };
        using var answer = await http.SendAsync(resource.SignedPost(Origin + tenant.Api + "/aauth/resource/token", body, standard: true, bearer: resource.Identifier));
        return (await ApiAssert.OkAsync(answer))["resource_token"]!.GetValue<string>();
    }

    private static async Task<JsonObject> RequestConsentAsync(HttpClient http, TestTenant tenant, AAuthParty agent, AAuthParty resource, string? state)
    {
        var resourceToken = await ResourceTokenAsync(http, tenant, resource);
        using var answer = await http.SendAsync(agent.SignedPost(AgentTokenUrl(tenant),
            new { request_type = "auth", resource_token = resourceToken, scope = "email:read email:send", redirect_uri = "https://mail-agent.example.com/callback", state }));
        var body = await answer.Content.ReadAsStringAsync();
        Assert.True(answer.StatusCode == HttpStatusCode.Unauthorized, body);
        var json = JsonNode.Parse(body)!.AsObject();
        Assert.Equal("authorization_required", json["error"]!.GetValue<string>());
        return json;
    }

    /// <summary>Opens a hosted page, signing in when sent to the login page; the page's HTML.</summary>
    private static async Task<string> OpenSignedInAsync(HttpClient browser, string path, string email, string password)
    {
        var next = path;
        for (var hop = 0; hop < 6; hop++)
        {
            using var response = await browser.GetAsync(next);
            if (response.Headers.Location is { IsAbsoluteUri: false } location)
            {
                next = location.OriginalString;
                if (next.Contains("/login", StringComparison.Ordinal))
                {
                    using var page = await browser.GetAsync(next);
                    var html = await page.Content.ReadAsStringAsync();
                    var form = HostedForms.HiddenFields(html);
                    form["email"] = email;
                    form["password"] = password;
                    using var login = await browser.PostAsync(FormAction(html), new FormUrlEncodedContent(form));
                    next = login.Headers.Location?.OriginalString ?? throw new InvalidOperationException("Login did not redirect: " + await login.Content.ReadAsStringAsync());
                }

                continue;
            }

            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            return body;
        }

        throw new InvalidOperationException("Too many redirects");
    }

    private static async Task<Uri> DecideAsync(HttpClient browser, string page, bool accept)
    {
        var form = HostedForms.HiddenFields(page);
        form["aauth_decision"] = accept ? "accept" : "deny";
        using var answer = await browser.PostAsync(FormAction(page), new FormUrlEncodedContent(form));
        return answer.Headers.Location ?? throw new InvalidOperationException($"{answer.StatusCode}: " + await answer.Content.ReadAsStringAsync());
    }

    private static string FormAction(string html) =>
        WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(html, "<form method=\"post\" action=\"([^\"]+)\"").Groups[1].Value);

    private static string? Jkt(JsonWebToken token) => token.GetPayloadValue<System.Text.Json.JsonElement>("cnf").GetProperty("jkt").GetString();

    private static HttpRequestMessage Redirected(HttpRequestMessage request, string pathAndQuery)
    {
        request.RequestUri = new Uri(pathAndQuery, UriKind.Relative);
        return request;
    }

    private static async Task<HttpRequestMessage> CopyAsync(HttpRequestMessage original)
    {
        var copy = new HttpRequestMessage(original.Method, original.RequestUri) { Content = new ByteArrayContent(await original.Content!.ReadAsByteArrayAsync()) };
        foreach (var header in original.Headers)
        {
            copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        foreach (var header in original.Content.Headers)
        {
            copy.Content.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        return copy;
    }

    private static async Task OAuthErrorAsync(HttpResponseMessage response, int status, string code)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode == status, $"Expected {status}, got {(int)response.StatusCode}: {body}");
            var json = JsonNode.Parse(body)!.AsObject();
            Assert.Equal(code, json["error"]!.GetValue<string>());
            Assert.False(string.IsNullOrEmpty(json["error_description"]?.GetValue<string>()));
        }
    }
}
