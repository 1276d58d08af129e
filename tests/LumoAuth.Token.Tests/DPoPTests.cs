using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// DPoP (RFC 9449): proofs at the token endpoint, tokens bound to the proof's key (<c>cnf.jkt</c>, <c>token_type</c>
/// DPoP), refresh tokens and codes bound for public clients and <c>dpop_jkt</c>, and bound tokens at userinfo and at
/// the Admin API, which take them only with the DPoP scheme and a proof by the same key.
/// </summary>
public sealed class DPoPTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private sealed record Machine(string ClientId, string Secret);

    private async Task<Machine> MachineClientAsync(SignInSetup setup, bool dpopBound = false)
    {
        var data = await suite.CreateClientAsync(setup, new
        {
            name = "robot", grantTypes = new[] { "client_credentials" }, allowedScopes = new[] { "admin.read" }, dpopBoundAccessTokens = dpopBound,
        });
        Assert.Equal(dpopBound, data.GetProperty("dpopBoundAccessTokens").GetBoolean());
        return new Machine(data.GetProperty("clientId").GetString()!, data.GetProperty("secret").GetString()!);
    }

    private HttpClient AdminClient(SignInSetup setup)
    {
        var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        return admin;
    }

    private Task<HttpResponseMessage> ClientCredentialsAsync(SignInSetup setup, Machine client, params string[] proofs) =>
        suite.PostFormAsync(setup.TokenEndpoint, [new("grant_type", "client_credentials"), new("scope", "admin.read")], (client.ClientId, client.Secret), proofs);

    private Task<HttpResponseMessage> PostTokenAsync(SignInSetup setup, Dictionary<string, string> form, string? proof) =>
        proof is null ? suite.PostFormAsync(setup.TokenEndpoint, form) : suite.PostFormAsync(setup.TokenEndpoint, form, basic: null, proof);

    private async Task<HttpResponseMessage> GetAsync(string url, string scheme, string token, string? proof)
    {
        using var http = suite.Token.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue(scheme, token);
        if (proof is not null)
        {
            request.Headers.Add("DPoP", proof);
        }

        return await http.SendAsync(request);
    }

    private static string Cnf(string accessToken) =>
        new JsonWebToken(accessToken).GetPayloadValue<JsonElement>("cnf").GetProperty("jkt").GetString()!;

    [Fact]
    public async Task Discovery_NamesTheProofAlgorithms()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();

        var metadata = await http.GetFromJsonAsync<JsonElement>($"{setup.Tenant.Api}/.well-known/openid-configuration");

        Assert.Equal(["ES256", "PS256", "RS256"], metadata.GetProperty("dpop_signing_alg_values_supported").EnumerateArray().Select(a => a.GetString()));
    }

    [Fact]
    public async Task ClientCredentials_WithProof_IssuesKeyBoundToken_IntrospectionShowsTheBinding()
    {
        var setup = await suite.SetUpAsync();
        var client = await MachineClientAsync(setup);
        using var key = new DPoPKey();

        using var bound = await ClientCredentialsAsync(setup, client, key.Proof("POST", setup.TokenEndpoint));
        using var plain = await ClientCredentialsAsync(setup, client);

        var token = await HttpAssert.JsonAsync(bound, HttpStatusCode.OK);
        Assert.Equal("DPoP", token.GetProperty("token_type").GetString());
        var accessToken = token.GetProperty("access_token").GetString()!;
        Assert.Equal(key.Thumbprint, Cnf(accessToken));
        var bearer = await HttpAssert.JsonAsync(plain, HttpStatusCode.OK);
        Assert.Equal("Bearer", bearer.GetProperty("token_type").GetString());
        Assert.False(new JsonWebToken(bearer.GetProperty("access_token").GetString()).TryGetPayloadValue<JsonElement>("cnf", out _));

        using var http = suite.Token.CreateClient();
        using var introspection = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, setup.Issuer + "/oauth/introspect")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = accessToken }),
            Headers = { Authorization = HttpAssert.Basic(client.ClientId, client.Secret) },
        });
        var active = await HttpAssert.JsonAsync(introspection, HttpStatusCode.OK);
        Assert.True(active.GetProperty("active").GetBoolean());
        Assert.Equal("DPoP", active.GetProperty("token_type").GetString());
        Assert.Equal(key.Thumbprint, active.GetProperty("cnf").GetProperty("jkt").GetString());
    }

    public static TheoryData<string> BadProofs => ["wrong method", "wrong url", "too old", "from the future", "short jti", "wrong type", "private key", "signed by another key", "not a jwt"];

    [Theory]
    [MemberData(nameof(BadProofs))]
    public async Task TokenRequest_WithBadProof_InvalidDPoPProof(string flaw)
    {
        var setup = await suite.SetUpAsync();
        var client = await MachineClientAsync(setup);
        using var key = new DPoPKey();
        using var other = new DPoPKey();
        var url = setup.TokenEndpoint;
        var proof = flaw switch
        {
            "wrong method" => key.Proof("GET", url),
            "wrong url" => key.Proof("POST", setup.Issuer + "/oauth/par"),
            "too old" => key.Proof("POST", url, issuedAt: DateTimeOffset.UtcNow.AddSeconds(-90)),
            "from the future" => key.Proof("POST", url, issuedAt: DateTimeOffset.UtcNow.AddSeconds(90)),
            "short jti" => key.Proof("POST", url, jti: "only-15-chars.."),
            "wrong type" => key.Proof("POST", url, type: "JWT"),
            "private key" => key.Proof("POST", url, headerJwk: key.PrivateJwk),
            "signed by another key" => key.Proof("POST", url, signedBy: other),
            _ => "not-a-jwt",
        };

        using var response = await ClientCredentialsAsync(setup, client, proof);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_dpop_proof");
    }

    [Fact]
    public async Task TokenRequest_ProofReplayedOrSentTwice_InvalidDPoPProof()
    {
        var setup = await suite.SetUpAsync();
        var client = await MachineClientAsync(setup);
        using var key = new DPoPKey();
        var proof = key.Proof("POST", setup.TokenEndpoint);
        using var first = await ClientCredentialsAsync(setup, client, proof);
        await HttpAssert.JsonAsync(first, HttpStatusCode.OK);

        using var replay = await ClientCredentialsAsync(setup, client, proof);
        using var twoProofs = await ClientCredentialsAsync(setup, client, key.Proof("POST", setup.TokenEndpoint), key.Proof("POST", setup.TokenEndpoint));

        await HttpAssert.OAuthErrorAsync(replay, HttpStatusCode.BadRequest, "invalid_dpop_proof");
        await HttpAssert.OAuthErrorAsync(twoProofs, HttpStatusCode.BadRequest, "invalid_dpop_proof");
    }

    [Fact]
    public async Task ClientHeldToDPoP_WithoutProof_InvalidDPoPProof_WithProof_Token()
    {
        var setup = await suite.SetUpAsync();
        var client = await MachineClientAsync(setup, dpopBound: true);
        using var key = new DPoPKey();

        using var without = await ClientCredentialsAsync(setup, client);
        using var with = await ClientCredentialsAsync(setup, client, key.Proof("POST", setup.TokenEndpoint));

        await HttpAssert.OAuthErrorAsync(without, HttpStatusCode.BadRequest, "invalid_dpop_proof");
        Assert.Equal("DPoP", (await HttpAssert.JsonAsync(with, HttpStatusCode.OK)).GetProperty("token_type").GetString());
    }

    [Fact]
    public async Task ClientUpdatedToRequireDPoP_IsHeldToItAtOnce()
    {
        var setup = await suite.SetUpAsync();
        var client = await MachineClientAsync(setup);
        using var before = await ClientCredentialsAsync(setup, client);
        await HttpAssert.JsonAsync(before, HttpStatusCode.OK);

        using var admin = AdminClient(setup);
        using var updated = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{client.ClientId}", new { dpopBoundAccessTokens = true });
        Assert.True((await HttpAssert.JsonAsync(updated, HttpStatusCode.OK)).GetProperty("data").GetProperty("dpopBoundAccessTokens").GetBoolean());
        using var after = await ClientCredentialsAsync(setup, client);

        await HttpAssert.OAuthErrorAsync(after, HttpStatusCode.BadRequest, "invalid_dpop_proof");
    }

    [Fact]
    public async Task DynamicRegistration_DPoPBoundAccessTokens_IsKept()
    {
        var setup = await suite.SetUpAsync();
        using (var settings = suite.Admin.ClientFor(setup.Tenant))
        using (var enabled = await settings.PutAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { clientRegistration = new { dynamicRegistrationEnabled = true } }))
        {
            Assert.True(enabled.IsSuccessStatusCode, await enabled.Content.ReadAsStringAsync());
        }

        using var http = suite.Token.CreateClient();
        using var registered = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new
        {
            redirect_uris = new[] { "https://bank.example.com/callback" }, dpop_bound_access_tokens = true,
        });

        var body = await HttpAssert.JsonAsync(registered, HttpStatusCode.Created);
        Assert.True(body.GetProperty("dpop_bound_access_tokens").GetBoolean());
        using var admin = AdminClient(setup);
        var client = await admin.GetFromJsonAsync<JsonElement>($"{setup.Tenant.Api}/admin/clients/{body.GetProperty("client_id").GetString()}");
        Assert.True(client.GetProperty("data").GetProperty("dpopBoundAccessTokens").GetBoolean());
    }

    [Fact]
    public async Task AdminApi_BoundToken_NeedsTheDPoPSchemeAndAFreshProofByItsKey()
    {
        var setup = await suite.SetUpAsync();
        var client = await MachineClientAsync(setup);
        using var key = new DPoPKey();
        using var other = new DPoPKey();
        using var issued = await ClientCredentialsAsync(setup, client, key.Proof("POST", setup.TokenEndpoint));
        var token = (await HttpAssert.JsonAsync(issued, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;
        var url = setup.Issuer + "/admin/clients";
        var proof = key.Proof("GET", url, token);

        using var ok = await GetAsync(url, "DPoP", token, proof);
        using var replayed = await GetAsync(url, "DPoP", token, proof);
        using var asBearer = await GetAsync(url, "Bearer", token, proof: null);
        using var withoutProof = await GetAsync(url, "DPoP", token, proof: null);
        using var otherKey = await GetAsync(url, "DPoP", token, other.Proof("GET", url, token));
        using var noTokenHash = await GetAsync(url, "DPoP", token, key.Proof("GET", url));
        using var otherUrl = await GetAsync(url, "DPoP", token, key.Proof("GET", setup.Issuer + "/admin/scopes", token));

        await HttpAssert.JsonAsync(ok, HttpStatusCode.OK);
        await HttpAssert.EnvelopeAsync(asBearer, HttpStatusCode.Unauthorized, "invalid_token");
        foreach (var refused in new[] { replayed, withoutProof, otherKey, noTokenHash, otherUrl })
        {
            await HttpAssert.EnvelopeAsync(refused, HttpStatusCode.Unauthorized, "invalid_dpop_proof");
            Assert.StartsWith("DPoP ", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// A proof whose <c>jwk</c> names the victim's RSA key (its <c>n</c>, <c>e</c>: the thumbprint a stolen token is bound
    /// to) but carries the attacker's certificate in <c>x5c</c> and is signed by the attacker: the signature is checked
    /// with the key the thumbprint names, so the stolen token stays useless.
    /// </summary>
    [Fact]
    public async Task StolenRsaBoundToken_WithAProofWhoseX5cIsAnotherKey_IsRefused()
    {
        var setup = await suite.SetUpAsync();
        var client = await MachineClientAsync(setup);
        using var victim = System.Security.Cryptography.RSA.Create(2048);
        using var attacker = System.Security.Cryptography.RSA.Create(2048);
        var victimKey = new Microsoft.IdentityModel.Tokens.RsaSecurityKey(victim);
        var publicJwk = Microsoft.IdentityModel.Tokens.JsonWebKeyConverter.ConvertFromRSASecurityKey(victimKey);
        var certificate = new System.Security.Cryptography.X509Certificates.CertificateRequest(
            "CN=attacker", attacker, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        string Proof(System.Security.Cryptography.RSA signer, string method, string url, string? accessToken, bool withX5c)
        {
            var jwk = new Dictionary<string, object> { ["kty"] = "RSA", ["n"] = publicJwk.N, ["e"] = publicJwk.E };
            if (withX5c)
            {
                jwk["x5c"] = new[] { Convert.ToBase64String(certificate.RawData) };
            }

            var claims = new Dictionary<string, object>
            {
                ["jti"] = Guid.NewGuid().ToString("N"), ["htm"] = method, ["htu"] = url, ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            };
            if (accessToken is not null)
            {
                claims["ath"] = DPoPKey.AccessTokenHash(accessToken);
            }

            return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(
                JsonSerializer.Serialize(claims),
                new Microsoft.IdentityModel.Tokens.SigningCredentials(new Microsoft.IdentityModel.Tokens.RsaSecurityKey(signer), "RS256"),
                new Dictionary<string, object> { ["typ"] = "dpop+jwt", ["jwk"] = jwk });
        }

        using var issued = await ClientCredentialsAsync(setup, client, Proof(victim, "POST", setup.TokenEndpoint, null, withX5c: false));
        var token = (await HttpAssert.JsonAsync(issued, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;
        var url = setup.Issuer + "/admin/clients";

        using var substituted = await GetAsync(url, "DPoP", token, Proof(attacker, "GET", url, token, withX5c: true));
        await HttpAssert.EnvelopeAsync(substituted, HttpStatusCode.Unauthorized, "invalid_dpop_proof");

        // The victim's own proof, with or without a certificate of its own key, still works.
        using var genuine = await GetAsync(url, "DPoP", token, Proof(victim, "GET", url, token, withX5c: false));
        await HttpAssert.JsonAsync(genuine, HttpStatusCode.OK);
    }

    [Fact]
    public async Task AdminApi_PlainBearerToken_WithTheDPoPScheme_IsRefused()
    {
        var setup = await suite.SetUpAsync();
        var client = await MachineClientAsync(setup);
        using var key = new DPoPKey();
        using var issued = await ClientCredentialsAsync(setup, client);
        var token = (await HttpAssert.JsonAsync(issued, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;
        var url = setup.Issuer + "/admin/clients";

        using var response = await GetAsync(url, "DPoP", token, key.Proof("GET", url, token));

        await HttpAssert.EnvelopeAsync(response, HttpStatusCode.Unauthorized, "invalid_token");
    }

    /// <summary>A bound token without openid, properly presented, is refused at userinfo as RFC 6750 §3.1 says: 403 insufficient_scope.</summary>
    [Fact]
    public async Task BoundTokenWithoutOpenId_AtUserInfo_403InsufficientScope_WithADPoPChallenge()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        using var key = new DPoPKey();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge, new() { ["scope"] = "profile" })))["code"];
        using var exchanged = await PostTokenAsync(setup, new()
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }, key.Proof("POST", setup.TokenEndpoint));
        var accessToken = (await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;

        var userinfo = setup.Issuer + "/oauth/userinfo";
        using var response = await GetAsync(userinfo, "DPoP", accessToken, key.Proof("GET", userinfo, accessToken));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Forbidden, "insufficient_scope");
        Assert.StartsWith("DPoP error=\"insufficient_scope\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PublicClient_CodeAndRefresh_BoundToTheKey_UserInfoNeedsAProof()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        using var key = new DPoPKey();
        using var other = new DPoPKey();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge)))["code"];

        using var exchanged = await PostTokenAsync(setup, new()
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }, key.Proof("POST", setup.TokenEndpoint));
        var tokens = await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK);
        Assert.Equal("DPoP", tokens.GetProperty("token_type").GetString());
        var accessToken = tokens.GetProperty("access_token").GetString()!;
        Assert.Equal(key.Thumbprint, Cnf(accessToken));

        var userinfo = setup.Issuer + "/oauth/userinfo";
        using var withProof = await GetAsync(userinfo, "DPoP", accessToken, key.Proof("GET", userinfo, accessToken));
        using var asBearer = await GetAsync(userinfo, "Bearer", accessToken, proof: null);
        using var otherKeyInfo = await GetAsync(userinfo, "DPoP", accessToken, other.Proof("GET", userinfo, accessToken));
        Assert.Equal(setup.UserId.ToString(), (await HttpAssert.JsonAsync(withProof, HttpStatusCode.OK)).GetProperty("sub").GetString());
        await HttpAssert.OAuthErrorAsync(asBearer, HttpStatusCode.Unauthorized, "invalid_token");
        await HttpAssert.OAuthErrorAsync(otherKeyInfo, HttpStatusCode.Unauthorized, "invalid_dpop_proof");
        Assert.StartsWith("DPoP error=\"invalid_dpop_proof\"", otherKeyInfo.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);

        var refresh = new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = tokens.GetProperty("refresh_token").GetString()!, ["client_id"] = setup.ClientId,
        };
        using var withoutProof = await PostTokenAsync(setup, refresh, proof: null);
        using var byOtherKey = await PostTokenAsync(setup, refresh, other.Proof("POST", setup.TokenEndpoint));
        using var bySameKey = await PostTokenAsync(setup, refresh, key.Proof("POST", setup.TokenEndpoint));

        await HttpAssert.OAuthErrorAsync(withoutProof, HttpStatusCode.BadRequest, "invalid_grant");
        await HttpAssert.OAuthErrorAsync(byOtherKey, HttpStatusCode.BadRequest, "invalid_grant");
        var refreshed = await HttpAssert.JsonAsync(bySameKey, HttpStatusCode.OK);
        Assert.Equal(key.Thumbprint, Cnf(refreshed.GetProperty("access_token").GetString()!));

        // Inside the reuse leeway, someone without the key cannot use up the client's one extra redemption (and so cannot
        // make the client's own concurrent refresh end the grant): their requests fail the binding before they count.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            using var stolen = await PostTokenAsync(setup, refresh, other.Proof("POST", setup.TokenEndpoint));
            await HttpAssert.OAuthErrorAsync(stolen, HttpStatusCode.BadRequest, "invalid_grant");
        }

        using var concurrent = await PostTokenAsync(setup, refresh, key.Proof("POST", setup.TokenEndpoint));
        await HttpAssert.JsonAsync(concurrent, HttpStatusCode.OK);
        using var next = await PostTokenAsync(setup, new(refresh) { ["refresh_token"] = refreshed.GetProperty("refresh_token").GetString()! },
            key.Proof("POST", setup.TokenEndpoint));
        await HttpAssert.JsonAsync(next, HttpStatusCode.OK);
    }

    [Fact]
    public async Task AuthorizationRequest_NamingTheKey_BindsTheCode()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        using var key = new DPoPKey();
        using var other = new DPoPKey();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup,
            HostedFlow.AuthorizeUrl(setup, challenge, new() { ["dpop_jkt"] = key.Thumbprint })))["code"];
        var exchange = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        };

        using var withoutProof = await PostTokenAsync(setup, exchange, proof: null);
        using var byOtherKey = await PostTokenAsync(setup, exchange, other.Proof("POST", setup.TokenEndpoint));
        using var byTheKey = await PostTokenAsync(setup, exchange, key.Proof("POST", setup.TokenEndpoint));

        await HttpAssert.OAuthErrorAsync(withoutProof, HttpStatusCode.BadRequest, "invalid_grant");
        await HttpAssert.OAuthErrorAsync(byOtherKey, HttpStatusCode.BadRequest, "invalid_grant");
        Assert.Equal(key.Thumbprint, Cnf((await HttpAssert.JsonAsync(byTheKey, HttpStatusCode.OK)).GetProperty("access_token").GetString()!));
    }

    [Fact]
    public async Task PushedRequest_WithAProof_BindsTheCodeToItsKey_AndADifferentDPoPJkt_IsRefused()
    {
        var setup = await suite.SetUpAsync();
        using var key = new DPoPKey();
        using var other = new DPoPKey();
        var par = setup.Issuer + "/oauth/par";
        var (verifier, challenge) = HostedFlow.Pkce();
        Dictionary<string, string> Pushed() => new()
        {
            ["client_id"] = setup.ClientId, ["response_type"] = "code", ["redirect_uri"] = SignInSetup.RedirectUri, ["scope"] = "openid",
            ["code_challenge"] = challenge, ["code_challenge_method"] = "S256",
        };
        var mismatched = Pushed();
        mismatched["dpop_jkt"] = other.Thumbprint;
        using var refused = await suite.PostFormAsync(par, mismatched, basic: null, key.Proof("POST", par));
        await HttpAssert.OAuthErrorAsync(refused, HttpStatusCode.BadRequest, "invalid_dpop_proof");

        using var pushed = await suite.PostFormAsync(par, Pushed(), basic: null, key.Proof("POST", par));
        var requestUri = (await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created)).GetProperty("request_uri").GetString()!;
        using var browser = suite.Browser();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup,
            $"{setup.Tenant.Api}/oauth/authorize?client_id={setup.ClientId}&request_uri={Uri.EscapeDataString(requestUri)}"))["code"];
        var exchange = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        };

        using var withoutProof = await PostTokenAsync(setup, exchange, proof: null);
        using var byTheKey = await PostTokenAsync(setup, exchange, key.Proof("POST", setup.TokenEndpoint));

        await HttpAssert.OAuthErrorAsync(withoutProof, HttpStatusCode.BadRequest, "invalid_grant");
        Assert.Equal(key.Thumbprint, Cnf((await HttpAssert.JsonAsync(byTheKey, HttpStatusCode.OK)).GetProperty("access_token").GetString()!));
    }

    [Fact]
    public async Task AuthorizationRequest_MalformedKeyThumbprint_InvalidRequestAtTheRedirectUri()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();

        using var response = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["dpop_jkt"] = "not a thumbprint" }));

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal("invalid_request", HostedFlow.Parameters(response.Headers.Location!)["error"]);
    }
}

