using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.Playwright;

namespace LumoAuth.Token.BrowserTests;

/// <summary>
/// The device flow end to end through the gateway: a "TV" (plain HTTP) asks for codes and polls; a real browser opens
/// the <c>verification_uri_complete</c> the TV would show as a QR code, signs in, checks the code and allows.
/// </summary>
public sealed class DeviceFlowBrowserTests(BrowserSuite suite) : IClassFixture<BrowserSuite>
{
    private const string DeviceGrant = "urn:ietf:params:oauth:grant-type:device_code";

    [Fact]
    public async Task Tv_GetsTokens_AfterTheUserAllowsItInABrowser()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        const string password = "Corr3ct-Horse-Battery!";
        var email = $"tv-{Guid.NewGuid():N}"[..11] + "@example.com";
        var userId = await suite.Admin.CreateUserAsync(tenant, email, password, "Terry Viewer");
        string clientId;
        using (var admin = suite.Public())
        {
            admin.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
            using var created = await admin.PostAsJsonAsync($"{tenant.Api}/admin/clients", new
            {
                name = "Living-room TV", applicationType = "native", grantTypes = new[] { DeviceGrant }, allowedScopes = new[] { "openid", "profile" },
            });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            clientId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("clientId").GetString()!;
        }

        using var tv = suite.Public();
        using var started = await tv.PostAsync($"{tenant.Api}/oauth/device_authorization",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["client_id"] = clientId, ["scope"] = "openid profile" }));
        var codes = await started.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.OK, started.StatusCode);
        var complete = codes.GetProperty("verification_uri_complete").GetString()!;
        Assert.StartsWith($"{suite.GatewayBaseUrl}{tenant.Api}/oauth/device?user_code=", complete, StringComparison.Ordinal);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("LUMOAUTH_CHROMIUM") ?? "/usr/bin/chromium",
            Headless = true,
            Args = HostedLoginBrowserTests.ChromiumFlags,
        });
        var page = await browser.NewPageAsync();
        await page.GotoAsync(complete);
        Assert.StartsWith($"{suite.GatewayBaseUrl}/t/{tenant.Slug}/login", page.Url, StringComparison.Ordinal);
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("button[value=accept]");
        Assert.Equal(codes.GetProperty("user_code").GetString(), await page.InnerTextAsync("#user-code"));
        Assert.Contains("Living-room TV", await page.ContentAsync(), StringComparison.Ordinal);
        await page.ClickAsync("button[value=accept]");
        await page.WaitForSelectorAsync("[role=status]");
        Assert.Contains("result=approved", page.Url, StringComparison.Ordinal);

        // The TV polls (no faster than told) until the answer is there.
        var interval = TimeSpan.FromSeconds(codes.GetProperty("interval").GetInt32());
        JsonElement tokens = default;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            using var poll = await tv.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = DeviceGrant, ["device_code"] = codes.GetProperty("device_code").GetString()!, ["client_id"] = clientId,
            }));
            tokens = await poll.Content.ReadFromJsonAsync<JsonElement>();
            if (poll.StatusCode == HttpStatusCode.OK)
            {
                break;
            }

            Assert.Contains(tokens.GetProperty("error").GetString(), new[] { "authorization_pending", "slow_down" });
            await Task.Delay(interval);
        }

        Assert.Equal(userId.ToString(), new JsonWebToken(tokens.GetProperty("access_token").GetString()).Subject);
        Assert.Equal(userId.ToString(), new JsonWebToken(tokens.GetProperty("id_token").GetString()).Subject);
    }
}
