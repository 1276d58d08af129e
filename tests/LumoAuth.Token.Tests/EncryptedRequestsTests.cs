using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using LumoAuth.Token.Tests.Support;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// What clients encrypt to the tenant (RFC 9101 §6.1, OIDC RP-Initiated Logout §2): signed request objects and ID token
/// hints, as JWEs to the EC key the tenant's JWKS publishes with <c>use</c> <c>enc</c>. The client side is written with
/// jose-jwt, as a client library would.
/// </summary>
[Collection(SharedTokenSuite.Name)]
public sealed class EncryptedRequestsTests(TokenSuite suite)
{
    private static readonly RsaSecurityKey ClientKey = new(RSA.Create(2048)) { KeyId = "jar-1" };

    private static object WebClient() => new
    {
        name = "Sealed app", applicationType = "web", redirectUris = new[] { SignInSetup.RedirectUri }, postLogoutRedirectUris = new[] { SignInSetup.PostLogoutUri },
        grantTypes = new[] { "authorization_code", "refresh_token" }, allowedScopes = new[] { "openid", "profile", "email", "offline_access" },
        jwks = ClientAssertions.PublicJwks(ClientKey),
    };

    /// <summary>The tenant's published encryption key, as a client reads it from the JWKS.</summary>
    private async Task<(string Kid, ECDiffieHellman Key)> TenantKeyAsync(SignInSetup setup) => Assert.Single(await TenantKeysAsync(setup));

