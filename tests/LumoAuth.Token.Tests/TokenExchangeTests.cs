using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Delegation by token exchange (RFC 8693): an agent (a confidential client enabled for the grant) that a user signed in
/// to exchanges the user's access token and its own for one naming it as actor; it may pass that on to a sub-agent,
/// up to three actors; scopes only narrow; refusals carry the documented codes.
/// </summary>
[RunsLong(85)]
public sealed class TokenExchangeTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private const string TokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
    private const string AccessTokenType = "urn:ietf:params:oauth:token-type:access_token";

    private sealed record Client(string ClientId, string Secret);

    private sealed record Delegation(SignInSetup Setup, Client Agent, string UserToken, string RefreshToken);

    /// <summary>A user signs in to the agent, which may delegate; returns the user's tokens as the agent holds them.</summary>
    /// <param name="audienceUris">The APIs (RFC 8707 resources) registered for the agent.</param>
    private async Task<Delegation> UserSignedInToAgentAsync(string[]? audienceUris = null)
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Research agent", applicationType = "web", redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "authorization_code", "refresh_token", "client_credentials", TokenExchangeGrant },
            allowedScopes = new[] { "openid", "offline_access", "documents.read", "documents.write" },
            audienceUris = audienceUris ?? Array.Empty<string>(),
        });
        var agent = new Client(setup.ClientId, setup.ClientSecret!);
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup,
            HostedFlow.AuthorizeUrl(setup, challenge, new() { ["scope"] = "openid offline_access documents.read documents.write" })))["code"];
        using var exchanged = await PostAsync(setup, agent, new()
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri, ["code_verifier"] = verifier,
        });
        var tokens = await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK);
        return new Delegation(setup, agent, tokens.GetProperty("access_token").GetString()!, tokens.GetProperty("refresh_token").GetString()!);
    }

    private async Task<Client> MachineAsync(SignInSetup setup, bool mayDelegate = true, int accessTokenLifetime = 3600)
    {
        var data = await suite.CreateClientAsync(setup, new
        {
            name = "tool", applicationType = "m2m",
            grantTypes = mayDelegate ? new[] { "client_credentials", TokenExchangeGrant } : new[] { "client_credentials" },
            allowedScopes = new[] { "documents.read" },
            accessTokenLifetime,
        });
        return new Client(data.GetProperty("clientId").GetString()!, data.GetProperty("secret").GetString()!);
    }

    private Task<HttpResponseMessage> PostAsync(SignInSetup setup, Client client, Dictionary<string, string> form) =>
        PostToAsync(setup.TokenEndpoint, client, form);

    private Task<HttpResponseMessage> PostToAsync(string url, Client client, Dictionary<string, string> form) =>
        suite.PostFormAsync(url, form, (client.ClientId, client.Secret));

    private async Task<string> OwnTokenAsync(SignInSetup setup, Client client)
    {
        using var response = await PostAsync(setup, client, new() { ["grant_type"] = "client_credentials" });
        return (await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;
    }

    private Task<HttpResponseMessage> ExchangeAsync(SignInSetup setup, Client requester, string subjectToken, string? actorToken, string? scope = null,
        string subjectType = AccessTokenType, string? requestedType = null)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = TokenExchangeGrant, ["subject_token"] = subjectToken, ["subject_token_type"] = subjectType,
        };
        if (actorToken is not null)
        {
            form["actor_token"] = actorToken;
            form["actor_token_type"] = AccessTokenType;
        }

        if (scope is not null)
        {
            form["scope"] = scope;
        }

        if (requestedType is not null)
        {
            form["requested_token_type"] = requestedType;
        }

        return PostAsync(setup, requester, form);
    }

    private static List<string> Actors(JsonWebToken token)
    {
        var actors = new List<string>();
        var found = token.TryGetPayloadValue<JsonElement>("act", out var act);
        while (found)
        {
            actors.Add(act.GetProperty("sub").GetString()!);
            found = act.TryGetProperty("act", out act);
        }

        return actors;
    }

    [Fact]
    public async Task Agent_ExchangesTheUsersToken_GetsATokenForTheUserNamingItAsActor()
    {
        var d = await UserSignedInToAgentAsync();
        var agentToken = await OwnTokenAsync(d.Setup, d.Agent);

        using var response = await ExchangeAsync(d.Setup, d.Agent, d.UserToken, agentToken, scope: "documents.read");

        var body = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        Assert.Equal(AccessTokenType, body.GetProperty("issued_token_type").GetString());
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.False(body.TryGetProperty("refresh_token", out _));
        var delegated = new JsonWebToken(body.GetProperty("access_token").GetString());
        var user = new JsonWebToken(d.UserToken);
        Assert.Equal(d.Setup.UserId.ToString(), delegated.Subject);
        Assert.Equal([d.Agent.ClientId], Actors(delegated));
        Assert.Equal("documents.read", delegated.GetClaim("scope").Value);
        Assert.Equal(d.Agent.ClientId, delegated.GetClaim("client_id").Value);
        Assert.True(delegated.ValidTo <= user.ValidTo);
        Assert.Equal(user.GetClaim("tenant").Value, delegated.GetClaim("tenant").Value);

        // Introspection names the actor too (RFC 8693 §4.1).
        using var introspection = await PostToAsync(d.Setup.Issuer + "/oauth/introspect", d.Agent, new() { ["token"] = delegated.EncodedToken });
        var active = await HttpAssert.JsonAsync(introspection, HttpStatusCode.OK);
        Assert.True(active.GetProperty("active").GetBoolean());
        Assert.Equal(d.Agent.ClientId, active.GetProperty("act").GetProperty("sub").GetString());
    }

    [Fact]
    public async Task Agent_PassesTheDelegationOn_ChainNestsCurrentActorOutermost_UpToThree()
    {
        var d = await UserSignedInToAgentAsync();
        var tools = new List<Client>();
        for (var i = 0; i < 3; i++)
        {
            tools.Add(await MachineAsync(d.Setup));
        }

        using var first = await ExchangeAsync(d.Setup, d.Agent, d.UserToken, await OwnTokenAsync(d.Setup, d.Agent));
        var level1 = (await HttpAssert.JsonAsync(first, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;
        using var second = await ExchangeAsync(d.Setup, d.Agent, level1, await OwnTokenAsync(d.Setup, tools[0]));
        var level2 = (await HttpAssert.JsonAsync(second, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;
        // The current actor passes it on in turn.
        using var third = await ExchangeAsync(d.Setup, tools[0], level2, await OwnTokenAsync(d.Setup, tools[1]));
        var level3 = (await HttpAssert.JsonAsync(third, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;
        using var fourth = await ExchangeAsync(d.Setup, tools[1], level3, await OwnTokenAsync(d.Setup, tools[2]));

        var level2Token = new JsonWebToken(level2);
        Assert.Equal([tools[0].ClientId, d.Agent.ClientId], Actors(level2Token));
        // Scopes narrowed to what the tool holds.
        Assert.Equal("documents.read", level2Token.GetClaim("scope").Value);
        Assert.Equal([tools[1].ClientId, tools[0].ClientId, d.Agent.ClientId], Actors(new JsonWebToken(level3)));
        Assert.Equal(HttpStatusCode.Forbidden, fourth.StatusCode);
        var refused = await fourth.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("delegation_depth_exceeded", refused.GetProperty("error").GetString());
        Assert.Equal(3, refused.GetProperty("max_depth").GetInt32());
    }

    /// <summary>A delegated token lives no longer than the requesting client's own access tokens (nor than its subject token).</summary>
    [Fact]
    public async Task DelegatedToken_LivesNoLongerThanTheRequestersOwnTokens()
    {
        var d = await UserSignedInToAgentAsync();
        var tool = await MachineAsync(d.Setup, accessTokenLifetime: 60);
        using var first = await ExchangeAsync(d.Setup, d.Agent, d.UserToken, await OwnTokenAsync(d.Setup, tool));
        var level1 = (await HttpAssert.JsonAsync(first, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;

        // The tool, now the current actor, exchanges in turn: its 60 s apply, not the agent's hour.
        using var second = await ExchangeAsync(d.Setup, tool, level1, null);
        var body = await HttpAssert.JsonAsync(second, HttpStatusCode.OK);
        var delegated = new JsonWebToken(body.GetProperty("access_token").GetString());
        Assert.InRange((delegated.ValidTo - delegated.IssuedAt).TotalSeconds, 1, 60);
        Assert.InRange(body.GetProperty("expires_in").GetInt32(), 1, 60);
    }

    [Fact]
    public async Task DPoPBoundActorToken_NamesItsActor_OnlyForTheHolderOfItsKey()
    {
        var d = await UserSignedInToAgentAsync();
        using var key = new DPoPKey();
        using var own = await suite.PostFormAsync(d.Setup.TokenEndpoint, new Dictionary<string, string> { ["grant_type"] = "client_credentials" },
            (d.Agent.ClientId, d.Agent.Secret), key.Proof("POST", d.Setup.TokenEndpoint));
        var boundToken = (await HttpAssert.JsonAsync(own, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;

        // Handed to someone — here sent without a proof by its key — it names nobody.
        using var withoutProof = await ExchangeAsync(d.Setup, d.Agent, d.UserToken, boundToken);
        await HttpAssert.OAuthErrorAsync(withoutProof, HttpStatusCode.BadRequest, "invalid_grant");

        using var withProof = await suite.PostFormAsync(d.Setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = TokenExchangeGrant, ["subject_token"] = d.UserToken, ["subject_token_type"] = AccessTokenType,
            ["actor_token"] = boundToken, ["actor_token_type"] = AccessTokenType,
        }, (d.Agent.ClientId, d.Agent.Secret), key.Proof("POST", d.Setup.TokenEndpoint));
        var delegated = new JsonWebToken((await HttpAssert.JsonAsync(withProof, HttpStatusCode.OK)).GetProperty("access_token").GetString());
        Assert.Equal([d.Agent.ClientId], Actors(delegated));
    }

    [Fact]
    public async Task ScopeBeyondSubjectAndActor_InsufficientScope()
    {
        var d = await UserSignedInToAgentAsync();
        var tool = await MachineAsync(d.Setup);

        using var response = await ExchangeAsync(d.Setup, d.Agent, d.UserToken, await OwnTokenAsync(d.Setup, tool), scope: "documents.write");

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "insufficient_scope");
    }

    [Fact]
    public async Task ClientOrActorNotEnabledForDelegation_DelegationNotAllowed()
    {
        var d = await UserSignedInToAgentAsync();
        var plain = await MachineAsync(d.Setup, mayDelegate: false);

        using var requesterNotEnabled = await ExchangeAsync(d.Setup, plain, d.UserToken, await OwnTokenAsync(d.Setup, plain));
        using var actorNotEnabled = await ExchangeAsync(d.Setup, d.Agent, d.UserToken, await OwnTokenAsync(d.Setup, plain));

        await HttpAssert.OAuthErrorAsync(requesterNotEnabled, HttpStatusCode.Forbidden, "delegation_not_allowed");
        await HttpAssert.OAuthErrorAsync(actorNotEnabled, HttpStatusCode.Forbidden, "delegation_not_allowed");
    }

    [Fact]
    public async Task SubjectTokenIssuedToAnotherClient_InvalidRequest()
    {
        var d = await UserSignedInToAgentAsync();
        var other = await MachineAsync(d.Setup);

        using var response = await ExchangeAsync(d.Setup, other, d.UserToken, await OwnTokenAsync(d.Setup, other));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task BadSubjectToken_InvalidGrant_UnsupportedType_UnsupportedTokenType()
    {
        var d = await UserSignedInToAgentAsync();
        var agentToken = await OwnTokenAsync(d.Setup, d.Agent);

        using var garbage = await ExchangeAsync(d.Setup, d.Agent, "not-a-token", agentToken);
        using var refreshAsSubject = await ExchangeAsync(d.Setup, d.Agent, d.RefreshToken, agentToken, subjectType: "urn:ietf:params:oauth:token-type:refresh_token");

        await HttpAssert.OAuthErrorAsync(garbage, HttpStatusCode.BadRequest, "invalid_grant");
        await HttpAssert.OAuthErrorAsync(refreshAsSubject, HttpStatusCode.BadRequest, "unsupported_token_type");
    }

    /// <summary>
    /// Only access tokens come out of an exchange (docs/api-decisions.md): a refresh token, ID token or bare JWT would carry
    /// the user's identity without the actor. RFC 8693 §2.2.2 makes such a request invalid_request.
    /// </summary>
    [Fact]
    public async Task RequestedTokenTypeOtherThanAccessToken_InvalidRequest()
    {
        var d = await UserSignedInToAgentAsync();
        var agentToken = await OwnTokenAsync(d.Setup, d.Agent);

        foreach (var type in new[]
        {
            "urn:ietf:params:oauth:token-type:refresh_token", "urn:ietf:params:oauth:token-type:id_token", "urn:ietf:params:oauth:token-type:jwt",
        })
        {
            using var response = await ExchangeAsync(d.Setup, d.Agent, d.UserToken, agentToken, requestedType: type);
            await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
        }

        using var accessToken = await ExchangeAsync(d.Setup, d.Agent, d.UserToken, agentToken, requestedType: AccessTokenType);
        Assert.Equal(AccessTokenType, (await HttpAssert.JsonAsync(accessToken, HttpStatusCode.OK)).GetProperty("issued_token_type").GetString());
    }

    /// <summary>
    /// openid and offline_access are never delegated, even when the subject and the actor both hold them: they would bring
    /// an ID token and a refresh token, neither naming the actor. Unasked they are left out; asked for, refused.
    /// </summary>
    [Fact]
    public async Task Exchange_NeverGrantsOpenIdOrOfflineAccess_LeftOutByDefault_RefusedWhenAsked()
    {
        var d = await UserSignedInToAgentAsync();
        // The actor token is another of the user's tokens held by the agent, so both parties hold openid and offline_access.
        using var refreshed = await PostAsync(d.Setup, d.Agent, new() { ["grant_type"] = "refresh_token", ["refresh_token"] = d.RefreshToken });
        var actorToken = (await HttpAssert.JsonAsync(refreshed, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;
        foreach (var token in new[] { d.UserToken, actorToken })
        {
            Assert.Superset(new HashSet<string> { "openid", "offline_access" }, new JsonWebToken(token).GetClaim("scope").Value.Split(' ').ToHashSet());
        }

        using var withoutActor = await ExchangeAsync(d.Setup, d.Agent, d.UserToken, null);
        using var withActor = await ExchangeAsync(d.Setup, d.Agent, d.UserToken, actorToken);

        foreach (var response in new[] { withoutActor, withActor })
        {
            var body = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
            Assert.False(body.TryGetProperty("refresh_token", out _));
            Assert.False(body.TryGetProperty("id_token", out _));
            // The default is named in the answer (RFC 6749 §5.1) as in the token.
            Assert.Equal(["documents.read", "documents.write"], body.GetProperty("scope").GetString()!.Split(' ').Order(StringComparer.Ordinal));
            Assert.Equal(["documents.read", "documents.write"], new JsonWebToken(body.GetProperty("access_token").GetString()).GetClaim("scope").Value.Split(' ').Order(StringComparer.Ordinal));
        }

        foreach (var scope in new[] { "openid documents.read", "offline_access" })
        {
            using var asked = await ExchangeAsync(d.Setup, d.Agent, d.UserToken, actorToken, scope: scope);
            await HttpAssert.OAuthErrorAsync(asked, HttpStatusCode.BadRequest, "invalid_scope");
        }
    }

    [Fact]
    public async Task InvalidActorToken_InvalidGrant()
    {
        var d = await UserSignedInToAgentAsync();

        using var response = await ExchangeAsync(d.Setup, d.Agent, d.UserToken, "not-a-token");

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task ActorTokenOfAnUnsupportedType_UnsupportedTokenType()
    {
        var d = await UserSignedInToAgentAsync();
        var agentToken = await OwnTokenAsync(d.Setup, d.Agent);

        // A valid access token, announced as something else: only access tokens are exchanged (docs/api-decisions.md).
        using var response = await PostAsync(d.Setup, d.Agent, new()
        {
            ["grant_type"] = TokenExchangeGrant, ["subject_token"] = d.UserToken, ["subject_token_type"] = AccessTokenType,
            ["actor_token"] = agentToken, ["actor_token_type"] = "urn:ietf:params:oauth:token-type:id_token",
        });

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "unsupported_token_type",
            "Subject tokens are access tokens (urn:ietf:params:oauth:token-type:access_token), SAML 2.0 assertions (urn:ietf:params:oauth:token-type:saml2) or an outside provider's ID tokens (with subject_issuer); actor tokens are access tokens.");
    }

    [Fact]
    public async Task Exchange_NamingAResourceRegisteredForTheRequester_IssuesATokenForIt()
    {
        const string api = "https://documents.example.com/api";
        var d = await UserSignedInToAgentAsync(audienceUris: [api]);
        var agentToken = await OwnTokenAsync(d.Setup, d.Agent);

        using var response = await PostAsync(d.Setup, d.Agent, new()
        {
            ["grant_type"] = TokenExchangeGrant, ["subject_token"] = d.UserToken, ["subject_token_type"] = AccessTokenType,
            ["actor_token"] = agentToken, ["actor_token_type"] = AccessTokenType, ["resource"] = api,
        });

        // RFC 8693 §2.1 / RFC 8707: the new token is for the API named, not for the subject token's audience.
        var delegated = new JsonWebToken((await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("access_token").GetString());
        Assert.Equal([api], delegated.Audiences);
        Assert.Equal([d.Setup.Issuer], new JsonWebToken(d.UserToken).Audiences);
        Assert.Equal([d.Agent.ClientId], Actors(delegated));
    }

    [Fact]
    public async Task RevokingTheUsersGrant_EndsTheDelegatedToken()
    {
        var d = await UserSignedInToAgentAsync();
        using var exchanged = await ExchangeAsync(d.Setup, d.Agent, d.UserToken, await OwnTokenAsync(d.Setup, d.Agent));
        var delegated = (await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;

        using var revoked = await PostToAsync(d.Setup.Issuer + "/oauth/revoke", d.Agent, new() { ["token"] = d.RefreshToken, ["token_type_hint"] = "refresh_token" });
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        using var http = suite.Token.CreateClient();
        using var introspection = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, d.Setup.Issuer + "/oauth/introspect")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = delegated }),
            Headers = { Authorization = HttpAssert.Basic(d.Agent.ClientId, d.Agent.Secret) },
        });

        Assert.False((await HttpAssert.JsonAsync(introspection, HttpStatusCode.OK)).GetProperty("active").GetBoolean());
        // Every service's bearer validation refuses it too: it is indexed under the user's grant like any access token.
        var jwt = new JsonWebToken(delegated);
        var denyList = suite.Token.Services.GetRequiredService<RedisAccessTokenDenyList>();
        Assert.True(await denyList.IsRevokedAsync(d.Setup.Tenant.Id, new AccessTokenFacts(jwt.Id, jwt.GetClaim("client_id").Value, jwt.IssuedAt), CancellationToken.None));
    }

    [Fact]
    public async Task Exchange_WithADPoPProof_BindsTheDelegatedTokenToTheKey()
    {
        var d = await UserSignedInToAgentAsync();
        using var key = new DPoPKey();
        using var response = await suite.PostFormAsync(d.Setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = TokenExchangeGrant, ["subject_token"] = d.UserToken, ["subject_token_type"] = AccessTokenType,
            ["actor_token"] = await OwnTokenAsync(d.Setup, d.Agent), ["actor_token_type"] = AccessTokenType,
        }, (d.Agent.ClientId, d.Agent.Secret), key.Proof("POST", d.Setup.TokenEndpoint));

        var body = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        Assert.Equal("DPoP", body.GetProperty("token_type").GetString());
        var delegated = new JsonWebToken(body.GetProperty("access_token").GetString());
        Assert.Equal(key.Thumbprint, delegated.GetPayloadValue<JsonElement>("cnf").GetProperty("jkt").GetString());
    }

    [Fact]
    public async Task DelegatedToken_IsAuditedAsAnIssuedAccessToken_ForTheUser()
    {
        var d = await UserSignedInToAgentAsync();
        using var exchanged = await ExchangeAsync(d.Setup, d.Agent, d.UserToken, await OwnTokenAsync(d.Setup, d.Agent));
        var delegated = new JsonWebToken((await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("access_token").GetString());

        using var admin = suite.Admin.ClientFor(d.Setup.Tenant);
        var entry = await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await admin.GetAsync($"{d.Setup.Tenant.Api}/admin/audit-logs?action=access_token_issued&limit=100"));
            return page["data"]!.AsArray().FirstOrDefault(e => e!["metadata"]!["tokenId"]!.GetValue<string>() == delegated.Id);
        }, TimeSpan.FromSeconds(30));
        Assert.Equal(TokenExchangeGrant, entry["metadata"]!["grantType"]!.GetValue<string>());
        Assert.Equal(d.Setup.UserId.ToString(), entry["metadata"]!["subject"]!.GetValue<string>());
        Assert.Equal(d.Agent.ClientId, entry["metadata"]!["clientId"]!.GetValue<string>());
    }
}

/// <summary>A subject token past its expiry cannot be exchanged: the clock is moved past it (access tokens live an hour).</summary>
public sealed class TokenExchangeExpiryTests(MovableClockSuite suite) : IClassFixture<MovableClockSuite>
{
    private const string TokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
    private const string AccessTokenType = "urn:ietf:params:oauth:token-type:access_token";

    [Fact]
    public async Task ExpiredSubjectToken_InvalidGrant()
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Research agent", applicationType = "web", redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "authorization_code", "client_credentials", TokenExchangeGrant },
            allowedScopes = new[] { "openid", "documents.read" },
        });
        (string ClientId, string Secret) agent = (setup.ClientId, setup.ClientSecret!);
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup,
            HostedFlow.AuthorizeUrl(setup, challenge, new() { ["scope"] = "openid documents.read" })))["code"];
        using var exchanged = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri, ["code_verifier"] = verifier,
        }, agent);
        var userToken = (await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;

        suite.Clock.Advance(TimeSpan.FromHours(2));
        // The actor token is fresh: only the subject token has expired.
        using var own = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, agent);
        var agentToken = (await HttpAssert.JsonAsync(own, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;

        using var response = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = TokenExchangeGrant, ["subject_token"] = userToken, ["subject_token_type"] = AccessTokenType,
            ["actor_token"] = agentToken, ["actor_token_type"] = AccessTokenType,
        }, agent);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
    }
}
