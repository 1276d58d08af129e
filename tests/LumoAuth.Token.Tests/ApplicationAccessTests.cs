using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// The applications a user let in: listed on their account page and in the Admin API, and taken away from either place —
/// the application's refresh and access tokens stop working, and its next sign-in asks for consent again. Only the user's
/// own, only in their tenant.
/// </summary>
[Collection(SharedTokenSuite.Name)]
public sealed class ApplicationAccessTests(TokenSuite suite)
{
    private static async Task<(HttpClient Browser, JsonElement Tokens)> ConsentedAsync(TokenSuite suite, SignInSetup setup)
    {
        var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var redirect = await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge));
        return (browser, await StepUpFlow.TokensAsync(suite, setup, redirect, verifier));
    }

    private async Task<HttpStatusCode> RefreshAsync(SignInSetup setup, JsonElement tokens)
    {
        using var refreshed = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = tokens.GetProperty("refresh_token").GetString()!, ["client_id"] = setup.ClientId,
        });
        return refreshed.StatusCode;
    }

    private async Task<HttpStatusCode> UserInfoAsync(SignInSetup setup, JsonElement tokens)
    {
        using var http = suite.Token.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens.GetProperty("access_token").GetString());
        using var answer = await http.GetAsync($"{setup.Tenant.Api}/oauth/userinfo");
        return answer.StatusCode;
    }

    private static HttpClient AdminOf(TokenSuite suite, SignInSetup setup)
    {
        var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        return admin;
    }

    [Fact]
    public async Task TheAccountPage_ListsTheApplication_AndRemovingItsAccessEndsItsTokensAndAsksForConsentAgain()
    {
        var setup = await suite.SetUpAsync();
        var (browser, tokens) = await ConsentedAsync(suite, setup);
        using (browser)
        {
            var page = await HostedFlow.OpenSignedInAsync(browser, setup, $"/t/{setup.Tenant.Slug}/account/applications");
            Assert.Contains($"data-client=\"{setup.ClientId}\"", page, StringComparison.Ordinal);
            Assert.Contains("<strong>Dashboard</strong>", page, StringComparison.Ordinal);
            Assert.Contains("Stay signed in and act for you when you are away", page, StringComparison.Ordinal);

            // A form without its CSRF token changes nothing.
            var form = HostedFlow.HiddenFields(HostedFlow.FormWith(page, "Remove access"));
            Assert.True(form.Remove("__csrf"));
            using (var forged = await browser.PostAsync($"/t/{setup.Tenant.Slug}/account/applications", new FormUrlEncodedContent(form)))
            {
                Assert.NotEqual(HttpStatusCode.SeeOther, forged.StatusCode);
            }

            Assert.Equal(HttpStatusCode.OK, await RefreshAsync(setup, tokens));
            tokens = await ConsentedAgainWithoutAskingAsync(browser, setup);

            using (var removed = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(page, "Remove access")))
            {
                Assert.Equal(HttpStatusCode.SeeOther, removed.StatusCode);
            }

            Assert.Equal(HttpStatusCode.BadRequest, await RefreshAsync(setup, tokens));
            Assert.Equal(HttpStatusCode.Unauthorized, await UserInfoAsync(setup, tokens));
            Assert.Contains("You have not let any application use your account.",
                await HostedFlow.OpenSignedInAsync(browser, setup, $"/t/{setup.Tenant.Slug}/account/applications"), StringComparison.Ordinal);

            // The session stays; the application asks for consent again.
            var (_, challenge) = HostedFlow.Pkce();
            using var again = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge));
            Assert.Contains("consent_decision", await again.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    /// <summary>With consent remembered, a new request gets its code without a page: the tokens of that second grant.</summary>
    private async Task<JsonElement> ConsentedAgainWithoutAskingAsync(HttpClient browser, SignInSetup setup)
    {
        var (verifier, challenge) = HostedFlow.Pkce();
        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge));
        return await StepUpFlow.TokensAsync(suite, setup, authorize.Headers.Location!, verifier);
    }

    [Fact]
    public async Task TheAdminApi_ListsAndRevokesAUsersConsents_InItsTenantOnly()
    {
        var setup = await suite.SetUpAsync();
        var (browser, tokens) = await ConsentedAsync(suite, setup);
        browser.Dispose();
        using var admin = AdminOf(suite, setup);
        var consents = await ApiAssert.OkAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/consents"));
        var consent = consents["data"]!.AsArray().Single()!;
        Assert.Equal(setup.ClientId, consent["clientId"]!.GetValue<string>());
        Assert.Equal("Dashboard", consent["name"]!.GetValue<string>());
        Assert.Contains("offline_access", consent["scopes"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.NotNull(consent["grantedAt"]);

        // Another tenant's administrator sees nothing of this user, and can take nothing away.
        var other = await suite.SetUpAsync();
        using var otherAdmin = AdminOf(suite, other);
        await ApiAssert.ErrorAsync(await otherAdmin.GetAsync($"{other.Tenant.Api}/admin/users/{setup.UserId}/consents"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherAdmin.DeleteAsync($"{other.Tenant.Api}/admin/users/{setup.UserId}/consents/{setup.ClientId}"), 404, "resource_not_found");
        Assert.Equal(HttpStatusCode.OK, await RefreshAsync(setup, tokens));

        await ApiAssert.ErrorAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/not-a-user/consents"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await admin.DeleteAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/consents/no-such-client"), 404, "resource_not_found");

        using (var revoked = await admin.DeleteAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/consents/{setup.ClientId}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        }

        Assert.Empty((await ApiAssert.OkAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/consents")))["data"]!.AsArray());
        await ApiAssert.ErrorAsync(await admin.DeleteAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/consents/{setup.ClientId}"), 404, "resource_not_found");
        var audit = await suite.AuditEntryAsync(setup, "application_access_revoked");
        Assert.Equal(setup.UserId.ToString(), audit.GetProperty("target").GetProperty("id").GetString());
        Assert.Equal(setup.ClientId, audit.GetProperty("metadata").GetProperty("clientId").GetString());
    }
}
