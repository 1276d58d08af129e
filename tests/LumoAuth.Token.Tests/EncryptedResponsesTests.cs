using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LumoAuth.Token.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using LumoAuth.Testing;

namespace LumoAuth.Token.Tests;

/// <summary>
/// ID tokens and userinfo answers in the form a client registered (OIDC Core §5.3.2, §10.2; OIDC Dynamic Registration §2):
/// userinfo as a JWT signed with the tenant's key, and either encrypted to a key of the client's (JWE, RFC 7516). Each
/// answer is opened here the way the client would, the RSA-OAEP-256/A256GCM one by hand from RFC 7516 and RFC 7518, the
/// RSA-OAEP/A128CBC-HS256 one by IdentityModel, so the format is checked by other code than the one that wrote it.
/// </summary>
[RunsLong(70)]
public sealed class EncryptedResponsesTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private static readonly RSA RsaKey = RSA.Create(2048);
    private static readonly ECDiffieHellman EcKey = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);

    /// <summary>The client's public keys: an RSA and an EC key for encryption, and an RSA key only for signatures.</summary>
    private static object Jwks(bool withRsa = true, bool withEc = true)
    {
        var keys = new List<object>();
        if (withRsa)
        {
            var rsa = RsaKey.ExportParameters(false);
            keys.Add(new { kty = "RSA", kid = "enc-rsa", use = "enc", n = Base64UrlEncoder.Encode(rsa.Modulus), e = Base64UrlEncoder.Encode(rsa.Exponent) });
        }

        if (withEc)
        {
            var ec = EcKey.ExportParameters(false);
            keys.Add(new { kty = "EC", kid = "enc-ec", use = "enc", crv = "P-256", x = Base64UrlEncoder.Encode(ec.Q.X), y = Base64UrlEncoder.Encode(ec.Q.Y) });
        }

        var signing = RSA.Create(2048).ExportParameters(false);
        keys.Add(new { kty = "RSA", kid = "sig-rsa", use = "sig", n = Base64UrlEncoder.Encode(signing.Modulus), e = Base64UrlEncoder.Encode(signing.Exponent) });
        return new { keys };
    }

    private static Dictionary<string, object?> WebClient(object? jwks = null) => new()
    {
        ["name"] = "Encrypted app",
        ["applicationType"] = "web",
        ["redirectUris"] = new[] { SignInSetup.RedirectUri },
        ["postLogoutRedirectUris"] = new[] { SignInSetup.PostLogoutUri },
        ["grantTypes"] = new[] { "authorization_code", "refresh_token" },
        ["allowedScopes"] = new[] { "openid", "profile", "email", "offline_access" },
        ["jwks"] = jwks ?? Jwks(),
    };

    private static Dictionary<string, object?> With(Dictionary<string, object?> body, params (string Name, object? Value)[] fields)
    {
        foreach (var (name, value) in fields)
        {
            body[name] = value;
        }

        return body;
    }

    /// <summary>Signs the setup's user in and redeems the code as the confidential client: the token response.</summary>
    private async Task<JsonElement> SignInAsync(SignInSetup setup)
    {
        using var browser = suite.Browser();
        return await SignInAsync(setup, browser);
    }

    private async Task<JsonElement> SignInAsync(SignInSetup setup, HttpClient browser)
    {
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge)))["code"];
        using var exchanged = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri, ["code_verifier"] = verifier,
        }, (setup.ClientId, setup.ClientSecret!));
        return await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK);
    }

    private async Task<HttpResponseMessage> UserInfoAsync(SignInSetup setup, string accessToken)
    {
        using var http = suite.Token.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, setup.Issuer + "/oauth/userinfo");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return await http.SendAsync(request);
    }

    /// <summary>The signed JWT checked against the tenant's published keys, issuer and the client as audience.</summary>
    private async Task<JsonWebToken> VerifiedAsync(SignInSetup setup, string jws, bool lifetime = true)
    {
        using var http = suite.Token.CreateClient();
        var keys = new JsonWebKeySet(await http.GetStringAsync(setup.Issuer + "/.well-known/jwks.json"));
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(jws, new TokenValidationParameters
        {
            ValidIssuer = setup.Issuer, ValidAudience = setup.ClientId, IssuerSigningKeys = keys.GetSigningKeys(),
            RequireExpirationTime = lifetime, ValidateLifetime = lifetime,
        });
        Assert.True(result.IsValid, result.Exception?.Message);
        return new JsonWebToken(jws);
    }

    private static JsonElement Header(string jwe) =>
        JsonDocument.Parse(Base64UrlEncoder.Decode(jwe.Split('.')[0])).RootElement;

    /// <summary>RSA-OAEP-256 with A256GCM opened from the RFCs: the key unwrapped, then AES-GCM over the protected header as AAD.</summary>
    private static string OpenRsaOaep256Gcm(string jwe)
    {
        var parts = jwe.Split('.');
        Assert.Equal(5, parts.Length);
        var header = Header(jwe);
        Assert.Equal("RSA-OAEP-256", header.GetProperty("alg").GetString());
        Assert.Equal("A256GCM", header.GetProperty("enc").GetString());
        var key = RsaKey.Decrypt(Base64UrlEncoder.DecodeBytes(parts[1]), RSAEncryptionPadding.OaepSHA256);
        var (iv, ciphertext, tag) = (Base64UrlEncoder.DecodeBytes(parts[2]), Base64UrlEncoder.DecodeBytes(parts[3]), Base64UrlEncoder.DecodeBytes(parts[4]));
        var plaintext = new byte[ciphertext.Length];
        using var aes = new AesGcm(key, tag.Length);
        aes.Decrypt(iv, ciphertext, tag, plaintext, Encoding.ASCII.GetBytes(parts[0]));
        return Encoding.UTF8.GetString(plaintext);
    }

    [Fact]
    public async Task AnEncryptedIdToken_OpensWithTheClientsKey_AndHoldsTheSignedToken_AtSignInAndRefresh()
    {
        var setup = await suite.SetUpAsync(With(WebClient(), ("idTokenEncryptedResponseAlg", "RSA-OAEP-256"), ("idTokenEncryptedResponseEnc", "A256GCM")));

        var tokens = await SignInAsync(setup);

        var idToken = tokens.GetProperty("id_token").GetString()!;
        var header = Header(idToken);
        Assert.Equal("enc-rsa", header.GetProperty("kid").GetString());
        Assert.Equal("JWT", header.GetProperty("cty").GetString());
        var inner = await VerifiedAsync(setup, OpenRsaOaep256Gcm(idToken));
        Assert.Equal(setup.UserId.ToString(), inner.Subject);
        Assert.StartsWith("nonce-", inner.GetPayloadValue<string>("nonce"), StringComparison.Ordinal);
        // The access token is the resource servers', not the client's: it stays a plain signed JWT.
        Assert.Equal(3, tokens.GetProperty("access_token").GetString()!.Split('.').Length);

        using var refreshed = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = tokens.GetProperty("refresh_token").GetString()!,
        }, (setup.ClientId, setup.ClientSecret!));
        var again = await HttpAssert.JsonAsync(refreshed, HttpStatusCode.OK);
        Assert.Equal(setup.UserId.ToString(), (await VerifiedAsync(setup, OpenRsaOaep256Gcm(again.GetProperty("id_token").GetString()!))).Subject);
    }

    [Fact]
    public async Task AHybridResponse_CarriesTheIdTokenEncrypted_InTheFragment()
    {
        var body = With(WebClient(), ("idTokenEncryptedResponseAlg", "RSA-OAEP-256"), ("idTokenEncryptedResponseEnc", "A256GCM"),
            ("grantTypes", new[] { "authorization_code", "implicit" }));
        var setup = await suite.SetUpAsync(body);
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();

        var back = await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge, new() { ["response_type"] = "code id_token", ["scope"] = "openid email" }));

        var fragment = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(back.Fragment.TrimStart('#'));
        Assert.True(fragment.ContainsKey("id_token"), back.ToString());
        var idToken = await VerifiedAsync(setup, OpenRsaOaep256Gcm(fragment["id_token"].ToString()));
        // c_hash was made over the code before the token was encrypted, and still matches it.
        var code = fragment["code"].ToString();
        var hash = SHA256.HashData(Encoding.ASCII.GetBytes(code));
        Assert.Equal(Base64UrlEncoder.Encode(hash[..16]), idToken.GetPayloadValue<string>("c_hash"));
    }

    [Fact]
    public async Task AJwtAuthorizationResponse_ComesEncrypted_WithTheSignedResponseInside()
    {
        var setup = await suite.SetUpAsync(With(WebClient(), ("authorizationEncryptedResponseAlg", "RSA-OAEP-256"), ("authorizationEncryptedResponseEnc", "A256GCM")));
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();

        var back = await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge, new() { ["response_mode"] = "jwt", ["state"] = "jarm-state" }));

        var parameters = HostedFlow.Parameters(back);
        Assert.Equal(["response"], parameters.Keys);
        var response = await VerifiedAsync(setup, OpenRsaOaep256Gcm(parameters["response"]));
        Assert.Equal("jarm-state", response.GetPayloadValue<string>("state"));
        Assert.False(string.IsNullOrEmpty(response.GetPayloadValue<string>("code")));
    }

    [Fact]
    public async Task AJwtIntrospectionAnswer_ComesEncrypted_AndPlainJsonStaysPlain()
    {
        var setup = await suite.SetUpAsync(With(WebClient(), ("introspectionEncryptedResponseAlg", "ECDH-ES+A128KW")));
        var accessToken = (await SignInAsync(setup)).GetProperty("access_token").GetString()!;

        async Task<HttpResponseMessage> IntrospectAsync(string? accept)
        {
            using var http = suite.Token.CreateClient();
            using var request = new HttpRequestMessage(HttpMethod.Post, setup.Issuer + "/oauth/introspect")
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = accessToken }),
            };
            request.Headers.Authorization = HttpAssert.Basic(setup.ClientId, setup.ClientSecret!);
            if (accept is not null)
            {
                request.Headers.Accept.ParseAdd(accept);
            }

            return await http.SendAsync(request);
        }

        using var asJwt = await IntrospectAsync("application/token-introspection+jwt");
        using var asJson = await IntrospectAsync(null);

        Assert.Equal("application/token-introspection+jwt", asJwt.Content.Headers.ContentType?.MediaType);
        var jwe = await asJwt.Content.ReadAsStringAsync();
        Assert.Equal("ECDH-ES+A128KW", Header(jwe).GetProperty("alg").GetString());
        var answer = await VerifiedAsync(setup, Jose.JWT.Decode(jwe, EcKey), lifetime: false);
        Assert.Equal("token-introspection+jwt", answer.Typ);
        Assert.True(answer.GetPayloadValue<JsonElement>("token_introspection").GetProperty("active").GetBoolean());
        Assert.True((await HttpAssert.JsonAsync(asJson, HttpStatusCode.OK)).GetProperty("active").GetBoolean());
    }

    [Fact]
    public async Task Logout_TakesTheDecryptedIdToken_AsItsHint()
    {
        var setup = await suite.SetUpAsync(With(WebClient(), ("idTokenEncryptedResponseAlg", "RSA-OAEP-256"), ("idTokenEncryptedResponseEnc", "A256GCM")));
        using var browser = suite.Browser();
        var idToken = (await SignInAsync(setup, browser)).GetProperty("id_token").GetString()!;

        string LogoutUrl(string hint) => Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/logout", new Dictionary<string, string?>
        {
            ["id_token_hint"] = hint, ["post_logout_redirect_uri"] = SignInSetup.PostLogoutUri, ["state"] = "bye",
        });

        // Only the client can open the JWE, so it names nobody here: the person is asked, as without a hint.
        using var withCiphertext = await browser.GetAsync(LogoutUrl(idToken));
        Assert.Equal(HttpStatusCode.OK, withCiphertext.StatusCode);
        Assert.Contains("logout_confirmed", await withCiphertext.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var withSigned = await browser.GetAsync(LogoutUrl(OpenRsaOaep256Gcm(idToken)));
        Assert.StartsWith(SignInSetup.PostLogoutUri, withSigned.Headers.Location?.AbsoluteUri, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnIdToken_IsSignedWithTheRegisteredAlgorithm_ThenEncrypted()
    {
        var setup = await suite.SetUpAsync(With(WebClient(), ("idTokenSignedResponseAlg", "PS256"),
            ("idTokenEncryptedResponseAlg", "RSA-OAEP-256"), ("idTokenEncryptedResponseEnc", "A256GCM")));

        var tokens = await SignInAsync(setup);

        Assert.Equal("PS256", (await VerifiedAsync(setup, OpenRsaOaep256Gcm(tokens.GetProperty("id_token").GetString()!))).Alg);
        // The access token is the resource servers': the tenant key's own algorithm (only FAPI 2.0 clients' differ).
        Assert.Equal("RS256", new JsonWebToken(tokens.GetProperty("access_token").GetString()).Alg);
    }

    [Fact]
    public async Task ATenantWhoseKeyCannotMakeTheRegisteredAlgorithm_SignsWithItsOwn()
    {
        var setup = await suite.SetUpAsync(With(WebClient(), ("idTokenSignedResponseAlg", "PS256")));
        using (var admin = suite.Token.CreateClient())
        {
            admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
            using var rotated = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/signing-keys/rotate", new { algorithm = "ES256", gracePeriodHours = 0 });
            Assert.True(rotated.IsSuccessStatusCode, await rotated.Content.ReadAsStringAsync());
        }

        var tokens = await SignInAsync(setup);

        Assert.Equal("ES256", (await VerifiedAsync(setup, tokens.GetProperty("id_token").GetString()!)).Alg);
        using var http = suite.Token.CreateClient();
        var metadata = JsonDocument.Parse(await http.GetStringAsync(setup.Issuer + "/.well-known/openid-configuration")).RootElement;
        Assert.Equal(["ES256"], metadata.GetProperty("id_token_signing_alg_values_supported").EnumerateArray().Select(v => v.GetString()!));
    }

    [Fact]
    public async Task IdentityModel_OpensAnRsaOaepIdToken_WithTheDefaultContentEncryption()
    {
        // Only the key algorithm registered: A128CBC-HS256 is the content encryption (OIDC Registration §2).
        var setup = await suite.SetUpAsync(With(WebClient(), ("idTokenEncryptedResponseAlg", "RSA-OAEP")));
        using var http = suite.Token.CreateClient();
        var keys = new JsonWebKeySet(await http.GetStringAsync(setup.Issuer + "/.well-known/jwks.json"));

        var idToken = (await SignInAsync(setup)).GetProperty("id_token").GetString()!;

        Assert.Equal("A128CBC-HS256", Header(idToken).GetProperty("enc").GetString());
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(idToken, new TokenValidationParameters
        {
            ValidIssuer = setup.Issuer, ValidAudience = setup.ClientId, IssuerSigningKeys = keys.GetSigningKeys(),
            TokenDecryptionKey = new RsaSecurityKey(RsaKey) { KeyId = "enc-rsa" },
        });
        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.Equal(setup.UserId.ToString(), result.ClaimsIdentity.FindFirst("sub")?.Value);
    }

    [Fact]
    public async Task Userinfo_ComesSigned_ThenSignedAndEncrypted_ThenPlainAgain()
    {
        var setup = await suite.SetUpAsync(With(WebClient(), ("userinfoSignedResponseAlg", "PS256")));
        var accessToken = (await SignInAsync(setup)).GetProperty("access_token").GetString()!;

        using (var signed = await UserInfoAsync(setup, accessToken))
        {
            Assert.Equal(HttpStatusCode.OK, signed.StatusCode);
            Assert.Equal("application/jwt", signed.Content.Headers.ContentType?.MediaType);
            var jwt = await VerifiedAsync(setup, await signed.Content.ReadAsStringAsync(), lifetime: false);
            Assert.Equal("PS256", jwt.Alg);
            Assert.Equal(setup.UserId.ToString(), jwt.Subject);
            Assert.Equal(setup.Email, jwt.GetPayloadValue<string>("email"));
        }

        await UpdateClientAsync(setup, new { userinfoEncryptedResponseAlg = "ECDH-ES", userinfoEncryptedResponseEnc = "A128GCM" });
        using (var encrypted = await UserInfoAsync(setup, accessToken))
        {
            var jwe = await encrypted.Content.ReadAsStringAsync();
            Assert.Equal("application/jwt", encrypted.Content.Headers.ContentType?.MediaType);
            Assert.Equal("enc-ec", Header(jwe).GetProperty("kid").GetString());
            Assert.True(Header(jwe).TryGetProperty("epk", out _));
            var inner = Jose.JWT.Decode(jwe, EcKey);
            Assert.Equal(setup.Email, (await VerifiedAsync(setup, inner, lifetime: false)).GetPayloadValue<string>("email"));
        }

        // Encrypted without a signature: the claims themselves (with iss and aud) inside the JWE.
        await UpdateClientAsync(setup, new { userinfoSignedResponseAlg = "" });
        using (var unsigned = await UserInfoAsync(setup, accessToken))
        {
            var jwe = await unsigned.Content.ReadAsStringAsync();
            Assert.False(Header(jwe).TryGetProperty("cty", out _));
            var claims = JsonDocument.Parse(Jose.JWT.Decode(jwe, EcKey)).RootElement;
            Assert.Equal(setup.ClientId, claims.GetProperty("aud").GetString());
            Assert.Equal(setup.UserId.ToString(), claims.GetProperty("sub").GetString());
        }

        await UpdateClientAsync(setup, new { userinfoEncryptedResponseAlg = "" });
        using var plain = await UserInfoAsync(setup, accessToken);
        Assert.Equal(setup.UserId.ToString(), (await HttpAssert.JsonAsync(plain, HttpStatusCode.OK)).GetProperty("sub").GetString());
    }

    public static TheoryData<string, object, string> RefusedSettings => new()
    {
        { "RSA1_5 is not offered", new { idTokenEncryptedResponseAlg = "RSA1_5" }, "idTokenEncryptedResponseAlg" },
        { "unknown content encryption", new { idTokenEncryptedResponseAlg = "RSA-OAEP", idTokenEncryptedResponseEnc = "A512GCM" }, "idTokenEncryptedResponseEnc" },
        { "content encryption alone", new { userinfoEncryptedResponseEnc = "A256GCM" }, "userinfoEncryptedResponseEnc" },
        { "no EC key to agree with", new { userinfoEncryptedResponseAlg = "ECDH-ES", jwks = Jwks(withEc: false) }, "userinfoEncryptedResponseAlg" },
        { "no RSA key to wrap to", new { idTokenEncryptedResponseAlg = "RSA-OAEP-256", jwks = Jwks(withRsa: false) }, "idTokenEncryptedResponseAlg" },
        { "JARM to no key", new { authorizationEncryptedResponseAlg = "ECDH-ES", jwks = Jwks(withEc: false) }, "authorizationEncryptedResponseAlg" },
        { "introspection content encryption alone", new { introspectionEncryptedResponseEnc = "A128GCM" }, "introspectionEncryptedResponseEnc" },
        { "a symmetric userinfo signature", new { userinfoSignedResponseAlg = "HS256" }, "userinfoSignedResponseAlg" },
        { "none as userinfo signature", new { userinfoSignedResponseAlg = "none" }, "userinfoSignedResponseAlg" },
        { "none as ID token signature", new { idTokenSignedResponseAlg = "none" }, "idTokenSignedResponseAlg" },
    };

    [Theory]
    [MemberData(nameof(RefusedSettings))]
    public async Task SettingsTheServerCannotHonour_AreRefused(string because, object fields, string field)
    {
        var setup = await suite.SetUpAsync(WebClient());

        using var response = await PutClientAsync(setup, fields);

        var body = await HttpAssert.EnvelopeAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(body.GetProperty("details").TryGetProperty(field, out _), because + ": " + body);
    }

    [Fact]
    public async Task RemovingTheKeyAnAnswerIsEncryptedTo_IsRefusedWhileTheChoiceStands()
    {
        var setup = await suite.SetUpAsync(With(WebClient(), ("idTokenEncryptedResponseAlg", "ECDH-ES+A128KW")));

        using var refused = await PutClientAsync(setup, new { jwks = Jwks(withEc: false) });
        using var both = await PutClientAsync(setup, new { jwks = Jwks(withEc: false), idTokenEncryptedResponseAlg = "RSA-OAEP-256" });

        await HttpAssert.EnvelopeAsync(refused, HttpStatusCode.BadRequest, "validation_error");
        var client = (await HttpAssert.JsonAsync(both, HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal("RSA-OAEP-256", client.GetProperty("idTokenEncryptedResponseAlg").GetString());
        // A new key algorithm without a content algorithm takes the default, not the old one's.
        Assert.Equal("A128CBC-HS256", client.GetProperty("idTokenEncryptedResponseEnc").GetString());
    }

    [Fact]
    public async Task DynamicRegistration_TakesAndEchoesTheChoices_AndRefusesOneWithoutAKey()
    {
        var setup = await suite.SetUpAsync();
        await EnableDynamicRegistrationAsync(setup);
        using var http = suite.Token.CreateClient();

        using var registered = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new Dictionary<string, object>
        {
            ["client_name"] = "Encrypting RP", ["redirect_uris"] = new[] { SignInSetup.RedirectUri },
            ["token_endpoint_auth_method"] = "client_secret_basic", ["jwks"] = Jwks(),
            ["id_token_encrypted_response_alg"] = "RSA-OAEP-256", ["userinfo_signed_response_alg"] = "RS256",
            ["userinfo_encrypted_response_alg"] = "ECDH-ES+A256KW", ["userinfo_encrypted_response_enc"] = "A256GCM",
            ["id_token_signed_response_alg"] = "PS256", ["authorization_encrypted_response_alg"] = "RSA-OAEP", ["introspection_encrypted_response_alg"] = "ECDH-ES",
            ["introspection_encrypted_response_enc"] = "A128GCM",
        });
        using var keyless = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new Dictionary<string, object>
        {
            ["client_name"] = "Keyless RP", ["redirect_uris"] = new[] { SignInSetup.RedirectUri },
            ["token_endpoint_auth_method"] = "client_secret_basic", ["id_token_encrypted_response_alg"] = "RSA-OAEP",
        });

        var echoed = await HttpAssert.JsonAsync(registered, HttpStatusCode.Created);
        Assert.Equal("RSA-OAEP-256", echoed.GetProperty("id_token_encrypted_response_alg").GetString());
        Assert.Equal("A128CBC-HS256", echoed.GetProperty("id_token_encrypted_response_enc").GetString());
        Assert.Equal("RS256", echoed.GetProperty("userinfo_signed_response_alg").GetString());
        Assert.Equal("PS256", echoed.GetProperty("id_token_signed_response_alg").GetString());
        Assert.Equal("ECDH-ES+A256KW", echoed.GetProperty("userinfo_encrypted_response_alg").GetString());
        Assert.Equal("A256GCM", echoed.GetProperty("userinfo_encrypted_response_enc").GetString());
        Assert.Equal("RSA-OAEP", echoed.GetProperty("authorization_encrypted_response_alg").GetString());
        Assert.Equal("A128CBC-HS256", echoed.GetProperty("authorization_encrypted_response_enc").GetString());
        Assert.Equal("ECDH-ES", echoed.GetProperty("introspection_encrypted_response_alg").GetString());
        Assert.Equal("A128GCM", echoed.GetProperty("introspection_encrypted_response_enc").GetString());
        Assert.Equal(3, echoed.GetProperty("jwks").GetProperty("keys").GetArrayLength());
        var error = await HttpAssert.OAuthErrorAsync(keyless, HttpStatusCode.BadRequest, "invalid_client_metadata");
        Assert.StartsWith("id_token_encrypted_response_alg", error.GetProperty("error_description").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Discovery_ListsWhatAnswersAreSignedAndEncryptedWith()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();

        var metadata = JsonDocument.Parse(await http.GetStringAsync(setup.Issuer + "/.well-known/openid-configuration")).RootElement;

        string[] Values(string name) => metadata.GetProperty(name).EnumerateArray().Select(v => v.GetString()!).ToArray();
        Assert.Equal(["RS256", "PS256"], Values("userinfo_signing_alg_values_supported"));
        Assert.Equal(["RS256", "PS256"], Values("id_token_signing_alg_values_supported"));
        Assert.Contains("RSA-OAEP-256", Values("id_token_encryption_alg_values_supported"));
        Assert.Contains("ECDH-ES", Values("userinfo_encryption_alg_values_supported"));
        Assert.DoesNotContain("RSA1_5", Values("id_token_encryption_alg_values_supported"));
        Assert.Contains("A256GCM", Values("id_token_encryption_enc_values_supported"));
        Assert.Contains("A128CBC-HS256", Values("userinfo_encryption_enc_values_supported"));
        Assert.Contains("RSA-OAEP-256", Values("authorization_encryption_alg_values_supported"));
        Assert.Contains("A256GCM", Values("authorization_encryption_enc_values_supported"));
        Assert.Contains("ECDH-ES+A128KW", Values("introspection_encryption_alg_values_supported"));
        Assert.Contains("A128CBC-HS256", Values("introspection_encryption_enc_values_supported"));
    }

    private async Task<HttpResponseMessage> PutClientAsync(SignInSetup setup, object fields)
    {
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        return await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}", fields);
    }

    private async Task UpdateClientAsync(SignInSetup setup, object fields)
    {
        using var response = await PutClientAsync(setup, fields);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task EnableDynamicRegistrationAsync(SignInSetup setup)
    {
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        using var response = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { clientRegistration = new { dynamicRegistrationEnabled = true } });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }
}
