using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Sign-in with the tenant's LDAP directory (FEATURES "LDAP bind login JIT-provision users"): the login page offers the
/// directory; its form takes the directory name and password; federation searches with the service account, binds as the
/// entry, and links the entry to a user it finds or makes from the entry's attributes — against the real OpenLDAP server
/// eng/infra.sh runs (LDAPS and StartTLS with a test CA), through the gateway, with admin, token, PostgreSQL, Redis and
/// RabbitMQ real.
/// </summary>
[RunsLong(65)]
public sealed class LdapLoginTests(FederationSuite suite) : IClassFixture<FederationSuite>
{
    private const string Password = "Directory-Pässwörd-55!"; // not ASCII: the bind sends UTF-8

    [Fact]
    public async Task APersonSignsInWithTheDirectory_FromTheLoginPage_GetsAnAccountFromTheirEntry_AndTheLinkSignsThemInAgain()
    {
        var setup = await suite.SetUpAsync();
        var uid = Uid();
        var email = $"{uid}@corp.example.com";
        var dn = TestDirectory.AddPerson(uid, Password, mail: email, givenName: "Ada", surname: "Lovelace", displayName: "Ada Lovelace", phone: "+44 20 7946 0000");
        var provider = await AddDirectoryAsync(setup.Tenant, new { name = "Corporate directory" });
        var id = provider.GetProperty("id").GetString()!;
        Assert.Equal($"/t/{setup.Tenant.Slug}/login/ldap/{id}", provider.GetProperty("loginUrl").GetString());
        Assert.True(provider.GetProperty("hasBindPassword").GetBoolean());
        Assert.False(provider.TryGetProperty("bindPassword", out _));

        var first = await SignInToClientAsync(setup, id, uid, Password);
        Assert.Equal(email, first.GetClaim("email").Value);
        Assert.NotEqual(setup.UserId.ToString(), first.Subject);
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            var user = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{first.Subject}"), HttpStatusCode.OK)).GetProperty("data");
            Assert.Equal("Ada", user.GetProperty("givenName").GetString());
            Assert.Equal("Lovelace", user.GetProperty("familyName").GetString());
            Assert.Equal("+44 20 7946 0000", user.GetProperty("phoneNumber").GetString());
            Assert.True(user.GetProperty("emailVerified").GetBoolean());
            Assert.Equal(uid, user.GetProperty("username").GetString());
        }

