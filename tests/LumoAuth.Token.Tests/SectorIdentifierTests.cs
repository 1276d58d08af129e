using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// A pairwise client's <c>sector_identifier_uri</c> (OIDC Core §8.1): a document on the client's site listing its redirect
/// URIs lets them span hosts, and its host is the sector — so the relying party's clients on several hosts know each
/// person by one name. The document must list every redirect URI, now and after each change.
/// </summary>
public sealed class SectorIdentifierTests(ClientSiteSuite suite) : IClassFixture<ClientSiteSuite>
{
    private const string Web = "https://web.example.com/callback";
    private const string Mobile = "https://m.example.com/callback";

    private string Document(params string[] redirectUris) =>
        suite.Site.Serve($"/sector/{Guid.NewGuid():N}.json", new SiteAnswer(JsonSerializer.Serialize(redirectUris)));

    private static Dictionary<string, object?> PairwiseClient(string[] redirectUris, string? sectorIdentifierUri) => new()
    {
        ["name"] = "Notes", ["applicationType"] = "web", ["redirectUris"] = redirectUris, ["grantTypes"] = new[] { "authorization_code" },
        ["allowedScopes"] = new[] { "openid" }, ["subjectType"] = "pairwise", ["sectorIdentifierUri"] = sectorIdentifierUri,
    };

