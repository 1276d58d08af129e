using System.Net;
using System.Security.Cryptography;
using LumoAuth.Testing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.EndToEnd.Tests;

/// <summary>
/// Step-up authentication (acr_values, RFC 9470) through the gateway: a one-factor session signs in again with its TOTP code;
/// a sign-in that cannot meet an essential acr (the claims parameter) ends in unmet_authentication_requirements.
/// </summary>
[Collection(SuiteCollection.Name)]
public sealed class StepUpTests(SuiteFixture suite)
{
    private const string RedirectUri = "http://127.0.0.1:7777/callback";

    [Fact]
    public async Task AskingForTwoFactors_ThroughTheGateway_GetsTheSecondStep_AndAcr2()
    {
        var tenant = await suite.CreateTenantAsync();
        var email = $"gwen-{Guid.NewGuid():N}"[..13] + "@example.com";
        const string password = "Corr3ct-Horse-Battery!";
        using var createdUser = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/users", new { email, password, name = "Gwen" }, SuiteFixture.ApiKey(tenant.ApiKey));
        var userId = (await ApiAssert.OkAsync(createdUser, 201))["data"]!["id"]!.GetValue<string>();
        using var createdClient = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients", new
        {
            name = "Vault", applicationType = "native", redirectUris = new[] { RedirectUri }, grantTypes = new[] { "authorization_code" }, allowedScopes = new[] { "openid" },
        }, SuiteFixture.ApiKey(tenant.ApiKey));
        var clientId = (await ApiAssert.OkAsync(createdClient, 201))["data"]!["clientId"]!.GetValue<string>();
        using var browser = suite.Browser();

        // A sign-in with the password alone (the user has no second factor yet), consent given.
        var (firstCode, _, _) = await AuthorizeAsync(browser, tenant, clientId, extra: null, async login =>
        {
            using var signedIn = await SubmitAsync(browser, login, new() { ["email"] = email, ["password"] = password });
            using var consent = await browser.GetAsync(signedIn.Headers.Location!.OriginalString);
            var decision = HostedForms.HiddenPairs(await consent.Content.ReadAsStringAsync()).Where(p => p.Key != "consent_decision").Append(new("consent_decision", "accept"));
            using var decided = await browser.PostAsync($"{tenant.Api}/oauth/authorize", new FormUrlEncodedContent(decision));
            return decided.Headers.Location!;
        });
        Assert.NotNull(firstCode);