        // The entry's lasting id (entryUUID), not its address, signs the person in again.
        TestDirectory.Replace(dn, "mail", $"renamed-{uid}@corp.example.com");
        var again = await SignInToClientAsync(setup, id, uid, Password);
        Assert.Equal(first.Subject, again.Subject);
    }

    [Fact]
    public async Task AWrongPassword_AnUnknownName_OrAFilterInTheName_SignNobodyIn_AndCountAsFailedSignIns()
    {
        var setup = await suite.SetUpAsync();
        var uid = Uid();
        TestDirectory.AddPerson(uid, Password, mail: $"{uid}@corp.example.com");
        var id = (await AddDirectoryAsync(setup.Tenant, new { startTls = true, useTls = false, port = TestDirectory.Port })).GetProperty("id").GetString()!;
        using var browser = suite.FederatedBrowser();
        // The right password with a NUL after it (cut short at the NUL it would be right): the form is refused whole.
        using (var nul = await SubmitAsync(browser, setup, id, uid, Password + "\0x"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, nul.StatusCode);
        }

        var attempts = new[] { (uid, "not-the-password"), ("nobody-" + uid, Password), ("*", Password), ($"{uid})(uid=*", Password), (uid, " ") }
            .Concat(Enumerable.Range(0, LumoAuth.ServiceDefaults.Security.FailedSignInThrottle.FreeFailures - 5).Select(i => (uid, $"guess-{i}")));
        foreach (var (name, password) in attempts)
        {
            using var refused = await SubmitAsync(browser, setup, id, name, password);
            var html = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.Unauthorized, $"{name}: {refused.StatusCode} {html}");
            Assert.Contains("The username or password is incorrect.", html, StringComparison.Ordinal);
        }

        // The address's failures are counted as at the password form: past the free ones, the next try waits. The account's
        // are counted too (its name's failures from any address), so spreading guesses over addresses does not help.
        using var waiting = await SubmitAsync(browser, setup, id, uid, Password);
        Assert.Equal(HttpStatusCode.TooManyRequests, waiting.StatusCode);
        Assert.NotNull(waiting.Headers.RetryAfter);
        var redis = suite.Token.Services.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>().GetDatabase();
        var accountKey = LumoAuth.ServiceDefaults.Security.FailedSignInThrottle.KeyFor(
            setup.Tenant.Id, $"ldap:{Guid.Parse(id):N}:{LumoAuth.Contracts.Internal.LoginTicket.HashOf(uid.ToLowerInvariant())[..32]}");
        Assert.Equal(LumoAuth.ServiceDefaults.Security.FailedSignInThrottle.FreeFailures - 3, (int)await redis.HashGetAsync(accountKey, "n"));
    }

    [Fact]
    public async Task ADirectoryNameSomeoneHereSignsInBy_IsNotGivenAsAUsername_AndTheAccountIsStillMade()
    {
        var setup = await suite.SetUpAsync();
        var uid = Uid();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            using var taken = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/users", new { email = $"local-{uid}@example.com", username = uid.ToUpperInvariant() });
            Assert.Equal(HttpStatusCode.Created, taken.StatusCode);
        }

        TestDirectory.AddPerson(uid, Password, mail: $"{uid}@corp.example.com");
        var id = (await AddDirectoryAsync(setup.Tenant, new { name = "Corporate directory" })).GetProperty("id").GetString()!;
        var token = await SignInToClientAsync(setup, id, uid, Password);
        using var users = suite.Admin.ClientFor(setup.Tenant);
        var user = (await HttpAssert.JsonAsync(await users.GetAsync($"{setup.Tenant.Api}/admin/users/{token.Subject}"), HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal($"{uid}@corp.example.com", user.GetProperty("email").GetString());
        Assert.True(user.GetProperty("username").ValueKind == JsonValueKind.Null, user.GetRawText());
    }

    [Fact]
    public async Task NoAccountIsMade_WhereTheDirectoryMayNotMakeOne_NorTakenOver_WhereItMayNotLink()
    {
        var setup = await suite.SetUpAsync();
        var newcomer = Uid();
        TestDirectory.AddPerson(newcomer, Password, mail: $"{newcomer}@corp.example.com");
        var sameAddress = Uid();
        TestDirectory.AddPerson(sameAddress, Password, mail: setup.Email);
        var id = (await AddDirectoryAsync(setup.Tenant, new { allowSignup = false })).GetProperty("id").GetString()!;
        using var browser = suite.FederatedBrowser();

        using (var noSignup = await SubmitAsync(browser, setup, id, newcomer, Password))
        {
            Assert.Equal(HttpStatusCode.Forbidden, noSignup.StatusCode);
            Assert.Contains("new accounts cannot be made this way", await noSignup.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // An account with the entry's address exists: linked only when the directory links automatically.
        using (var exists = await SubmitAsync(browser, setup, id, sameAddress, Password))
        {
            Assert.Equal(HttpStatusCode.Conflict, exists.StatusCode);
        }

        using (var api = suite.FederationAdmin(setup.Tenant))
        {
            Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/ldap-providers/{id}", new { autoLinkUsers = true })).StatusCode);
        }

        using var linked = await SubmitAsync(suite.FederatedBrowser(), setup, id, sameAddress, Password);
        Assert.True(linked.StatusCode == HttpStatusCode.OK, await linked.Content.ReadAsStringAsync());
        Assert.Contains("You are signed in", await linked.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnreachableOrMisconfiguredDirectory_Is503_AndCountsNoFailure_ADisabledOneIsNotOffered()
    {
        var setup = await suite.SetUpAsync();
        var uid = Uid();
        TestDirectory.AddPerson(uid, Password, mail: $"{uid}@corp.example.com");
        var closed = (await AddDirectoryAsync(setup.Tenant, new { name = "Closed", port = LoopbackPortNobodyListensOn() })).GetProperty("id").GetString()!;
        var wrongAccount = (await AddDirectoryAsync(setup.Tenant, new { name = "Wrong account", bindPassword = "not-the-root-password" })).GetProperty("id").GetString()!;
        using var browser = suite.FederatedBrowser();
        for (var i = 0; i < 6; i++)
        {
            using var unreachable = await SubmitAsync(browser, setup, i % 2 == 0 ? closed : wrongAccount, uid, Password);
            Assert.True(unreachable.StatusCode == HttpStatusCode.ServiceUnavailable, await unreachable.Content.ReadAsStringAsync());
        }

        // The administrator's test of the settings says what a sign-in only logs.
        using (var api = suite.FederationAdmin(setup.Tenant))
        {
            var url = $"{setup.Tenant.Api}/admin/ldap-providers";
            var unreachable = (await HttpAssert.JsonAsync(await api.PostAsync($"{url}/{closed}/test", null), HttpStatusCode.OK)).GetProperty("data");
            Assert.False(unreachable.GetProperty("ok").GetBoolean());
            Assert.Contains("cannot be reached", unreachable.GetProperty("problem").GetString(), StringComparison.Ordinal);
            var refused = (await HttpAssert.JsonAsync(await api.PostAsync($"{url}/{wrongAccount}/test", null), HttpStatusCode.OK)).GetProperty("data");
            Assert.Equal("the directory refused the service account's credentials", refused.GetProperty("problem").GetString());
            Assert.Equal(HttpStatusCode.NotFound, (await api.PostAsync($"{url}/{Guid.NewGuid()}/test", null)).StatusCode);
        }

        var working = (await AddDirectoryAsync(setup.Tenant, new { name = "Working", isEnabled = false })).GetProperty("id").GetString()!;
        using (var page = await browser.GetAsync($"/t/{setup.Tenant.Slug}/login/ldap/{working}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
        }

        using (var api = suite.FederationAdmin(setup.Tenant))
        {
            Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/ldap-providers/{working}", new { isEnabled = true })).StatusCode);
        }

        // Six answers of an unreachable directory counted nothing against the address; the login page lists the directory once
        // its cache of the providers (half a minute) has it.
        EvictProviders(setup.Tenant.Id);
        using var signedIn = await SubmitAsync(browser, setup, working, uid, Password);
        Assert.True(signedIn.StatusCode == HttpStatusCode.OK, await signedIn.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task TheAdminApi_ChecksDirectories_KeepsThemPerTenant_AndNeverShowsTheServiceAccountsPassword()
    {
        var setup = await suite.SetUpAsync();
        var other = await suite.SetUpAsync();
        using var api = suite.FederationAdmin(setup.Tenant);
        var url = $"{setup.Tenant.Api}/admin/ldap-providers";
        foreach (var (body, field) in new (object Body, string Field)[]
                 {
                     (new { host = TestDirectory.Host, baseDn = TestDirectory.People }, "name"),
                     (new { name = "x", baseDn = TestDirectory.People }, "host"),
                     (new { name = "x", host = "ldaps://directory.example.com", baseDn = TestDirectory.People }, "host"),
                     (new { name = "x", host = TestDirectory.Host, baseDn = "people" }, "baseDn"),
                     (new { name = "x", host = TestDirectory.Host, baseDn = TestDirectory.People, userFilter = "uid={username}" }, "userFilter"),
                     (new { name = "x", host = TestDirectory.Host, baseDn = TestDirectory.People, userFilter = "(uid=alice)" }, "userFilter"),
                     (new { name = "x", host = TestDirectory.Host, baseDn = TestDirectory.People, useTls = false }, "useTls"),
                     (new { name = "x", host = TestDirectory.Host, baseDn = TestDirectory.People, useTls = true, startTls = true }, "startTls"),
                     (new { name = "x", host = TestDirectory.Host, baseDn = TestDirectory.People, port = 70000 }, "port"),
                     (new { name = "x", host = TestDirectory.Host, baseDn = TestDirectory.People, idAttribute = "" }, "idAttribute"),
                     (new { name = "x", host = TestDirectory.Host, baseDn = TestDirectory.People, emailAttribute = "mail;binary" }, "emailAttribute"),
                     (new { name = "x", host = TestDirectory.Host, baseDn = TestDirectory.People, bindPassword = "p" }, "bindPassword"),
                     (new { name = "x", host = TestDirectory.Host, baseDn = TestDirectory.People, groupRoles = new[] { new { group = "admins", roles = new[] { "support" } } } }, "groupRoles"),
                     (new { name = "x", host = TestDirectory.Host, baseDn = TestDirectory.People, groupRoles = new[] { new { group = "cn=admins," + TestDirectory.Groups, roles = new[] { "tenant_admin" } } } }, "groupRoles"),
                     (new { name = "x", host = TestDirectory.Host, baseDn = TestDirectory.People, defaultRoles = new[] { "admin" } }, "defaultRoles"),
                     (new { name = "x", host = TestDirectory.Host, baseDn = TestDirectory.People, bindDn = TestDirectory.RootDn }, "bindPassword"),
                     (new { type = "saml", name = "x", host = TestDirectory.Host, baseDn = TestDirectory.People }, "type"),
                 })
        {
            using var refused = await api.PostAsJsonAsync(url, body);
            var error = await HttpAssert.JsonAsync(refused, HttpStatusCode.BadRequest);
            Assert.True(error.GetProperty("details").TryGetProperty(field, out _), $"{field}: {error}");
        }

        var created = await AddDirectoryAsync(setup.Tenant, new { name = "Directory", defaultRoles = new[] { "viewer" } });
        var id = created.GetProperty("id").GetString()!;
        var tested = (await HttpAssert.JsonAsync(await api.PostAsync($"{url}/{id}/test", null), HttpStatusCode.OK)).GetProperty("data");
        Assert.True(tested.GetProperty("ok").GetBoolean(), tested.ToString());
        Assert.DoesNotContain(TestDirectory.RootPassword, created.ToString(), StringComparison.Ordinal);
        using (var duplicate = await api.PostAsJsonAsync(url, Body(new { name = "Directory" })))
        {
            Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        }

        // The password stays when a change does not name it; an empty one removes it.
        var changed = (await HttpAssert.JsonAsync(await api.PatchAsJsonAsync($"{url}/{id}", new { userFilter = "(|(uid={username})(mail={username}))" }), HttpStatusCode.OK)).GetProperty("data");
        Assert.True(changed.GetProperty("hasBindPassword").GetBoolean());
        Assert.Equal("(|(uid={username})(mail={username}))", changed.GetProperty("userFilter").GetString());
        var list = await HttpAssert.JsonAsync(await api.GetAsync(url), HttpStatusCode.OK);
        Assert.Equal(1, list.GetProperty("data").GetArrayLength());

        // Another tenant sees nothing of it, neither in its API nor at its login form.
        using (var theirs = suite.FederationAdmin(other.Tenant))
        {
            Assert.Equal(HttpStatusCode.NotFound, (await theirs.GetAsync($"{other.Tenant.Api}/admin/ldap-providers/{id}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await theirs.DeleteAsync($"{other.Tenant.Api}/admin/ldap-providers/{id}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await theirs.PostAsync($"{other.Tenant.Api}/admin/ldap-providers/{id}/test", null)).StatusCode);
            Assert.Equal(0, (await HttpAssert.JsonAsync(await theirs.GetAsync($"{other.Tenant.Api}/admin/ldap-providers"), HttpStatusCode.OK)).GetProperty("data").GetArrayLength());
        }

        using (var browser = suite.FederatedBrowser())
        using (var foreign = await browser.GetAsync($"/t/{other.Tenant.Slug}/login/ldap/{id}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        }

        // Not among the social providers, nor linkable from the account page.
        var social = await HttpAssert.JsonAsync(await api.GetAsync($"{setup.Tenant.Api}/admin/social-providers"), HttpStatusCode.OK);
        Assert.Equal(0, social.GetProperty("data").GetArrayLength());
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync($"{setup.Tenant.Api}/admin/social-providers/{id}")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await api.DeleteAsync($"{url}/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync($"{url}/{id}")).StatusCode);
    }

    private async Task<string> UserIdAsync(SignInSetup setup, string email)
    {
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var users = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users?search={Uri.EscapeDataString(email)}"), HttpStatusCode.OK)).GetProperty("data");
        return Assert.Single(users.EnumerateArray()).GetProperty("id").GetString()!;
    }

    private static string Uid() => "p" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A directory of the test server, over LDAPS with the root DN as service account; <paramref name="overrides"/> win.</summary>
    private async Task<JsonElement> AddDirectoryAsync(LumoAuth.Testing.TestTenant tenant, object overrides)
    {
        using var api = suite.FederationAdmin(tenant);
        using var created = await api.PostAsJsonAsync($"{tenant.Api}/admin/ldap-providers", Body(overrides));
        return (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data");
    }

    private static Dictionary<string, object?> Body(object overrides)
    {
        var body = new Dictionary<string, object?>
        {
            ["name"] = "Directory " + Guid.NewGuid().ToString("N")[..6], ["host"] = TestDirectory.Host, ["port"] = TestDirectory.TlsPort, ["useTls"] = true,
            ["baseDn"] = TestDirectory.People, ["bindDn"] = TestDirectory.RootDn, ["bindPassword"] = TestDirectory.RootPassword,
        };
        foreach (var property in JsonSerializer.SerializeToElement(overrides).EnumerateObject())
        {
            body[property.Name] = property.Value;
        }

        return body;
    }

    /// <summary>The directory's form, filled in and sent (a fresh page each time, for its antiforgery token).</summary>
    private static async Task<HttpResponseMessage> SubmitAsync(HttpClient browser, SignInSetup setup, string providerId, string username, string password, string? returnUrl = null)
    {
        using var page = await browser.GetAsync($"/t/{setup.Tenant.Slug}/login/ldap/{providerId}" + (returnUrl is null ? string.Empty : "?returnUrl=" + Uri.EscapeDataString(returnUrl)));
        var html = await page.Content.ReadAsStringAsync();
        Assert.True(page.StatusCode == HttpStatusCode.OK, html);
        return await HostedFlow.SubmitFormAsync(browser, html, new() { ["username"] = username, ["password"] = password });
    }

    /// <summary>Authorize → login page (the directory's button) → its form → consent → code → tokens: the ID token.</summary>
    private async Task<JsonWebToken> SignInToClientAsync(SignInSetup setup, string providerId, string username, string password)
    {
        using var browser = suite.FederatedBrowser();
        var (verifier, challenge) = HostedFlow.Pkce();
        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge));
        using var loginPage = await browser.GetAsync(HostedFlow.LocalRedirect(authorize)!);
        var html = await loginPage.Content.ReadAsStringAsync();
        var button = Regex.Match(html, $"href=\"(/t/{setup.Tenant.Slug}/login/ldap/{providerId}[^\"]*)\"").Groups[1].Value;
        Assert.True(button.Length > 0, html);
        using var form = await browser.GetAsync(WebUtility.HtmlDecode(button));
        var formHtml = await form.Content.ReadAsStringAsync();
        Assert.True(form.StatusCode == HttpStatusCode.OK, formHtml);
        using var submitted = await HostedFlow.SubmitFormAsync(browser, formHtml, new() { ["username"] = username, ["password"] = password });
        var back = HostedFlow.LocalRedirect(submitted);
        Assert.True(back is not null, $"{submitted.StatusCode}: {await submitted.Content.ReadAsStringAsync()}");
        using var authorized = await browser.GetAsync(back);
        var toClient = authorized.Headers.Location;
        if (toClient is null)
        {
            using var decided = await HostedFlow.DecideConsentAsync(browser, await authorized.Content.ReadAsStringAsync(), accept: true);
            toClient = decided.Headers.Location!;
        }

        using var http = suite.Token.CreateClient();
        using var exchanged = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = HostedFlow.Parameters(toClient)["code"], ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));
        return new JsonWebToken((await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("id_token").GetString());
    }

    [Fact]
    public async Task TheDirectorysPeople_AreImported_BeforeTheyFirstSignIn_OnRequestOrOnSchedule_AndTheirLinkSignsThemIn()
    {
        var setup = await suite.SetUpAsync();
        var unit = TestDirectory.AddUnit("u" + Uid());
        var (ada, bob, carol) = (Uid(), Uid(), Uid());
        TestDirectory.AddPerson(ada, Password, mail: $"{ada}@corp.example.com", givenName: "Ada", surname: "Lovelace", under: unit);
        var bobDn = TestDirectory.AddPerson(bob, Password, mail: $"{bob}@corp.example.com", under: unit);
        // Carol's address is a user's of the tenant already: without autoLinkUsers she is not taken over.
        TestDirectory.AddPerson(carol, Password, mail: setup.Email, under: unit);
        var provider = await AddDirectoryAsync(setup.Tenant, new { baseDn = unit, syncIntervalMinutes = 60 });
        var id = provider.GetProperty("id").GetString()!;
        Assert.Equal(60, provider.GetProperty("syncIntervalMinutes").GetInt32());
        Assert.Equal(JsonValueKind.Null, provider.GetProperty("lastSync").ValueKind);
        using var api = suite.FederationAdmin(setup.Tenant);
        var url = $"{setup.Tenant.Api}/admin/ldap-providers/{id}";

        async Task<JsonElement> SyncAsync() => (await HttpAssert.JsonAsync(await api.PostAsync($"{url}/sync", null), HttpStatusCode.OK)).GetProperty("data");

        var first = await SyncAsync();
        Assert.True(first.GetProperty("ok").GetBoolean());
        Assert.Equal((3, 2, 0, 1, 0), (first.GetProperty("found").GetInt32(), first.GetProperty("created").GetInt32(), first.GetProperty("linked").GetInt32(),
            first.GetProperty("skipped").GetInt32(), first.GetProperty("vanished").GetInt32()));
        var adaId = await UserIdAsync(setup, $"{ada}@corp.example.com");
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            var user = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{adaId}"), HttpStatusCode.OK)).GetProperty("data");
            Assert.Equal("Ada", user.GetProperty("givenName").GetString());
            Assert.Equal(ada, user.GetProperty("username").GetString());
        }

        var shown = (await HttpAssert.JsonAsync(await api.GetAsync(url), HttpStatusCode.OK)).GetProperty("data").GetProperty("lastSync");
        Assert.Equal(3, shown.GetProperty("found").GetInt32());

        // Again: nothing new; the imported person signs in as the user made for them.
        var second = await SyncAsync();
        Assert.Equal((3, 0, 1), (second.GetProperty("found").GetInt32(), second.GetProperty("created").GetInt32(), second.GetProperty("skipped").GetInt32()));
        var bobId = await UserIdAsync(setup, $"{bob}@corp.example.com");
        Assert.Equal(bobId, (await SignInToClientAsync(setup, id, bob, Password)).Subject);

        // Someone who left the directory is counted as gone (their link stays for a return).
        TestDirectory.Delete(bobDn);
        var third = await SyncAsync();
        Assert.Equal((2, 1), (third.GetProperty("found").GetInt32(), third.GetProperty("vanished").GetInt32()));

        // On schedule: the job imports the directories whose interval has passed.
        using (var scope = suite.Federation.Services.CreateScope())
        {
            Assert.True(await LumoAuth.Federation.Features.Ldap.LdapSyncJob.ImportDueAsync(
                scope.ServiceProvider.GetRequiredService<IServiceScopeFactory>(), DateTimeOffset.UtcNow.AddHours(2), CancellationToken.None) >= 1);
        }

        var scheduled = (await HttpAssert.JsonAsync(await api.GetAsync(url), HttpStatusCode.OK)).GetProperty("data").GetProperty("lastSync");
        Assert.True(scheduled.GetProperty("at").GetDateTimeOffset() > third.GetProperty("at").GetDateTimeOffset());

        // Failure paths: a directory that cannot be read says why; a disabled one, another tenant's, an unknown one are refused.
        var closed = (await AddDirectoryAsync(setup.Tenant, new { name = "Closed", port = LoopbackPortNobodyListensOn() })).GetProperty("id").GetString()!;
        var unread = (await HttpAssert.JsonAsync(await api.PostAsync($"{setup.Tenant.Api}/admin/ldap-providers/{closed}/sync", null), HttpStatusCode.OK)).GetProperty("data");
        Assert.False(unread.GetProperty("ok").GetBoolean());
        Assert.Contains("cannot be reached", unread.GetProperty("problem").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync(url, new { isEnabled = false })).StatusCode);
        await ApiAssert.ErrorAsync(await api.PostAsync($"{url}/sync", null), 409, "provider_disabled");
        await ApiAssert.ErrorAsync(await api.PostAsync($"{setup.Tenant.Api}/admin/ldap-providers/{Guid.NewGuid()}/sync", null), 404, "resource_not_found");
        var other = await suite.SetUpAsync();
        using (var theirs = suite.FederationAdmin(other.Tenant))
        {
            await ApiAssert.ErrorAsync(await theirs.PostAsync($"{other.Tenant.Api}/admin/ldap-providers/{id}/sync", null), 404, "resource_not_found");
        }

        foreach (var minutes in new[] { 5, -1, 20000 })
        {
            await ApiAssert.ErrorAsync(await api.PatchAsJsonAsync(url, new { syncIntervalMinutes = minutes }), 400, "validation_error");
        }

        var off = (await HttpAssert.JsonAsync(await api.PatchAsJsonAsync(url, new { syncIntervalMinutes = 0 }), HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal(JsonValueKind.Null, off.GetProperty("syncIntervalMinutes").ValueKind);
    }

    [Fact]
    public async Task TheUsersADirectoryMakes_KeepTheirPasswordsThere_AndLeavingItBlocksThemUntilTheyReturn()
    {
        var setup = await suite.SetUpAsync();
        var unit = TestDirectory.AddUnit("u" + Uid());
        var ada = Uid();
        var adaDn = TestDirectory.AddPerson(ada, Password, mail: $"{ada}@corp.example.com", under: unit);
        // The tenant's own user, linked by address: an account the directory did not make stays the tenant's.
        var linkedDn = TestDirectory.AddPerson(Uid(), Password, mail: setup.Email, under: unit);
        TestDirectory.Replace(adaDn, "description", "active");
        TestDirectory.Replace(linkedDn, "description", "active");
        var providerId = (await AddDirectoryAsync(setup.Tenant, new { baseDn = unit, userFilter = "(&(uid={username})(!(description=disabled)))", autoLinkUsers = true }))
            .GetProperty("id").GetString()!;
        var adaId = (await SignInToClientAsync(setup, providerId, ada, Password)).Subject;
        using var api = suite.FederationAdmin(setup.Tenant);
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var users = $"{setup.Tenant.Api}/admin/users";
        async Task<JsonElement> UserAsync(string id) => (await HttpAssert.JsonAsync(await admin.GetAsync($"{users}/{id}"), HttpStatusCode.OK)).GetProperty("data");
        async Task<JsonElement> SyncAsync() =>
            (await HttpAssert.JsonAsync(await api.PostAsync($"{setup.Tenant.Api}/admin/ldap-providers/{providerId}/sync", null), HttpStatusCode.OK)).GetProperty("data");

        Assert.Equal(providerId, (await UserAsync(adaId)).GetProperty("directoryId").GetString());
        // The import links the tenant's user by address; it does not become the directory's.
        var first = await SyncAsync();
        Assert.Equal((2, 1, 0, 0), (first.GetProperty("found").GetInt32(), first.GetProperty("linked").GetInt32(), first.GetProperty("blocked").GetInt32(), first.GetProperty("unblocked").GetInt32()));
        Assert.False((await UserAsync(setup.UserId.ToString())).TryGetProperty("directoryId", out _));

        // The directory keeps the password: an administrator cannot set one or send a reset link, the person cannot
        // change it on the account page, and "forgot password" mails them nothing.
        await ApiAssert.ErrorAsync(await admin.PutAsJsonAsync($"{users}/{adaId}/password", new { password = "Local-Password-123!" }), 409, "directory_managed_password");
        await ApiAssert.ErrorAsync(await admin.PostAsync($"{users}/{adaId}/password-reset", null), 409, "directory_managed_password");
        using (var internalApi = suite.Admin.Internal())
        {
            var refused = await HttpAssert.JsonAsync(
                await internalApi.PostAsJsonAsync(LumoAuth.Contracts.Internal.ChangePasswordRequest.Route(Guid.Parse(adaId), setup.Tenant.Id),
                    new LumoAuth.Contracts.Internal.ChangePasswordRequest(Password, "Local-Password-123!")), HttpStatusCode.BadRequest);
            Assert.True(refused.GetProperty("details").TryGetProperty("password", out _), refused.ToString());
            foreach (var email in new[] { $"{ada}@corp.example.com", setup.Email })
            {
                Assert.Equal(HttpStatusCode.Accepted, (await internalApi.PostAsJsonAsync(
                    LumoAuth.Contracts.Internal.EmailLinkPaths.RequestPasswordReset, new LumoAuth.Contracts.Internal.RequestPasswordResetByEmail(setup.Tenant.Id, email))).StatusCode);
            }
        }

        await ApiAssert.EventuallyAsync(async () => await ResetLinksAsync(setup.UserId) > 0 ? "staged" : null);
        Assert.Equal(0, await ResetLinksAsync(Guid.Parse(adaId)));

        // Leaving the directory (here: its filter) blocks the users it made, which ends their sessions; the tenant's own user stays.
        TestDirectory.Replace(adaDn, "description", "disabled");
        TestDirectory.Replace(linkedDn, "description", "disabled");
        var gone = await SyncAsync();
        Assert.Equal((2, 1, 0), (gone.GetProperty("vanished").GetInt32(), gone.GetProperty("blocked").GetInt32(), gone.GetProperty("unblocked").GetInt32()));
        var blocked = await UserAsync(adaId);
        Assert.True(blocked.GetProperty("blocked").GetBoolean());
        Assert.True(blocked.GetProperty("blockedByDirectory").GetBoolean());
        Assert.False((await UserAsync(setup.UserId.ToString())).GetProperty("blocked").GetBoolean());
        Assert.Equal(0, (await SyncAsync()).GetProperty("blocked").GetInt32());

        // Back in the directory: unblocked by the next import…
        TestDirectory.Replace(adaDn, "description", "active");
        Assert.Equal(1, (await SyncAsync()).GetProperty("unblocked").GetInt32());
        Assert.False((await UserAsync(adaId)).GetProperty("blocked").GetBoolean());

        // …or at once by a sign-in with the directory, which has just vouched for them.
        TestDirectory.Replace(adaDn, "description", "disabled");
        Assert.Equal(1, (await SyncAsync()).GetProperty("blocked").GetInt32());
        TestDirectory.Replace(adaDn, "description", "active");
        Assert.Equal(adaId, (await SignInToClientAsync(setup, providerId, ada, Password)).Subject);
        Assert.False((await UserAsync(adaId)).GetProperty("blocked").GetBoolean());

        // An administrator who blocks someone the directory had blocked takes the block over: the directory's return lifts nothing.
        TestDirectory.Replace(adaDn, "description", "disabled");
        Assert.Equal(1, (await SyncAsync()).GetProperty("blocked").GetInt32());
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"{users}/{adaId}/block", null)).StatusCode);
        Assert.False((await UserAsync(adaId)).TryGetProperty("blockedByDirectory", out _));
        TestDirectory.Replace(adaDn, "description", "active");
        Assert.Equal(0, (await SyncAsync()).GetProperty("unblocked").GetInt32());
        Assert.True((await UserAsync(adaId)).GetProperty("blocked").GetBoolean());
    }

    private async Task<int> ResetLinksAsync(Guid userId)
    {
        using var scope = suite.Admin.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<LumoAuth.Admin.Data.AdminDbContext>();
        return await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.CountAsync(
            Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.IgnoreQueryFilters(db.PasswordResetTokens), t => t.UserId == userId);
    }

    [Fact]
    public async Task ADirectorysOwnCa_IsTrustedForThatDirectory_WhereTheDeploymentTrustsNoneOfIt()
    {
        var setup = await suite.SetUpAsync();
        var uid = Uid();
        TestDirectory.AddPerson(uid, Password, mail: $"{uid}@corp.example.com");
        var testCa = await File.ReadAllTextAsync(Path.Combine(TestDirectory.TrustedCertificates, "ca.crt"));

        // A federation process trusting no folder of its own: the test CA is the system's no more than anyone's.
        using var bare = new LumoAuth.Federation.Features.Ldap.LdapDirectory(
            Microsoft.Extensions.Options.Options.Create(new LumoAuth.Federation.FederationOptions { AllowPrivateTargets = true }),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<LumoAuth.Federation.Features.Ldap.LdapDirectory>.Instance);
        var settings = new LumoAuth.Federation.Data.LdapSettings
        {
            Host = TestDirectory.Host, Port = TestDirectory.TlsPort, UseTls = true, BaseDn = TestDirectory.People, BindDn = TestDirectory.RootDn,
        };
        Task<LumoAuth.Federation.Features.Ldap.LdapOutcome> SignInAsync() => bare.AuthenticateAsync(settings, TestDirectory.RootPassword, uid, Password, CancellationToken.None);
        Assert.Equal(LumoAuth.Federation.Features.Ldap.LdapVerdict.Unavailable, (await SignInAsync()).Verdict);

        settings.CaCertificate = LumoAuth.Federation.Features.Ldap.LdapTrustedCertificates.Normalize(testCa);
        Assert.Equal(LumoAuth.Federation.Features.Ldap.LdapVerdict.Success, (await SignInAsync()).Verdict);
        (settings.UseTls, settings.StartTls, settings.Port) = (false, true, TestDirectory.Port);
        Assert.Equal(LumoAuth.Federation.Features.Ldap.LdapVerdict.Success, (await SignInAsync()).Verdict);

        // Another CA is not this directory's.
        using (var key = System.Security.Cryptography.RSA.Create(2048))
        {
            var other = new System.Security.Cryptography.X509Certificates.CertificateRequest(
                "CN=Another CA", key, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
            other.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, false, 0, true));
            using var otherCa = other.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
            settings.CaCertificate = LumoAuth.Federation.Features.Ldap.LdapTrustedCertificates.Normalize(otherCa.ExportCertificatePem());
            Assert.Equal(LumoAuth.Federation.Features.Ldap.LdapVerdict.Unavailable, (await SignInAsync()).Verdict);
        }

        // Through the Admin API: the CA is checked, kept in one form, shown, used at sign-in, and removed by an empty value.
        using var api = suite.FederationAdmin(setup.Tenant);
        foreach (var wrong in new[] { "not a certificate", testCa + "\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", new string('A', 70_000) })
        {
            using var refused = await api.PostAsJsonAsync($"{setup.Tenant.Api}/admin/ldap-providers", Body(new { caCertificate = wrong }));
            var error = await ApiAssert.ErrorAsync(refused, 400, "validation_error");
            Assert.NotNull(error["details"]?["caCertificate"]);
        }

        var provider = await AddDirectoryAsync(setup.Tenant, new { caCertificate = "\n  " + testCa.Replace("\n", "\r\n", StringComparison.Ordinal) });
        var providerId = provider.GetProperty("id").GetString()!;
        Assert.Equal(LumoAuth.Federation.Features.Ldap.LdapTrustedCertificates.Normalize(testCa), provider.GetProperty("caCertificate").GetString());
        Assert.Equal($"{uid}@corp.example.com", (await SignInToClientAsync(setup, providerId, uid, Password)).GetClaim("email").Value);
        var removed = (await HttpAssert.JsonAsync(
            await api.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/ldap-providers/{providerId}", new { caCertificate = "" }), HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal(JsonValueKind.Null, removed.GetProperty("caCertificate").ValueKind);
    }

    [Fact]
    public async Task AChangesOnlyImport_ReadsTheEntriesChangedSinceTheLastImport_InTheDirectorysOwnClock()
    {
        var setup = await suite.SetUpAsync();
        var unit = TestDirectory.AddUnit("u" + Uid());
        var (ada, bob, carol) = (Uid(), Uid(), Uid());
        var bobDn = TestDirectory.AddPerson(bob, Password, mail: $"{bob}@corp.example.com", givenName: "Bob", under: unit);
        // The directory's clock counts whole seconds: Ada's entry is a second younger than Bob's.
        await Task.Delay(1100);
        var adaDn = TestDirectory.AddPerson(ada, Password, mail: $"{ada}@corp.example.com", givenName: "Ada", under: unit);
        var provider = await AddDirectoryAsync(setup.Tenant, new { baseDn = unit, updateUserOnLogin = true, changedSyncIntervalMinutes = 5 });
        var id = provider.GetProperty("id").GetString()!;
        Assert.Equal(5, provider.GetProperty("changedSyncIntervalMinutes").GetInt32());
        using var api = suite.FederationAdmin(setup.Tenant);
        var url = $"{setup.Tenant.Api}/admin/ldap-providers/{id}";
        async Task<JsonElement> SyncAsync(bool changesOnly) =>
            (await HttpAssert.JsonAsync(await api.PostAsync($"{url}/sync" + (changesOnly ? "?changesOnly=true" : string.Empty), null), HttpStatusCode.OK)).GetProperty("data");

        // Never imported: the changes are everything.
        var first = await SyncAsync(changesOnly: true);
        Assert.Equal((false, 2, 2), (first.GetProperty("changesOnly").GetBoolean(), first.GetProperty("found").GetInt32(), first.GetProperty("created").GetInt32()));
        var shown = (await HttpAssert.JsonAsync(await api.GetAsync(url), HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal(first.GetProperty("at").GetDateTimeOffset(), shown.GetProperty("lastFullSyncAt").GetDateTimeOffset());

        // Ada changes a second later: only her entry is read, and her name follows.
        await Task.Delay(1100);
        TestDirectory.Replace(adaDn, "givenName", "Augusta");
        var changed = await SyncAsync(changesOnly: true);
        Assert.Equal((true, 1, 1), (changed.GetProperty("changesOnly").GetBoolean(), changed.GetProperty("found").GetInt32(), changed.GetProperty("updated").GetInt32()));
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            var user = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{await UserIdAsync(setup, $"{ada}@corp.example.com")}"), HttpStatusCode.OK)).GetProperty("data");
            Assert.Equal("Augusta", user.GetProperty("givenName").GetString());
        }

        // A newcomer is a change; someone who left is not one a changes-only import can see — a whole import does.
        TestDirectory.AddPerson(carol, Password, mail: $"{carol}@corp.example.com", under: unit);
        TestDirectory.Delete(bobDn);
        var newcomer = await SyncAsync(changesOnly: true);
        Assert.Equal((1, 0), (newcomer.GetProperty("created").GetInt32(), newcomer.GetProperty("vanished").GetInt32()));
        var whole = await SyncAsync(changesOnly: false);
        Assert.Equal((false, 2, 1), (whole.GetProperty("changesOnly").GetBoolean(), whole.GetProperty("found").GetInt32(), whole.GetProperty("vanished").GetInt32()));

        // On schedule: with only a changes interval, the job reads changes.
        using (var scope = suite.Federation.Services.CreateScope())
        {
            Assert.True(await LumoAuth.Federation.Features.Ldap.LdapSyncJob.ImportDueAsync(
                scope.ServiceProvider.GetRequiredService<IServiceScopeFactory>(), DateTimeOffset.UtcNow.AddMinutes(6), CancellationToken.None) >= 1);
        }

        var scheduled = (await HttpAssert.JsonAsync(await api.GetAsync(url), HttpStatusCode.OK)).GetProperty("data").GetProperty("lastSync");
        Assert.True(scheduled.GetProperty("changesOnly").GetBoolean());
        Assert.True(scheduled.GetProperty("at").GetDateTimeOffset() > whole.GetProperty("at").GetDateTimeOffset());

        foreach (var minutes in new[] { 4, -1, 20000 })
        {
            await ApiAssert.ErrorAsync(await api.PatchAsJsonAsync(url, new { changedSyncIntervalMinutes = minutes }), 400, "validation_error");
        }

        var off = (await HttpAssert.JsonAsync(await api.PatchAsJsonAsync(url, new { changedSyncIntervalMinutes = 0 }), HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal(JsonValueKind.Null, off.GetProperty("changedSyncIntervalMinutes").ValueKind);
    }

    [Fact]
    public async Task WithPasswordWriteBack_APersonsNewPasswordGoesToTheDirectory_AsDoesAnAdministratorsReset()
    {
        var setup = await suite.SetUpAsync();
        var uid = Uid();
        TestDirectory.AddPerson(uid, Password, mail: $"{uid}@corp.example.com");
        var provider = await AddDirectoryAsync(setup.Tenant, new { passwordWriteBack = true });
        Assert.True(provider.GetProperty("passwordWriteBack").GetBoolean());
        var providerId = provider.GetProperty("id").GetString()!;
        var userId = Guid.Parse((await SignInToClientAsync(setup, providerId, uid, Password)).Subject);
        var directory = suite.Federation.Services.GetRequiredService<LumoAuth.Federation.Features.Ldap.LdapDirectory>();
        var settings = new LumoAuth.Federation.Data.LdapSettings
        {
            Host = TestDirectory.Host, Port = TestDirectory.TlsPort, UseTls = true, BaseDn = TestDirectory.People, BindDn = TestDirectory.RootDn,
        };
        async Task<LumoAuth.Federation.Features.Ldap.LdapVerdict> DirectoryTakesAsync(string password) =>
            (await directory.AuthenticateAsync(settings, TestDirectory.RootPassword, uid, password, CancellationToken.None)).Verdict;

        // The person's own change (the account page's call): the directory checks the current password, as them.
        using var internalApi = suite.Admin.Internal();
        Task<HttpResponseMessage> ChangeAsync(string current, string next) => internalApi.PostAsJsonAsync(
            LumoAuth.Contracts.Internal.ChangePasswordRequest.Route(userId, setup.Tenant.Id), new LumoAuth.Contracts.Internal.ChangePasswordRequest(current, next));
        var changed = "Written-Back-" + Guid.NewGuid().ToString("N")[..10] + "!";
        foreach (var (current, next, field) in new[] { ("not-the-password", changed, "currentPassword"), (string.Empty, changed, "currentPassword"), (Password, "short", "password") })
        {
            var refused = await ApiAssert.ErrorAsync(await ChangeAsync(current, next), 400, "validation_error");
            Assert.True(refused["details"]?[field] is not null, refused.ToJsonString());
        }

        Assert.Equal(LumoAuth.Federation.Features.Ldap.LdapVerdict.Success, await DirectoryTakesAsync(Password));
        await ApiAssert.OkAsync(await ChangeAsync(Password, changed));
        Assert.Equal(LumoAuth.Federation.Features.Ldap.LdapVerdict.Success, await DirectoryTakesAsync(changed));
        Assert.Equal(LumoAuth.Federation.Features.Ldap.LdapVerdict.InvalidCredentials, await DirectoryTakesAsync(Password));
        Assert.Equal(userId.ToString(), (await SignInToClientAsync(setup, providerId, uid, changed)).Subject);

        // An administrator's reset goes to the directory as the service account; nothing is kept here.
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var reset = "Reset-By-Admin-" + Guid.NewGuid().ToString("N")[..10] + "!";
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/users/{userId}/password", new { password = reset }));
        Assert.Equal(LumoAuth.Federation.Features.Ldap.LdapVerdict.Success, await DirectoryTakesAsync(reset));
        using (var scope = suite.Admin.Services.CreateScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<LumoAuth.Admin.Data.AdminDbContext>();
            var stored = await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.SingleAsync(
                Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.IgnoreQueryFilters(db.Users), u => u.Id == userId);
            Assert.Null(stored.PasswordHash);
            Assert.NotNull(stored.PasswordChangedAt);
        }

        // Where the directory takes passwords, a reset link may be mailed too: by an administrator, or by "forgot password".
        await ApiAssert.OkAsync(await admin.PostAsync($"{setup.Tenant.Api}/admin/users/{userId}/password-reset", null), 202);
        await ResetLinkWithdrawnAsync(userId);
        Assert.Equal(HttpStatusCode.Accepted, (await internalApi.PostAsJsonAsync(LumoAuth.Contracts.Internal.EmailLinkPaths.RequestPasswordReset,
            new LumoAuth.Contracts.Internal.RequestPasswordResetByEmail(setup.Tenant.Id, $"{uid}@corp.example.com"))).StatusCode);
        await ApiAssert.EventuallyAsync(async () => await ResetLinksAsync(userId) > 0 ? "staged" : null);

        // With write-back off, the directory takes no password from here.
        using var api = suite.FederationAdmin(setup.Tenant);
        Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/ldap-providers/{providerId}", new { passwordWriteBack = false })).StatusCode);
        await ApiAssert.ErrorAsync(await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/users/{userId}/password", new { password = changed }), 409, "directory_managed_password");
        await ApiAssert.ErrorAsync(await admin.PostAsync($"{setup.Tenant.Api}/admin/users/{userId}/password-reset", null), 409, "directory_managed_password");
        Assert.Equal(LumoAuth.Federation.Features.Ldap.LdapVerdict.Success, await DirectoryTakesAsync(reset));
    }

    /// <summary>Removes the user's reset links (an administrator's request just staged one), so a later one is seen arriving.</summary>
    private async Task ResetLinkWithdrawnAsync(Guid userId)
    {
        Assert.True(await ResetLinksAsync(userId) > 0);
        using var scope = suite.Admin.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<LumoAuth.Admin.Data.AdminDbContext>();
        await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.ExecuteDeleteAsync(
            Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.IgnoreQueryFilters(db.PasswordResetTokens).Where(t => t.UserId == userId));
    }

    [Fact]
    public async Task GroupsOfGroups_CountOnlyWhereTheDirectoryAsksForThem_AndACycleEnds()
    {
        var uid = Uid();
        var person = TestDirectory.AddPerson(uid, Password, mail: $"{uid}@corp.example.com");
        var team = TestDirectory.AddGroup("team-" + uid, person);
        var department = TestDirectory.AddGroup("dept-" + uid, team);
        var company = TestDirectory.AddGroup("all-" + uid, department);
        // The company is also a member of the team: the walk up must end.
        TestDirectory.Replace(team, "member", person, company);
        var directory = suite.Federation.Services.GetRequiredService<LumoAuth.Federation.Features.Ldap.LdapDirectory>();
        var settings = new LumoAuth.Federation.Data.LdapSettings
        {
            Host = TestDirectory.Host, Port = TestDirectory.TlsPort, UseTls = true, BaseDn = TestDirectory.People, BindDn = TestDirectory.RootDn,
        };

        string[] Sorted(IEnumerable<string> dns) => [.. dns.Select(dn => dn.ToLowerInvariant()).Order(StringComparer.Ordinal)];
        var flat = await directory.AuthenticateAsync(settings, TestDirectory.RootPassword, uid, Password, CancellationToken.None);
        Assert.Equal(LumoAuth.Federation.Features.Ldap.LdapVerdict.Success, flat.Verdict);
        Assert.Equal(Sorted([team]), Sorted(flat.Account!.Groups));

        settings.NestedGroups = true;
        var nested = await directory.AuthenticateAsync(settings, TestDirectory.RootPassword, uid, Password, CancellationToken.None);
        Assert.Equal(LumoAuth.Federation.Features.Ldap.LdapVerdict.Success, nested.Verdict);
        Assert.Equal(Sorted([team, department, company]), Sorted(nested.Account!.Groups));

        // A wrong password reads no group.
        Assert.Equal(LumoAuth.Federation.Features.Ldap.LdapVerdict.InvalidCredentials,
            (await directory.AuthenticateAsync(settings, TestDirectory.RootPassword, uid, "wrong", CancellationToken.None)).Verdict);
    }

    /// <summary>The token service keeps the tenant's providers for half a minute; a test that changes one mid-way forgets them.</summary>
    private void EvictProviders(Guid tenantId) =>
        suite.Token.Services.GetRequiredService<Microsoft.Extensions.Caching.Memory.IMemoryCache>().Remove(("login-providers", tenantId));

    private static int LoopbackPortNobodyListensOn()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
