using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Sign-in with social and OpenID Connect providers (FED-12…17): the hosted login page offers the tenant's providers,
/// federation sends the browser to the provider with state, nonce and PKCE, checks the answer at the callback, links the
/// outside account to a user (found by verified address, or made), and the token service opens the session — through
/// the gateway, with admin, PostgreSQL, Redis and RabbitMQ real; the provider is a local https site.
/// </summary>
public sealed class SocialLoginTests(FederationSuite suite, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<FederationSuite>
{
    private const string ClientId = TestProvider.ClientId;

    [Fact]
    public async Task ANewPerson_SignsInWithAnOidcProvider_FromTheLoginPage_AndGetsAnAccount_ThenTheLinkSignsThemInAgain()
    {
        var setup = await suite.SetUpAsync();
        var idp = TestProvider.Start(suite.Providers, "idp-" + Guid.NewGuid().ToString("N")[..8]);
        var provider = await suite.AddProviderAsync(setup.Tenant, new { type = "oidc", name = "Acme SSO", clientId = ClientId, clientSecret = "idp-secret", issuerUrl = idp.Issuer });
        var providerId = provider.GetProperty("id").GetString()!;
        Assert.Equal($"http://localhost/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback", provider.GetProperty("callbackUrl").GetString());
        Assert.False(provider.TryGetProperty("clientSecret", out _));

        var email = $"new-{Guid.NewGuid():N}"[..12] + "@example.com";
        var first = await SignInToClientAsync(setup, idp, providerId, new() { ["sub"] = "idp-user-1", ["email"] = email, ["email_verified"] = true, ["name"] = "New Person" });
        Assert.Equal(email, first.GetClaim("email").Value);
        Assert.NotEqual(setup.UserId.ToString(), first.Subject);

        // The link, not the address, signs the person in again: the provider may report another address now.
        var again = await SignInToClientAsync(setup, idp, providerId, new() { ["sub"] = "idp-user-1", ["email"] = "renamed@example.com", ["email_verified"] = true });
        Assert.Equal(first.Subject, again.Subject);

        // A deleted user's links go with them (UserDeleted, through RabbitMQ): the account never signs in as the deleted user.
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{setup.Tenant.Api}/admin/users/{first.Subject}")).StatusCode);
        }

        var userId = Guid.Parse(first.Subject);
        for (var waited = 0; await LinkedAsync(userId); waited++)
        {
            Assert.True(waited < 300, "The deleted user's link is still there after 30 s");
            await Task.Delay(100);
        }
    }

    private async Task<bool> LinkedAsync(Guid userId)
    {
        using var scope = suite.Federation.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<LumoAuth.Federation.Data.FederationDbContext>();
        return await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.AnyAsync(
            Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.IgnoreQueryFilters(db.ExternalIdentities), i => i.UserId == userId);
    }

    [Fact]
    public async Task ASignInBegunOnTheTenantsDomain_ComesBackToTheDomain_AndOpensTheSessionThere()
    {
        var setup = await suite.SetUpAsync();
        var name = "idp-" + Guid.NewGuid().ToString("N")[..8];
        var idp = TestProvider.Start(suite.Providers, name);
        var providerId = (await suite.AddProviderAsync(setup.Tenant, new { type = "oidc", clientId = ClientId, clientSecret = "idp-secret", issuerUrl = idp.Issuer }))
            .GetProperty("id").GetString()!;
        var domain = await suite.VerifiedDomainAsync(setup.Tenant);
        var callback = $"http://{domain}/auth/social/{providerId}/callback";
        var issuer = $"http://{domain}/api/v1";

        // Federation and the token service hear of the domain by event (TenantUpdated); the provider's answer lists the
        // redirect URI to register for it.
        using (var api = suite.FederationAdmin(setup.Tenant))
        {
            await ApiAssert.EventuallyAsync(async () =>
            {
                var provider = (await HttpAssert.JsonAsync(await api.GetAsync($"{setup.Tenant.Api}/admin/social-providers/{providerId}"), HttpStatusCode.OK)).GetProperty("data");
                return provider.GetProperty("customDomainCallbackUrls").EnumerateArray().Any(u => u.GetString() == callback) ? "listed" : null;
            });
        }

        using var browser = suite.FederatedBrowser(domain);
        await ApiAssert.EventuallyAsync(async () =>
            (await browser.GetFromJsonAsync<JsonElement>("/.well-known/openid-configuration")).GetProperty("issuer").GetString() == issuer ? "ok" : null);

        var (verifier, challenge) = HostedFlow.Pkce();
        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge).Replace(setup.Tenant.Api, "/api/v1", StringComparison.Ordinal));
        using var loginPage = await browser.GetAsync(HostedFlow.LocalRedirect(authorize)!);
        var html = await loginPage.Content.ReadAsStringAsync();
        var button = System.Text.RegularExpressions.Regex.Match(html, $"href=\"([^\"]*/auth/social/{providerId}[^\"]*)\"").Groups[1].Value;
        Assert.True(button.Length > 0, html);

        // The provider is sent the domain's callback, so it sends the browser back where its binding cookie and session are.
        using var start = await browser.GetAsync(WebUtility.HtmlDecode(button));
        var query = HostedFlow.Parameters(start.Headers.Location!);
        Assert.Equal(callback, query["redirect_uri"]);
        var email = $"dom-{Guid.NewGuid():N}"[..12] + "@example.com";
        idp.AnswerCode(new() { ["sub"] = "domain-user", ["email"] = email, ["email_verified"] = true, ["nonce"] = query["nonce"] });

        // The same answer on the deployment's host finds no binding cookie there (and uses the state up).
        using (var elsewhere = suite.FederatedBrowser())
        {
            using var refused = await elsewhere.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback?code=upstream-code&state={query["state"]}");
            Assert.Contains("error=expired", refused.Headers.Location?.OriginalString, StringComparison.Ordinal);
        }

        using var again = await browser.GetAsync(WebUtility.HtmlDecode(button));
        query = HostedFlow.Parameters(again.Headers.Location!);
        idp.AnswerCode(new() { ["sub"] = "domain-user", ["email"] = email, ["email_verified"] = true, ["nonce"] = query["nonce"] });
        using var back = await browser.GetAsync(new Uri(callback + $"?code=upstream-code&state={Uri.EscapeDataString(query["state"])}").PathAndQuery);
        Assert.Contains($"redirect_uri={Uri.EscapeDataString(callback)}", suite.Providers.LastRequest($"/{name}/token")!.Body, StringComparison.Ordinal);
        using var ticket = await browser.GetAsync(HostedFlow.LocalRedirect(back)!);
        var next = HostedFlow.LocalRedirect(ticket);
        Assert.True(next is not null, await ticket.Content.ReadAsStringAsync());
        using var authorized = await browser.GetAsync(next);
        var toClient = authorized.Headers.Location;
        if (toClient is null)
        {
            using var decided = await HostedFlow.DecideConsentAsync(browser, await authorized.Content.ReadAsStringAsync(), accept: true);
            toClient = decided.Headers.Location!;
        }

        var parameters = HostedFlow.Parameters(toClient);
        Assert.Equal(issuer, parameters["iss"]);
        using var exchanged = await browser.PostAsync("/api/v1/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = parameters["code"], ["redirect_uri"] = SignInSetup.RedirectUri, ["client_id"] = setup.ClientId,
            ["code_verifier"] = verifier,
        }));
        var idToken = new JsonWebToken((await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("id_token").GetString());
        Assert.Equal(issuer, idToken.Issuer);
        Assert.Equal(email, idToken.GetClaim("email").Value);
    }

    [Fact]
    public async Task AnExistingAccount_IsLinkedOnlyByAVerifiedAddress_AndOnlyWhereTheProviderLinks()
    {
        var setup = await suite.SetUpAsync();
        var idp = TestProvider.Start(suite.Providers, "link-" + Guid.NewGuid().ToString("N")[..8]);
        var linking = (await suite.AddProviderAsync(setup.Tenant, new { type = "oidc", name = "Linking", clientId = ClientId, clientSecret = "s", issuerUrl = idp.Issuer, autoLinkUsers = true }))
            .GetProperty("id").GetString()!;
        var strict = (await suite.AddProviderAsync(setup.Tenant,
            new { type = "oidc", name = "Strict", clientId = ClientId, clientSecret = "s", issuerUrl = idp.Issuer, autoLinkUsers = false, allowSignup = false }))
            .GetProperty("id").GetString()!;

        // An unverified address never opens someone's account.
        await FailsAsync(setup, idp, linking, new() { ["sub"] = "u-unverified", ["email"] = setup.Email, ["email_verified"] = false }, "account_exists");
        // A provider that does not link refuses the address of an existing account; one that does not sign up, a new one.
        await FailsAsync(setup, idp, strict, new() { ["sub"] = "u-strict", ["email"] = setup.Email, ["email_verified"] = true }, "account_exists");
        await FailsAsync(setup, idp, strict, new() { ["sub"] = "u-nobody", ["email"] = "nobody-" + Guid.NewGuid().ToString("N")[..6] + "@example.com", ["email_verified"] = true }, "signup_disabled");
        await FailsAsync(setup, idp, linking, new() { ["sub"] = "u-no-email" }, "email_required");
        // Nor is an account made with an address the provider did not verify (it would be the provider account's for good).
        await FailsAsync(setup, idp, linking, new() { ["sub"] = "u-new-unverified", ["email"] = "unproven-" + Guid.NewGuid().ToString("N")[..6] + "@example.com", ["email_verified"] = false }, "email_unverified");

        // An account someone registered without proving its address is never linked: it may not be the provider's person's
        // (its password and factors would stay with whoever registered it).
        var squatted = $"squat-{Guid.NewGuid():N}"[..14] + "@example.com";
        var squatter = await suite.Admin.CreateUserAsync(setup.Tenant, squatted, "Sq4tter-Password!", "Squatter");
        using (var scope = suite.Admin.Services.CreateScope())
        {
            var admin = scope.ServiceProvider.GetRequiredService<LumoAuth.Admin.Data.AdminDbContext>();
            await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.ExecuteUpdateAsync(
                Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.IgnoreQueryFilters(admin.Users).Where(u => u.Id == squatter),
                u => u.SetProperty(x => x.SelfRegisteredUnproven, true));
        }

        await FailsAsync(setup, idp, linking, new() { ["sub"] = "u-victim", ["email"] = squatted, ["email_verified"] = true }, "account_exists");

        // A verified address of the account, at a provider that links: the account signs in.
        var linked = await SignInToClientAsync(setup, idp, linking, new() { ["sub"] = "u-alice", ["email"] = setup.Email.ToUpperInvariant(), ["email_verified"] = true });
        Assert.Equal(setup.UserId.ToString(), linked.Subject);
    }

    [Fact]
    public async Task TheProvidersAnswer_IsBelievedOnlyWhenItHoldsUp_AndOnlyInTheBrowserThatBegan()
    {
        var setup = await suite.SetUpAsync();
        var idp = TestProvider.Start(suite.Providers, "sec-" + Guid.NewGuid().ToString("N")[..8]);
        var providerId = (await suite.AddProviderAsync(setup.Tenant, new { type = "oidc", clientId = ClientId, clientSecret = "s", issuerUrl = idp.Issuer, autoLinkUsers = true }))
            .GetProperty("id").GetString()!;
        var claims = new Dictionary<string, object> { ["sub"] = "u-sec", ["email"] = setup.Email, ["email_verified"] = true };

        // A token for another sign-in (its nonce), for another client, or signed by a key the issuer never published.
        await FailsAsync(setup, idp, providerId, claims, "provider_error", nonce: "someone-elses-nonce");
        await FailsAsync(setup, idp, providerId, new(claims) { ["aud"] = "another-client" }, "provider_error");
        await FailsAsync(setup, idp, providerId, claims, "provider_error", signer: TestProvider.Unpublished(idp.Issuer));
        await FailsAsync(setup, idp, providerId, new(claims) { ["exp"] = DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeSeconds() }, "provider_error");

        // The person cancels at the provider.
        using (var browser = suite.FederatedBrowser())
        {
            var (state, _, _) = await StartAsync(browser, setup, providerId, returnUrl: null);
            using var cancelled = await browser.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback?error=access_denied&state={state}");
            await AssertLandsOnErrorAsync(browser, cancelled, "cancelled");
        }

        // A callback in another browser (no binding cookie), a replayed callback, a replayed ticket.
        using (var browser = suite.FederatedBrowser())
        {
            var (state, nonce, _) = await StartAsync(browser, setup, providerId, returnUrl: null);
            idp.AnswerCode(new(claims) { ["nonce"] = nonce });
            using (var elsewhere = suite.FederatedBrowser())
            {
                using var stolen = await elsewhere.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback?code=c&state={state}");
                await AssertLandsOnErrorAsync(elsewhere, stolen, "expired");
            }

            // The state was spent by the attempt above: the right browser cannot use it either.
            using var replayed = await browser.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback?code=c&state={state}");
            await AssertLandsOnErrorAsync(browser, replayed, "expired");
        }

        using (var browser = suite.FederatedBrowser())
        {
            var (state, nonce, _) = await StartAsync(browser, setup, providerId, returnUrl: null);
            idp.AnswerCode(new(claims) { ["nonce"] = nonce });
            using var callback = await browser.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback?code=c&state={state}");
            var ticketUrl = HostedFlow.LocalRedirect(callback)!;
            Assert.Contains("/login/external?ticket=", ticketUrl, StringComparison.Ordinal);
            // A ticket that leaked opens nothing in another browser (and is spent by the try).
            using (var elsewhere = suite.FederatedBrowser())
            {
                using var stolen = await elsewhere.GetAsync(ticketUrl);
                Assert.Equal(HttpStatusCode.BadRequest, stolen.StatusCode);
                Assert.DoesNotContain("You are signed in", await stolen.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }
        }

        using (var browser = suite.FederatedBrowser())
        {
            var (state, nonce, _) = await StartAsync(browser, setup, providerId, returnUrl: null);
            idp.AnswerCode(new(claims) { ["nonce"] = nonce });
            using var callback = await browser.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback?code=c&state={state}");
            var ticketUrl = HostedFlow.LocalRedirect(callback)!;
            using var signedIn = await browser.GetAsync(ticketUrl);
            Assert.Contains("You are signed in", await signedIn.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            using var replayedTicket = await browser.GetAsync(ticketUrl);
            Assert.Equal(HttpStatusCode.BadRequest, replayedTicket.StatusCode);
            // Another tenant's ticket page knows nothing of it.
            var other = await suite.Admin.CreateTenantAsync();
            using var foreign = await browser.GetAsync(ticketUrl.Replace($"/t/{setup.Tenant.Slug}/", $"/t/{other.Slug}/", StringComparison.Ordinal));
            Assert.Equal(HttpStatusCode.BadRequest, foreign.StatusCode);
        }

        // A disabled provider is neither offered nor started.
        using (var admin = suite.FederationAdmin(setup.Tenant))
        {
            await HttpAssert.JsonAsync(await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/social-providers/{providerId}", new { isEnabled = false }), HttpStatusCode.OK);
        }

        using (var browser = suite.FederatedBrowser())
        {
            using var start = await browser.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}");
            await AssertLandsOnErrorAsync(browser, start, "provider_disabled");
        }
    }

    [Fact]
    public async Task AUserWithASecondFactor_GivesItAfterTheProvider_BeforeTheSessionOpens()
    {
        var setup = await suite.SetUpAsync();
        var totp = await suite.EnrolTotpAsync(setup);
        var idp = TestProvider.Start(suite.Providers, "mfa-" + Guid.NewGuid().ToString("N")[..8]);
        var providerId = (await suite.AddProviderAsync(setup.Tenant, new { type = "oidc", clientId = ClientId, clientSecret = "s", issuerUrl = idp.Issuer, autoLinkUsers = true }))
            .GetProperty("id").GetString()!;
        using var browser = suite.FederatedBrowser();
        var (_, challenge) = HostedFlow.Pkce();
        var authorize = HostedFlow.AuthorizeUrl(setup, challenge);
        var (state, nonce, _) = await StartAsync(browser, setup, providerId, returnUrl: authorize[authorize.IndexOf("/t/", StringComparison.Ordinal)..]);
        idp.AnswerCode(new() { ["sub"] = "u-mfa", ["email"] = setup.Email, ["email_verified"] = true, ["nonce"] = nonce });
        using var callback = await browser.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback?code=c&state={state}");
        using var codePage = await browser.GetAsync(HostedFlow.LocalRedirect(callback)!);
        var html = await codePage.Content.ReadAsStringAsync();
        Assert.True(codePage.StatusCode == HttpStatusCode.OK, html);
        Assert.Contains("name=\"totp\"", html, StringComparison.Ordinal);

        // (The enrolment used the current code; the next window's is still good, as for the password sign-in's tests.)
        using (var wrong = await HostedFlow.SubmitFormAsync(browser, html, new() { ["totp"] = totp.ComputeTotp(DateTime.UtcNow) == "000000" ? "111111" : "000000" }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            html = await wrong.Content.ReadAsStringAsync();
        }

        using var right = await HostedFlow.SubmitFormAsync(browser, html, new() { ["totp"] = totp.ComputeTotp(DateTime.UtcNow.AddSeconds(30)) });
        // A redirect after a POST is 303 (SeeOtherRedirects), back to the authorization request.
        Assert.True(right.StatusCode == HttpStatusCode.SeeOther, $"{right.StatusCode}: {await right.Content.ReadAsStringAsync()}");
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/api/v1/oauth/authorize", HostedFlow.LocalRedirect(right), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GitHub_SignsInWithItsApisVerifiedPrimaryAddress()
    {
        var setup = await suite.SetUpAsync();
        var providerId = (await suite.AddProviderAsync(setup.Tenant, new { type = "github", clientId = "gh-client", clientSecret = "gh-secret" })).GetProperty("id").GetString()!;
        var email = $"octo-{Guid.NewGuid():N}"[..13] + "@example.com";
        suite.Providers.Serve("/github/login/oauth/access_token", new SiteAnswer(JsonSerializer.Serialize(new { access_token = "gho_test", token_type = "bearer", scope = "read:user,user:email" })));
        suite.Providers.Serve("/github/api/user", new SiteAnswer(JsonSerializer.Serialize(new { id = 4242, login = "octocat", name = "Octo Cat" })));
        suite.Providers.Serve("/github/api/user/emails", new SiteAnswer(JsonSerializer.Serialize(new object[]
        {
            new { email = "unverified@example.com", primary = false, verified = false },
            new { email, primary = true, verified = true },
        })));

        using var browser = suite.FederatedBrowser();
        var (state, _, authorizeQuery) = await StartAsync(browser, setup, providerId, returnUrl: null);
        Assert.StartsWith(suite.Providers.Origin + "/github/login/oauth/authorize", authorizeQuery.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal("read:user user:email", HostedFlow.Parameters(authorizeQuery)["scope"]);
        using var callback = await browser.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback?code=c&state={state}");
        using var signedIn = await browser.GetAsync(HostedFlow.LocalRedirect(callback)!);
        Assert.Contains("You are signed in", await signedIn.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The account was made with GitHub's verified address and name.
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var users = await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users?search={Uri.EscapeDataString(email)}"), HttpStatusCode.OK);
        var user = users.GetProperty("data").EnumerateArray().Single();
        Assert.Equal("Octo Cat", user.GetProperty("name").GetString());
        Assert.True(user.GetProperty("emailVerified").GetBoolean());
    }

    [Fact]
    public async Task TheAdminApi_KeepsProvidersPerTenant_ChecksThem_AndNeverShowsTheirSecrets()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.FederationAdmin(tenant);
        var api = $"{tenant.Api}/admin/social-providers";

        async Task InvalidAsync(object body, string field)
        {
            using var response = await admin.PostAsJsonAsync(api, body);
            var error = await ApiAssert.ErrorAsync(response, 400, "validation_error");
            Assert.Contains(field, error.ToJsonString(), StringComparison.Ordinal);
        }

        await InvalidAsync(new { clientId = "c", clientSecret = "s" }, "type");
        await InvalidAsync(new { type = "saml", clientId = "c", clientSecret = "s" }, "type");
        await InvalidAsync(new { type = "myspace", clientId = "c", clientSecret = "s" }, "type");
        await InvalidAsync(new { type = "google", clientSecret = "s" }, "clientId");
        await InvalidAsync(new { type = "google", clientId = "c" }, "clientSecret");
        await InvalidAsync(new { type = "oidc", clientId = "c", clientSecret = "s" }, "issuerUrl");
        await InvalidAsync(new { type = "oidc", clientId = "c", clientSecret = "s", issuerUrl = "http://idp.example.com" }, "issuerUrl");
        await InvalidAsync(new { type = "google", clientId = "c", clientSecret = "s", issuerUrl = "https://accounts.example.com" }, "issuerUrl");
        await InvalidAsync(new { type = "microsoft", clientId = "c", clientSecret = "s", issuerUrl = "https://login.example.com/x/v2.0" }, "issuerUrl");
        await InvalidAsync(new { type = "google", clientId = "c", clientSecret = "s", scopes = new[] { "bad scope" } }, "scopes");

        using var created = await admin.PostAsJsonAsync(api, new { type = "google", clientId = "google-client", clientSecret = "google-secret", scopes = new[] { "email" } });
        var google = (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data");
        Assert.Equal("Google", google.GetProperty("name").GetString());
        Assert.Equal("https://accounts.google.com", google.GetProperty("issuerUrl").GetString());
        // OpenID Connect is asked for whatever the tenant listed: without openid there is no ID token to check.
        Assert.Equal(["openid", "email"], google.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.DoesNotContain("google-secret", google.GetRawText(), StringComparison.Ordinal);
        var id = google.GetProperty("id").GetString();
        using (var duplicate = await admin.PostAsJsonAsync(api, new { type = "google", clientId = "x", clientSecret = "y" }))
        {
            await ApiAssert.ErrorAsync(duplicate, 409, "duplicate_resource");
        }

        using (var retyped = await admin.PutAsJsonAsync($"{api}/{id}", new { type = "github" }))
        {
            await ApiAssert.ErrorAsync(retyped, 400, "validation_error");
        }

        using (var renamed = await admin.PutAsJsonAsync($"{api}/{id}", new { name = "Google Workspace", allowSignup = false, clientSecret = "rotated" }))
        {
            var data = (await HttpAssert.JsonAsync(renamed, HttpStatusCode.OK)).GetProperty("data");
            Assert.False(data.GetProperty("allowSignup").GetBoolean());
            Assert.DoesNotContain("rotated", data.GetRawText(), StringComparison.Ordinal);
        }

        var list = await HttpAssert.JsonAsync(await admin.GetAsync(api), HttpStatusCode.OK);
        Assert.Equal("Google Workspace", list.GetProperty("data").EnumerateArray().Single().GetProperty("name").GetString());

        // Another tenant's administrator sees nothing of it; a key that may only manage users changes nothing.
        var other = await suite.Admin.CreateTenantAsync();
        using (var foreign = suite.FederationAdmin(other))
        {
            await ApiAssert.ErrorAsync(await foreign.GetAsync($"{other.Api}/admin/social-providers/{id}"), 404, "resource_not_found");
            Assert.Empty((await HttpAssert.JsonAsync(await foreign.GetAsync($"{other.Api}/admin/social-providers"), HttpStatusCode.OK)).GetProperty("data").EnumerateArray());
        }

        using var keys = suite.Admin.ClientFor(tenant);
        var usersKey = (await ApiAssert.OkAsync(await keys.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = "users only", scopes = new[] { "admin:users" } }), 201))["data"]!["key"]!.GetValue<string>();
        using (var limited = suite.Federation.CreateClient())
        {
            limited.DefaultRequestHeaders.Add("X-API-Key", usersKey);
            await ApiAssert.ErrorAsync(await limited.PostAsJsonAsync(api, new { type = "github", clientId = "c", clientSecret = "s" }), 403, "insufficient_scope");
        }

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{api}/{id}")).StatusCode);
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{api}/{id}"), 404, "resource_not_found");
    }

    [Fact]
    public async Task TheAccountPage_ListsLinkedAccounts_AndUnlinksOneOnlyWhileAnotherWayToSignInRemains()
    {
        var setup = await suite.SetUpAsync();
        var idp = TestProvider.Start(suite.Providers, "acct-" + Guid.NewGuid().ToString("N")[..8]);
        var providerId = (await suite.AddProviderAsync(setup.Tenant, new { type = "oidc", name = "Acme SSO", clientId = ClientId, clientSecret = "s", issuerUrl = idp.Issuer, autoLinkUsers = true }))
            .GetProperty("id").GetString()!;
        var page = $"/t/{setup.Tenant.Slug}/account/linked-accounts";

        // Someone whose only way in is the provider keeps it.
        using (var browser = suite.FederatedBrowser())
        {
            await SignInWithProviderAsync(browser, setup, idp, providerId, new() { ["sub"] = "only-way", ["email"] = $"only-{Guid.NewGuid():N}"[..13] + "@example.com", ["email_verified"] = true });
            var html = await browser.GetStringAsync(page);
            Assert.Contains("Acme SSO", html, StringComparison.Ordinal);
            using var refused = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(html, "name=\"link\""));
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Contains("only way you sign in", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Someone with a password unlinks it; signing in with it again is a first sign-in (which links anew here).
        using (var browser = suite.FederatedBrowser())
        {
            await SignInWithProviderAsync(browser, setup, idp, providerId, new() { ["sub"] = "alice-at-acme", ["email"] = setup.Email, ["email_verified"] = true });
            var html = await browser.GetStringAsync(page);
            using var unlinked = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(html, "name=\"link\""));
            Assert.True(unlinked.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.SeeOther, await unlinked.Content.ReadAsStringAsync());
            Assert.Contains("No outside accounts are linked", await browser.GetStringAsync(page), StringComparison.Ordinal);
            Assert.Equal(setup.UserId.ToString(), (await suite.AuditEntryAsync(setup, "external_account_unlinked")).GetProperty("actor").GetProperty("id").GetString());
            // A forged link id (someone else's, or none) changes nothing.
            using var forged = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(html, "name=\"link\""), new() { ["link"] = Guid.NewGuid().ToString() });
            Assert.Equal(HttpStatusCode.Conflict, forged.StatusCode);
        }

        // Signed out, the page sends the browser to sign in first.
        using var anonymous = suite.FederatedBrowser();
        using var toSignIn = await anonymous.GetAsync(page);
        Assert.Contains("/login?returnUrl=", HostedFlow.LocalRedirect(toSignIn), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASignedInUser_LinksOneMoreAccount_FromTheAccountPage_OnlyInTheirOwnBrowser_AndNeverAnotherUsersAccount()
    {
        var setup = await suite.SetUpAsync();
        var idp = TestProvider.Start(suite.Providers, "link-" + Guid.NewGuid().ToString("N")[..8]);
        var providerId = (await suite.AddProviderAsync(setup.Tenant, new { type = "oidc", name = "Acme SSO", clientId = ClientId, clientSecret = "s", issuerUrl = idp.Issuer }))
            .GetProperty("id").GetString()!;
        var page = $"/t/{setup.Tenant.Slug}/account/linked-accounts";
        var account = new Dictionary<string, object> { ["sub"] = "acme-" + Guid.NewGuid().ToString("N")[..8], ["email"] = "someone-else@example.com", ["email_verified"] = true };

        async Task<string> LinkStartAsync(HttpClient browser)
        {
            var html = await browser.GetStringAsync(page);
            Assert.Contains("Link another account", html, StringComparison.Ordinal);
            // The form answers with the way on (a link), not a redirect the form's own navigation could not follow off-site.
            using var submitted = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(html, $"value=\"{providerId}\""));
            var answer = await submitted.Content.ReadAsStringAsync();
            Assert.True(submitted.StatusCode == HttpStatusCode.OK, answer);
            var start = WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(answer, "id=\"continue\" href=\"([^\"]+)\"").Groups[1].Value);
            Assert.StartsWith($"/t/{setup.Tenant.Slug}/auth/social/{providerId}?link=", start, StringComparison.Ordinal);
            return start;
        }

        async Task<string?> FinishAsync(HttpClient browser, string start)
        {
            using var toProvider = await browser.GetAsync(start);
            if (toProvider.StatusCode != HttpStatusCode.Redirect || toProvider.Headers.Location!.IsAbsoluteUri == false)
            {
                return HostedFlow.LocalRedirect(toProvider);
            }

            var query = QueryHelpers.ParseQuery(toProvider.Headers.Location!.Query);
            Assert.Equal("select_account", query["prompt"].ToString());
            idp.AnswerCode(new(account) { ["nonce"] = query["nonce"].ToString() });
            using var callback = await browser.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback?code=c&state={query["state"]}");
            return HostedFlow.LocalRedirect(callback);
        }

        // Alice, signed in with her password, links the account: it is hers whatever address it carries.
        using var alice = suite.FederatedBrowser();
        await HostedFlow.OpenSignedInAsync(alice, setup, page);

        // A start carried to another browser (not signed in, or signed in as someone else) links nothing.
        var stolen = await LinkStartAsync(alice);
        using (var stranger = suite.FederatedBrowser())
        {
            Assert.Equal($"{page}?error=expired", await FinishAsync(stranger, stolen));
        }

        Assert.Equal($"{page}?error=expired", await FinishAsync(alice, stolen));
        Assert.Equal($"{page}?linked=1", await FinishAsync(alice, await LinkStartAsync(alice)));
        var html = await alice.GetStringAsync(page + "?linked=1");
        Assert.Contains("The account is linked to yours.", html, StringComparison.Ordinal);
        Assert.Contains("someone-else@example.com", html, StringComparison.Ordinal);
        var audited = await suite.AuditEntryAsync(setup, "external_account_linked");
        Assert.Equal("authentication", audited.GetProperty("category").GetString());
        Assert.Equal(setup.UserId.ToString(), audited.GetProperty("actor").GetProperty("id").GetString());
        Assert.Equal("account_page", audited.GetProperty("metadata").GetProperty("how").GetString());

        // The account now signs Alice in.
        using (var again = suite.FederatedBrowser())
        {
            await SignInWithProviderAsync(again, setup, idp, providerId, account);
            Assert.Contains("someone-else@example.com", await again.GetStringAsync(page), StringComparison.Ordinal);
        }

        // Bob cannot take it over by linking it to himself.
        var bobEmail = $"bob-{Guid.NewGuid():N}"[..12] + "@example.com";
        await suite.Admin.CreateUserAsync(setup.Tenant, bobEmail, setup.Password, "Bob");
        using var bob = suite.FederatedBrowser();
        await HostedFlow.OpenSignedInAsync(bob, setup with { Email = bobEmail }, page);

        Assert.Equal($"{page}?error=linked_elsewhere", await FinishAsync(bob, await LinkStartAsync(bob)));
        Assert.Contains("already signs in another user", await bob.GetStringAsync(page + "?error=linked_elsewhere"), StringComparison.Ordinal);
        Assert.Contains("No outside accounts are linked", await bob.GetStringAsync(page), StringComparison.Ordinal);
    }

    /// <summary>Signs the browser in through the provider (no authorization request): it holds a session afterwards.</summary>
    private static async Task SignInWithProviderAsync(HttpClient browser, SignInSetup setup, TestProvider idp, string providerId, Dictionary<string, object> claims)
    {
        var (state, nonce, _) = await StartAsync(browser, setup, providerId, returnUrl: null);
        idp.AnswerCode(new(claims) { ["nonce"] = nonce });
        using var callback = await browser.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback?code=c&state={state}");
        using var landed = await browser.GetAsync(HostedFlow.LocalRedirect(callback)!);
        Assert.Contains("You are signed in", await landed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryPublicEndpointOfFederation_AnswersBadInput_WithDocumentedErrors()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        // Redirects are not followed: the sign-in pages send the browser on to the token service, behind another gateway here.
        var walk = new BadInputWalk(
            suite.Federation.Services, () => suite.Federation.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false }),
            name => name == "tenantSlug" ? tenant.Slug : null)
        {
            Include = pattern => pattern.StartsWith("/t/", StringComparison.Ordinal),
            Headers = new Dictionary<string, string> { ["X-API-Key"] = tenant.ApiKey },
            Log = output.WriteLine,
        };

        await walk.AssertEveryAnswerIsCleanAsync(atLeast: 100);
    }

    /// <summary>Authorize → login page (its provider button) → provider → callback → ticket → consent → code → tokens: the ID token.</summary>
    private async Task<JsonWebToken> SignInToClientAsync(SignInSetup setup, TestProvider idp, string providerId, Dictionary<string, object> claims)
    {
        using var browser = suite.FederatedBrowser();
        var (verifier, challenge) = HostedFlow.Pkce();
        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge));
        var login = HostedFlow.LocalRedirect(authorize)!;
        using var loginPage = await browser.GetAsync(login);
        var html = await loginPage.Content.ReadAsStringAsync();
        var button = System.Text.RegularExpressions.Regex.Match(html, $"href=\"(/t/{setup.Tenant.Slug}/auth/social/{providerId}[^\"]*)\"").Groups[1].Value;
        Assert.True(button.Length > 0, html);

        using var start = await browser.GetAsync(WebUtility.HtmlDecode(button));
        var toProvider = start.Headers.Location!;
        var query = HostedFlow.Parameters(toProvider);
        Assert.StartsWith(idp.Issuer + "/authorize", toProvider.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal(ClientId, query["client_id"]);
        Assert.Equal($"http://localhost/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback", query["redirect_uri"]);
        Assert.Equal("S256", query["code_challenge_method"]);
        Assert.Contains("openid", query["scope"], StringComparison.Ordinal);
        idp.AnswerCode(new(claims) { ["nonce"] = query["nonce"] });

        using var callback = await browser.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback?code=upstream-code&state={query["state"]}");
        using var ticket = await browser.GetAsync(HostedFlow.LocalRedirect(callback)!);
        var back = HostedFlow.LocalRedirect(ticket);
        Assert.True(back is not null, await ticket.Content.ReadAsStringAsync());
        using var authorized = await browser.GetAsync(back);
        // Consent is asked the first time; remembered after.
        var toClient = authorized.Headers.Location;
        if (toClient is null)
        {
            using var decided = await HostedFlow.DecideConsentAsync(browser, await authorized.Content.ReadAsStringAsync(), accept: true);
            toClient = decided.Headers.Location!;
        }

        var code = HostedFlow.Parameters(toClient)["code"];
        using var http = suite.Token.CreateClient();
        using var exchanged = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri, ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));
        return new JsonWebToken((await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("id_token").GetString());
    }

    /// <summary>The sign-in with the provider ends on the token service's error page with <paramref name="reason"/>.</summary>
    private async Task FailsAsync(SignInSetup setup, TestProvider idp, string providerId, Dictionary<string, object> claims, string reason, string? nonce = null, TestProvider? signer = null)
    {
        using var browser = suite.FederatedBrowser();
        var (state, expectedNonce, _) = await StartAsync(browser, setup, providerId, returnUrl: null);
        idp.AnswerCode(new(claims) { ["nonce"] = nonce ?? expectedNonce }, signer);
        using var callback = await browser.GetAsync($"/t/{setup.Tenant.Slug}/auth/social/{providerId}/callback?code=c&state={state}");
        await AssertLandsOnErrorAsync(browser, callback, reason);
    }

    private static async Task AssertLandsOnErrorAsync(HttpClient browser, HttpResponseMessage redirect, string reason)
    {
        var location = HostedFlow.LocalRedirect(redirect);
        Assert.True(location is not null, $"{redirect.StatusCode}: {await redirect.Content.ReadAsStringAsync()}");
        Assert.Contains($"/login/external?error={reason}", location, StringComparison.Ordinal);
        using var page = await browser.GetAsync(location);
        Assert.Contains($"data-error=\"{reason}\"", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>Begins a sign-in with the provider: the state and nonce it sent the browser with, and where.</summary>
    private static async Task<(string State, string Nonce, Uri Authorize)> StartAsync(HttpClient browser, SignInSetup setup, string providerId, string? returnUrl)
    {
        var path = $"/t/{setup.Tenant.Slug}/auth/social/{providerId}" + (returnUrl is null ? string.Empty : "?returnUrl=" + Uri.EscapeDataString(returnUrl));
        using var start = await browser.GetAsync(path);
        Assert.True(start.StatusCode == HttpStatusCode.Redirect, await start.Content.ReadAsStringAsync());
        var location = start.Headers.Location!;
        var query = QueryHelpers.ParseQuery(location.Query);
        return (query["state"].ToString(), query.TryGetValue("nonce", out var nonce) ? nonce.ToString() : string.Empty, location);
    }
}
