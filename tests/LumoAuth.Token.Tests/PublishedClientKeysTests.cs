using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Duende.IdentityModel;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Testing;
using LumoAuth.Token.Protocol;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Clients that publish their keys at a <c>jwks_uri</c> (RFC 7591 §2) instead of registering them: fetched when the
/// client is registered (an address that gives no usable key set is refused), used for assertions, request objects and
/// the answers encrypted to the client, fetched again when a JWT names a key the copy lacks — at most once per 30 seconds
/// — and never answered in the clear when the published set has lost its encryption key.
/// </summary>
public sealed class PublishedClientKeysTests(ClientSiteSuite suite) : IClassFixture<ClientSiteSuite>
{
    private static readonly RsaSecurityKey FirstKey = new(RSA.Create(2048)) { KeyId = "published-1" };
    private static readonly RsaSecurityKey SecondKey = new(RSA.Create(2048)) { KeyId = "published-2" };
    private static readonly RSA EncryptionKey = RSA.Create(2048);

    private static object SigningJwk(RsaSecurityKey key)
    {
        var rsa = key.Rsa.ExportParameters(false);
        return new { kty = "RSA", kid = key.KeyId, use = "sig", n = Base64UrlEncoder.Encode(rsa.Modulus), e = Base64UrlEncoder.Encode(rsa.Exponent) };
    }

    private static object EncryptionJwk()
    {
        var rsa = EncryptionKey.ExportParameters(false);
        return new { kty = "RSA", kid = "published-enc", use = "enc", n = Base64UrlEncoder.Encode(rsa.Modulus), e = Base64UrlEncoder.Encode(rsa.Exponent) };
    }

    /// <summary>Serves a key set at a path of its own; its URL.</summary>
    private string Publish(string path, params object[] keys) =>
        suite.Site.Serve(path, new SiteAnswer(JsonSerializer.Serialize(new { keys })));

    private static object MachineClient(string jwksUri) => new
    {
        name = "Published keys", applicationType = "m2m", grantTypes = new[] { "client_credentials" },
        tokenEndpointAuthMethod = "private_key_jwt", jwksUri,
    };