    private async Task<string> SubjectAsync(SignInSetup setup, HttpClient browser, JsonElement client, string redirectUri)
    {
        var clientId = client.GetProperty("clientId").GetString()!;
        var (verifier, challenge) = HostedFlow.Pkce();
        var back = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup,
            HostedFlow.AuthorizeUrl(setup, challenge, new() { ["client_id"] = clientId, ["redirect_uri"] = redirectUri, ["scope"] = "openid" })));
        using var redeemed = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = back["code"], ["redirect_uri"] = redirectUri, ["code_verifier"] = verifier,
        }, (clientId, client.GetProperty("secret").GetString()!));
        return new JsonWebToken((await HttpAssert.JsonAsync(redeemed, HttpStatusCode.OK)).GetProperty("id_token").GetString()).Subject;
    }

    [Fact]
    public async Task ASectorDocument_MakesRedirectUrisOnSeveralHostsOneSector_NamedByItsHost()
    {
        var setup = await suite.SetUpAsync();
        var document = Document(Web, Mobile);
        var spread = await suite.CreateClientAsync(setup, PairwiseClient([Web, Mobile], document));
        var sector = new Uri(document).Host;
        Assert.Equal(document, spread.GetProperty("sectorIdentifierUri").GetString());
        Assert.Equal(sector, spread.GetProperty("sectorIdentifier").GetString());

        // Another client whose redirect URI is on the document's host is of the same sector.
        var onTheSectorsHost = $"https://{sector}/callback";
        var sibling = await suite.CreateClientAsync(setup, PairwiseClient([onTheSectorsHost], null));
        Assert.Equal(sector, sibling.GetProperty("sectorIdentifier").GetString());
        var stranger = await suite.CreateClientAsync(setup, PairwiseClient(["https://other.example.com/callback"], null));
        using var browser = suite.Browser();

        var viaWeb = await SubjectAsync(setup, browser, spread, Web);
        var viaSibling = await SubjectAsync(setup, browser, sibling, onTheSectorsHost);
        var viaStranger = await SubjectAsync(setup, browser, stranger, "https://other.example.com/callback");

        Assert.NotEqual(setup.UserId.ToString(), viaWeb);
        Assert.Equal(viaWeb, viaSibling);
        Assert.NotEqual(viaWeb, viaStranger);
    }

    public static TheoryData<string> FlawedDocuments => ["unlisted", "not found", "not an array", "http"];

    [Theory]
    [MemberData(nameof(FlawedDocuments))]
    public async Task ASectorDocument_ThatDoesNotListEveryRedirectUri_IsRefused(string flaw)
    {
        var setup = await suite.SetUpAsync();
        var document = flaw switch
        {
            "unlisted" => Document(Web),
            "not found" => suite.Site.Origin + $"/sector/{Guid.NewGuid():N}.json",
            "not an array" => suite.Site.Serve($"/sector/{Guid.NewGuid():N}.json", new SiteAnswer(JsonSerializer.Serialize(new { redirect_uris = new[] { Web, Mobile } }))),
            _ => Document(Web, Mobile).Replace("https://", "http://", StringComparison.Ordinal),
        };
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);

        using var response = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", PairwiseClient([Web, Mobile], document));

        var json = await HttpAssert.EnvelopeAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(json.GetProperty("details").TryGetProperty("sectorIdentifierUri", out _), json.ToString());
    }

    [Fact]
    public async Task NewRedirectUris_MustBeListedFirst_AndTheSectorStays()
    {
        var setup = await suite.SetUpAsync();
        var path = $"/sector/{Guid.NewGuid():N}.json";
        var document = suite.Site.Serve(path, new SiteAnswer(JsonSerializer.Serialize(new[] { Web })));
        var client = await suite.CreateClientAsync(setup, PairwiseClient([Web], document));
        var clientId = client.GetProperty("clientId").GetString()!;
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var url = $"{setup.Tenant.Api}/admin/clients/{clientId}";

        using (var unlisted = await admin.PutAsJsonAsync(url, new { redirectUris = new[] { Web, Mobile } }))
        {
            var json = await HttpAssert.EnvelopeAsync(unlisted, HttpStatusCode.BadRequest, "validation_error");
            Assert.True(json.GetProperty("details").TryGetProperty("sectorIdentifierUri", out _), json.ToString());
        }

        // The client lists it on its site; the document is fetched again (no sooner than 30 s after the last fetch).
        suite.Site.Serve(path, new SiteAnswer(JsonSerializer.Serialize(new[] { Web, Mobile })));
        suite.Clock.Advance(TimeSpan.FromSeconds(31));
        using (var listed = await admin.PutAsJsonAsync(url, new { redirectUris = new[] { Web, Mobile } }))
        {
            var data = (await HttpAssert.JsonAsync(listed, HttpStatusCode.OK)).GetProperty("data");
            Assert.Equal(2, data.GetProperty("redirectUris").GetArrayLength());
        }

        // Its users' names are made for the document's host: a document elsewhere would rename them all.
        var elsewhere = Document(Web, Mobile).Replace("127.0.0.1", "localhost", StringComparison.Ordinal);
        using var moved = await admin.PutAsJsonAsync(url, new { sectorIdentifierUri = elsewhere });
        var refusal = await HttpAssert.EnvelopeAsync(moved, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(refusal.GetProperty("details").TryGetProperty("sectorIdentifierUri", out _), refusal.ToString());
    }

    [Fact]
    public async Task DynamicRegistration_TakesASectorIdentifierUri()
    {
        var setup = await suite.SetUpAsync();
        using (var settings = suite.Admin.ClientFor(setup.Tenant))
        {
            using var enabled = await settings.PutAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { clientRegistration = new { dynamicRegistrationEnabled = true } });
            Assert.True(enabled.IsSuccessStatusCode, await enabled.Content.ReadAsStringAsync());
        }

        var document = Document(Web, Mobile);
        using var http = suite.Token.CreateClient();
        using var registered = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new
        {
            redirect_uris = new[] { Web, Mobile }, subject_type = "pairwise", sector_identifier_uri = document,
        });
        var json = await HttpAssert.JsonAsync(registered, HttpStatusCode.Created);
        Assert.Equal(document, json.GetProperty("sector_identifier_uri").GetString());
        Assert.Equal("pairwise", json.GetProperty("subject_type").GetString());

        using var unlisted = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new
        {
            redirect_uris = new[] { Web, "https://third.example.com/callback" }, subject_type = "pairwise", sector_identifier_uri = document,
        });
        await HttpAssert.OAuthErrorAsync(unlisted, HttpStatusCode.BadRequest, "invalid_client_metadata");
    }
}
