using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Xml;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Token exchange with an outside subject token (RFC 8693; FEATURES "External IdP tokens (with subject_issuer) and SAML2
/// assertions can be exchanged for LumoAuth tokens"): a client enabled for the grant presents a SAML 2.0 assertion one of
/// the tenant's SAML IdPs signed for our token endpoint (RFC 7522's rules), or an ID token of one of its OpenID providers,
/// and gets an access token for the user it names — linked, found or made as at a browser's sign-in with that provider.
/// Through the gateway, with admin, token, federation, PostgreSQL, Redis and RabbitMQ real; the test plays the providers.
/// </summary>
public sealed class ExternalSubjectExchangeTests(FederationSuite suite) : IClassFixture<FederationSuite>, IDisposable
{
    private const string TokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
    private const string Saml2Type = "urn:ietf:params:oauth:token-type:saml2";
    private const string AccessTokenType = "urn:ietf:params:oauth:token-type:access_token";
    private const string IdTokenType = "urn:ietf:params:oauth:token-type:id_token";
    private const string JwtType = "urn:ietf:params:oauth:token-type:jwt";
    private const string IdpEntityId = "https://corp-idp.example.test/saml";

    private readonly RSA _idpKey = RSA.Create(2048);
    private X509Certificate2? _idpCertificate;

    private X509Certificate2 IdpCertificate => _idpCertificate ??= SamlTestSigning.SelfSigned(_idpKey, "CN=corp-idp");

    public void Dispose()
    {
        _idpCertificate?.Dispose();
        _idpKey.Dispose();
    }

    [Fact]
    public async Task AClientExchangesAnIdpsAssertion_ForAnAccessTokenOfTheUserItNames_Once()
    {
        var setup = await suite.SetUpAsync();
        var idpId = await AddIdpAsync(setup);
        var client = await ExchangingClientAsync(setup);
        var email = $"saml-{Guid.NewGuid():N}"[..13] + "@example.com";

        // An admin scope never comes from an outside token; asking for it is refused before the assertion is used.
        var assertion = Assertion(setup, email);
        using (var privileged = await ExchangeAsync(setup, client, Encode(assertion), scope: "documents.read zanzibar.write"))
        {
            await HttpAssert.OAuthErrorAsync(privileged, HttpStatusCode.BadRequest, "insufficient_scope");
        }

        // First use: the account has no user yet, so one is made from the assertion (the IdP allows sign-up by default).
        using var exchanged = await ExchangeAsync(setup, client, Encode(assertion), scope: "documents.read email");
        var tokens = await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK);
        Assert.Equal("urn:ietf:params:oauth:token-type:access_token", tokens.GetProperty("issued_token_type").GetString());
        Assert.Equal("Bearer", tokens.GetProperty("token_type").GetString());
        Assert.Equal("documents.read email", tokens.GetProperty("scope").GetString());
        Assert.False(tokens.TryGetProperty("refresh_token", out _));
        var token = new JsonWebToken(tokens.GetProperty("access_token").GetString()!);
        var userId = await UserIdAsync(setup, email);
        Assert.Equal(userId, token.Subject);
        Assert.Equal(email, token.GetClaim("email").Value);
        Assert.Equal(setup.Issuer, token.Issuer);
        Assert.Equal(client.ClientId, token.GetClaim("client_id").Value);
        Assert.False(token.TryGetClaim("act", out _));

        // The token is the user's at introspection too.
        using (var introspected = await suite.PostFormAsync(setup.Issuer + "/oauth/introspect", new Dictionary<string, string> { ["token"] = token.EncodedToken }, client))
        {
            var active = await HttpAssert.JsonAsync(introspected, HttpStatusCode.OK);
            Assert.True(active.GetProperty("active").GetBoolean());
            Assert.Equal(userId, active.GetProperty("sub").GetString());
        }

        // An assertion is used once, whoever presents it.
        using (var replayed = await ExchangeAsync(setup, client, Encode(assertion)))
        {
            await HttpAssert.OAuthErrorAsync(replayed, HttpStatusCode.BadRequest, "invalid_grant");
        }

        // A new assertion for the same NameID names the same user (its link), whatever address it carries now; the docs'
        // spelling of the token type and plain base64 are taken too; without scope the client's scopes are the default.
        using (var again = await ExchangeAsync(setup, client, Convert.ToBase64String(Encoding.UTF8.GetBytes(Assertion(setup, email, emailAttribute: "moved@example.com").OuterXml)),
                   subjectType: "urn:ietf:params:saml:token-type:saml2", subjectIssuer: IdpEntityId))
        {
            var second = await HttpAssert.JsonAsync(again, HttpStatusCode.OK);
            Assert.Equal(userId, new JsonWebToken(second.GetProperty("access_token").GetString()!).Subject);
            Assert.Equal("documents.read email", second.GetProperty("scope").GetString());
        }

        // subject_issuer may name the IdP by id as well.
        using (var byId = await ExchangeAsync(setup, client, Encode(Assertion(setup, email)), subjectIssuer: idpId))
        {
            await HttpAssert.JsonAsync(byId, HttpStatusCode.OK);
        }
    }

    [Fact]
    public async Task AnAssertionIsTakenOnlyWhenSignedByTheIdp_ForOurTokenEndpoint_Current_AndNamingNoRequest()
    {
        var setup = await suite.SetUpAsync();
        await AddIdpAsync(setup);
        var client = await ExchangingClientAsync(setup);
        var email = $"saml-{Guid.NewGuid():N}"[..13] + "@example.com";
        using var stranger = RSA.Create(2048);
        using var strangerCertificate = SamlTestSigning.SelfSigned(stranger, "CN=stranger");

        async Task RefusedAsync(string subjectToken, string? because = null, string? subjectIssuer = null)
        {
            using var response = await ExchangeAsync(setup, client, subjectToken, subjectIssuer: subjectIssuer);
            var error = await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
            if (because is not null)
            {
                Assert.Contains(because, error.GetProperty("error_description").GetString(), StringComparison.Ordinal);
            }
        }

        await RefusedAsync(Encode(Assertion(setup, email, sign: false)), "exactly one signature");
        await RefusedAsync(Encode(Assertion(setup, email, signer: (stranger, strangerCertificate))), "does not verify");
        await RefusedAsync(Encode(Assertion(setup, email, issuer: "https://another-idp.example.test")), "no identity provider");
        await RefusedAsync(Encode(Assertion(setup, email, audience: "https://another-sp.example.test")), "Audience");
        // An assertion the IdP made for a browser's sign-in at our ACS is not one for the token endpoint.
        await RefusedAsync(Encode(Assertion(setup, email, recipient: $"http://localhost/t/{setup.Tenant.Slug}/saml/sp/acs")), "bearer confirmation");
        await RefusedAsync(Encode(Assertion(setup, email, inResponseTo: "_our-request")), "bearer confirmation");
        await RefusedAsync(Encode(Assertion(setup, email, issued: DateTimeOffset.UtcNow.AddMinutes(-10))));
        await RefusedAsync(Encode(Assertion(setup, email, nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient")), "transient");
        await RefusedAsync(Encode(Assertion(setup, email)), "another identity provider", subjectIssuer: "https://another-idp.example.test");
        await RefusedAsync("not an assertion", "base64url");
        await RefusedAsync(Encode("<!DOCTYPE a [<!ENTITY b \"c\">]><a>&b;</a>"), "base64url");
        await RefusedAsync(Encode($"<samlp:Response xmlns:samlp=\"{SamlTestSigning.Protocol}\" ID=\"_r\" Version=\"2.0\"/>"), "not a SAML 2.0 assertion");

        // Changed after signing: the signature no longer holds.
        var changed = Assertion(setup, email);
        changed.GetElementsByTagName("NameID", SamlTestSigning.Assertion)[0]!.InnerText = "admin@example.com";
        await RefusedAsync(Encode(changed), "does not verify");

        // None of these made anybody.
        Assert.Null(await UserIdOrNullAsync(setup, email));

        // Bad input elsewhere in the request is answered in the protocol's shape.
        using (var missing = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
               {
                   ["grant_type"] = TokenExchangeGrant, ["subject_token_type"] = Saml2Type,
               }, client))
        {
            await HttpAssert.OAuthErrorAsync(missing, HttpStatusCode.BadRequest, "invalid_request");
        }

        using (var actorTypeSaml = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
               {
                   ["grant_type"] = TokenExchangeGrant, ["subject_token"] = Encode(Assertion(setup, email)), ["subject_token_type"] = Saml2Type,
                   ["actor_token"] = Encode(Assertion(setup, email)), ["actor_token_type"] = Saml2Type,
               }, client))
        {
            Assert.Equal(HttpStatusCode.BadRequest, actorTypeSaml.StatusCode);
        }
    }

    [Fact]
    public async Task AnAssertionEncryptedForTheTenant_IsExchanged_WithAesGcmOnly()
    {
        var setup = await suite.SetUpAsync();
        await AddIdpAsync(setup);
        var client = await ExchangingClientAsync(setup);
        var email = $"saml-{Guid.NewGuid():N}"[..13] + "@example.com";
        using var browser = suite.FederatedBrowser();
        using var spCertificate = await SamlTestSigning.SpEncryptionCertificateAsync(browser, setup.Tenant.Slug);

        XmlDocument Encrypted(SamlTestSigning.Encryption how)
        {
            var document = Assertion(setup, email);
            SamlTestSigning.Encrypt(document.DocumentElement!, spCertificate, how);
            return document;
        }

        // CBC has no signature over its ciphertext here, so it could be probed: refused, as is RSA PKCS#1 v1.5.
        using (var cbc = await ExchangeAsync(setup, client, Encode(Encrypted(new SamlTestSigning.Encryption("cbc")))))
        {
            var error = await HttpAssert.OAuthErrorAsync(cbc, HttpStatusCode.BadRequest, "invalid_grant");
            Assert.Contains("AES-CBC", error.GetProperty("error_description").GetString(), StringComparison.Ordinal);
        }

        using (var pkcs1 = await ExchangeAsync(setup, client, Encode(Encrypted(new SamlTestSigning.Encryption(KeyTransport: "rsa-1_5")))))
        {
            await HttpAssert.OAuthErrorAsync(pkcs1, HttpStatusCode.BadRequest, "invalid_grant");
        }

        using var exchanged = await ExchangeAsync(setup, client, Encode(Encrypted(new SamlTestSigning.Encryption())));
        var token = new JsonWebToken((await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("access_token").GetString()!);
        Assert.Equal(await UserIdAsync(setup, email), token.Subject);
    }

    [Fact]
    public async Task OnlyAClientEnabledForTokenExchange_AtTheIdpsOwnTenant_WithTheIdpEnabled_GetsAToken()
    {
        var setup = await suite.SetUpAsync();
        var idpId = await AddIdpAsync(setup);
        var email = $"saml-{Guid.NewGuid():N}"[..13] + "@example.com";

        // A client without the grant is refused before the assertion is looked at: nobody is made, the assertion stays unused.
        var plain = await suite.CreateClientAsync(setup, new { name = "plain", applicationType = "m2m", grantTypes = new[] { "client_credentials" }, allowedScopes = new[] { "documents.read" } });
        var assertion = Encode(Assertion(setup, email));
        using (var refused = await ExchangeAsync(setup, (plain.GetProperty("clientId").GetString()!, plain.GetProperty("secret").GetString()!), assertion))
        {
            await HttpAssert.OAuthErrorAsync(refused, HttpStatusCode.Forbidden, "delegation_not_allowed");
        }

        Assert.Null(await UserIdOrNullAsync(setup, email));

        // Another tenant with a client of its own does not know this tenant's IdP.
        var other = await suite.SetUpAsync();
        var otherClient = await ExchangingClientAsync(other);
        using (var foreign = await ExchangeAsync(other, otherClient, assertion))
        {
            await HttpAssert.OAuthErrorAsync(foreign, HttpStatusCode.BadRequest, "invalid_grant");
        }

        // With the IdP turned off, or not opened to exchange, its assertions are worth nothing; turned on again, the unused one works.
        var client = await ExchangingClientAsync(setup);
        using var api = suite.FederationAdmin(setup.Tenant);
        Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/identity-providers/{idpId}", new { allowTokenExchange = false })).StatusCode);
        using (var closed = await ExchangeAsync(setup, client, assertion))
        {
            var error = await HttpAssert.OAuthErrorAsync(closed, HttpStatusCode.BadRequest, "invalid_grant");
            Assert.Contains("allowTokenExchange is off", error.GetProperty("error_description").GetString(), StringComparison.Ordinal);
        }

        Assert.Null(await UserIdOrNullAsync(setup, email));
        Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/identity-providers/{idpId}", new { allowTokenExchange = true })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/identity-providers/{idpId}", new { isEnabled = false })).StatusCode);
        using (var disabled = await ExchangeAsync(setup, client, assertion))
        {
            await HttpAssert.OAuthErrorAsync(disabled, HttpStatusCode.BadRequest, "invalid_grant");
        }

        Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/identity-providers/{idpId}", new { isEnabled = true, allowSignup = false })).StatusCode);
        using (var noSignup = await ExchangeAsync(setup, client, assertion))
        {
            var error = await HttpAssert.OAuthErrorAsync(noSignup, HttpStatusCode.BadRequest, "invalid_grant");
            Assert.Contains("signup_disabled", error.GetProperty("error_description").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/identity-providers/{idpId}", new { allowSignup = true })).StatusCode);
        using var accepted = await ExchangeAsync(setup, client, Encode(Assertion(setup, email)));
        await HttpAssert.JsonAsync(accepted, HttpStatusCode.OK);

        // A user blocked since gets no token from a new assertion.
        var userId = await UserIdAsync(setup, email);
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            Assert.True((await admin.PostAsync($"{setup.Tenant.Api}/admin/users/{userId}/block", null)).IsSuccessStatusCode);
        }

        using var blocked = await ExchangeAsync(setup, client, Encode(Assertion(setup, email)));
        await HttpAssert.OAuthErrorAsync(blocked, HttpStatusCode.BadRequest, "invalid_grant", "The user the subject token names can no longer sign in.");
    }

    [Fact]
    public async Task AClientExchangesAnOpenIdProvidersIdToken_NamedBySubjectIssuer_ForItsUsersToken_Once()
    {
        var setup = await suite.SetUpAsync();
        var idp = TestProvider.Start(suite.Providers, "xchg-" + Guid.NewGuid().ToString("N")[..8]);
        var providerId = (await suite.AddProviderAsync(setup.Tenant, new { type = "oidc", name = "Acme SSO", clientId = TestProvider.ClientId, clientSecret = "s", issuerUrl = idp.Issuer, allowTokenExchange = true }))
            .GetProperty("id").GetString()!;
        var client = await ExchangingClientAsync(setup);
        var email = $"oidc-{Guid.NewGuid():N}"[..13] + "@example.com";
        var claims = new Dictionary<string, object> { ["sub"] = "acme-" + Guid.NewGuid().ToString("N")[..8], ["email"] = email, ["email_verified"] = true, ["name"] = "Otto Idc" };

        // Named by issuer URL: the account gets a user (made now), and the token is theirs.
        var idToken = idp.IdToken(claims);
        using (var exchanged = await ExchangeAsync(setup, client, idToken, scope: "documents.read email", subjectType: IdTokenType, subjectIssuer: idp.Issuer))
        {
            var token = new JsonWebToken((await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("access_token").GetString()!);
            Assert.Equal(await UserIdAsync(setup, email), token.Subject);
            Assert.Equal(email, token.GetClaim("email").Value);
        }

        // Used once.
        using (var replayed = await ExchangeAsync(setup, client, idToken, subjectType: IdTokenType, subjectIssuer: idp.Issuer))
        {
            await HttpAssert.OAuthErrorAsync(replayed, HttpStatusCode.BadRequest, "invalid_grant");
        }

        // Named by the provider's id, announced as a JWT: the same user, by the link.
        using (var byId = await ExchangeAsync(setup, client, idp.IdToken(claims), subjectType: JwtType, subjectIssuer: providerId))
        {
            var token = new JsonWebToken((await HttpAssert.JsonAsync(byId, HttpStatusCode.OK)).GetProperty("access_token").GetString()!);
            Assert.Equal(await UserIdAsync(setup, email), token.Subject);
        }

        async Task RefusedAsync(string subjectToken, string? subjectIssuer, string because, string subjectType = IdTokenType)
        {
            using var response = await ExchangeAsync(setup, client, subjectToken, subjectType: subjectType, subjectIssuer: subjectIssuer);
            var error = await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
            Assert.Contains(because, error.GetProperty("error_description").GetString(), StringComparison.Ordinal);
        }

        await RefusedAsync(idp.IdToken(claims), "https://elsewhere.example.test", "no enabled identity provider");
        await RefusedAsync(idp.IdToken(claims), Guid.NewGuid().ToString(), "no enabled identity provider");
        await RefusedAsync(idp.IdToken(new(claims) { ["aud"] = "someone-else" }), idp.Issuer, "does not verify");
        await RefusedAsync(idp.IdToken(new(claims) { ["exp"] = DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeSeconds() }), idp.Issuer, "does not verify");
        await RefusedAsync(idp.IdToken(claims, TestProvider.Unpublished(idp.Issuer)), idp.Issuer, "does not verify");
        await RefusedAsync("not.a.jwt", idp.Issuer, "not a JWT");
        // The provider's access tokens for our client, and tokens for several parties not authorised for us, are not ID tokens of ours.
        await RefusedAsync(idp.IdToken(new(claims) { ["scp"] = "api.read" }), idp.Issuer, "access token");
        await RefusedAsync(idp.IdToken(new(claims) { ["aud"] = new[] { TestProvider.ClientId, "another-app" } }), idp.Issuer, "several audiences");
        await RefusedAsync(idp.IdToken(new(claims) { ["exp"] = DateTimeOffset.UtcNow.AddDays(2).ToUnixTimeSeconds() }), idp.Issuer, "more than a day");

        // Without subject_issuer an ID token is one of ours, which is not exchanged.
        using (var ours = await ExchangeAsync(setup, client, idp.IdToken(claims), subjectType: IdTokenType))
        {
            await HttpAssert.OAuthErrorAsync(ours, HttpStatusCode.BadRequest, "unsupported_token_type");
        }

        // Another tenant does not know this tenant's provider, by id or by issuer.
        var other = await suite.SetUpAsync();
        var otherClient = await ExchangingClientAsync(other);
        using (var foreign = await ExchangeAsync(other, otherClient, idp.IdToken(claims), subjectType: IdTokenType, subjectIssuer: providerId))
        {
            await HttpAssert.OAuthErrorAsync(foreign, HttpStatusCode.BadRequest, "invalid_grant");
        }

        // A tenant with a provider of its own for the same upstream client takes the provider's ID tokens, but not one
        // another tenant took already: an ID token names the client, not a tenant.
        await suite.AddProviderAsync(other.Tenant, new { type = "oidc", name = "Acme SSO", clientId = TestProvider.ClientId, clientSecret = "s", issuerUrl = idp.Issuer, allowTokenExchange = true });
        using (var replayedElsewhere = await ExchangeAsync(other, otherClient, idToken, subjectType: IdTokenType, subjectIssuer: idp.Issuer))
        {
            var error = await HttpAssert.OAuthErrorAsync(replayedElsewhere, HttpStatusCode.BadRequest, "invalid_grant");
            Assert.Contains("used already", error.GetProperty("error_description").GetString(), StringComparison.Ordinal);
        }

        using (var fresh = await ExchangeAsync(other, otherClient, idp.IdToken(claims), scope: "documents.read", subjectType: IdTokenType, subjectIssuer: idp.Issuer))
        {
            Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
        }

        // A workload platform as subject_issuer is still a workload's exchange, which takes no client secret.
        using (var workload = await ExchangeAsync(setup, client, idp.IdToken(claims), subjectType: JwtType, subjectIssuer: "kubernetes"))
        {
            await HttpAssert.OAuthErrorAsync(workload, HttpStatusCode.BadRequest, "invalid_request");
        }
    }

    [Fact]
    public async Task AGitHubAccessToken_OfOurAppThere_IsExchangedForItsUsersToken_AndAnotherAppsIsNot()
    {
        var setup = await suite.SetUpAsync();
        var githubClientId = "gh-" + Guid.NewGuid().ToString("N")[..10];
        var providerId = (await suite.AddProviderAsync(setup.Tenant, new { type = "github", clientId = githubClientId, clientSecret = "gh-secret", allowTokenExchange = true }))
            .GetProperty("id").GetString()!;
        var client = await ExchangingClientAsync(setup);
        var email = $"octo-{Guid.NewGuid():N}"[..13] + "@example.com";
        var checkPath = $"/github/api/applications/{githubClientId}/token";
        suite.Providers.Serve(checkPath, new SiteAnswer(JsonSerializer.Serialize(new { id = 1, app = new { client_id = githubClientId }, user = new { id = 9191 } })));
        suite.Providers.Serve("/github/api/user", new SiteAnswer(JsonSerializer.Serialize(new { id = 9191, login = "octo", name = "Octo Cat" })));
        suite.Providers.Serve("/github/api/user/emails", new SiteAnswer(JsonSerializer.Serialize(new object[] { new { email, primary = true, verified = true } })));

        // Named by type (the tenant has one GitHub provider), then by id: the same user, made at the first.
        foreach (var issuer in new[] { "github", providerId })
        {
            using var exchanged = await ExchangeAsync(setup, client, "gho_token_of_our_app", scope: "documents.read email", subjectType: AccessTokenType, subjectIssuer: issuer);
            var token = new JsonWebToken((await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("access_token").GetString()!);
            Assert.Equal(await UserIdAsync(setup, email), token.Subject);
        }

        // GitHub was asked with our app's credentials.
        Assert.StartsWith("Basic ", suite.Providers.LastRequest(checkPath)!.Authorization, StringComparison.Ordinal);
        Assert.Contains("gho_token_of_our_app", suite.Providers.LastRequest(checkPath)!.Body, StringComparison.Ordinal);

        async Task RefusedAsync(string? subjectIssuer, string because)
        {
            using var response = await ExchangeAsync(setup, client, "gho_token", subjectType: AccessTokenType, subjectIssuer: subjectIssuer);
            var error = await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
            Assert.Contains(because, error.GetProperty("error_description").GetString(), StringComparison.Ordinal);
        }

        // A token GitHub gave another app for the same person signs nobody in here.
        suite.Providers.Serve(checkPath, new SiteAnswer(JsonSerializer.Serialize(new { id = 2, app = new { client_id = "another-app" } })));
        await RefusedAsync("github", "does not know the token as this app's");
        suite.Providers.Serve(checkPath, new SiteAnswer("{\"message\":\"Not Found\"}", Status: 404));
        await RefusedAsync(providerId, "does not know the token as this app's");
        await RefusedAsync("gitlab", "no enabled identity provider");

        // An OpenID provider's access tokens are not taken (nothing says whose they are): its ID token is.
        var idp = TestProvider.Start(suite.Providers, "xat-" + Guid.NewGuid().ToString("N")[..8]);
        var oidcId = (await suite.AddProviderAsync(setup.Tenant, new { type = "oidc", name = "Acme SSO", clientId = TestProvider.ClientId, clientSecret = "s", issuerUrl = idp.Issuer, allowTokenExchange = true }))
            .GetProperty("id").GetString()!;
        await RefusedAsync(oidcId, "exchange an OpenID provider's ID token");

        // Without subject_issuer an access token is one of ours (a delegation), which this is not.
        using (var ours = await ExchangeAsync(setup, client, "gho_token", subjectType: AccessTokenType))
        {
            Assert.Equal(HttpStatusCode.BadRequest, ours.StatusCode);
        }

        // A provider the tenant did not open to exchange.
        using (var admin = suite.FederationAdmin(setup.Tenant))
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/social-providers/{providerId}", new { allowTokenExchange = false })).StatusCode);
        }

        await RefusedAsync(providerId, "allowTokenExchange is off");
    }

    [Fact]
    public async Task AFacebookAccessToken_OfOurApp_IsExchanged_AndAnotherAppsIsNot()
    {
        var setup = await suite.SetUpAsync();
        var appId = "fb-" + Guid.NewGuid().ToString("N")[..10];
        await suite.AddProviderAsync(setup.Tenant, new { type = "facebook", clientId = appId, clientSecret = "fb-secret", allowTokenExchange = true });
        var client = await ExchangingClientAsync(setup);
        var email = $"fay-{Guid.NewGuid():N}"[..12] + "@example.com";
        suite.Providers.Serve("/facebook/graph/debug_token", new SiteAnswer(JsonSerializer.Serialize(new { data = new { is_valid = true, app_id = appId, user_id = "5150" } })));
        suite.Providers.Serve("/facebook/graph/me", new SiteAnswer(JsonSerializer.Serialize(new { id = "5150", name = "Fay Book", email })));

        using (var exchanged = await ExchangeAsync(setup, client, "EAAB-token", scope: "documents.read", subjectType: AccessTokenType, subjectIssuer: "facebook"))
        {
            var token = new JsonWebToken((await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("access_token").GetString()!);
            Assert.Equal(await UserIdAsync(setup, email), token.Subject);
        }

        // Our app token asked; the proof of the token went with /me.
        Assert.Contains($"access_token={appId}%7Cfb-secret", suite.Providers.LastRequest("/facebook/graph/debug_token")!.Query, StringComparison.Ordinal);
        Assert.Contains("appsecret_proof=", suite.Providers.LastRequest("/facebook/graph/me")!.Query, StringComparison.Ordinal);

        suite.Providers.Serve("/facebook/graph/debug_token", new SiteAnswer(JsonSerializer.Serialize(new { data = new { is_valid = true, app_id = "another-app" } })));
        using var refused = await ExchangeAsync(setup, client, "EAAB-token", subjectType: AccessTokenType, subjectIssuer: "facebook");
        var error = await HttpAssert.OAuthErrorAsync(refused, HttpStatusCode.BadRequest, "invalid_grant");
        Assert.Contains("does not know the token as this app's", error.GetProperty("error_description").GetString(), StringComparison.Ordinal);
    }

    private async Task<string> AddIdpAsync(SignInSetup setup)
    {
        using var admin = suite.FederationAdmin(setup.Tenant);
        using var created = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/identity-providers", new
        {
            type = "saml", name = "Corp", entityId = IdpEntityId, ssoUrl = "https://corp-idp.example.test/sso", certificate = IdpCertificate.ExportCertificatePem(),
            allowTokenExchange = true,
        });
        return (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data").GetProperty("id").GetString()!;
    }

    private async Task<(string ClientId, string Secret)> ExchangingClientAsync(SignInSetup setup)
    {
        var data = await suite.CreateClientAsync(setup, new
        {
            name = "backend", applicationType = "m2m", grantTypes = new[] { "client_credentials", TokenExchangeGrant }, allowedScopes = new[] { "documents.read", "email", "zanzibar.write" },
        });
        return (data.GetProperty("clientId").GetString()!, data.GetProperty("secret").GetString()!);
    }

    /// <summary>The exchange, through the gateway.</summary>
    private async Task<HttpResponseMessage> ExchangeAsync(
        SignInSetup setup, (string ClientId, string Secret) client, string subjectToken, string? scope = null, string subjectType = Saml2Type, string? subjectIssuer = null)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = TokenExchangeGrant, ["subject_token"] = subjectToken, ["subject_token_type"] = subjectType };
        if (scope is not null)
        {
            form["scope"] = scope;
        }

        if (subjectIssuer is not null)
        {
            form["subject_issuer"] = subjectIssuer;
        }

        using var gateway = suite.FederatedBrowser();
        using var request = new HttpRequestMessage(HttpMethod.Post, setup.TokenEndpoint) { Content = new FormUrlEncodedContent(form) };
        request.Headers.Authorization = HttpAssert.Basic(client.ClientId, client.Secret);
        return await gateway.SendAsync(request);
    }

    private async Task<string> UserIdAsync(SignInSetup setup, string email) =>
        await UserIdOrNullAsync(setup, email) ?? throw new Xunit.Sdk.XunitException($"No user {email}");

    private async Task<string?> UserIdOrNullAsync(SignInSetup setup, string email)
    {
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var users = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users?search={Uri.EscapeDataString(email)}"), HttpStatusCode.OK)).GetProperty("data");
        return users.GetArrayLength() == 0 ? null : Assert.Single(users.EnumerateArray()).GetProperty("id").GetString();
    }

    private static string Encode(XmlDocument assertion) => Encode(assertion.OuterXml);

    private static string Encode(string xml) => System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(xml));

    /// <summary>A bearer assertion as an IdP writes one for a token endpoint (RFC 7522 §3), signed on itself unless told otherwise.</summary>
    private XmlDocument Assertion(
        SignInSetup setup, string email, bool sign = true, (RSA Key, X509Certificate2 Certificate)? signer = null, string? issuer = null, string? audience = null,
        string? recipient = null, string? inResponseTo = null, DateTimeOffset? issued = null, string? nameIdFormat = null, string? emailAttribute = null)
    {
        var now = issued ?? DateTimeOffset.UtcNow;
        var answering = inResponseTo is null ? string.Empty : $" InResponseTo=\"{inResponseTo}\"";
        var xml = $"<saml:Assertion xmlns:saml=\"{SamlTestSigning.Assertion}\" ID=\"_a{Guid.NewGuid():N}\" Version=\"2.0\" IssueInstant=\"{SamlTestSigning.Instant(now)}\">"
                  + $"<saml:Issuer>{issuer ?? IdpEntityId}</saml:Issuer>"
                  + $"<saml:Subject><saml:NameID Format=\"{nameIdFormat ?? "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"}\">{email}</saml:NameID>"
                  + $"<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\"><saml:SubjectConfirmationData{answering} "
                  + $"NotOnOrAfter=\"{SamlTestSigning.Instant(now.AddMinutes(5))}\" Recipient=\"{recipient ?? setup.TokenEndpoint}\"/></saml:SubjectConfirmation></saml:Subject>"
                  + $"<saml:Conditions NotBefore=\"{SamlTestSigning.Instant(now.AddMinutes(-1))}\" NotOnOrAfter=\"{SamlTestSigning.Instant(now.AddMinutes(5))}\"><saml:AudienceRestriction>"
                  + $"<saml:Audience>{audience ?? setup.TokenEndpoint}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"
                  + $"<saml:AttributeStatement><saml:Attribute Name=\"email\"><saml:AttributeValue>{emailAttribute ?? email}</saml:AttributeValue></saml:Attribute>"
                  + "<saml:Attribute Name=\"givenName\"><saml:AttributeValue>Sam</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>";
        var document = new XmlDocument { PreserveWhitespace = true };
        document.LoadXml(xml);
        if (sign)
        {
            var (key, certificate) = signer ?? (_idpKey, IdpCertificate);
            SamlTestSigning.Sign(document.DocumentElement!, key, certificate);
        }

        return document;
    }
}