/// <summary>A token service that requires DPoP proofs to carry a nonce it issued (RFC 9449 §8).</summary>
public sealed class DPoPNonceSuite : TokenSuite
{
    protected override IDictionary<string, string?> TokenSettings => new Dictionary<string, string?> { ["Token:RequireDPoPNonce"] = "true" };
}

public sealed class DPoPNonceTests(DPoPNonceSuite suite) : IClassFixture<DPoPNonceSuite>
{
    private async Task<(string ClientId, string Secret)> MachineClientAsync(SignInSetup setup)
    {
        var data = await suite.CreateClientAsync(setup, new { name = "robot", grantTypes = new[] { "client_credentials" }, allowedScopes = new[] { "admin.read" } });
        return (data.GetProperty("clientId").GetString()!, data.GetProperty("secret").GetString()!);
    }

    private Task<HttpResponseMessage> TokenAsync(SignInSetup setup, (string ClientId, string Secret) client, string? proof) =>
        suite.PostFormAsync(setup.TokenEndpoint, [new("grant_type", "client_credentials")], client, proof is null ? [] : [proof]);

    private static string Nonce(HttpResponseMessage response) => response.Headers.GetValues("DPoP-Nonce").Single();

    [Fact]
    public async Task ProofWithoutNonce_UseDPoPNonce_WithTheNonce_Token_WithAFreshNonce()
    {
        var setup = await suite.SetUpAsync();
        var client = await MachineClientAsync(setup);
        using var key = new DPoPKey();

        using var first = await TokenAsync(setup, client, key.Proof("POST", setup.TokenEndpoint));
        await HttpAssert.OAuthErrorAsync(first, HttpStatusCode.BadRequest, "use_dpop_nonce");
        var nonce = Nonce(first);

        using var second = await TokenAsync(setup, client, key.Proof("POST", setup.TokenEndpoint, nonce: nonce));
        var tokens = await HttpAssert.JsonAsync(second, HttpStatusCode.OK);
        Assert.Equal("DPoP", tokens.GetProperty("token_type").GetString());
        Assert.False(string.IsNullOrEmpty(Nonce(second)));

        // Without a proof nothing changes: the nonce is about proofs.
        using var bearer = await TokenAsync(setup, client, proof: null);
        Assert.Equal("Bearer", (await HttpAssert.JsonAsync(bearer, HttpStatusCode.OK)).GetProperty("token_type").GetString());
    }

    [Fact]
    public async Task ForgedOrOtherTenantsNonce_UseDPoPNonce()
    {
        var setup = await suite.SetUpAsync();
        var other = await suite.SetUpAsync();
        var client = await MachineClientAsync(setup);
        var otherClient = await MachineClientAsync(other);
        using var key = new DPoPKey();
        using var otherAsk = await TokenAsync(other, otherClient, key.Proof("POST", other.TokenEndpoint));
        var otherTenantsNonce = Nonce(otherAsk);

        using var foreign = await TokenAsync(setup, client, key.Proof("POST", setup.TokenEndpoint, nonce: otherTenantsNonce));
        using var forged = await TokenAsync(setup, client, key.Proof("POST", setup.TokenEndpoint, nonce: "made-up-nonce"));

        await HttpAssert.OAuthErrorAsync(foreign, HttpStatusCode.BadRequest, "use_dpop_nonce");
        await HttpAssert.OAuthErrorAsync(forged, HttpStatusCode.BadRequest, "use_dpop_nonce");
    }
}