        // The user sets up a TOTP app; the same browser's session still took one factor.
        using var begun = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/users/{userId}/mfa/totp", configure: SuiteFixture.ApiKey(tenant.ApiKey));
        var totp = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes((await ApiAssert.OkAsync(begun, 201))["data"]!["secret"]!.GetValue<string>()));
        using (var confirmed = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/users/{userId}/mfa/totp/confirm",
                   new { code = totp.ComputeTotp(DateTime.UtcNow) }, SuiteFixture.ApiKey(tenant.ApiKey)))
        {
            Assert.True(confirmed.IsSuccessStatusCode, await confirmed.Content.ReadAsStringAsync());
        }

        var (code, verifier, _) = await AuthorizeAsync(browser, tenant, clientId, new() { ["acr_values"] = "2" }, async login =>
        {
            using var withPassword = await SubmitAsync(browser, login, new() { ["email"] = email, ["password"] = password });
            var secondStep = await withPassword.Content.ReadAsStringAsync();
            Assert.Contains("name=\"totp\"", secondStep, StringComparison.Ordinal);
            using var coded = await SubmitAsync(browser, secondStep, new() { ["totp"] = totp.ComputeTotp(DateTime.UtcNow.AddSeconds(30)) });
            using var back = await browser.GetAsync(coded.Headers.Location!.OriginalString);
            return back.Headers.Location!;
        });

        using var redeemed = await suite.Gateway.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code!, ["redirect_uri"] = RedirectUri, ["client_id"] = clientId, ["code_verifier"] = verifier,
        }));
        var idToken = new JsonWebToken((await ApiAssert.OkAsync(redeemed))["id_token"]!.GetValue<string>());
        Assert.Equal("2", idToken.GetClaim("acr").Value);
    }

    [Fact]
    public async Task AnEssentialSecondStep_ThatTheUserCannotGive_ThroughTheGateway_IsUnmetAuthenticationRequirements()
    {
        var tenant = await suite.CreateTenantAsync();
        var email = $"hal-{Guid.NewGuid():N}"[..12] + "@example.com";
        const string password = "Corr3ct-Horse-Battery!";
        using var createdUser = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/users", new { email, password, name = "Hal" }, SuiteFixture.ApiKey(tenant.ApiKey));
        await ApiAssert.OkAsync(createdUser, 201);
        using var createdClient = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients", new
        {
            name = "Vault", applicationType = "native", redirectUris = new[] { RedirectUri }, grantTypes = new[] { "authorization_code" }, allowedScopes = new[] { "openid" },
        }, SuiteFixture.ApiKey(tenant.ApiKey));
        var clientId = (await ApiAssert.OkAsync(createdClient, 201))["data"]!["clientId"]!.GetValue<string>();
        using var browser = suite.Browser();

        var claims = """{"id_token":{"acr":{"essential":true,"values":["2"]}}}""";
        var (code, _, back) = await AuthorizeAsync(browser, tenant, clientId, new() { ["claims"] = claims }, async login =>
        {
            // The password alone: the user has no second step to give.
            using var signedIn = await SubmitAsync(browser, login, new() { ["email"] = email, ["password"] = password });
            using var returned = await browser.GetAsync(signedIn.Headers.Location!.OriginalString);
            return returned.Headers.Location!;
        });

        Assert.Null(code);
        Assert.StartsWith(RedirectUri, back.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal("unmet_authentication_requirements", QueryHelpers.ParseQuery(back.Query)["error"].ToString());
    }

    [Fact]
    public async Task ABackchannelRequestForTwoFactors_ThroughTheGateway_HasItsApprovalLinkAskForTheSecondStep()
    {
        const string cibaGrant = "urn:openid:params:grant-type:ciba";
        var tenant = await suite.CreateTenantAsync();
        var email = $"ida-{Guid.NewGuid():N}"[..12] + "@example.com";
        const string password = "Corr3ct-Horse-Battery!";
        using var createdUser = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/users", new { email, password, name = "Ida" }, SuiteFixture.ApiKey(tenant.ApiKey));
        var userId = (await ApiAssert.OkAsync(createdUser, 201))["data"]!["id"]!.GetValue<string>();
        using var begun = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/users/{userId}/mfa/totp", configure: SuiteFixture.ApiKey(tenant.ApiKey));
        var totp = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes((await ApiAssert.OkAsync(begun, 201))["data"]!["secret"]!.GetValue<string>()));
        using (var confirmed = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/users/{userId}/mfa/totp/confirm",
                   new { code = totp.ComputeTotp(DateTime.UtcNow) }, SuiteFixture.ApiKey(tenant.ApiKey)))
        {
            Assert.True(confirmed.IsSuccessStatusCode, await confirmed.Content.ReadAsStringAsync());
        }

        var (_, PostAsync) = await suite.BasicClientAsync(tenant,
            new { name = "Help desk", applicationType = "web", grantTypes = new[] { cibaGrant }, allowedScopes = new[] { "openid" } });

        using var started = await PostAsync("oauth/bc-authorize", new() { ["scope"] = "openid", ["login_hint"] = email, ["acr_values"] = "2" });
        var authReqId = (await ApiAssert.OkAsync(started))["auth_req_id"]!.GetValue<string>();

        // The link the tenant's notification channel gets (the audit entry, over RabbitMQ).
        string? link = null;
        for (var attempt = 0; attempt < 150 && link is null; attempt++)
        {
            using var audit = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/audit-logs?action=ciba_authentication_requested", configure: SuiteFixture.ApiKey(tenant.ApiKey));
            link = (await ApiAssert.OkAsync(audit))["data"]!.AsArray().FirstOrDefault()?["metadata"]?["approvalUrl"]?.GetValue<string>();
            if (link is null)
            {
                await Task.Delay(200);
            }
        }

        Assert.NotNull(link);
        using var browser = suite.Browser();
        using var toLogin = await browser.GetAsync(new Uri(link).PathAndQuery);
        var loginPage = await browser.GetStringAsync(toLogin.Headers.Location!.OriginalString);
        using var withPassword = await SubmitAsync(browser, loginPage, new() { ["email"] = email, ["password"] = password });
        var secondStep = await withPassword.Content.ReadAsStringAsync();
        Assert.Contains("name=\"totp\"", secondStep, StringComparison.Ordinal);
        using var coded = await SubmitAsync(browser, secondStep, new() { ["totp"] = totp.ComputeTotp(DateTime.UtcNow.AddSeconds(30)) });
        var approval = await browser.GetStringAsync(coded.Headers.Location!.OriginalString);
        using var approved = await SubmitAsync(browser, approval, new() { ["ciba_decision"] = "accept" });
        Assert.Contains("approved", await approved.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var redeemed = await PostAsync("oauth/token", new() { ["grant_type"] = cibaGrant, ["auth_req_id"] = authReqId });
        var idToken = new JsonWebToken((await ApiAssert.OkAsync(redeemed))["id_token"]!.GetValue<string>());
        Assert.Equal("2", idToken.GetClaim("acr").Value);
    }

    /// <summary>An authorization request through the gateway; <paramref name="signIn"/> walks the login page it is sent to. The code, verifier and where the browser went back to.</summary>
    private static async Task<(string? Code, string Verifier, Uri Back)> AuthorizeAsync(
        HttpClient browser, TestTenant tenant, string clientId, Dictionary<string, string?>? extra, Func<string, Task<Uri>> signIn)
    {
        var verifier = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        var query = new Dictionary<string, string?>
        {
            ["response_type"] = "code", ["client_id"] = clientId, ["redirect_uri"] = RedirectUri, ["scope"] = "openid", ["state"] = "s",
            ["code_challenge"] = Base64UrlEncoder.Encode(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier))), ["code_challenge_method"] = "S256",
        };
        foreach (var (name, value) in extra ?? [])
        {
            query[name] = value;
        }

        using var authorize = await browser.GetAsync(QueryHelpers.AddQueryString($"{tenant.Api}/oauth/authorize", query));
        Assert.Equal(HttpStatusCode.SeeOther, authorize.StatusCode);
        var location = authorize.Headers.Location!.OriginalString;
        Assert.Contains("/login?", location, StringComparison.Ordinal);
        var back = await signIn(await browser.GetStringAsync(location));
        return (QueryHelpers.ParseQuery(back.Query).TryGetValue("code", out var code) ? code.ToString() : null, verifier, back);
    }

    /// <summary>Posts the page's form (its hidden fields, CSRF included) with <paramref name="fields"/> filled in.</summary>
    private static Task<HttpResponseMessage> SubmitAsync(HttpClient browser, string html, Dictionary<string, string> fields)
    {
        var form = HostedForms.HiddenFields(html);
        foreach (var (name, value) in fields)
        {
            form[name] = value;
        }

        var action = System.Net.WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(html, "<form[^>]*action=\"([^\"]+)\"").Groups[1].Value);
        return browser.PostAsync(action, new FormUrlEncodedContent(form));
    }
}
