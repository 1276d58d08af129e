using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using LumoAuth.Testing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.EndToEnd.Tests;

/// <summary>
/// A FAPI 2.0 Message Signing client through the gateway: a signed request in (with the payment it is for, as RFC 9396
/// authorization details), a signed response out, DPoP-bound tokens that carry the payment.
/// </summary>
[Collection(SuiteCollection.Name)]
public sealed class MessageSigningTests(SuiteFixture suite)
{
    private const string RedirectUri = "https://bank.example.com/callback";

    [Fact]
    public async Task Fapi2AdvancedClient_PushesASignedRequest_GetsASignedResponse_RedeemsWithDPoP()
    {
        var tenant = await suite.CreateTenantAsync();
        var (email, password) = await suite.CreateUserAsync(tenant, "Erin");

        using var rsa = RSA.Create(2048);
        var key = new RsaSecurityKey(rsa) { KeyId = "bank-1" };
        var publicJwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.ExportParameters(false)) { KeyId = key.KeyId });
        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients", new
        {
            name = "Bank", applicationType = "web", redirectUris = new[] { RedirectUri }, grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid" }, fapiProfile = "fapi2_advanced", authorizationDetailsTypes = new[] { "payment_initiation" },
            jwks = new { keys = new[] { new { kty = publicJwk.Kty, kid = publicJwk.Kid, use = "sig", n = publicJwk.N, e = publicJwk.E } } },
        }, SuiteFixture.ApiKey(tenant.ApiKey));
        var clientId = (await ApiAssert.OkAsync(created, 201))["data"]!["clientId"]!.GetValue<string>();
        using var discovery = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/.well-known/openid-configuration");
        var metadata = await ApiAssert.OkAsync(discovery);
        var issuer = metadata["issuer"]!.GetValue<string>();
        Assert.True(metadata["request_parameter_supported"]!.GetValue<bool>());

        var verifier = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        var now = DateTime.UtcNow;
        var handler = new JsonWebTokenHandler();
        var requestObject = handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = clientId, Audience = issuer, NotBefore = now, Expires = now.AddMinutes(5), TokenType = "oauth-authz-req+jwt",
            Claims = new Dictionary<string, object>
            {
                ["client_id"] = clientId, ["response_type"] = "code", ["redirect_uri"] = RedirectUri, ["scope"] = "openid", ["state"] = "signed-state",
                ["code_challenge"] = Base64UrlEncoder.Encode(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier))), ["code_challenge_method"] = "S256",
                ["authorization_details"] = System.Text.Json.JsonSerializer.SerializeToElement(new[]
                {
                    new { type = "payment_initiation", actions = new[] { "initiate" }, instructedAmount = new { currency = "EUR", amount = "42.00" } },
                }),
            },
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSsaPssSha256),
        });
        Dictionary<string, string> Authenticated(Dictionary<string, string> form)
        {
            var issuedAt = DateTime.UtcNow;
            form["client_id"] = clientId;
            form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
            form["client_assertion"] = handler.CreateToken(new SecurityTokenDescriptor
            {
                Issuer = clientId, Audience = issuer, TokenType = "client-authentication+jwt", IssuedAt = issuedAt, NotBefore = issuedAt, Expires = issuedAt.AddMinutes(2),
                Subject = new ClaimsIdentity([new Claim("sub", clientId), new Claim("jti", Guid.NewGuid().ToString())]),
                SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSsaPssSha256),
            });
            return form;
        }

        using var pushed = await suite.Gateway.PostAsync($"{tenant.Api}/oauth/par", new FormUrlEncodedContent(Authenticated(new() { ["request"] = requestObject })));
        var requestUri = (await ApiAssert.OkAsync(pushed, 201))["request_uri"]!.GetValue<string>();

        // The user's browser through the gateway: authorize → login → authorize → consent → back to the bank.
        var back = await suite.SignInAndConsentAsync(tenant,
            QueryHelpers.AddQueryString($"{tenant.Api}/oauth/authorize", new Dictionary<string, string?> { ["client_id"] = clientId, ["request_uri"] = requestUri }), email, password);
        Assert.StartsWith(RedirectUri, back.AbsoluteUri, StringComparison.Ordinal);
        var parameters = QueryHelpers.ParseQuery(back.Query);
        Assert.Equal(["response"], parameters.Keys);

        using var jwksAnswer = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/.well-known/jwks.json");
        var jwks = new JsonWebKeySet(await jwksAnswer.Content.ReadAsStringAsync());
        var verified = await handler.ValidateTokenAsync(parameters["response"].ToString(), new TokenValidationParameters
        {
            ValidIssuer = issuer, ValidAudience = clientId, IssuerSigningKeys = jwks.GetSigningKeys(),
        });
        Assert.True(verified.IsValid, verified.Exception?.Message);
        Assert.Equal("signed-state", verified.Claims["state"]);

        using var dpop = new DPoPKey();
        var tokenUrl = $"{suite.BaseUrl}{tenant.Api}/oauth/token";
        using var redeem = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/oauth/token")
        {
            Content = new FormUrlEncodedContent(Authenticated(new()
            {
                ["grant_type"] = "authorization_code", ["code"] = (string)verified.Claims["code"], ["redirect_uri"] = RedirectUri, ["code_verifier"] = verifier,
            })),
        };
        redeem.Headers.Add("DPoP", dpop.Proof("POST", tokenUrl));
        using var redeemed = await suite.Gateway.SendAsync(redeem);
        var tokens = JsonNode.Parse(await redeemed.Content.ReadAsStringAsync())!;
        Assert.True(redeemed.StatusCode == HttpStatusCode.OK, tokens.ToJsonString());
        Assert.Equal("DPoP", tokens["token_type"]!.GetValue<string>());
        Assert.Equal("42.00", tokens["authorization_details"]![0]!["instructedAmount"]!["amount"]!.GetValue<string>());
        Assert.Contains("payment_initiation", Base64UrlEncoder.Decode(new JsonWebToken(tokens["access_token"]!.GetValue<string>()).EncodedPayload), StringComparison.Ordinal);
    }

    /// <summary>The client publishes its keys (jwks_uri): the token service fetches them from the client's site and takes its assertions.</summary>
    [Fact]
    public async Task AClientThatPublishesItsKeys_AuthenticatesWithThemThroughTheGateway()
    {
        var tenant = await suite.CreateTenantAsync();
        using var rsa = RSA.Create(2048);
        var key = new RsaSecurityKey(rsa) { KeyId = "published-e2e" };
        var publicKey = rsa.ExportParameters(false);
        var jwksUri = suite.Site.Serve($"/clients/{Guid.NewGuid():N}/jwks.json", new SiteAnswer(System.Text.Json.JsonSerializer.Serialize(new
        {
            keys = new[] { new { kty = "RSA", kid = key.KeyId, use = "sig", n = Base64UrlEncoder.Encode(publicKey.Modulus), e = Base64UrlEncoder.Encode(publicKey.Exponent) } },
        })));
        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients", new
        {
            name = "Publisher", applicationType = "m2m", grantTypes = new[] { "client_credentials" }, tokenEndpointAuthMethod = "private_key_jwt", jwksUri,
        }, SuiteFixture.ApiKey(tenant.ApiKey));
        var client = (await ApiAssert.OkAsync(created, 201))["data"]!;
        Assert.Equal(jwksUri, client["jwksUri"]!.GetValue<string>());
        var clientId = client["clientId"]!.GetValue<string>();
        using var discovery = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/.well-known/openid-configuration");
        var issuer = (await ApiAssert.OkAsync(discovery))["issuer"]!.GetValue<string>();

        var issuedAt = DateTime.UtcNow;
        var assertion = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = clientId, Audience = issuer, TokenType = "client-authentication+jwt", IssuedAt = issuedAt, NotBefore = issuedAt, Expires = issuedAt.AddMinutes(2),
            Subject = new ClaimsIdentity([new Claim("sub", clientId), new Claim("jti", Guid.NewGuid().ToString())]),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
        using var issued = await suite.Gateway.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = clientId,
            ["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", ["client_assertion"] = assertion,
        }));
        var token = await ApiAssert.OkAsync(issued);
        Assert.Equal(clientId, new JsonWebToken(token["access_token"]!.GetValue<string>()).GetClaim("client_id").Value);
    }

    /// <summary>
    /// A request object by reference (OIDC Core §6.2): the client publishes it at an address it registered, the token service
    /// fetches it from there, and the user's browser goes through the gateway's hosted pages back to the client with a code.
    /// </summary>
    [Fact]
    public async Task ARequestObjectAtARegisteredAddress_IsFetched_AndTheSignInCompletesThroughTheGateway()
    {
        var tenant = await suite.CreateTenantAsync();
        var (email, password) = await suite.CreateUserAsync(tenant, "Rhea");
        using var rsa = RSA.Create(2048);
        var key = new RsaSecurityKey(rsa) { KeyId = "by-reference-e2e" };
        var publicKey = rsa.ExportParameters(false);
        var folder = $"/requests/{Guid.NewGuid():N}/";
        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients", new
        {
            name = "Publisher of requests", applicationType = "web", redirectUris = new[] { RedirectUri }, grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid" }, requestUris = new[] { suite.Site.Origin + folder + "*" },
            jwks = new { keys = new[] { new { kty = "RSA", kid = key.KeyId, use = "sig", n = Base64UrlEncoder.Encode(publicKey.Modulus), e = Base64UrlEncoder.Encode(publicKey.Exponent) } } },
        }, SuiteFixture.ApiKey(tenant.ApiKey));
        var client = (await ApiAssert.OkAsync(created, 201))["data"]!;
        var clientId = client["clientId"]!.GetValue<string>();
        using var discovery = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/.well-known/openid-configuration");
        var metadata = await ApiAssert.OkAsync(discovery);
        Assert.True(metadata["require_request_uri_registration"]!.GetValue<bool>());
        var now = DateTime.UtcNow;
        var requestObject = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = clientId, Audience = metadata["issuer"]!.GetValue<string>(), NotBefore = now, Expires = now.AddMinutes(5), TokenType = "oauth-authz-req+jwt",
            Claims = new Dictionary<string, object>
            {
                ["client_id"] = clientId, ["response_type"] = "code", ["redirect_uri"] = RedirectUri, ["scope"] = "openid", ["state"] = "fetched-state",
                ["code_challenge"] = Base64UrlEncoder.Encode(SHA256.HashData("e2e-verifier-that-is-long-enough-for-pkce-rules"u8)), ["code_challenge_method"] = "S256",
            },
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSsaPssSha256),
        });
        var path = folder + "one.jwt";
        var requestUri = suite.Site.Serve(path, new SiteAnswer(requestObject, ContentType: "application/oauth-authz-req+jwt"));

        var back = await suite.SignInAndConsentAsync(tenant,
            QueryHelpers.AddQueryString($"{tenant.Api}/oauth/authorize", new Dictionary<string, string?> { ["client_id"] = clientId, ["request_uri"] = requestUri }), email, password);

        Assert.StartsWith(RedirectUri, back.AbsoluteUri, StringComparison.Ordinal);
        var parameters = QueryHelpers.ParseQuery(back.Query);
        Assert.Equal("fetched-state", parameters["state"].ToString());
        Assert.Equal(1, suite.Site.Requests(path));
        using var redeemed = await suite.Gateway.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = parameters["code"].ToString(), ["redirect_uri"] = RedirectUri,
            ["code_verifier"] = "e2e-verifier-that-is-long-enough-for-pkce-rules", ["client_id"] = clientId,
            ["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ["client_assertion"] = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Issuer = clientId, Audience = metadata["issuer"]!.GetValue<string>(), TokenType = "client-authentication+jwt", IssuedAt = now, NotBefore = now, Expires = now.AddMinutes(2),
                Subject = new ClaimsIdentity([new Claim("sub", clientId), new Claim("jti", Guid.NewGuid().ToString())]),
                SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
            }),
        }));
        Assert.NotNull((await ApiAssert.OkAsync(redeemed))["id_token"]);

        // An address the client did not register is never fetched: the browser sees the error page.
        var stray = suite.Site.Serve($"/elsewhere/{Guid.NewGuid():N}.jwt", new SiteAnswer(requestObject));
        using var browser = suite.Browser();
        using var refused = await browser.GetAsync(QueryHelpers.AddQueryString($"{tenant.Api}/oauth/authorize",
            new Dictionary<string, string?> { ["client_id"] = clientId, ["request_uri"] = stray }));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("invalid_request_uri", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, suite.Site.Requests(new Uri(stray).AbsolutePath));
    }

    /// <summary>A pairwise client's sector document (OIDC Core §8.1), fetched from the client's site: its host is the sector.</summary>
    [Fact]
    public async Task APairwiseClientsSectorDocument_IsFetched_AndNamesItsSector()
    {
        var tenant = await suite.CreateTenantAsync();
        string[] redirectUris = [RedirectUri, "https://m.bank.example.com/callback"];
        var document = suite.Site.Serve($"/sectors/{Guid.NewGuid():N}.json", new SiteAnswer(System.Text.Json.JsonSerializer.Serialize(redirectUris)));
        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients", new
        {
            name = "Bank on two hosts", applicationType = "web", redirectUris, grantTypes = new[] { "authorization_code" }, allowedScopes = new[] { "openid" },
            subjectType = "pairwise", sectorIdentifierUri = document,
        }, SuiteFixture.ApiKey(tenant.ApiKey));
        var client = (await ApiAssert.OkAsync(created, 201))["data"]!;
        Assert.Equal(new Uri(document).Host, client["sectorIdentifier"]!.GetValue<string>());

        using var unlisted = await suite.SendAsync(HttpMethod.Put, $"{tenant.Api}/admin/clients/{client["clientId"]!.GetValue<string>()}",
            new { redirectUris = redirectUris.Append("https://third.bank.example.com/callback") }, SuiteFixture.ApiKey(tenant.ApiKey));
        Assert.Equal(HttpStatusCode.BadRequest, unlisted.StatusCode);
    }

    /// <summary>Dynamic registration and its management (RFC 7591, RFC 7592) through the gateway.</summary>
    [Fact]
    public async Task ARegisteredClient_ReadsAndDeletesItsRegistrationThroughTheGateway()
    {
        var tenant = await suite.CreateTenantAsync();
        using (var enabled = await suite.SendAsync(HttpMethod.Put, $"{tenant.Api}/admin/settings",
            new { clientRegistration = new { dynamicRegistrationEnabled = true } }, SuiteFixture.ApiKey(tenant.ApiKey)))
        {
            await ApiAssert.OkAsync(enabled);
        }

        using var registered = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/connect/register", new { client_name = "Self-made", redirect_uris = new[] { RedirectUri } });
        var registration = await ApiAssert.OkAsync(registered, 201);
        var token = registration["registration_access_token"]!.GetValue<string>();
        var path = new Uri(registration["registration_client_uri"]!.GetValue<string>()).AbsolutePath;
        Action<HttpRequestMessage> Bearer(string value) => r => r.Headers.Authorization = new("Bearer", value);

        using var read = await suite.SendAsync(HttpMethod.Get, path, configure: Bearer(token));
        Assert.Equal("Self-made", (await ApiAssert.OkAsync(read))["client_name"]!.GetValue<string>());
        using var deleted = await suite.SendAsync(HttpMethod.Delete, path, configure: Bearer(token));
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var gone = await suite.SendAsync(HttpMethod.Get, path, configure: Bearer(token));
        Assert.Equal(HttpStatusCode.Unauthorized, gone.StatusCode);
        Assert.Equal("invalid_token", JsonNode.Parse(await gone.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task AClientThatRegisteredEncryption_GetsItsIdTokenAndUserinfoEncryptedToItsKey()
    {
        var tenant = await suite.CreateTenantAsync();
        var (email, password) = await suite.CreateUserAsync(tenant, "Faye");
        using var rsa = RSA.Create(2048);
        var encryption = rsa.ExportParameters(false);
        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients", new
        {
            name = "Private app", applicationType = "web", redirectUris = new[] { RedirectUri }, grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid", "email" },
            jwks = new { keys = new[] { new { kty = "RSA", kid = "app-enc", use = "enc", n = Base64UrlEncoder.Encode(encryption.Modulus), e = Base64UrlEncoder.Encode(encryption.Exponent) } } },
            idTokenEncryptedResponseAlg = "RSA-OAEP-256", idTokenEncryptedResponseEnc = "A256GCM",
            userinfoSignedResponseAlg = "RS256", userinfoEncryptedResponseAlg = "RSA-OAEP",
        }, SuiteFixture.ApiKey(tenant.ApiKey));
        var client = (await ApiAssert.OkAsync(created, 201))["data"]!;
        var (clientId, secret) = (client["clientId"]!.GetValue<string>(), client["secret"]!.GetValue<string>());
        using var jwksAnswer = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/.well-known/jwks.json");
        var signingKeys = new JsonWebKeySet(await jwksAnswer.Content.ReadAsStringAsync()).GetSigningKeys();
        using var discovery = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/.well-known/openid-configuration");
        var issuer = (await ApiAssert.OkAsync(discovery))["issuer"]!.GetValue<string>();

        var verifier = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        var back = await suite.SignInAndConsentAsync(tenant, QueryHelpers.AddQueryString($"{tenant.Api}/oauth/authorize", new Dictionary<string, string?>
        {
            ["client_id"] = clientId, ["response_type"] = "code", ["redirect_uri"] = RedirectUri, ["scope"] = "openid email", ["nonce"] = "n-e2e",
            ["code_challenge"] = Base64UrlEncoder.Encode(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier))), ["code_challenge_method"] = "S256",
        }), email, password);
        using var redeem = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/oauth/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "authorization_code", ["code"] = QueryHelpers.ParseQuery(back.Query)["code"].ToString(), ["redirect_uri"] = RedirectUri,
                ["code_verifier"] = verifier,
            }),
        };
        redeem.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(clientId)}:{Uri.EscapeDataString(secret)}")));
        using var redeemed = await suite.Gateway.SendAsync(redeem);
        var tokens = JsonNode.Parse(await redeemed.Content.ReadAsStringAsync())!;
        Assert.True(redeemed.StatusCode == HttpStatusCode.OK, tokens.ToJsonString());

        // The ID token opens only with the client's private key, and holds the tenant's signed token.
        var idToken = Jose.JWT.Decode(tokens["id_token"]!.GetValue<string>(), rsa);
        var handler = new JsonWebTokenHandler();
        var identity = await handler.ValidateTokenAsync(idToken, new TokenValidationParameters
        {
            ValidIssuer = issuer, ValidAudience = clientId, IssuerSigningKeys = signingKeys,
        });
        Assert.True(identity.IsValid, identity.Exception?.Message);
        Assert.Equal("n-e2e", identity.Claims["nonce"]);

        using var userinfo = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/oauth/userinfo", configure: request =>
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", tokens["access_token"]!.GetValue<string>()));
        Assert.Equal("application/jwt", userinfo.Content.Headers.ContentType?.MediaType);
        var answer = await handler.ValidateTokenAsync(Jose.JWT.Decode(await userinfo.Content.ReadAsStringAsync(), rsa), new TokenValidationParameters
        {
            ValidIssuer = issuer, ValidAudience = clientId, IssuerSigningKeys = signingKeys, RequireExpirationTime = false, ValidateLifetime = false,
        });
        Assert.True(answer.IsValid, answer.Exception?.Message);
        Assert.Equal(email, answer.Claims["email"]);
    }
}
