using System.Net;
using System.Net.Http.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// A tenant's terms of service (Keycloak's "Terms and Conditions" required action): a signed-in user who has not accepted
/// their current version is asked before an application gets a code, declining answers <c>access_denied</c>, accepting is
/// recorded once, a new version asks again, <c>prompt=none</c> cannot ask; registration asks for them too.
/// </summary>
[Collection(SharedTokenSuite.Name)]
public sealed class TermsOfServiceTests(TokenSuite suite)
{
    private const string TermsUrl = "https://legal.example.com/terms";

    private async Task SetTermsAsync(LumoAuth.Testing.TestTenant tenant, string version)
    {
        using var admin = suite.Admin.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { termsOfService = new { url = TermsUrl, version } }));
    }

    /// <summary>Authorize (signing in when asked): the page the browser ends on, once the hosted pages know the terms.</summary>
    private static Task<string> TermsPageAsync(HttpClient browser, SignInSetup setup) =>
        ApiAssert.EventuallyAsync(async () =>
        {
            var (_, challenge) = HostedFlow.Pkce();
            var html = await HostedFlow.OpenSignedInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge));
            return html.Contains("terms_decision", StringComparison.Ordinal) ? html : null;
        });

    private async Task<string?> AcceptedVersionAsync(SignInSetup setup)
    {
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var user = await ApiAssert.OkAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}"));
        return user["data"]!["termsAcceptedVersion"]?.GetValue<string>();
    }

    [Fact]
    public async Task AUserIsAskedOncePerVersion_DecliningDeniesTheRequest_AndAcceptingGoesOnToConsent()
    {
        var setup = await suite.SetUpAsync();
        await SetTermsAsync(setup.Tenant, "2026-01");
        using var browser = suite.Browser();

        var page = await TermsPageAsync(browser, setup);
        Assert.Contains($"href=\"{TermsUrl}\"", page, StringComparison.Ordinal);
        Assert.DoesNotContain("have changed", page, StringComparison.Ordinal);
        using (var declined = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(page, "terms_decision"), new() { ["terms_decision"] = "decline" }))
        {
            Assert.Equal("access_denied", HostedFlow.Parameters(declined.Headers.Location!)["error"]);
        }

        Assert.Null(await AcceptedVersionAsync(setup));

        // A page without its CSRF token is refused and records nothing.
        page = await TermsPageAsync(browser, setup);
        var forged = HostedFlow.HiddenFields(HostedFlow.FormWith(page, "terms_decision"));
        Assert.True(forged.Remove("__csrf"));
        forged["terms_decision"] = "accept";
        using (var refused = await browser.PostAsync($"{setup.Tenant.Api}/oauth/authorize", new FormUrlEncodedContent(forged)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }

        Assert.Null(await AcceptedVersionAsync(setup));

        // Accepted: the request goes on to consent, then the code; the acceptance is the user's.
        using (var accepted = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(page, "terms_decision"), new() { ["terms_decision"] = "accept" }))
        {
            var consent = await accepted.Content.ReadAsStringAsync();
            Assert.Contains("consent_decision", consent, StringComparison.Ordinal);
            using var decided = await HostedFlow.DecideConsentAsync(browser, consent, accept: true);
            Assert.True(decided.Headers.Location is not null, $"{decided.StatusCode}: {await decided.Content.ReadAsStringAsync()}");
            Assert.True(HostedFlow.Parameters(decided.Headers.Location!).ContainsKey("code"));
        }

        Assert.Equal("2026-01", await AcceptedVersionAsync(setup));

        // Asked no more for that version: the next request (consent remembered) gets its code straight away.
        var (_, challenge) = HostedFlow.Pkce();
        using (var again = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge)))
        {
            Assert.True(HostedFlow.Parameters(again.Headers.Location!).ContainsKey("code"), again.Headers.Location!.ToString());
        }

        // A new version asks again, saying why; a silent request cannot ask and says so.
        await SetTermsAsync(setup.Tenant, "2026-06");
        var changed = await ApiAssert.EventuallyAsync(async () =>
        {
            var (_, c) = HostedFlow.Pkce();
            using var response = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, c));
            var html = await response.Content.ReadAsStringAsync();
            return html.Contains("terms_decision", StringComparison.Ordinal) ? html : null;
        });
        Assert.Contains("The terms have changed since you last accepted them.", changed, StringComparison.Ordinal);
        var (_, silentChallenge) = HostedFlow.Pkce();
        using (var silent = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, silentChallenge, new() { ["prompt"] = "none" })))
        {
            Assert.Equal("interaction_required", HostedFlow.Parameters(silent.Headers.Location!)["error"]);
        }

        // A page of the old version accepted after the change is not taken for the new one.
        await SetTermsAsync(setup.Tenant, "2026-07");
        using (var stale = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(changed, "terms_decision"), new() { ["terms_decision"] = "accept" }))
        {
            var html = await stale.Content.ReadAsStringAsync();
            Assert.Equal("2026-01", await AcceptedVersionAsync(setup));
            Assert.True(html.Contains("terms_decision", StringComparison.Ordinal) || html.Contains("consent_decision", StringComparison.Ordinal), html);
        }
    }

    [Fact]
    public async Task Registration_AsksForTheTerms_AndRecordsTheVersionAccepted()
    {
        var setup = await suite.SetUpAsync();
        await SetTermsAsync(setup.Tenant, "v3");
        using var browser = suite.Browser();
        var page = await ApiAssert.EventuallyAsync(async () =>
        {
            var html = await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/register");
            return html.Contains("accept_terms", StringComparison.Ordinal) ? html : null;
        });
        Assert.Contains("value=\"v3\"", page, StringComparison.Ordinal);
        Assert.Contains($"href=\"{TermsUrl}\"", page, StringComparison.Ordinal);

        var email = $"terms-{Guid.NewGuid():N}"[..14] + "@example.com";
        var form = HostedFlow.HiddenFields(page);
        form["email"] = email;
        form["password"] = "Br4nd-New-Passw0rd!";
        using (var without = await browser.PostAsync($"/t/{setup.Tenant.Slug}/register", new FormUrlEncodedContent(form)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, without.StatusCode);
            Assert.Contains("Accept the terms of service to register.", await without.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        form = HostedFlow.HiddenFields(await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/register"));
        form["email"] = email;
        form["password"] = "Br4nd-New-Passw0rd!";
        form["accept_terms"] = "v2";
        using (var stale = await browser.PostAsync($"/t/{setup.Tenant.Slug}/register", new FormUrlEncodedContent(form)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, stale.StatusCode);
        }

        form = HostedFlow.HiddenFields(await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/register"));
        form["email"] = email;
        form["password"] = "Br4nd-New-Passw0rd!";
        form["accept_terms"] = "v3";
        using (var registered = await browser.PostAsync($"/t/{setup.Tenant.Slug}/register", new FormUrlEncodedContent(form)))
        {
            Assert.True(registered.StatusCode is HttpStatusCode.OK or HttpStatusCode.SeeOther, await registered.Content.ReadAsStringAsync());
        }

        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var user = await ApiAssert.OkAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{email}"));
        Assert.Equal("v3", user["data"]!["termsAcceptedVersion"]!.GetValue<string>());
        Assert.NotNull(user["data"]!["termsAcceptedAt"]);
    }

    [Fact]
    public async Task TermsSettings_NeedAnHttpsUrlAndAVersionTogether()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.Admin.ClientFor(tenant);
        foreach (var terms in new object[]
                 {
                     new { url = TermsUrl },
                     new { version = "1" },
                     new { url = "http://legal.example.com/terms", version = "1" },
                     new { url = "https://user:pw@legal.example.com/terms", version = "1" },
                     new { url = TermsUrl, version = new string('v', 51) },
                 })
        {
            await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { termsOfService = terms }), 400, "validation_error");
        }

        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { termsOfService = new { url = TermsUrl, version = "1" } }));
        var cleared = await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { termsOfService = new { url = (string?)null, version = (string?)null } }));
        Assert.Null(cleared["data"]!["termsOfService"]!["url"]);
    }
}
