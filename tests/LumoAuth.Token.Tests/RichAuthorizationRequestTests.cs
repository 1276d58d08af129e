using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Token.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Rich Authorization Requests (RFC 9396): <c>authorization_details</c> of the types a client is registered for, shown to
/// the user on every consent, carried by the grant's access tokens and named in each token response; narrowed, never
/// widened, at the token endpoint; <c>invalid_authorization_details</c> for anything else.
/// </summary>
[Collection(SharedTokenSuite.Name)]
public sealed class RichAuthorizationRequestTests(TokenSuite suite)
{
    private const string Redirect = "https://bank-app.example.com/callback";

    private static readonly object Payment = new
    {
        type = "payment_initiation", actions = new[] { "initiate", "status" }, locations = new[] { "https://payments.example.com" },
        instructedAmount = new { currency = "EUR", amount = "123.50" }, creditorName = "Merchant A",
        creditorAccount = new { iban = "DE02100100109307118603" },
    };

    private static readonly object Accounts = new { type = "account_information", actions = new[] { "list_accounts", "read_balances" }, identifier = "acc-42" };

    private static string Json(params object[] details) => JsonSerializer.Serialize(details);

    private static object BankClient(params string[] types) => new
    {
        name = "Bank app", applicationType = "web", redirectUris = new[] { Redirect },
        grantTypes = new[] { "authorization_code", "refresh_token", "client_credentials" },
        allowedScopes = new[] { "openid", "offline_access" }, authorizationDetailsTypes = types,
    };

    private static string AuthorizeUrl(SignInSetup setup, string challenge, Dictionary<string, string?>? extra = null)
    {
        var parameters = new Dictionary<string, string?> { ["redirect_uri"] = Redirect, ["scope"] = "openid offline_access" };
        foreach (var (name, value) in extra ?? [])
        {
            parameters[name] = value;
        }

        return HostedFlow.AuthorizeUrl(setup, challenge, parameters);
    }

    private Task<HttpResponseMessage> TokenAsync(SignInSetup setup, Dictionary<string, string> form) =>
        suite.PostFormAsync(setup.TokenEndpoint, form, (setup.ClientId, setup.ClientSecret!));

    private async Task<JsonElement> RedeemAsync(SignInSetup setup, Uri redirect, string verifier)
    {
        var parameters = HostedFlow.Parameters(redirect);
        Assert.True(parameters.ContainsKey("code"), redirect.ToString());
        using var redeemed = await TokenAsync(setup, new()
        {
            ["grant_type"] = "authorization_code", ["code"] = parameters["code"], ["redirect_uri"] = Redirect, ["code_verifier"] = verifier,
        });
        return await HttpAssert.JsonAsync(redeemed, HttpStatusCode.OK);
    }

    private static JsonElement DetailsIn(string accessToken)
    {
        using var payload = JsonDocument.Parse(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(new JsonWebToken(accessToken).EncodedPayload));
        return payload.RootElement.GetProperty("authorization_details").Clone();
    }

    private static void AssertSame(string expectedJson, JsonElement actual) =>
        Assert.True(JsonElement.DeepEquals(JsonDocument.Parse(expectedJson).RootElement, actual), actual.GetRawText());