    private Task<HttpResponseMessage> TokenAsync(SignInSetup setup, string clientId, RsaSecurityKey key) =>
        suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = clientId,
            ["client_assertion_type"] = OidcConstants.ClientAssertionTypes.JwtBearer,
            // On the service's clock, which the tests move.
            ["client_assertion"] = ClientAssertions.Create(clientId, setup.Issuer, key, now: suite.Clock.GetUtcNow()),
        });

    private static string NewPath() => $"/keys/{Guid.NewGuid():N}.json";

    [Fact]
    public async Task AClientThatPublishesItsKeys_AuthenticatesWithThem_AndTheSetIsFetchedOnce()
    {
        var path = NewPath();
        var url = Publish(path, SigningJwk(FirstKey));
        var setup = await suite.SetUpAsync();

        var client = await suite.CreateClientAsync(setup, MachineClient(url));

        Assert.Equal(url, client.GetProperty("jwksUri").GetString());
        Assert.Equal(JsonValueKind.Null, client.GetProperty("jwks").ValueKind);
        var clientId = client.GetProperty("clientId").GetString()!;
        foreach (var _ in Enumerable.Range(0, 2))
        {
            using var issued = await TokenAsync(setup, clientId, FirstKey);
            var token = new JsonWebToken((await HttpAssert.JsonAsync(issued, HttpStatusCode.OK)).GetProperty("access_token").GetString());
            Assert.Equal(clientId, token.GetClaim("client_id").Value);
        }

        Assert.Equal(1, suite.Site.Requests(path));

        // Another key than the published ones authenticates nothing.
        using var stranger = await TokenAsync(setup, clientId, new RsaSecurityKey(RSA.Create(2048)) { KeyId = FirstKey.KeyId });
        await HttpAssert.OAuthErrorAsync(stranger, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task ARotatedKey_IsFetchedWhenAnAssertionNamesIt_AtMostOncePerThirtySeconds()
    {
        var path = NewPath();
        var url = Publish(path, SigningJwk(FirstKey));
        var setup = await suite.SetUpAsync();
        var clientId = (await suite.CreateClientAsync(setup, MachineClient(url))).GetProperty("clientId").GetString()!;
        Publish(path, SigningJwk(SecondKey));

        // Within the floor of the fetch made at registration: the copy is kept, and the new key is not known yet.
        using (var early = await TokenAsync(setup, clientId, SecondKey))
        {
            await HttpAssert.OAuthErrorAsync(early, HttpStatusCode.Unauthorized, "invalid_client");
        }

        Assert.Equal(1, suite.Site.Requests(path));

        suite.Clock.Advance(TimeSpan.FromSeconds(31));
        using (var rotated = await TokenAsync(setup, clientId, SecondKey))
        {
            await HttpAssert.JsonAsync(rotated, HttpStatusCode.OK);
        }

        Assert.Equal(2, suite.Site.Requests(path));

        // The retired key is gone from the copy; naming it fetches nothing within the floor.
        using (var retired = await TokenAsync(setup, clientId, FirstKey))
        {
            await HttpAssert.OAuthErrorAsync(retired, HttpStatusCode.Unauthorized, "invalid_client");
        }

        Assert.Equal(2, suite.Site.Requests(path));
    }

    public static TheoryData<string, string> RefusedRegistrations => new()
    {
        { "both", "jwksUri" },
        { "http", "jwksUri" },
        { "not found", "jwksUri" },
        { "private key", "jwksUri" },
        { "public client", "jwks" },
    };

    [Theory]
    [MemberData(nameof(RefusedRegistrations))]
    public async Task Registration_TakesOneKeySource_AtAnAddressThatServesPublicKeys(string flaw, string field)
    {
        var setup = await suite.SetUpAsync();
        var good = Publish(NewPath(), SigningJwk(FirstKey));
        var rsa = FirstKey.Rsa.ExportParameters(true);
        object body = flaw switch
        {
            "both" => new { name = "Both", applicationType = "m2m", grantTypes = new[] { "client_credentials" }, jwksUri = good, jwks = ClientAssertions.PublicJwks(FirstKey) },
            "http" => MachineClient(good.Replace("https://", "http://", StringComparison.Ordinal)),
            "not found" => MachineClient(suite.Site.Origin + NewPath()),
            "private key" => MachineClient(Publish(NewPath(), new
            {
                kty = "RSA", kid = "leaked", n = Base64UrlEncoder.Encode(rsa.Modulus), e = Base64UrlEncoder.Encode(rsa.Exponent), d = Base64UrlEncoder.Encode(rsa.D),
            })),
            _ => new { name = "Spa", applicationType = "spa", redirectUris = new[] { SignInSetup.RedirectUri }, grantTypes = new[] { "authorization_code" }, jwksUri = good },
        };
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);

        using var response = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", body);

        var json = await HttpAssert.EnvelopeAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(json.GetProperty("details").TryGetProperty(field, out _), json.ToString());
    }

    [Fact]
    public async Task AnUpdate_MovesTheKeysBetweenTheRegistrationAndTheAddress()
    {
        var setup = await suite.SetUpAsync();
        var created = await suite.CreateClientAsync(setup, new
        {
            name = "Mover", applicationType = "m2m", grantTypes = new[] { "client_credentials" }, tokenEndpointAuthMethod = "private_key_jwt",
            jwks = ClientAssertions.PublicJwks(FirstKey),
        });
        var clientId = created.GetProperty("clientId").GetString()!;
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var url = Publish(NewPath(), SigningJwk(SecondKey));

        using (var published = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{clientId}", new { jwksUri = url }))
        {
            var data = (await HttpAssert.JsonAsync(published, HttpStatusCode.OK)).GetProperty("data");
            Assert.Equal(url, data.GetProperty("jwksUri").GetString());
            Assert.Equal(JsonValueKind.Null, data.GetProperty("jwks").ValueKind);
        }

        using (var withPublished = await TokenAsync(setup, clientId, SecondKey))
        {
            await HttpAssert.JsonAsync(withPublished, HttpStatusCode.OK);
        }

        using (var registered = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{clientId}", new { jwks = ClientAssertions.PublicJwks(FirstKey) }))
        {
            var data = (await HttpAssert.JsonAsync(registered, HttpStatusCode.OK)).GetProperty("data");
            Assert.Equal(JsonValueKind.Null, data.GetProperty("jwksUri").ValueKind);
        }

        using var withRegistered = await TokenAsync(setup, clientId, FirstKey);
        await HttpAssert.JsonAsync(withRegistered, HttpStatusCode.OK);
    }

    [Fact]
    public async Task APushedRequestObject_IsVerifiedWithThePublishedKeys()
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Signing app", applicationType = "web", redirectUris = new[] { SignInSetup.RedirectUri }, grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid" }, jwksUri = Publish(NewPath(), SigningJwk(FirstKey)),
        });

        string RequestObject(RsaSecurityKey key) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = setup.ClientId, Audience = setup.Issuer, TokenType = "oauth-authz-req+jwt", Expires = DateTime.UtcNow.AddMinutes(5),
            Claims = new Dictionary<string, object>
            {
                ["client_id"] = setup.ClientId, ["response_type"] = "code", ["redirect_uri"] = SignInSetup.RedirectUri, ["scope"] = "openid",
                ["code_challenge"] = HostedFlow.Pkce().Challenge, ["code_challenge_method"] = "S256",
            },
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSsaPssSha256),
        });

        using var pushed = await suite.PostFormAsync(setup.Issuer + "/oauth/par", [new("request", RequestObject(FirstKey))], (setup.ClientId, setup.ClientSecret!));
        Assert.StartsWith("urn:", (await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created)).GetProperty("request_uri").GetString(), StringComparison.Ordinal);

        using var foreign = await suite.PostFormAsync(setup.Issuer + "/oauth/par", [new("request", RequestObject(SecondKey))], (setup.ClientId, setup.ClientSecret!));
        await HttpAssert.OAuthErrorAsync(foreign, HttpStatusCode.BadRequest, "invalid_request_object");
    }

    [Fact]
    public async Task EncryptedAnswers_UseThePublishedKey_AndAreRefusedOnceTheSetHasLostIt()
    {
        var path = NewPath();
        var setup = await suite.SetUpAsync(new Dictionary<string, object?>
        {
            ["name"] = "Encrypted app", ["applicationType"] = "web", ["redirectUris"] = new[] { SignInSetup.RedirectUri },
            ["grantTypes"] = new[] { "authorization_code", "refresh_token" }, ["allowedScopes"] = new[] { "openid", "profile", "offline_access" },
            ["jwksUri"] = Publish(path, EncryptionJwk(), SigningJwk(FirstKey)),
            ["idTokenEncryptedResponseAlg"] = "RSA-OAEP", ["userinfoEncryptedResponseAlg"] = "RSA-OAEP",
        });
        using var http = suite.Token.CreateClient();
        var tenantKeys = new JsonWebKeySet(await http.GetStringAsync(setup.Issuer + "/.well-known/jwks.json"));
        var opening = new TokenValidationParameters
        {
            ValidIssuer = setup.Issuer, ValidAudience = setup.ClientId, IssuerSigningKeys = tenantKeys.GetSigningKeys(),
            TokenDecryptionKey = new RsaSecurityKey(EncryptionKey) { KeyId = "published-enc" }, ValidateLifetime = false,
        };

        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup,
            HostedFlow.AuthorizeUrl(setup, challenge, new() { ["scope"] = "openid profile offline_access" })))["code"];
        using var exchanged = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri, ["code_verifier"] = verifier,
        }, (setup.ClientId, setup.ClientSecret!));
        var tokens = await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK);
        var idToken = await new JsonWebTokenHandler().ValidateTokenAsync(tokens.GetProperty("id_token").GetString(), opening);
        Assert.True(idToken.IsValid, idToken.Exception?.Message);
        Assert.Equal(setup.UserId.ToString(), idToken.ClaimsIdentity.FindFirst("sub")?.Value);

        var accessToken = tokens.GetProperty("access_token").GetString()!;
        using (var userinfo = await UserInfoAsync(setup, accessToken))
        {
            Assert.Equal("application/jwt", userinfo.Content.Headers.ContentType?.MediaType);
            var jwe = await userinfo.Content.ReadAsStringAsync();
            Assert.Equal(5, jwe.Split('.').Length);
            var claims = JsonDocument.Parse(new JsonWebTokenHandler().DecryptToken(new JsonWebToken(jwe), opening)).RootElement;
            Assert.Equal(setup.UserId.ToString(), claims.GetProperty("sub").GetString());
        }

        // The client drops its encryption key and our copy expires: nothing is sent in the clear in its place.
        Publish(path, SigningJwk(FirstKey));
        suite.Clock.Advance(TimeSpan.FromMinutes(11));
        using (var userinfo = await UserInfoAsync(setup, accessToken))
        {
            await HttpAssert.OAuthErrorAsync(userinfo, HttpStatusCode.ServiceUnavailable, "temporarily_unavailable");
        }

        using var refreshed = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = tokens.GetProperty("refresh_token").GetString()!,
        }, (setup.ClientId, setup.ClientSecret!));
        var refusal = await refreshed.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, refreshed.StatusCode); // RFC 6749 §5.2: token endpoint errors are 400s.
        Assert.DoesNotContain("id_token", refusal, StringComparison.Ordinal);
        Assert.Equal("temporarily_unavailable", JsonDocument.Parse(refusal).RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task DynamicRegistration_TakesAJwksUri_ForEncryptionAndPrivateKeyJwt()
    {
        var setup = await suite.SetUpAsync();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            using var enabled = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { clientRegistration = new { dynamicRegistrationEnabled = true } });
            Assert.True(enabled.IsSuccessStatusCode, await enabled.Content.ReadAsStringAsync());
        }

        // Published keys serve the answers encrypted to a client that authenticates with its secret.
        var url = Publish(NewPath(), EncryptionJwk());
        using var http = suite.Token.CreateClient();
        using var registered = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new
        {
            redirect_uris = new[] { "https://app.example.com/callback" }, id_token_encrypted_response_alg = "RSA-OAEP", jwks_uri = url,
        });

        var json = await HttpAssert.JsonAsync(registered, HttpStatusCode.Created);
        Assert.Equal(url, json.GetProperty("jwks_uri").GetString());
        Assert.Equal("RSA-OAEP", json.GetProperty("id_token_encrypted_response_alg").GetString());
        Assert.False(json.TryGetProperty("jwks", out _));

        // A client that signs with its published keys gets no secret, and its assertions authenticate it.
        using var signing = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new
        {
            redirect_uris = new[] { "https://app.example.com/callback" }, token_endpoint_auth_method = "private_key_jwt",
            jwks_uri = Publish(NewPath(), SigningJwk(FirstKey)),
        });
        var signer = await HttpAssert.JsonAsync(signing, HttpStatusCode.Created);
        Assert.Equal("private_key_jwt", signer.GetProperty("token_endpoint_auth_method").GetString());
        Assert.Equal(JsonValueKind.Null, signer.GetProperty("client_secret").ValueKind);
        var signerId = signer.GetProperty("client_id").GetString()!;
        using var revoked = await suite.PostFormAsync(setup.Issuer + "/oauth/revoke", new Dictionary<string, string>
        {
            ["token"] = "anything", ["client_id"] = signerId, ["client_assertion_type"] = OidcConstants.ClientAssertionTypes.JwtBearer,
            ["client_assertion"] = ClientAssertions.Create(signerId, setup.Issuer, FirstKey, now: suite.Clock.GetUtcNow()),
        });
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);

        using var unreachable = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new
        {
            redirect_uris = new[] { "https://app.example.com/callback" }, id_token_encrypted_response_alg = "RSA-OAEP", jwks_uri = suite.Site.Origin + NewPath(),
        });
        await HttpAssert.OAuthErrorAsync(unreachable, HttpStatusCode.BadRequest, "invalid_client_metadata");
    }

    /// <summary>
    /// <c>self_signed_tls_client_auth</c> (RFC 8705 §2.2): OpenIddict trusts the certificates of the client's key set, which
    /// for a publishing client is the published one. (Mutual TLS itself is exercised through the gateway end to end.)
    /// </summary>
    [Fact]
    public async Task SelfSignedCertificateAuthentication_TrustsThePublishedCertificate()
    {
        using var certificate = TestCertificates.Client("published-sensor");
        var jwks = TestCertificates.Jwks(certificate);
        var path = NewPath();
        var url = suite.Site.Serve(path, new SiteAnswer(jwks.ToJsonString()));
        var setup = await suite.SetUpAsync();
        var clientId = (await suite.CreateClientAsync(setup, new
        {
            name = "Published sensor", applicationType = "m2m", grantTypes = new[] { "client_credentials" },
            tokenEndpointAuthMethod = "self_signed_tls_client_auth", jwksUri = url,
        })).GetProperty("clientId").GetString()!;

        await using var scope = suite.Token.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TenantContext>().Set(
            new TenantInfo(setup.Tenant.Id, setup.Tenant.Slug, string.Empty, TenantStatuses.Active, string.Empty));
        var applications = scope.ServiceProvider.GetRequiredService<TokenApplicationManager>();
        var application = await applications.FindByClientIdAsync(clientId);
        Assert.NotNull(application);

        var policy = await applications.GetSelfSignedTlsClientAuthenticationPolicyAsync(application, new X509ChainPolicy());

        Assert.NotNull(policy);
        Assert.Contains(policy.CustomTrustStore.Cast<X509Certificate2>(), trusted => trusted.Thumbprint == certificate.Thumbprint);
    }

    private async Task<HttpResponseMessage> UserInfoAsync(SignInSetup setup, string accessToken)
    {
        using var http = suite.Token.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, setup.Issuer + "/oauth/userinfo");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return await http.SendAsync(request);
    }
}