    /// <summary>Every published encryption key, in the JWKS's order.</summary>
    private async Task<List<(string Kid, ECDiffieHellman Key)>> TenantKeysAsync(SignInSetup setup)
    {
        using var http = suite.Token.CreateClient();
        var jwks = JsonDocument.Parse(await http.GetStringAsync(setup.Issuer + "/.well-known/jwks.json")).RootElement;
        return jwks.GetProperty("keys").EnumerateArray().Where(k => k.GetProperty("use").GetString() == "enc").Select(key =>
        {
            Assert.Equal("EC", key.GetProperty("kty").GetString());
            Assert.False(key.TryGetProperty("d", out _));
            return (key.GetProperty("kid").GetString()!, ECDiffieHellman.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = Base64UrlEncoder.DecodeBytes(key.GetProperty("x").GetString()), Y = Base64UrlEncoder.DecodeBytes(key.GetProperty("y").GetString()) },
            }));
        }).ToList();
    }

    private async Task RotateAsync(SignInSetup setup, int gracePeriodHours)
    {
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var rotated = await admin.PostAsync($"{setup.Tenant.Api}/admin/signing-keys/rotate",
            System.Net.Http.Json.JsonContent.Create(new { gracePeriodHours }));
        Assert.True(rotated.IsSuccessStatusCode, await rotated.Content.ReadAsStringAsync());
    }

    private static string RequestObject(SignInSetup setup, string challenge, string state) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = setup.ClientId, Audience = setup.Issuer, TokenType = "oauth-authz-req+jwt",
            IssuedAt = DateTime.UtcNow, NotBefore = DateTime.UtcNow, Expires = DateTime.UtcNow.AddMinutes(5),
            Claims = new Dictionary<string, object>
            {
                ["client_id"] = setup.ClientId, ["response_type"] = "code", ["redirect_uri"] = SignInSetup.RedirectUri, ["scope"] = "openid email",
                ["state"] = state, ["nonce"] = "n-sealed", ["code_challenge"] = challenge, ["code_challenge_method"] = "S256",
            },
            SigningCredentials = new SigningCredentials(ClientKey, SecurityAlgorithms.RsaSsaPssSha256),
        });

    private static string Encrypt(string payload, object key, string kid, string alg = "ECDH-ES+A128KW", string enc = "A256GCM", Jose.JweCompression? zip = null) =>
        Jose.JWT.Encode(payload, key, alg, enc, zip?.ToString(), new Dictionary<string, object> { ["kid"] = kid, ["cty"] = "JWT" });

    private Task<HttpResponseMessage> PushAsync(SignInSetup setup, string requestObject) =>
        suite.PostFormAsync(setup.Issuer + "/oauth/par", new Dictionary<string, string> { ["client_id"] = setup.ClientId, ["request"] = requestObject },
            (setup.ClientId, setup.ClientSecret!));

    [Fact]
    public async Task AnEncryptedRequestObject_SignsTheUserIn_ByValueAndPushed()
    {
        var setup = await suite.SetUpAsync(WebClient());
        var (kid, key) = await TenantKeyAsync(setup);
        var (_, challenge) = HostedFlow.Pkce();
        using var browser = suite.Browser();

        var byValue = QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/authorize", new Dictionary<string, string?>
        {
            ["client_id"] = setup.ClientId, ["request"] = Encrypt(RequestObject(setup, challenge, "sealed-1"), key, kid, "ECDH-ES", "A128CBC-HS256"),
        });
        var back = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, byValue));
        using var pushed = await PushAsync(setup, Encrypt(RequestObject(setup, challenge, "sealed-2"), key, kid));
        var requestUri = (await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created)).GetProperty("request_uri").GetString();
        var again = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, QueryHelpers.AddQueryString(
            $"{setup.Tenant.Api}/oauth/authorize", new Dictionary<string, string?> { ["client_id"] = setup.ClientId, ["request_uri"] = requestUri }), expectConsent: false));

        Assert.True(back.ContainsKey("code"), string.Join('&', back));
        Assert.Equal("sealed-1", back["state"]);
        Assert.True(again.ContainsKey("code"), string.Join('&', again));
        Assert.Equal("sealed-2", again["state"]);
    }

    public static TheoryData<string, string> RefusedObjects => new()
    {
        { "another key under the tenant's kid", "stranger" },
        { "compressed", "zip" },
        { "an unsigned object inside", "unsigned" },
        { "RSA key management", "rsa" },
        { "another kid", "kid" },
    };

    [Theory]
    [MemberData(nameof(RefusedObjects))]
    public async Task AnEncryptedRequestObjectThatDoesNotOpenToASignedOne_IsRefused(string because, string flaw)
    {
        var setup = await suite.SetUpAsync(WebClient());
        var (kid, key) = await TenantKeyAsync(setup);
        var (_, challenge) = HostedFlow.Pkce();
        var signed = RequestObject(setup, challenge, "st");
        using var stranger = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        using var rsa = RSA.Create(2048);
        var jwe = flaw switch
        {
            "stranger" => Encrypt(signed, stranger, kid),
            "zip" => Encrypt(signed, key, kid, zip: Jose.JweCompression.DEF),
            "unsigned" => Jose.JWT.Encode("{\"client_id\":\"" + setup.ClientId + "\",\"response_type\":\"code\"}", key, "ECDH-ES", "A256GCM"),
            "rsa" => Encrypt(signed, rsa, kid, "RSA-OAEP-256"),
            _ => Encrypt(signed, key, "not-our-key"),
        };

        using var response = await PushAsync(setup, jwe);

        var error = await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_object");
        Assert.True(error.GetProperty("error_description").GetString()!.StartsWith("The encrypted request object is refused.", StringComparison.Ordinal), because);
    }

    [Fact]
    public async Task TheKeyRotatesWithTheSigningKey_AndTheOldOneOpensRequestsForItsGracePeriod()
    {
        var setup = await suite.SetUpAsync(WebClient());
        var (_, challenge) = HostedFlow.Pkce();
        var first = await TenantKeyAsync(setup);

        await RotateAsync(setup, gracePeriodHours: 1);
        var afterFirst = await TenantKeysAsync(setup);
        await RotateAsync(setup, gracePeriodHours: 0);
        var afterSecond = await TenantKeysAsync(setup);

        // The active key is published first; the one it replaced stays beside it for its grace period, no longer.
        Assert.Equal(2, afterFirst.Count);
        Assert.Equal(first.Kid, afterFirst[1].Kid);
        var second = afterFirst[0];
        Assert.Equal(2, afterSecond.Count);
        Assert.Equal(first.Kid, afterSecond[1].Kid);
        Assert.DoesNotContain(afterSecond, k => k.Kid == second.Kid);
        using (var toFirst = await PushAsync(setup, Encrypt(RequestObject(setup, challenge, "old"), first.Key, first.Kid)))
        {
            await HttpAssert.JsonAsync(toFirst, HttpStatusCode.Created);
        }

        using (var toNewest = await PushAsync(setup, Encrypt(RequestObject(setup, challenge, "new"), afterSecond[0].Key, afterSecond[0].Kid)))
        {
            await HttpAssert.JsonAsync(toNewest, HttpStatusCode.Created);
        }

        using var toRetired = await PushAsync(setup, Encrypt(RequestObject(setup, challenge, "gone"), second.Key, second.Kid));
        await HttpAssert.OAuthErrorAsync(toRetired, HttpStatusCode.BadRequest, "invalid_request_object");
    }

    [Fact]
    public async Task AnIdTokenHintEncryptedToTheTenant_EndsTheSessionAtOnce()
    {
        var setup = await suite.SetUpAsync();
        var (kid, key) = await TenantKeyAsync(setup);
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge)))["code"];
        using var exchanged = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri, ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        });
        var idToken = (await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("id_token").GetString()!;

        using var response = await browser.GetAsync(QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/logout", new Dictionary<string, string?>
        {
            ["id_token_hint"] = Encrypt(idToken, key, kid, "ECDH-ES"), ["post_logout_redirect_uri"] = SignInSetup.PostLogoutUri, ["state"] = "sealed-bye",
        }));

        var location = response.Headers.Location;
        Assert.True(location is not null && location.AbsoluteUri.StartsWith(SignInSetup.PostLogoutUri, StringComparison.Ordinal),
            $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("sealed-bye", QueryHelpers.ParseQuery(location!.Query)["state"].ToString());
    }

    [Fact]
    public async Task TheEncryptionKey_IsPublishedBesideTheSigningKeys_AndDiscoveryNamesItsAlgorithms()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();

        var jwks = new JsonWebKeySet(await http.GetStringAsync(setup.Issuer + "/.well-known/jwks.json"));
        var metadata = JsonDocument.Parse(await http.GetStringAsync(setup.Issuer + "/.well-known/openid-configuration")).RootElement;

        // A resource server taking the signing keys never picks the encryption key.
        Assert.DoesNotContain(jwks.GetSigningKeys(), k => k.KeyId == jwks.Keys.Single(j => j.Use == "enc").Kid);
        Assert.Equal(["ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW"],
            metadata.GetProperty("request_object_encryption_alg_values_supported").EnumerateArray().Select(v => v.GetString()!));
        Assert.Contains("A256GCM", metadata.GetProperty("request_object_encryption_enc_values_supported").EnumerateArray().Select(v => v.GetString()!));
    }
}
