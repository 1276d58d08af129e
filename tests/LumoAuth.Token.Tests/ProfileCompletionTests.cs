using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Required declared attributes a signed-in user has not given (an administrator made the account, or the tenant declared
/// them later) are asked for on a page of the authorization endpoint before any application gets a code (Keycloak's
/// "verify profile" required action): checked in the person's words, kept by admin, asked again when a value no longer
/// fits its declaration, never asked silently.
/// </summary>
[Collection(SharedTokenSuite.Name)]
public sealed class ProfileCompletionTests(TokenSuite suite)
{
    private async Task DeclareAsync(LumoAuth.Testing.TestTenant tenant)
    {
        using var admin = suite.Admin.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new
        {
            userProfile = new
            {
                attributes = new object[]
                {
                    new { name = "company", label = "Company", required = true, maxLength = 40 },
                    new { name = "level", label = "Level", required = true, type = "integer", min = 1, max = 5 },
                    new { name = "badge", label = "Badge", required = true, userEditable = false },
                    new { name = "shoe_size", label = "Shoe size", type = "integer" },
                },
            },
        }));
    }

    private async Task<JsonNode> AttributesAsync(SignInSetup setup)
    {
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        return (await ApiAssert.OkAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/attributes")))["data"]!["attributes"]!;
    }

    /// <summary>Authorize (signing in when asked): the page the browser ends on, once the hosted pages know the declarations.</summary>
    private static Task<string> ProfilePageAsync(HttpClient browser, SignInSetup setup) =>
        ApiAssert.EventuallyAsync(async () =>
        {
            var (_, challenge) = HostedFlow.Pkce();
            var html = await HostedFlow.OpenSignedInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge));
            return html.Contains("profile_decision", StringComparison.Ordinal) ? html : null;
        });

    [Fact]
    public async Task MissingRequiredAttributes_AreAskedBeforeTheCode_CheckedAndKept_AndAskedAgainWhenNoLongerValid()
    {
        var setup = await suite.SetUpAsync();
        await DeclareAsync(setup.Tenant);
        using var browser = suite.Browser();

        // Only the required attributes the user may fill in: not the administrator's badge, not the optional shoe size.
        var page = await ProfilePageAsync(browser, setup);
        Assert.Contains("name=\"attr_company\"", page, StringComparison.Ordinal);
        Assert.Contains("name=\"attr_level\"", page, StringComparison.Ordinal);
        Assert.DoesNotContain("attr_badge", page, StringComparison.Ordinal);
        Assert.DoesNotContain("attr_shoe_size", page, StringComparison.Ordinal);

        // A silent request cannot ask.
        var (_, silentChallenge) = HostedFlow.Pkce();
        using (var silent = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, silentChallenge, new() { ["prompt"] = "none" })))
        {
            Assert.Equal("interaction_required", HostedFlow.Parameters(silent.Headers.Location!)["error"]);
        }

        // Without the page's CSRF token: refused, nothing kept.
        var forged = HostedFlow.HiddenFields(HostedFlow.FormWith(page, "profile_decision"));
        Assert.True(forged.Remove("__csrf"));
        forged["profile_decision"] = "save";
        forged["attr_company"] = "Forged";
        forged["attr_level"] = "2";
        using (var refused = await browser.PostAsync($"{setup.Tenant.Api}/oauth/authorize", new FormUrlEncodedContent(forged)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }

        // Wrong values: the page again, each problem in words, nothing kept.
        using (var wrong = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(page, "profile_decision"),
                   new() { ["profile_decision"] = "save", ["attr_company"] = " ", ["attr_level"] = "9" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
            var html = await wrong.Content.ReadAsStringAsync();
            Assert.Contains("Company is required.", html, StringComparison.Ordinal);
            Assert.Contains("Level must be at most 5.", html, StringComparison.Ordinal);
            Assert.Contains("value=\"9\"", html, StringComparison.Ordinal);
            page = html;
        }

        Assert.Null((await AttributesAsync(setup))["company"]);

        // Given: on to consent, then the code; admin keeps them, the integer as a number.
        using (var given = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(page, "profile_decision"),
                   new() { ["profile_decision"] = "save", ["attr_company"] = "Acme", ["attr_level"] = "3" }))
        {
            var consent = await given.Content.ReadAsStringAsync();
            Assert.Contains("consent_decision", consent, StringComparison.Ordinal);
            Assert.DoesNotContain("attr_company", consent, StringComparison.Ordinal);
            using var decided = await HostedFlow.DecideConsentAsync(browser, consent, accept: true);
            Assert.True(HostedFlow.Parameters(decided.Headers.Location!).ContainsKey("code"), decided.Headers.Location!.ToString());
        }

        var kept = await AttributesAsync(setup);
        Assert.Equal("Acme", kept["company"]!.GetValue<string>());
        Assert.Equal(3, kept["level"]!.GetValue<long>());

        // Asked no more: the next request (consent remembered) gets its code straight away.
        var (_, challenge) = HostedFlow.Pkce();
        using (var again = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge)))
        {
            Assert.True(HostedFlow.Parameters(again.Headers.Location!).ContainsKey("code"), again.Headers.Location!.ToString());
        }

        // A value that no longer fits its declaration (re-declared stricter) is asked for again, shown as kept.
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new
            {
                userProfile = new
                {
                    attributes = new object[]
                    {
                        new { name = "company", label = "Company", required = true, maxLength = 40 },
                        new { name = "level", label = "Level", required = true, type = "integer", min = 1, max = 2 },
                    },
                },
            }));
        }

        var reasked = await ApiAssert.EventuallyAsync(async () =>
        {
            var (_, c2) = HostedFlow.Pkce();
            using var asked = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, c2));
            var body = await asked.Content.ReadAsStringAsync();
            return body.Contains("profile_decision", StringComparison.Ordinal) ? body : null;
        });
        Assert.Contains("value=\"3\"", reasked, StringComparison.Ordinal);
        Assert.DoesNotContain("attr_company", reasked, StringComparison.Ordinal);
    }
    [Fact]
    public async Task AnAttributeRequiredForScopes_IsAskedOnlyOfApplicationsAskingForThem()
    {
        var setup = await suite.SetUpAsync();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new
            {
                userProfile = new { attributes = new object[] { new { name = "job_title", label = "Job title", required = true, requiredScopes = new[] { "profile" } } } },
            }));
        }

        using var browser = suite.Browser();
        var page = await ProfilePageAsync(browser, setup);
        Assert.Contains("name=\"attr_job_title\" required", page, StringComparison.Ordinal);

        // An application that does not ask for the profile scope is not held up by it.
        var (_, challenge) = HostedFlow.Pkce();
        var other = await HostedFlow.OpenSignedInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge, new() { ["scope"] = "openid email" }));
        Assert.DoesNotContain("profile_decision", other, StringComparison.Ordinal);
        Assert.Contains("consent_decision", other, StringComparison.Ordinal);

        // Elsewhere it is optional: the account page may leave it empty.
        var account = await HostedFlow.OpenSignedInAsync(browser, setup, $"/t/{setup.Tenant.Slug}/account/profile");
        Assert.Contains("name=\"attr_job_title\" maxlength", account, StringComparison.Ordinal);

        using (var saved = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(page, "profile_decision"),
                   new() { ["profile_decision"] = "save", ["attr_job_title"] = "Engineer" }))
        {
            Assert.Contains("consent_decision", await saved.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal("Engineer", (await AttributesAsync(setup))["job_title"]!.GetValue<string>());
    }
}
