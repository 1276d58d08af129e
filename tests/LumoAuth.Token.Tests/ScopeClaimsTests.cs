using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Admin.Data;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// A custom scope's claims (Keycloak's mappers on a client scope, Okta's custom claims): a user who grants the scope gets
/// their custom and enterprise attributes, and fixed values, in the tokens each claim names, from their current data at
/// every refresh; a change to the scope applies at once; the protocol's own claims cannot be set; bad claims are refused.
/// </summary>
[Collection(SharedTokenSuite.Name)]
public sealed class ScopeClaimsTests(TokenSuite suite)
{
    private static HttpClient AdminOf(TokenSuite suite, SignInSetup setup)
    {
        var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        return admin;
    }

    private async Task<int> CreateScopeAsync(SignInSetup setup, object body)
    {
        using var admin = AdminOf(suite, setup);
        var created = await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/scopes", body), 201);
        return created["data"]!["id"]!.GetValue<int>();
    }

    private async Task SetEnterpriseAsync(SignInSetup setup, string json)
    {
        await using var scope = suite.Admin.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        var user = await db.Users.IgnoreQueryFilters().FirstAsync(u => u.Id == setup.UserId);
        user.EnterpriseData = json;
        await db.SaveChangesAsync();
    }

    private async Task<JsonElement> SignInAsync(SignInSetup setup, string scope)
    {
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var redirect = await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge, new() { ["scope"] = scope }));
        return await StepUpFlow.TokensAsync(suite, setup, redirect, verifier);
    }

    private async Task<JsonElement> RefreshAsync(SignInSetup setup, JsonElement tokens)
    {
        using var refreshed = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = tokens.GetProperty("refresh_token").GetString()!, ["client_id"] = setup.ClientId,
        });
        return await HttpAssert.JsonAsync(refreshed, HttpStatusCode.OK);
    }

    private async Task<JsonElement> UserInfoAsync(SignInSetup setup, JsonElement tokens)
    {
        using var http = suite.Token.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens.GetProperty("access_token").GetString());
        using var answer = await http.GetAsync($"{setup.Tenant.Api}/oauth/userinfo");
        return await HttpAssert.JsonAsync(answer, HttpStatusCode.OK);
    }

    private static JsonWebToken Token(JsonElement tokens, string name) => new(tokens.GetProperty(name).GetString());

    private static bool Has(JsonWebToken token, string claim) => token.TryGetPayloadValue<object>(claim, out _);

    [Fact]
    public async Task AGrantedScope_PutsEachClaimInTheTokensItNames_FromTheUsersCurrentData()
    {
        var setup = await suite.SetUpAsync();
        var scopeId = await CreateScopeAsync(setup, new
        {
            name = "hr", description = "Your HR record",
            claims = new object[]
            {
                new { name = "department", enterprise = "department" },
                new { name = "clearance", attribute = "clearance", tokens = new[] { "access_token" } },
                new { name = "https://example.com/tier", value = new { level = "gold", since = 2020 }, tokens = new[] { "id_token", "userinfo" } },
                new { name = "unset", attribute = "nothing" },
            },
        });
        using (var admin = AdminOf(suite, setup))
        {
            await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}",
                new { allowedScopes = new[] { "openid", "profile", "offline_access", "hr" } }));
        }

        using (var users = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await users.PutAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/attributes", new { clearance = "secret", nothing = (string?)null }));
        }

        await SetEnterpriseAsync(setup, """{"department": "Research", "employeeNumber": "7"}""");

        var tokens = await SignInAsync(setup, "openid profile offline_access hr");
        var idToken = Token(tokens, "id_token");
        var accessToken = Token(tokens, "access_token");
        Assert.Equal("Research", idToken.GetPayloadValue<string>("department"));
        Assert.Equal("Research", accessToken.GetPayloadValue<string>("department"));
        Assert.Equal("secret", accessToken.GetPayloadValue<string>("clearance"));
        Assert.False(Has(idToken, "clearance"));
        var tier = JsonDocument.Parse(JsonSerializer.Serialize(idToken.GetPayloadValue<object>("https://example.com/tier"))).RootElement;
        Assert.Equal("gold", tier.GetProperty("level").GetString());
        Assert.Equal(2020, tier.GetProperty("since").GetInt32());
        Assert.False(Has(accessToken, "https://example.com/tier"));
        Assert.False(Has(idToken, "unset") || Has(accessToken, "unset"));

        var userInfo = await UserInfoAsync(setup, tokens);
        Assert.Equal("Research", userInfo.GetProperty("department").GetString());
        Assert.Equal("gold", userInfo.GetProperty("https://example.com/tier").GetProperty("level").GetString());
        Assert.False(userInfo.TryGetProperty("clearance", out _));

        // A refresh reads the user again; a change to the scope applies at once.
        using (var users = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await users.PutAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/attributes", new { clearance = "top secret" }));
        }

        tokens = await RefreshAsync(setup, tokens);
        Assert.Equal("top secret", Token(tokens, "access_token").GetPayloadValue<string>("clearance"));
        using (var admin = AdminOf(suite, setup))
        {
            var updated = await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/scopes/{scopeId}",
                new { claims = new[] { new { name = "employee", enterprise = "employeeNumber", tokens = new[] { "access_token" } } } }));
            Assert.Equal("employee", updated["data"]!["claims"]![0]!["name"]!.GetValue<string>());
        }

        tokens = await RefreshAsync(setup, tokens);
        accessToken = Token(tokens, "access_token");
        Assert.Equal("7", accessToken.GetPayloadValue<string>("employee"));
        Assert.False(Has(accessToken, "clearance") || Has(accessToken, "department"));

        // Without the scope, none of it.
        var plain = await SignInAsync(setup, "openid profile");
        Assert.False(Has(Token(plain, "access_token"), "employee"));
        Assert.False((await UserInfoAsync(setup, plain)).TryGetProperty("department", out _));
    }

    [Fact]
    public async Task ClaimsThatAreMalformedOrTheProtocolsOwn_AreRefused_AndAScopeShowsItsClaims()
    {
        var setup = await suite.SetUpAsync();
        using var admin = AdminOf(suite, setup);
        var bad = new object?[]
        {
            new { name = "email", attribute = "email" },
            new { name = "sub", value = "someone-else" },
            new { name = "oi_prst", value = "x" },
            new { name = "two sources", attribute = "a" },
            new { name = "both", attribute = "a", value = "b" },
            new { name = "neither" },
            new { name = "where", value = 1, tokens = new[] { "refresh_token" } },
            new { name = "nowhere", value = 1, tokens = Array.Empty<string>() },
            new { name = "huge", value = new string('x', 2100) },
            null,
        };
        var error = await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/scopes",
            new { name = "bad", description = "Bad", claims = bad }), 400, "validation_error");
        var details = error["details"]!.AsObject();
        Assert.All(Enumerable.Range(0, bad.Length), i => Assert.True(details.ContainsKey($"claims[{i}]"), $"claims[{i}]: {error.ToJsonString()}"));

        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/scopes", new
        {
            name = "twice", description = "Twice", claims = new[] { new { name = "a", value = 1 }, new { name = "a", value = 2 } },
        }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/scopes", new
        {
            name = "many", description = "Many", claims = Enumerable.Range(0, 21).Select(i => new { name = $"c{i}", value = i }).ToArray(),
        }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/scopes", new { name = "odd", description = "Odd", claims = "all" }), 400, "invalid_request");

        var id = await CreateScopeAsync(setup, new { name = "fine", description = "Fine", claims = new[] { new { name = "plan", value = "pro" } } });
        var read = await ApiAssert.OkAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/scopes/{id}"));
        var claim = read["data"]!["claims"]![0]!;
        Assert.Equal("plan", claim["name"]!.GetValue<string>());
        Assert.Equal("pro", claim["value"]!.GetValue<string>());
        Assert.Equal(["id_token", "access_token", "userinfo"], claim["tokens"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Null(claim["attribute"]);
        Assert.Empty((await ApiAssert.OkAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/scopes/1")))["data"]!["claims"]!.AsArray());

        // A bad update changes nothing; an empty list removes them.
        await ApiAssert.ErrorAsync(await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/scopes/{id}", new { claims = new[] { new { name = "acr", value = "2" } } }), 400, "validation_error");
        Assert.Single((await ApiAssert.OkAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/scopes/{id}")))["data"]!["claims"]!.AsArray());
        var cleared = await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/scopes/{id}", new { claims = Array.Empty<object>() }));
        Assert.Empty(cleared["data"]!["claims"]!.AsArray());

        // Another tenant neither sees the scope nor can change it.
        var other = await suite.SetUpAsync();
        using var otherAdmin = AdminOf(suite, other);
        Assert.Equal(HttpStatusCode.NotFound, (await otherAdmin.GetAsync($"{other.Tenant.Api}/admin/scopes/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await otherAdmin.PutAsJsonAsync($"{other.Tenant.Api}/admin/scopes/{id}", new { claims = Array.Empty<object>() })).StatusCode);
    }
}
