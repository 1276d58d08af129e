using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Protocol;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a client_id that is an https URL is
/// fetched as the client's RFC 7591 metadata — only for tenants that switched it on, never with a secret, checked like a
/// registration, kept for its cache lifetime, and refused (an error page, never a redirect) whenever anything is off.
/// </summary>
public sealed class ClientMetadataDocumentTests(ClientSiteSuite suite) : IClassFixture<ClientSiteSuite>
{
    [Fact]
    public async Task Discovery_SaysWhetherTheTenantAcceptsDocuments()
    {
        var off = await suite.SetUpAsync();
        var on = await EnabledAsync();
        using var http = suite.Token.CreateClient();

        foreach (var document in new[] { "openid-configuration", "oauth-authorization-server" })
        {
            var offMetadata = await http.GetFromJsonAsync<JsonElement>($"{off.Tenant.Api}/.well-known/{document}");
            var onMetadata = await http.GetFromJsonAsync<JsonElement>($"{on.Tenant.Api}/.well-known/{document}");
            Assert.False(offMetadata.GetProperty("client_id_metadata_document_supported").GetBoolean());
            Assert.True(onMetadata.GetProperty("client_id_metadata_document_supported").GetBoolean());
        }
    }

    [Fact]
    public async Task DocumentClient_SignsAUserIn_WithConsentNamingItsSite_AndIsFetchedOnce()
    {
        var setup = await EnabledAsync();
        var (path, clientId) = Document(new { client_name = "Notes Agent", scope = "openid profile" });
        var client = setup with { ClientId = clientId, ClientSecret = null };
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();

        using var first = await browser.GetAsync(HostedFlow.AuthorizeUrl(client, challenge, new() { ["scope"] = "openid profile" }));
        using var login = await HostedFlow.SubmitLoginAsync(browser, HostedFlow.LocalRedirect(first)!, setup.Email, setup.Password);
        using var consent = await browser.GetAsync(HostedFlow.LocalRedirect(login)!);
        var html = await consent.Content.ReadAsStringAsync();
        Assert.True(consent.StatusCode == HttpStatusCode.OK, html);
        Assert.Contains("Notes Agent", html, StringComparison.Ordinal);
        Assert.Contains("describes itself at <strong>127.0.0.1</strong>", html, StringComparison.Ordinal);
        Assert.Contains("send you back to <strong>spa.example.com</strong>", html, StringComparison.Ordinal);
        using var decided = await HostedFlow.DecideConsentAsync(browser, html, accept: true);
        var code = HostedFlow.Parameters(decided.Headers.Location!)["code"];

        using var http = suite.Token.CreateClient();
        using var tokens = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = clientId, ["code_verifier"] = verifier,
        }));
        var json = await HttpAssert.JsonAsync(tokens, HttpStatusCode.OK);
        var accessToken = new JsonWebToken(json.GetProperty("access_token").GetString());
        Assert.Equal(clientId, accessToken.GetClaim("client_id").Value);
        Assert.Equal(1, suite.Site.Requests(path));

        // An ordinary public client of the tenant now, as the Admin API lists it.
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var listed = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/clients"), HttpStatusCode.OK)).GetProperty("data")
            .EnumerateArray().Single(c => c.GetProperty("clientId").GetString() == clientId);
        Assert.False(listed.GetProperty("isConfidential").GetBoolean());
        Assert.Equal("Notes Agent", listed.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Document_IsFetchedAgain_OnlyAfterItsLifetime()
    {
        var setup = await EnabledAsync();
        var (path, clientId) = Document(new { }, cacheControl: "max-age=600");
        var client = setup with { ClientId = clientId };
        using var browser = suite.Browser();
        await HostedFlow.SignInAsync(browser, client, HostedFlow.AuthorizeUrl(client, HostedFlow.Pkce().Challenge, new() { ["scope"] = "openid" }));

        // The site now names another redirect URI: within the copy's ten minutes it is not asked again.
        const string moved = "https://spa.example.com/new-callback";
        suite.Site.Serve(path, Answer(new { client_id = clientId, redirect_uris = new[] { moved } }, "max-age=600"));
        suite.Clock.Advance(TimeSpan.FromMinutes(6));
        using var early = await browser.GetAsync(HostedFlow.AuthorizeUrl(client, HostedFlow.Pkce().Challenge, new() { ["redirect_uri"] = moved, ["scope"] = "openid" }));
        await AssertRefusedAsync(early, "invalid_request");
        Assert.Equal(1, suite.Site.Requests(path));

        suite.Clock.Advance(TimeSpan.FromMinutes(6));
        var redirect = await HostedFlow.SignInAsync(browser, client, HostedFlow.AuthorizeUrl(client, HostedFlow.Pkce().Challenge, new() { ["redirect_uri"] = moved, ["scope"] = "openid" }));
        Assert.StartsWith(moved, redirect.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal(2, suite.Site.Requests(path));
        using var old = await browser.GetAsync(HostedFlow.AuthorizeUrl(client, HostedFlow.Pkce().Challenge, new() { ["scope"] = "openid" }));
        await AssertRefusedAsync(old, "invalid_request");
    }

    [Fact]
    public async Task TenantThatHasNotEnabledDocuments_NeverFetchesOne_EvenWhenAnotherTenantUsesIt()
    {
        var enabled = await EnabledAsync();
        var other = await suite.SetUpAsync();
        var (path, clientId) = Document(new { });
        using var browser = suite.Browser();
        await HostedFlow.SignInAsync(browser, enabled with { ClientId = clientId }, HostedFlow.AuthorizeUrl(enabled with { ClientId = clientId }, HostedFlow.Pkce().Challenge, new() { ["scope"] = "openid" }));

        using var refused = await browser.GetAsync(HostedFlow.AuthorizeUrl(other with { ClientId = clientId }, HostedFlow.Pkce().Challenge, new() { ["scope"] = "openid" }));

        await AssertRefusedAsync(refused);
        Assert.Equal(1, suite.Site.Requests(path));
    }

    public static TheoryData<string, string> UnacceptableDocuments => new()
    {
        { "another client_id", """{"client_id":"https://elsewhere.example.com/client.json","redirect_uris":["https://spa.example.com/callback"]}""" },
        { "a secret", """{"client_id":"{self}","redirect_uris":["https://spa.example.com/callback"],"client_secret":"s3cret"}""" },
        { "a shared-secret method", """{"client_id":"{self}","redirect_uris":["https://spa.example.com/callback"],"token_endpoint_auth_method":"client_secret_basic"}""" },
        { "private_key_jwt without keys", """{"client_id":"{self}","redirect_uris":["https://spa.example.com/callback"],"token_endpoint_auth_method":"private_key_jwt"}""" },
        { "client_credentials", """{"client_id":"{self}","redirect_uris":["https://spa.example.com/callback"],"grant_types":["client_credentials"]}""" },
        { "an Admin API scope", """{"client_id":"{self}","redirect_uris":["https://spa.example.com/callback"],"scope":"openid admin.write"}""" },
        { "a plain-http redirect URI", """{"client_id":"{self}","redirect_uris":["http://spa.example.com/callback"]}""" },
        { "no redirect URI", """{"client_id":"{self}"}""" },
        { "not JSON", """<html>client</html>""" },
        { "too large", """{"client_id":"{self}","redirect_uris":["https://spa.example.com/callback"],"client_name":"{padding}"}""" },
    };

    [Theory]
    [MemberData(nameof(UnacceptableDocuments))]
    public async Task UnacceptableDocument_IsRefused_WithAnErrorPage(string what, string body)
    {
        var setup = await EnabledAsync();
        var path = $"/clients/{Guid.NewGuid():N}.json";
        var clientId = suite.Site.Origin + path;
        suite.Site.Serve(path, new SiteAnswer(body.Replace("{self}", clientId, StringComparison.Ordinal).Replace("{padding}", new string('x', 6000), StringComparison.Ordinal)));
        using var browser = suite.Browser();

        using var response = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup with { ClientId = clientId }, HostedFlow.Pkce().Challenge, new() { ["scope"] = "openid" }));

        await AssertRefusedAsync(response);
        Assert.True(suite.Site.Requests(path) == 1, what);
    }

    [Fact]
    public async Task UnacceptableAnswers_AreRefused_AndRedirectsAreNotFollowed()
    {
        var setup = await EnabledAsync();
        var (target, _) = Document(new { });
        var answers = new[]
        {
            new SiteAnswer("", Status: 302, Location: suite.Site.Origin + target),
            new SiteAnswer("", Status: 404),
            new SiteAnswer("{}", ContentType: "text/plain"),
        };
        using var browser = suite.Browser();
        foreach (var answer in answers)
        {
            var path = $"/clients/{Guid.NewGuid():N}.json";
            var clientId = suite.Site.Serve(path, answer with { Body = answer.Body == "{}" ? JsonSerializer.Serialize(new { client_id = suite.Site.Origin + path, redirect_uris = new[] { SignInSetup.RedirectUri } }) : answer.Body });

            using var response = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup with { ClientId = clientId }, HostedFlow.Pkce().Challenge, new() { ["scope"] = "openid" }));

            await AssertRefusedAsync(response);
        }

        Assert.Equal(0, suite.Site.Requests(target));
    }

    [Theory]
    [InlineData("{origin}/")]
    [InlineData("{origin}/clients/../client.json")]
    [InlineData("{origin}/clients/./client.json")]
    [InlineData("{origin}/client.json#part")]
    [InlineData("https://user:secret@127.0.0.1:{port}/client.json")]
    public async Task MalformedDocumentUrl_IsRefused_WithoutFetching(string template)
    {
        var setup = await EnabledAsync();
        suite.Site.Serve("/client.json", new SiteAnswer("{}"));
        suite.Site.Serve("/", new SiteAnswer("{}"));
        var before = suite.Site.Requests("/client.json") + suite.Site.Requests("/");
        var clientId = template.Replace("{origin}", suite.Site.Origin, StringComparison.Ordinal)
            .Replace("{port}", new Uri(suite.Site.Origin).Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        using var browser = suite.Browser();

        using var response = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup with { ClientId = clientId }, HostedFlow.Pkce().Challenge, new() { ["scope"] = "openid" }));

        await AssertRefusedAsync(response);
        Assert.Equal(before, suite.Site.Requests("/client.json") + suite.Site.Requests("/"));
    }

    [Fact]
    public async Task DocumentClient_CannotUseARedirectUriItDoesNotName_NorAGrantOfConfidentialClients()
    {
        var setup = await EnabledAsync();
        var (_, clientId) = Document(new { });
        using var browser = suite.Browser();

        using var foreignRedirect = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup with { ClientId = clientId }, HostedFlow.Pkce().Challenge,
            new() { ["redirect_uri"] = "https://attacker.example.com/callback", ["scope"] = "openid" }));
        await AssertRefusedAsync(foreignRedirect, "invalid_request");

        using var http = suite.Token.CreateClient();
        using var response = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = clientId,
        }));
        // It has no credentials to present: the grant needs client authentication (RFC 6749 §4.4).
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task DeactivatedDocumentClient_StaysDeactivated_WhenItsDocumentIsFetchedAgain()
    {
        var setup = await EnabledAsync();
        var (path, clientId) = Document(new { }, cacheControl: "max-age=300");
        using var browser = suite.Browser();
        await HostedFlow.SignInAsync(browser, setup with { ClientId = clientId }, HostedFlow.AuthorizeUrl(setup with { ClientId = clientId }, HostedFlow.Pkce().Challenge, new() { ["scope"] = "openid" }));
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var deactivated = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{Uri.EscapeDataString(clientId)}", new { isActive = false });
        Assert.True(deactivated.IsSuccessStatusCode, await deactivated.Content.ReadAsStringAsync());

        suite.Clock.Advance(TimeSpan.FromMinutes(6));
        using var refused = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup with { ClientId = clientId }, HostedFlow.Pkce().Challenge, new() { ["scope"] = "openid" }));

        await AssertRefusedAsync(refused);
        Assert.Equal(2, suite.Site.Requests(path));
    }

    /// <summary>The keys in the document, or (as the draft recommends) at the <c>jwks_uri</c> it names.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DocumentClient_WithKeys_AuthenticatesWithPrivateKeyJwt_AndNotWithoutIt(bool published)
    {
        var setup = await EnabledAsync();
        using var rsa = RSA.Create(2048);
        var key = new RsaSecurityKey(rsa) { KeyId = "doc-key" };
        var (_, clientId) = published
            ? Document(new
            {
                token_endpoint_auth_method = "private_key_jwt",
                jwks_uri = suite.Site.Serve($"/keys/{Guid.NewGuid():N}.json", Answer(ClientAssertions.PublicJwks(key))),
            })
            : Document(new { token_endpoint_auth_method = "private_key_jwt", jwks = ClientAssertions.PublicJwks(key) });
        var client = setup with { ClientId = clientId };
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var redirect = await HostedFlow.SignInAsync(browser, client, HostedFlow.AuthorizeUrl(client, challenge, new() { ["scope"] = "openid" }));
        var redeem = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = HostedFlow.Parameters(redirect)["code"], ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = clientId, ["code_verifier"] = verifier,
        };
        using var http = suite.Token.CreateClient();

        using var withoutAssertion = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(redeem));
        Assert.Contains(withoutAssertion.StatusCode, new[] { HttpStatusCode.BadRequest, HttpStatusCode.Unauthorized });

        // Signed at the suite's time, which runs ahead of the wall clock.
        redeem["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
        redeem["client_assertion"] = ClientAssertions.Create(clientId, setup.Issuer, key, now: suite.Clock.GetUtcNow());
        using var withAssertion = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(redeem));
        await HttpAssert.JsonAsync(withAssertion, HttpStatusCode.OK);
    }

    [Fact]
    public async Task SiteDown_KeepsTheStoredCopy_ButASiteThatAnswersNo_EndsIt()
    {
        var setup = await EnabledAsync();
        var (path, clientId) = Document(new { }, cacheControl: "max-age=300");
        var client = setup with { ClientId = clientId };
        using var browser = suite.Browser();
        await HostedFlow.SignInAsync(browser, client, HostedFlow.AuthorizeUrl(client, HostedFlow.Pkce().Challenge, new() { ["scope"] = "openid" }));

        suite.Site.Serve(path, new SiteAnswer("down", Status: 503, ContentType: "text/plain"));
        suite.Clock.Advance(TimeSpan.FromMinutes(6));
        var stillServed = await HostedFlow.SignInAsync(browser, client, HostedFlow.AuthorizeUrl(client, HostedFlow.Pkce().Challenge, new() { ["scope"] = "openid" }));
        Assert.True(HostedFlow.Parameters(stillServed).ContainsKey("code"));
        Assert.Equal(2, suite.Site.Requests(path));

        suite.Site.Serve(path, new SiteAnswer("gone", Status: 404, ContentType: "text/plain"));
        suite.Clock.Advance(TimeSpan.FromMinutes(6));
        using var ended = await browser.GetAsync(HostedFlow.AuthorizeUrl(client, HostedFlow.Pkce().Challenge, new() { ["scope"] = "openid" }));
        await AssertRefusedAsync(ended);
    }

    /// <summary>Serves a valid public client's document (plus <paramref name="extra"/> fields) at a fresh path.</summary>
    private (string Path, string ClientId) Document(object extra, string? cacheControl = null)
    {
        var path = $"/clients/{Guid.NewGuid():N}.json";
        var clientId = suite.Site.Origin + path;
        var fields = JsonSerializer.SerializeToNode(extra)!.AsObject();
        fields["client_id"] = clientId;
        fields["redirect_uris"] ??= new System.Text.Json.Nodes.JsonArray(SignInSetup.RedirectUri);
        suite.Site.Serve(path, new SiteAnswer(fields.ToJsonString(), CacheControl: cacheControl));
        return (path, clientId);
    }

    private static SiteAnswer Answer(object body, string? cacheControl = null) => new(JsonSerializer.Serialize(body), CacheControl: cacheControl);

    /// <summary>On the page, never redirected: <c>invalid_client</c> when the client_id names no usable client, <c>invalid_request</c> for a known client's bad request.</summary>
    private static async Task AssertRefusedAsync(HttpResponseMessage response, string error = "invalid_client")
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{response.StatusCode}: {body}");
        Assert.Null(response.Headers.Location);
        Assert.Contains($"data-error=\"{error}\"", body, StringComparison.Ordinal);
    }

    /// <summary>A tenant that accepts Client ID Metadata Documents (switched on before anything read its settings).</summary>
    private async Task<SignInSetup> EnabledAsync()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        using var response = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { clientRegistration = new { clientIdMetadataDocumentsEnabled = true } });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return setup;
    }
}