    [Fact]
    public async Task TheUserSeesEachDetail_AndTheTokensCarryThem_ThroughTheCodeAndIntrospection()
    {
        var setup = await suite.SetUpAsync(BankClient("payment_initiation", "account_information"));
        using var browser = suite.Browser();
        var (_, firstChallenge) = HostedFlow.Pkce();
        // A first sign-in without details: its consent to the scopes is remembered.
        Assert.True(HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, AuthorizeUrl(setup, firstChallenge))).ContainsKey("code"));

        var (verifier, challenge) = HostedFlow.Pkce();
        var details = Json(Payment);
        using var authorize = await browser.GetAsync(AuthorizeUrl(setup, challenge, new() { ["authorization_details"] = details }));

        // Asked again, with the payment spelled out, although the scopes were agreed to before.
        var consent = await authorize.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, authorize.StatusCode);
        Assert.Contains("payment_initiation", consent, StringComparison.Ordinal);
        Assert.Contains("Merchant A", consent, StringComparison.Ordinal);
        Assert.Contains("initiate, status", consent, StringComparison.Ordinal);
        Assert.Contains("123.50", consent, StringComparison.Ordinal);
        using var accepted = await HostedFlow.DecideConsentAsync(browser, consent, accept: true);
        var tokens = await RedeemAsync(setup, accepted.Headers.Location!, verifier);

        AssertSame(details, tokens.GetProperty("authorization_details"));
        var accessToken = tokens.GetProperty("access_token").GetString()!;
        AssertSame(details, DetailsIn(accessToken));
        Assert.False(new JsonWebToken(tokens.GetProperty("id_token").GetString()).TryGetClaim("authorization_details", out _));

        using var introspected = await suite.PostFormAsync(setup.Issuer + "/oauth/introspect", new Dictionary<string, string> { ["token"] = accessToken },
            (setup.ClientId, setup.ClientSecret!));
        var answer = await HttpAssert.JsonAsync(introspected, HttpStatusCode.OK);
        Assert.True(answer.GetProperty("active").GetBoolean());
        AssertSame(details, answer.GetProperty("authorization_details"));

        // Without a page to show, details cannot be agreed to.
        var (_, silentChallenge) = HostedFlow.Pkce();
        using var silent = await browser.GetAsync(AuthorizeUrl(setup, silentChallenge, new() { ["authorization_details"] = details, ["prompt"] = "none" }));
        Assert.Equal("consent_required", HostedFlow.Parameters(silent.Headers.Location!)["error"]);
    }

    [Fact]
    public async Task ARefresh_MayNarrowTheDetails_ForItsTokenAlone_ButNeverWidenThem()
    {
        var setup = await suite.SetUpAsync(BankClient("payment_initiation", "account_information"));
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var both = Json(Payment, Accounts);
        var tokens = await RedeemAsync(setup, await HostedFlow.SignInAsync(browser, setup, AuthorizeUrl(setup, challenge, new() { ["authorization_details"] = both })), verifier);
        AssertSame(both, tokens.GetProperty("authorization_details"));

        using var narrowed = await TokenAsync(setup, new()
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = tokens.GetProperty("refresh_token").GetString()!, ["authorization_details"] = Json(Accounts),
        });
        var narrow = await HttpAssert.JsonAsync(narrowed, HttpStatusCode.OK);
        AssertSame(Json(Accounts), narrow.GetProperty("authorization_details"));
        AssertSame(Json(Accounts), DetailsIn(narrow.GetProperty("access_token").GetString()!));

        // The grant still holds both: the next refresh without the parameter gets them all.
        using var whole = await TokenAsync(setup, new() { ["grant_type"] = "refresh_token", ["refresh_token"] = narrow.GetProperty("refresh_token").GetString()! });
        var all = await HttpAssert.JsonAsync(whole, HttpStatusCode.OK);
        AssertSame(both, all.GetProperty("authorization_details"));

        // A changed amount is another detail, not a narrower one.
        var changed = Json(new { type = "account_information", actions = new[] { "list_accounts", "read_balances", "read_transactions" }, identifier = "acc-42" });
        using var widened = await TokenAsync(setup, new()
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = all.GetProperty("refresh_token").GetString()!, ["authorization_details"] = changed,
        });
        Assert.Equal("invalid_authorization_details", (await HttpAssert.JsonAsync(widened, HttpStatusCode.BadRequest)).GetProperty("error").GetString());
    }

    public static TheoryData<string, string> Refused => new()
    {
        { """[{"type":"card_payment"}]""", "may not ask" },
        { """{"type":"payment_initiation"}""", "JSON array" },
        { "[]", "JSON array" },
        { """[{"actions":["initiate"]}]""", "'type'" },
        { """[{"type":"payment_initiation","actions":"initiate"}]""", "'actions'" },
        { """[{"type":"payment_initiation","locations":[1]}]""", "'locations'" },
        { """[{"type":"payment_initiation","identifier":7}]""", "'identifier'" },
        { """["payment_initiation"]""", "objects" },
        { "not json", "not JSON" },
        { "[" + string.Join(',', Enumerable.Repeat("""{"type":"payment_initiation"}""", 11)) + "]", "JSON array" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task MalformedOrForeignDetails_AreInvalidAuthorizationDetails_AtTheClientAtThePushAndForClientCredentials(string details, string said)
    {
        var setup = await suite.SetUpAsync(BankClient("payment_initiation"));
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();

        using var authorize = await browser.GetAsync(AuthorizeUrl(setup, challenge, new() { ["authorization_details"] = details }));
        var error = HostedFlow.Parameters(authorize.Headers.Location!);
        Assert.Equal("invalid_authorization_details", error["error"]);
        Assert.Contains(said, error["error_description"], StringComparison.Ordinal);

        using var pushed = await suite.PostFormAsync(setup.Issuer + "/oauth/par", new Dictionary<string, string>
        {
            ["response_type"] = "code", ["redirect_uri"] = Redirect, ["scope"] = "openid", ["code_challenge"] = challenge, ["code_challenge_method"] = "S256",
            ["authorization_details"] = details,
        }, (setup.ClientId, setup.ClientSecret!));
        Assert.Equal("invalid_authorization_details", (await HttpAssert.JsonAsync(pushed, HttpStatusCode.BadRequest)).GetProperty("error").GetString());

        using var machine = await TokenAsync(setup, new() { ["grant_type"] = "client_credentials", ["authorization_details"] = details });
        Assert.Equal("invalid_authorization_details", (await HttpAssert.JsonAsync(machine, HttpStatusCode.BadRequest)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task AClientWithoutTypes_MayAskForNone_AndAnotherTenantsTypesDoNotCount_InRequestsOrDiscovery()
    {
        var plain = await suite.SetUpAsync(BankClient());
        var bank = await suite.SetUpAsync(BankClient("payment_initiation", "account_information"));

        using var machine = await TokenAsync(plain, new() { ["grant_type"] = "client_credentials", ["authorization_details"] = Json(Payment) });
        Assert.Equal("invalid_authorization_details", (await HttpAssert.JsonAsync(machine, HttpStatusCode.BadRequest)).GetProperty("error").GetString());

        // Discovery lists the types of the tenant's own clients (RFC 9396 §10), and leaves the list out when there are none.
        using var http = suite.Token.CreateClient();
        var plainMetadata = await http.GetFromJsonAsync<JsonElement>(plain.Issuer + "/.well-known/openid-configuration");
        Assert.False(plainMetadata.TryGetProperty("authorization_details_types_supported", out _));
        var bankMetadata = await http.GetFromJsonAsync<JsonElement>(bank.Issuer + "/.well-known/oauth-authorization-server");
        Assert.Equal(["account_information", "payment_initiation"], bankMetadata.GetProperty("authorization_details_types_supported").EnumerateArray().Select(t => t.GetString()));
    }

    [Fact]
    public async Task ClientCredentials_CarryTheDetails_AndAPushedRequestToo()
    {
        var setup = await suite.SetUpAsync(BankClient("payment_initiation", "account_information"));

        using var machine = await TokenAsync(setup, new() { ["grant_type"] = "client_credentials", ["authorization_details"] = Json(Accounts) });
        var issued = await HttpAssert.JsonAsync(machine, HttpStatusCode.OK);
        AssertSame(Json(Accounts), issued.GetProperty("authorization_details"));
        AssertSame(Json(Accounts), DetailsIn(issued.GetProperty("access_token").GetString()!));
        using var plain = await TokenAsync(setup, new() { ["grant_type"] = "client_credentials" });
        Assert.False((await HttpAssert.JsonAsync(plain, HttpStatusCode.OK)).TryGetProperty("authorization_details", out _));

        var (verifier, challenge) = HostedFlow.Pkce();
        using var pushed = await suite.PostFormAsync(setup.Issuer + "/oauth/par", new Dictionary<string, string>
        {
            ["response_type"] = "code", ["redirect_uri"] = Redirect, ["scope"] = "openid", ["code_challenge"] = challenge, ["code_challenge_method"] = "S256",
            ["authorization_details"] = Json(Payment),
        }, (setup.ClientId, setup.ClientSecret!));
        var requestUri = (await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created)).GetProperty("request_uri").GetString()!;
        using var browser = suite.Browser();
        var redirect = await HostedFlow.SignInAsync(browser, setup, $"{setup.Tenant.Api}/oauth/authorize?client_id={setup.ClientId}&request_uri={Uri.EscapeDataString(requestUri)}");
        AssertSame(Json(Payment), (await RedeemAsync(setup, redirect, verifier)).GetProperty("authorization_details"));
    }

    [Fact]
    public async Task TheDeviceAndBackChannelApprovals_ShowTheDetails_AndTheirTokensCarryThem()
    {
        const string cibaGrant = "urn:openid:params:grant-type:ciba";
        var setup = await suite.SetUpAsync();
        var created = await suite.CreateClientAsync(setup, new
        {
            name = "TV and call centre", applicationType = "web", allowedScopes = new[] { "openid", "profile" },
            grantTypes = new[] { "urn:ietf:params:oauth:grant-type:device_code", cibaGrant },
            authorizationDetailsTypes = new[] { "account_information" },
        });
        var client = (created.GetProperty("clientId").GetString()!, created.GetProperty("secret").GetString()!);

        // The device flow (RFC 9396 §3 with RFC 8628): a type the client is not registered for is refused; its own are shown
        // on the verification page and carried by the tokens the device polls for.
        using (var refused = await suite.PostFormAsync(setup.Issuer + "/oauth/device_authorization",
                   new Dictionary<string, string> { ["scope"] = "openid", ["authorization_details"] = Json(Payment) }, client))
        {
            Assert.Equal("invalid_authorization_details", (await HttpAssert.JsonAsync(refused, HttpStatusCode.BadRequest)).GetProperty("error").GetString());
        }

        using var device = await suite.PostFormAsync(setup.Issuer + "/oauth/device_authorization",
            new Dictionary<string, string> { ["scope"] = "openid", ["authorization_details"] = Json(Accounts) }, client);
        var codes = await HttpAssert.JsonAsync(device, HttpStatusCode.OK);
        using (var tv = suite.Browser())
        {
            var verification = await HostedFlow.OpenSignedInAsync(tv, setup, $"{setup.Tenant.Api}/oauth/device?user_code={codes.GetProperty("user_code").GetString()}");
            Assert.Contains("account_information", verification, StringComparison.Ordinal);
            Assert.Contains("list_accounts, read_balances", verification, StringComparison.Ordinal);
            using (await HostedFlow.SubmitFormAsync(tv, HostedFlow.FormWith(verification, "device_decision"), new() { ["device_decision"] = "accept" }))
            {
            }
        }

        using var polled = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "urn:ietf:params:oauth:grant-type:device_code", ["device_code"] = codes.GetProperty("device_code").GetString()!,
        }, client);
        var deviceTokens = await HttpAssert.JsonAsync(polled, HttpStatusCode.OK);
        AssertSame(Json(Accounts), deviceTokens.GetProperty("authorization_details"));
        AssertSame(Json(Accounts), DetailsIn(deviceTokens.GetProperty("access_token").GetString()!));

        using var foreign = await suite.PostFormAsync(setup.Issuer + "/oauth/bc-authorize",
            new Dictionary<string, string> { ["scope"] = "openid", ["login_hint"] = setup.Email, ["authorization_details"] = Json(Payment) }, client);
        Assert.Equal("invalid_authorization_details", (await HttpAssert.JsonAsync(foreign, HttpStatusCode.BadRequest)).GetProperty("error").GetString());

        using var started = await suite.PostFormAsync(setup.Issuer + "/oauth/bc-authorize",
            new Dictionary<string, string> { ["scope"] = "openid", ["login_hint"] = setup.Email, ["authorization_details"] = Json(Accounts) }, client);
        var authReqId = (await HttpAssert.JsonAsync(started, HttpStatusCode.OK)).GetProperty("auth_req_id").GetString()!;
        using var browser = suite.Browser();
        var page = await HostedFlow.OpenSignedInAsync(browser, setup, $"/t/{setup.Tenant.Slug}/ciba");
        Assert.Contains("account_information", page, StringComparison.Ordinal);
        Assert.Contains("list_accounts, read_balances", page, StringComparison.Ordinal);
        Assert.Contains("acc-42", page, StringComparison.Ordinal);
        using (await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(page, "ciba_decision"), new() { ["ciba_decision"] = "accept" }))
        {
        }

        using var granted = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string> { ["grant_type"] = cibaGrant, ["auth_req_id"] = authReqId }, client);
        var tokens = await HttpAssert.JsonAsync(granted, HttpStatusCode.OK);
        AssertSame(Json(Accounts), tokens.GetProperty("authorization_details"));
        AssertSame(Json(Accounts), DetailsIn(tokens.GetProperty("access_token").GetString()!));
    }

    [Fact]
    public async Task TheClientsTypes_AreValidated_AndRegisteredDynamically()
    {
        var setup = await suite.SetUpAsync(BankClient("payment_initiation"));
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);

        var shown = JsonDocument.Parse(await admin.GetStringAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}")).RootElement.GetProperty("data");
        Assert.Equal(["payment_initiation"], shown.GetProperty("authorizationDetailsTypes").EnumerateArray().Select(t => t.GetString()));
        foreach (var types in new[] { new[] { "two words" }, new[] { "" }, Enumerable.Range(0, 21).Select(i => $"t{i}").ToArray() })
        {
            using var refused = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}", new { authorizationDetailsTypes = types });
            var problem = await HttpAssert.JsonAsync(refused, HttpStatusCode.BadRequest);
            Assert.Contains("authorizationDetailsTypes", problem.GetRawText(), StringComparison.Ordinal);
        }

        using var cleared = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}", new { authorizationDetailsTypes = Array.Empty<string>() });
        Assert.Empty((await HttpAssert.JsonAsync(cleared, HttpStatusCode.OK)).GetProperty("data").GetProperty("authorizationDetailsTypes").EnumerateArray());

        using (var tenantAdmin = suite.Admin.ClientFor(setup.Tenant))
        using (var settings = await tenantAdmin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { clientRegistration = new { dynamicRegistrationEnabled = true } }))
        {
            Assert.True(settings.IsSuccessStatusCode, await settings.Content.ReadAsStringAsync());
        }

        using var http = suite.Token.CreateClient();
        using var registered = await http.PostAsJsonAsync(setup.Issuer + "/connect/register", new Dictionary<string, object>
        {
            ["client_name"] = "Fintech", ["redirect_uris"] = new[] { Redirect }, ["authorization_details_types"] = new[] { "account_information" },
        });
        var registration = await HttpAssert.JsonAsync(registered, HttpStatusCode.Created);
        Assert.Equal(["account_information"], registration.GetProperty("authorization_details_types").EnumerateArray().Select(t => t.GetString()));

        // Its type passes (the request goes on to need a sign-in); another does not.
        var registeredSetup = setup with { ClientId = registration.GetProperty("client_id").GetString()!, ClientSecret = registration.GetProperty("client_secret").GetString() };
        var (_, challenge) = HostedFlow.Pkce();
        using var browser = suite.Browser();
        using var taken = await browser.GetAsync(AuthorizeUrl(registeredSetup, challenge, new() { ["authorization_details"] = Json(Accounts), ["prompt"] = "none", ["scope"] = "openid" }));
        Assert.Equal("login_required", HostedFlow.Parameters(taken.Headers.Location!)["error"]);
        using var foreign = await browser.GetAsync(AuthorizeUrl(registeredSetup, challenge, new() { ["authorization_details"] = Json(Payment), ["prompt"] = "none", ["scope"] = "openid" }));
        Assert.Equal("invalid_authorization_details", HostedFlow.Parameters(foreign.Headers.Location!)["error"]);
    }
}
