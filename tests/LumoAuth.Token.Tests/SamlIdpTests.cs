using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Security.Cryptography.Xml;
using System.Text;
using System.Text.Json;
using System.Xml;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.AspNetCore.WebUtilities;

namespace LumoAuth.Token.Tests;

/// <summary>
/// The tenant as a SAML 2.0 identity provider (FED-01…05): metadata, single sign-on for registered SAML apps over the
/// HTTP-Redirect and HTTP-POST bindings with the hosted login page in between, signed responses and assertions, single
/// logout — through the gateway, with the token service's sessions, admin's users, PostgreSQL and Redis real. The
/// checks on the answers are a relying party's: signatures verified with the metadata's certificate.
/// </summary>
public sealed class SamlIdpTests(FederationSuite suite) : IClassFixture<FederationSuite>
{
    private const string Acs = "https://wiki.example.test/saml/acs";
    private const string Slo = "https://wiki.example.test/saml/slo";
    private const string ChatAcs = "https://chat.example.test/saml/acs";
    private const string ChatSlo = "https://chat.example.test/saml/slo";
    private const string Sha1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
    private const string RsaSha256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

    [Fact]
    public async Task Metadata_PublishesTheEntityId_ASigningCertificate_TheEndpoints_AndTheNameIdFormats()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.FederatedBrowser();
        var (document, names) = await MetadataAsync(browser, setup);
        var entityId = $"http://localhost/t/{setup.Tenant.Slug}/saml/idp/metadata";
        Assert.Equal(entityId, document.DocumentElement!.GetAttribute("entityID"));
        var idp = (XmlElement)document.SelectSingleNode("/md:EntityDescriptor/md:IDPSSODescriptor", names)!;
        Assert.Equal("urn:oasis:names:tc:SAML:2.0:protocol", idp.GetAttribute("protocolSupportEnumeration"));
        var sso = idp.SelectNodes("md:SingleSignOnService", names)!.Cast<XmlElement>().ToDictionary(e => e.GetAttribute("Binding"), e => e.GetAttribute("Location"));
        Assert.Equal($"http://localhost/t/{setup.Tenant.Slug}/saml/idp/sso", sso["urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"]);
        Assert.Equal($"http://localhost/t/{setup.Tenant.Slug}/saml/idp/sso", sso["urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"]);
        var slo = idp.SelectNodes("md:SingleLogoutService", names)!.Cast<XmlElement>().ToDictionary(e => e.GetAttribute("Binding"), e => e.GetAttribute("Location"));
        Assert.Equal(3, slo.Count);
        Assert.Equal($"http://localhost/t/{setup.Tenant.Slug}/saml/idp/slo/soap", slo["urn:oasis:names:tc:SAML:2.0:bindings:SOAP"]);
        Assert.Equal(
            ["urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
             "urn:oasis:names:tc:SAML:2.0:nameid-format:transient", "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"],
            idp.SelectNodes("md:NameIDFormat", names)!.Cast<XmlElement>().Select(e => e.InnerText));

        // RSA 2048, SHA-256, three years; the same key every time, and the docs' alias path serves the same document.
        using var certificate = Certificate(document, names);
        Assert.Equal(2048, certificate.GetRSAPublicKey()!.KeySize);
        Assert.Equal("1.2.840.113549.1.1.11", certificate.SignatureAlgorithm.Value);
        Assert.InRange(certificate.NotAfter.ToUniversalTime(), DateTime.UtcNow.AddYears(3).AddDays(-2), DateTime.UtcNow.AddYears(3).AddDays(1));
        using (var alias = await browser.GetAsync($"/t/{setup.Tenant.Slug}/api/v1/saml/idp/metadata"))
        {
            Assert.Equal(HttpStatusCode.OK, alias.StatusCode);
            Assert.Contains(Convert.ToBase64String(certificate.RawData), await alias.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Every tenant signs with a key of its own.
        var other = await suite.SetUpAsync();
        var (otherDocument, otherNames) = await MetadataAsync(browser, other);
        using var otherCertificate = Certificate(otherDocument, otherNames);
        Assert.NotEqual(certificate.RawData, otherCertificate.RawData);
    }

    [Fact]
    public async Task ARedirectRequest_WaitsForTheLoginPage_ThenPostsASignedAssertion_ToTheRegisteredAcs()
    {
        var setup = await suite.SetUpAsync();
        var app = await AddAppAsync(setup, new
        {
            name = "Wiki", entityId = "https://wiki.example.test", acsUrl = Acs,
            attributeMappings = new Dictionary<string, string> { ["email"] = "email", ["displayName"] = "name", ["uid"] = "user_id" },
        });
        Assert.Equal($"http://localhost/t/{setup.Tenant.Slug}/saml/idp/metadata", app.GetProperty("idp").GetProperty("entityId").GetString());
        using var browser = suite.FederatedBrowser();
        using var certificate = await IdpCertificateAsync(browser, setup);

        var requestId = NewId();
        using var first = await browser.GetAsync(SsoUrl(setup) + "?" + RedirectQuery(AuthnRequest(requestId, "https://wiki.example.test", acs: Acs, destination: $"http://localhost{SsoUrl(setup)}"), "page/42?x=1"));
        Assert.Equal(HttpStatusCode.Redirect, first.StatusCode);
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/login?returnUrl=", first.Headers.Location!.OriginalString, StringComparison.Ordinal);

        // The login page's way back works only in this browser: handed to another, it answers nothing there.
        using (var other = suite.FederatedBrowser())
        {
            var back = QueryHelpers.ParseQuery(new Uri("http://localhost" + first.Headers.Location!.OriginalString).Query)["returnUrl"].ToString();
            await RefusedAsync(other.GetAsync(back), "expired");
        }

        var (action, response, relayState) = Posted(await SignInAndContinueAsync(browser, setup, first));
        Assert.Equal(Acs, action);
        Assert.Equal("page/42?x=1", relayState);
        var names = Names(response);
        var root = response.DocumentElement!;
        Assert.Equal(requestId, root.GetAttribute("InResponseTo"));
        Assert.Equal(Acs, root.GetAttribute("Destination"));
        Assert.Equal("urn:oasis:names:tc:SAML:2.0:status:Success", Value(response, names, "/samlp:Response/samlp:Status/samlp:StatusCode/@Value"));
        var idpEntityId = $"http://localhost/t/{setup.Tenant.Slug}/saml/idp/metadata";
        Assert.Equal(idpEntityId, Value(response, names, "/samlp:Response/saml:Issuer"));
        Assert.Equal(idpEntityId, Value(response, names, "//saml:Assertion/saml:Issuer"));

        // Signed twice by default, each signature over its own element, verifying with the metadata's certificate.
        AssertSignedBy(root, certificate);
        var assertion = (XmlElement)response.SelectSingleNode("//saml:Assertion", names)!;
        AssertSignedBy(assertion, certificate);

        Assert.Equal(setup.Email, Value(response, names, "//saml:Subject/saml:NameID"));
        Assert.Equal("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", Value(response, names, "//saml:Subject/saml:NameID/@Format"));
        Assert.Equal("urn:oasis:names:tc:SAML:2.0:cm:bearer", Value(response, names, "//saml:SubjectConfirmation/@Method"));
        Assert.Equal(requestId, Value(response, names, "//saml:SubjectConfirmationData/@InResponseTo"));
        Assert.Equal(Acs, Value(response, names, "//saml:SubjectConfirmationData/@Recipient"));
        Assert.Equal("https://wiki.example.test", Value(response, names, "//saml:Conditions/saml:AudienceRestriction/saml:Audience"));
        var notOnOrAfter = DateTimeOffset.Parse(Value(response, names, "//saml:Conditions/@NotOnOrAfter"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(notOnOrAfter, DateTimeOffset.UtcNow.AddMinutes(3), DateTimeOffset.UtcNow.AddMinutes(6));
        Assert.Equal("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport", Value(response, names, "//saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef"));
        Assert.StartsWith("_", Value(response, names, "//saml:AuthnStatement/@SessionIndex"), StringComparison.Ordinal);
        var attributes = response.SelectNodes("//saml:AttributeStatement/saml:Attribute", names)!.Cast<XmlElement>()
            .ToDictionary(a => a.GetAttribute("Name"), a => a.SelectSingleNode("saml:AttributeValue", names)!.InnerText);
        Assert.Equal(new Dictionary<string, string> { ["displayName"] = "Alice Example", ["email"] = setup.Email, ["uid"] = setup.UserId.ToString() }, attributes);

        // The sign-in to the app is in the tenant's audit log (through the outbox and RabbitMQ), by the user.
        var audited = await suite.AuditEntryAsync(setup, "saml_assertion_issued");
        Assert.Equal("authentication", audited.GetProperty("category").GetString());
        Assert.Equal(setup.UserId.ToString(), audited.GetProperty("actor").GetProperty("id").GetString());

        // Signed in now: a request by HTTP-POST is answered at once, here with a pairwise persistent NameID, stable across sign-ins.
        var persistent = await PostedAtOnceAsync(browser, setup, AuthnRequest(NewId(), "https://wiki.example.test", nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"));
        var persistentId = Value(persistent, Names(persistent), "//saml:Subject/saml:NameID");
        Assert.Matches("^[0-9a-f]{40}$", persistentId);
        var again = await PostedAtOnceAsync(browser, setup, AuthnRequest(NewId(), "https://wiki.example.test", nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"));
        Assert.Equal(persistentId, Value(again, Names(again), "//saml:Subject/saml:NameID"));
        await AddAppAsync(setup, new { name = "Tracker", entityId = "https://tracker.example.test", acsUrl = "https://tracker.example.test/acs", nameIdFormat = "persistent" });
        var elsewhere = await PostedAtOnceAsync(browser, setup, AuthnRequest(NewId(), "https://tracker.example.test"), acs: "https://tracker.example.test/acs");
        Assert.NotEqual(persistentId, Value(elsewhere, Names(elsewhere), "//saml:Subject/saml:NameID"));

        // ForceAuthn: the session is not enough, the user signs in again.
        using (var forced = await browser.GetAsync(SsoUrl(setup) + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test", forceAuthn: true))))
        {
            Assert.Equal(HttpStatusCode.Redirect, forced.StatusCode);
            Assert.StartsWith($"/t/{setup.Tenant.Slug}/login?", forced.Headers.Location!.OriginalString, StringComparison.Ordinal);

            // The continuation without a new sign-in (the old session) is sent back to the login page; after one, answered.
            var login = QueryHelpers.ParseQuery(new Uri("http://localhost" + forced.Headers.Location.OriginalString).Query)["returnUrl"].ToString();
            using (var stale = await browser.GetAsync(login))
            {
                Assert.StartsWith($"/t/{setup.Tenant.Slug}/login?", stale.Headers.Location!.OriginalString, StringComparison.Ordinal);
            }

            var (_, reauthenticated, _) = Posted(await SignInAndContinueAsync(browser, setup, forced));
            Assert.Equal(setup.Email, Value(reauthenticated, Names(reauthenticated), "//saml:Subject/saml:NameID"));
        }

        // IsPassive in a browser without a session: no login page, a NoPassive answer to the SP.
        using var stranger = suite.FederatedBrowser();
        using var passive = await stranger.GetAsync(SsoUrl(setup) + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test", isPassive: true)));
        var (_, refused, _) = Posted(await passive.Content.ReadAsStringAsync());
        Assert.Equal("urn:oasis:names:tc:SAML:2.0:status:NoPassive", Value(refused, Names(refused), "/samlp:Response/samlp:Status/samlp:StatusCode/samlp:StatusCode/@Value"));
        Assert.Null(refused.SelectSingleNode("//saml:Assertion", Names(refused)));
        AssertSignedBy(refused.DocumentElement!, certificate);

        // A name holding characters XML has no place for still signs in; they are left out of the attribute.
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}", new { name = "Ali\u0001ce" })).StatusCode);
        }

        var controlled = await PostedAtOnceAsync(browser, setup, AuthnRequest(NewId(), "https://wiki.example.test"));
        Assert.Equal("Alice", Value(controlled, Names(controlled), "//saml:Attribute[@Name='displayName']/saml:AttributeValue"));

        // The answer page posts only to the SP, with its script allowed by a nonce.
        using var page = await browser.PostAsync(SsoUrl(setup), new FormUrlEncodedContent(new Dictionary<string, string> { ["SAMLRequest"] = Base64(AuthnRequest(NewId(), "https://wiki.example.test")) }));
        var policy = page.Headers.GetValues("Content-Security-Policy").Single();
        // No form-action: an ACS may redirect to another host after the post, which form-action would block.
        Assert.DoesNotContain("form-action", policy, StringComparison.Ordinal);
        Assert.Contains("script-src 'nonce-", policy, StringComparison.Ordinal);
        Assert.Equal("no-store", page.Headers.CacheControl!.ToString());
    }

    [Fact]
    public async Task RequestsThatCannotBeAnsweredToARegisteredAcs_EndOnAnErrorPage_NeverAtTheSp()
    {
        var setup = await suite.SetUpAsync();
        var app = await AddAppAsync(setup, new { name = "Wiki", entityId = "https://wiki.example.test", acsUrl = Acs });
        using var browser = suite.FederatedBrowser();
        var sso = SsoUrl(setup);

        await RefusedAsync(browser.GetAsync(sso));
        await RefusedAsync(browser.GetAsync(sso + "?SAMLRequest=%%%not-base64"));
        await RefusedAsync(browser.GetAsync(sso + "?SAMLRequest=" + Uri.EscapeDataString(Convert.ToBase64String("not deflated"u8.ToArray()))));
        await RefusedAsync(browser.PostAsJsonAsync(sso, new { SAMLRequest = "x" }));
        // XML with a DTD (entity expansion, outside files) is never parsed.
        await RefusedAsync(browser.GetAsync(sso + "?" + RedirectQuery("<!DOCTYPE r [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>" + AuthnRequest(NewId(), "https://wiki.example.test").Replace("https://wiki.example.test</saml:Issuer>", "&e;</saml:Issuer>", StringComparison.Ordinal))));
        // A DEFLATE bomb inflates no further than 64 KB.
        await RefusedAsync(browser.GetAsync(sso + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test").Replace("</samlp:AuthnRequest>", new string(' ', 200_000) + "</samlp:AuthnRequest>", StringComparison.Ordinal))));
        await RefusedAsync(browser.GetAsync(sso + "?" + RedirectQuery(AuthnRequest(NewId(), "https://unknown.example.test"))));
        await RefusedAsync(browser.GetAsync(sso + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test", acs: "https://evil.example.test/acs"))));
        await RefusedAsync(browser.GetAsync(sso + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test", destination: "https://elsewhere.example.test/sso"))));
        await RefusedAsync(browser.GetAsync(sso + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test", binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"))));
        await RefusedAsync(browser.GetAsync(sso + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test", issued: DateTimeOffset.UtcNow.AddHours(-1)))));
        await RefusedAsync(browser.GetAsync(sso + "?" + RedirectQuery(AuthnRequest("1-not-an-ncname", "https://wiki.example.test"))));
        await RefusedAsync(browser.GetAsync(sso + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test"), new string('r', 1025))));
        await RefusedAsync(browser.GetAsync(sso + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test").Replace("AuthnRequest", "LogoutRequest", StringComparison.Ordinal))));

        // A request is answered once: the same ID again is refused.
        var once = AuthnRequest(NewId(), "https://wiki.example.test");
        using (var first = await browser.GetAsync(sso + "?" + RedirectQuery(once)))
        {
            Assert.Equal(HttpStatusCode.Redirect, first.StatusCode);
        }

        await RefusedAsync(browser.GetAsync(sso + "?" + RedirectQuery(once)), "answered already");

        // Another tenant's IdP does not know this tenant's app.
        var other = await suite.SetUpAsync();
        await RefusedAsync(browser.GetAsync(SsoUrl(other) + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test"))));

        // A switched-off app gets no answers.
        using (var admin = suite.FederationAdmin(setup.Tenant))
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/saml-apps/{app.GetProperty("id").GetString()}", new { isEnabled = false })).StatusCode);
        }

        await RefusedAsync(browser.GetAsync(sso + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test"))));

        // A NameID format the IdP does not offer is the SP's to hear about, in a signed response to its registered ACS.
        await AddAppAsync(setup, new { name = "Tracker", entityId = "https://tracker.example.test", acsUrl = "https://tracker.example.test/acs" });
        using var odd = await browser.GetAsync(sso + "?" + RedirectQuery(AuthnRequest(NewId(), "https://tracker.example.test", nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos")));
        var (action, response, _) = Posted(await odd.Content.ReadAsStringAsync());
        Assert.Equal("https://tracker.example.test/acs", action);
        Assert.Equal("urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy", Value(response, Names(response), "/samlp:Response/samlp:Status/samlp:StatusCode/samlp:StatusCode/@Value"));
    }

    [Fact]
    public async Task AnAppThatSignsItsRequests_IsBelievedOnlyWhenTheSignatureCoversTheWholeRequest()
    {
        var setup = await suite.SetUpAsync();
        using var key = RSA.Create(2048);
        using var spCertificate = SamlTestSigning.SelfSigned(key, "CN=wiki");
        await AddAppAsync(setup, new
        {
            name = "Wiki", entityId = "https://wiki.example.test", acsUrl = Acs, certificate = spCertificate.ExportCertificatePem(), requireSignedRequests = true,
        });
        using var browser = suite.FederatedBrowser();
        var sso = SsoUrl(setup);

        await RefusedAsync(browser.GetAsync(sso + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test"))), "must sign its messages");
        await AcceptedAsync(browser.GetAsync(sso + "?" + SignedRedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test"), "back", key, RsaSha256)));
        await RefusedAsync(browser.GetAsync(sso + "?" + SignedRedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test"), "back", key, Sha1)));
        using (var stranger = RSA.Create(2048))
        {
            await RefusedAsync(browser.GetAsync(sso + "?" + SignedRedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test"), "back", stranger, RsaSha256)));
        }

        var tampered = SignedRedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test"), "back", key, RsaSha256).Replace("RelayState=back", "RelayState=elsewhere", StringComparison.Ordinal);
        await RefusedAsync(browser.GetAsync(sso + "?" + tampered));

        // A RelayState the signature does not cover: a second one, or one whose name is escaped.
        await RefusedAsync(browser.GetAsync(sso + "?" + SignedRedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test"), "back", key, RsaSha256) + "&RelayState=evil"));
        await RefusedAsync(browser.GetAsync(sso + "?" + SignedRedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test"), null, key, RsaSha256) + "&Relay%53tate=evil"));

        // A signature whose values are not base64 is refused, not a server error.
        var garbled = SignEnveloped(AuthnRequest(NewId(), "https://wiki.example.test"), key, spCertificate);
        garbled.GetElementsByTagName("SignatureValue", SignedXml.XmlDsigNamespaceUrl)[0]!.InnerText = "@@not base64@@";
        await RefusedAsync(browser.PostAsync(sso, Form(garbled.OuterXml)));

        // HTTP-POST: an enveloped signature over the request's root.
        var signed = SignEnveloped(AuthnRequest(NewId(), "https://wiki.example.test"), key, spCertificate);
        await AcceptedAsync(browser.PostAsync(sso, Form(signed.OuterXml)));

        // A changed request no longer matches its signature.
        var changed = SignEnveloped(AuthnRequest(NewId(), "https://wiki.example.test"), key, spCertificate);
        changed.DocumentElement!.SetAttribute("ForceAuthn", "true");
        await RefusedAsync(browser.PostAsync(sso, Form(changed.OuterXml)));

        // Signature wrapping: a new root around a validly signed request (its signature moved up) is refused.
        var original = SignEnveloped(AuthnRequest(NewId(), "https://wiki.example.test"), key, spCertificate);
        var wrapper = new XmlDocument { PreserveWhitespace = true };
        wrapper.LoadXml(AuthnRequest(NewId(), "https://wiki.example.test", acs: Acs));
        var signature = original.DocumentElement!.GetElementsByTagName("Signature", SignedXml.XmlDsigNamespaceUrl)[0]!;
        original.DocumentElement.RemoveChild(signature);
        var issuer = wrapper.DocumentElement!.FirstChild!;
        wrapper.DocumentElement.InsertAfter(wrapper.ImportNode(signature, true), issuer);
        var extensions = wrapper.CreateElement("samlp", "Extensions", "urn:oasis:names:tc:SAML:2.0:protocol");
        extensions.AppendChild(wrapper.ImportNode(original.DocumentElement, true));
        wrapper.DocumentElement.AppendChild(extensions);
        await RefusedAsync(browser.PostAsync(sso, Form(wrapper.OuterXml)));
    }

    [Fact]
    public async Task AnAppThatAsks_GetsItsAssertionEncrypted_ToItsCertificate_SignedBeforeAndAfter()
    {
        var setup = await suite.SetUpAsync();
        using var key = RSA.Create(2048);
        using var spCertificate = SamlTestSigning.SelfSigned(key, "CN=wiki");
        await AddAppAsync(setup, new { name = "Wiki", entityId = "https://wiki.example.test", acsUrl = Acs, certificate = spCertificate.ExportCertificatePem(), encryptAssertions = true });
        using var browser = suite.FederatedBrowser();
        using var certificate = await IdpCertificateAsync(browser, setup);
        using var start = await browser.GetAsync(SsoUrl(setup) + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test")));
        var (_, response, _) = Posted(await SignInAndContinueAsync(browser, setup, start));
        var names = Names(response);
        Assert.Null(response.SelectSingleNode("//saml:Assertion", names));
        AssertSignedBy(response.DocumentElement!, certificate);

        // AES-256-GCM under a key wrapped with RSA-OAEP for the app's key (XML Encryption 1.1).
        names.AddNamespace("xenc", "http://www.w3.org/2001/04/xmlenc#");
        Assert.Equal("http://www.w3.org/2009/xmlenc11#aes256-gcm", Value(response, names, "//saml:EncryptedAssertion/xenc:EncryptedData/xenc:EncryptionMethod/@Algorithm"));
        Assert.Equal("http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p", Value(response, names, "//xenc:EncryptedKey/xenc:EncryptionMethod/@Algorithm"));
        var contentKey = key.Decrypt(Convert.FromBase64String(Value(response, names, "//xenc:EncryptedKey/xenc:CipherData/xenc:CipherValue")), RSAEncryptionPadding.OaepSHA1);
        var sealedData = Convert.FromBase64String(Value(response, names, "//saml:EncryptedAssertion/xenc:EncryptedData/xenc:CipherData/xenc:CipherValue"));
        var plain = new byte[sealedData.Length - 12 - 16];
        using (var aes = new AesGcm(contentKey, 16))
        {
            aes.Decrypt(sealedData.AsSpan(0, 12), sealedData.AsSpan(12, plain.Length), sealedData.AsSpan(12 + plain.Length), plain);
        }

        // Readable on its own, and signed by the IdP before it was encrypted.
        var assertion = new XmlDocument { PreserveWhitespace = true };
        assertion.LoadXml(Encoding.UTF8.GetString(plain));
        AssertSignedBy(assertion.DocumentElement!, certificate);
        Assert.Equal(setup.Email, Value(assertion, Names(assertion), "/saml:Assertion/saml:Subject/saml:NameID"));

        using var admin = suite.FederationAdmin(setup.Tenant);
        using var refused = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/saml-apps", new { name = "Other", entityId = "https://other.example.test", acsUrl = Acs, encryptAssertions = true });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
    }

    [Fact]
    public async Task SingleLogout_EndsTheSessionTheRequestNames_AndAnswersTheAppSigned()
    {
        var setup = await suite.SetUpAsync();
        await AddAppAsync(setup, new { name = "Wiki", entityId = "https://wiki.example.test", acsUrl = Acs, sloUrl = Slo });
        using var browser = suite.FederatedBrowser();
        using var certificate = await IdpCertificateAsync(browser, setup);
        using var start = await browser.GetAsync(SsoUrl(setup) + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test")));
        var (_, response, _) = Posted(await SignInAndContinueAsync(browser, setup, start));
        var sessionIndex = Value(response, Names(response), "//saml:AuthnStatement/@SessionIndex");
        var sloUrl = $"/t/{setup.Tenant.Slug}/saml/idp/slo";

        // An unsigned request naming another session is answered, but not obeyed: any page could send one.
        var requestId = NewId();
        using (var stray = await browser.GetAsync(sloUrl + "?" + RedirectQuery(LogoutRequest(requestId, "https://wiki.example.test", setup.Email, "_someone-else"), "r1")))
        {
            var (status, _) = LogoutAnswer(stray, certificate, requestId);
            Assert.Equal("urn:oasis:names:tc:SAML:2.0:status:Requester", status);
        }

        await PostedAtOnceAsync(browser, setup, AuthnRequest(NewId(), "https://wiki.example.test"));

        // Naming the session the assertion reported ends it: signed answer to the app's logout URL, with its RelayState.
        requestId = NewId();
        using (var logout = await browser.GetAsync(sloUrl + "?" + RedirectQuery(LogoutRequest(requestId, "https://wiki.example.test", setup.Email, sessionIndex), "r2")))
        {
            var (status, relayState) = LogoutAnswer(logout, certificate, requestId);
            Assert.Equal("urn:oasis:names:tc:SAML:2.0:status:Success", status);
            Assert.Equal("r2", relayState);
        }

        // Signed out everywhere at the tenant: the next SAML request, and the token service's pages, ask for a login.
        using (var next = await browser.GetAsync(SsoUrl(setup) + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test"))))
        {
            Assert.StartsWith($"/t/{setup.Tenant.Slug}/login?", next.Headers.Location!.OriginalString, StringComparison.Ordinal);
        }

        await RefusedAsync(browser.GetAsync(sloUrl + "?" + RedirectQuery(LogoutRequest(NewId(), "https://unknown.example.test", setup.Email, sessionIndex))));
        await RefusedAsync(browser.GetAsync(sloUrl + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test"))));
    }

    [Fact]
    public async Task AnApp_EndsTheSessionItsAssertionNamed_OverTheBackChannel_WithASignedSoapLogoutRequest()
    {
        var setup = await suite.SetUpAsync();
        using var key = RSA.Create(2048);
        using var appCertificate = SamlTestSigning.SelfSigned(key, "CN=wiki");
        await AddAppAsync(setup, new { name = "Wiki", entityId = "https://wiki.example.test", acsUrl = Acs, certificate = appCertificate.ExportCertificatePem() });
        using var browser = suite.FederatedBrowser();
        using var idpCertificate = await IdpCertificateAsync(browser, setup);
        using var start = await browser.GetAsync(SsoUrl(setup) + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test")));
        var (_, response, _) = Posted(await SignInAndContinueAsync(browser, setup, start));
        var sessionIndex = Value(response, Names(response), "//saml:AuthnStatement/@SessionIndex");
        var nameId = Value(response, Names(response), "//saml:Subject/saml:NameID");
        var soapPath = $"/t/{setup.Tenant.Slug}/saml/idp/slo/soap";
        using var app = suite.Federation.CreateClient();

        static string Envelope(string message) =>
            $"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>{message}</soap:Body></soap:Envelope>";
        string Signed(string id, string nameId, string index, RSA? signer = null, X509Certificate2? certificate = null) =>
            Envelope(SignEnveloped(LogoutRequest(id, "https://wiki.example.test", nameId, index), signer ?? key, certificate ?? appCertificate).DocumentElement!.OuterXml);
        async Task<string> StatusAsync(string body)
        {
            using var answered = await app.PostAsync(soapPath, new StringContent(body, Encoding.UTF8, "text/xml"));
            var text = await answered.Content.ReadAsStringAsync();
            Assert.True(answered.StatusCode == HttpStatusCode.OK, text);
            var envelope = new XmlDocument { PreserveWhitespace = true };
            envelope.LoadXml(text);
            var answer = new XmlDocument { PreserveWhitespace = true };
            answer.LoadXml(envelope.GetElementsByTagName("LogoutResponse", "urn:oasis:names:tc:SAML:2.0:protocol")[0]!.OuterXml);
            AssertSignedBy(answer.DocumentElement!, idpCertificate);
            return Value(answer, Names(answer), "//samlp:StatusCode/@Value");
        }

        // Not SOAP: a fault. Unsigned, signed by another key, or naming another session or person: Requester, nothing ends.
        using (var garbage = await app.PostAsync(soapPath, new StringContent("<x/>", Encoding.UTF8, "text/xml")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        }

        using var stranger = RSA.Create(2048);
        using var strangerCertificate = SamlTestSigning.SelfSigned(stranger, "CN=stranger");
        foreach (var refused in new[]
                 {
                     Envelope(LogoutRequest(NewId(), "https://wiki.example.test", nameId, sessionIndex)),
                     Signed(NewId(), nameId, sessionIndex, stranger, strangerCertificate),
                     Signed(NewId(), nameId, "_another-session"),
                     Signed(NewId(), "someone-else@example.com", sessionIndex),
                 })
        {
            Assert.Equal("urn:oasis:names:tc:SAML:2.0:status:Requester", await StatusAsync(refused));
        }

        await PostedAtOnceAsync(browser, setup, AuthnRequest(NewId(), "https://wiki.example.test"));

        // Signed by the app, naming the person and the session its assertion reported: the session ends, whatever browser holds it.
        var logout = Signed(NewId(), nameId, sessionIndex);
        Assert.Equal("urn:oasis:names:tc:SAML:2.0:status:Success", await StatusAsync(logout));
        using (var next = await browser.GetAsync(SsoUrl(setup) + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test"))))
        {
            Assert.StartsWith($"/t/{setup.Tenant.Slug}/login?", next.Headers.Location!.OriginalString, StringComparison.Ordinal);
        }

        Assert.Equal("urn:oasis:names:tc:SAML:2.0:status:Requester", await StatusAsync(logout));
    }

    [Fact]
    public async Task ALogoutAtOneApp_SignsTheBrowserOutOfTheSessionsOtherApps_WithSignedLogoutRequests_ThenAnswersIt()
    {
        var setup = await suite.SetUpAsync();
        await AddAppAsync(setup, new { name = "Wiki", entityId = "https://wiki.example.test", acsUrl = Acs, sloUrl = Slo });
        await AddAppAsync(setup, new { name = "Chat", entityId = "https://chat.example.test", acsUrl = ChatAcs, sloUrl = ChatSlo, nameIdFormat = "persistent" });
        // An app without a logout URL cannot be told.
        await AddAppAsync(setup, new { name = "Docs", entityId = "https://docs.example.test", acsUrl = "https://docs.example.test/acs" });
        using var browser = suite.FederatedBrowser();
        using var certificate = await IdpCertificateAsync(browser, setup);
        using var start = await browser.GetAsync(SsoUrl(setup) + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test")));
        var (_, wiki, _) = Posted(await SignInAndContinueAsync(browser, setup, start));
        var sessionIndex = Value(wiki, Names(wiki), "//saml:AuthnStatement/@SessionIndex");
        var chat = await PostedAtOnceAsync(browser, setup, AuthnRequest(NewId(), "https://chat.example.test", acs: ChatAcs), acs: ChatAcs);
        var chatNameId = Value(chat, Names(chat), "//saml:Subject/saml:NameID");
        await PostedAtOnceAsync(browser, setup, AuthnRequest(NewId(), "https://docs.example.test", acs: "https://docs.example.test/acs"), acs: "https://docs.example.test/acs");

        var requestId = NewId();
        using var logout = await browser.GetAsync($"/t/{setup.Tenant.Slug}/saml/idp/slo?" + RedirectQuery(LogoutRequest(requestId, "https://wiki.example.test", setup.Email, sessionIndex), "r9"));
        Assert.Equal(HttpStatusCode.OK, logout.StatusCode);
        Assert.Contains("frame-src https://chat.example.test", logout.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        var html = await logout.Content.ReadAsStringAsync();
        var frames = System.Text.RegularExpressions.Regex.Matches(html, "<iframe[^>]* src=\"([^\"]+)\"").Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).ToList();
        var request = SignedRedirectMessage(Assert.Single(frames), ChatSlo, "SAMLRequest", certificate);
        Assert.Equal("LogoutRequest", request.DocumentElement!.LocalName);
        Assert.Equal(ChatSlo, request.DocumentElement.GetAttribute("Destination"));
        Assert.Equal(chatNameId, Value(request, Names(request), "/samlp:LogoutRequest/saml:NameID"));
        Assert.Equal("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", Value(request, Names(request), "/samlp:LogoutRequest/saml:NameID/@Format"));
        Assert.Equal(sessionIndex, Value(request, Names(request), "/samlp:LogoutRequest/samlp:SessionIndex"));

        // Then back to the app that asked, with its signed answer.
        var back = WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(html, "content=\"2;url=([^\"]+)\"").Groups[1].Value);
        var answer = SignedRedirectMessage(back, Slo, "SAMLResponse", certificate);
        Assert.Equal(requestId, answer.DocumentElement!.GetAttribute("InResponseTo"));
        Assert.Equal("r9", QueryHelpers.ParseQuery(new Uri(back).Query)["RelayState"].ToString());

        // Chat's answer, in its frame, ends quietly.
        using (var chatAnswer = await browser.GetAsync($"/t/{setup.Tenant.Slug}/saml/idp/slo?SAMLResponse=anything"))
        {
            Assert.Equal(HttpStatusCode.OK, chatAnswer.StatusCode);
        }
    }

    [Fact]
    public async Task SigningOutAtTheTokenService_AlsoSignsTheBrowserOutOfTheSessionsSamlApps()
    {
        var setup = await suite.SetUpAsync();
        await AddAppAsync(setup, new { name = "Chat", entityId = "https://chat.example.test", acsUrl = ChatAcs, sloUrl = ChatSlo });
        using var browser = suite.FederatedBrowser();
        using var certificate = await IdpCertificateAsync(browser, setup);
        using var start = await browser.GetAsync(SsoUrl(setup) + "?" + RedirectQuery(AuthnRequest(NewId(), "https://chat.example.test", acs: ChatAcs)));
        var (_, chat, _) = Posted(await SignInAndContinueAsync(browser, setup, start));

        using var page = await browser.GetAsync($"{setup.Tenant.Api}/oauth/logout");
        var form = HostedFlow.HiddenFields(await page.Content.ReadAsStringAsync());
        form["logout_confirmed"] = "yes";
        using var confirmed = await browser.PostAsync($"{setup.Tenant.Api}/oauth/logout", new FormUrlEncodedContent(form));
        var html = await confirmed.Content.ReadAsStringAsync();
        Assert.True(confirmed.StatusCode == HttpStatusCode.OK, html);
        var frame = WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(html, "<iframe[^>]* src=\"([^\"]+)\"").Groups[1].Value);
        var request = SignedRedirectMessage(frame, ChatSlo, "SAMLRequest", certificate);
        Assert.Equal(Value(chat, Names(chat), "//saml:AuthnStatement/@SessionIndex"), Value(request, Names(request), "/samlp:LogoutRequest/samlp:SessionIndex"));
        Assert.Equal(setup.Email, Value(request, Names(request), "/samlp:LogoutRequest/saml:NameID"));
    }

    [Fact]
    public async Task ASessionEndedByAnAdministrator_IsEndedAtItsAppsOverTheBackChannel_WithASignedLogoutRequest()
    {
        var setup = await suite.SetUpAsync();
        var soapPath = $"/sp/{Guid.NewGuid():N}/slo-soap";
        var soapUrl = suite.Providers.Serve(soapPath, new SiteAnswer(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body/></soap:Envelope>", ContentType: "text/xml"));
        using (var invalid = await suite.FederationAdmin(setup.Tenant).PostAsJsonAsync($"{setup.Tenant.Api}/admin/saml-apps",
                   new { name = "Bad", entityId = "https://bad.example.test", acsUrl = Acs, sloSoapUrl = "http://bad.example.test/soap" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        }

        var app = await AddAppAsync(setup, new { name = "Chat", entityId = "https://chat.example.test", acsUrl = ChatAcs, sloUrl = ChatSlo, sloSoapUrl = soapUrl });
        Assert.Equal(soapUrl, app.GetProperty("sloSoapUrl").GetString());
        using var browser = suite.FederatedBrowser();
        using var certificate = await IdpCertificateAsync(browser, setup);
        using var start = await browser.GetAsync(SsoUrl(setup) + "?" + RedirectQuery(AuthnRequest(NewId(), "https://chat.example.test", acs: ChatAcs)));
        var (_, chat, _) = Posted(await SignInAndContinueAsync(browser, setup, start));

        using (var admin = suite.Token.CreateClient())
        {
            admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
            using var revoked = await admin.DeleteAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/sessions");
            Assert.True(revoked.IsSuccessStatusCode, await revoked.Content.ReadAsStringAsync());
        }

        // SessionsRevoked travels to federation, which posts the app a LogoutRequest in a SOAP envelope.
        var posted = await ApiAssert.EventuallyAsync(() => Task.FromResult(suite.Providers.LastRequest(soapPath)));
        var envelope = new XmlDocument { PreserveWhitespace = true };
        envelope.LoadXml(posted.Body);
        var request = new XmlDocument { PreserveWhitespace = true };
        request.LoadXml(envelope.DocumentElement!.GetElementsByTagName("LogoutRequest", "urn:oasis:names:tc:SAML:2.0:protocol").OfType<XmlElement>().Single().OuterXml);
        AssertSignedBy(request.DocumentElement!, certificate);
        Assert.Equal(soapUrl, request.DocumentElement!.GetAttribute("Destination"));
        Assert.Equal(setup.Email, Value(request, Names(request), "/samlp:LogoutRequest/saml:NameID"));
        Assert.Equal(Value(chat, Names(chat), "//saml:AuthnStatement/@SessionIndex"), Value(request, Names(request), "/samlp:LogoutRequest/samlp:SessionIndex"));
        Assert.Equal(1, suite.Providers.Requests(soapPath));
    }

    [Fact]
    public async Task ProviderAppAndKeyChanges_AreAuditedAsConfiguration()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.FederationAdmin(setup.Tenant);
        var api = setup.Tenant.Api;

        using (var github = await admin.PostAsJsonAsync($"{api}/admin/social-providers", new { type = "github", clientId = "gh-client", clientSecret = "gh-secret" }))
        {
            var id = (await HttpAssert.JsonAsync(github, HttpStatusCode.Created)).GetProperty("data").GetProperty("id").GetString();
            Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsJsonAsync($"{api}/admin/social-providers/{id}", new { name = "GitHub (staff)" })).StatusCode);
            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{api}/admin/social-providers/{id}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"{api}/admin/social-providers/{id}")).StatusCode);
        }

        var app = await AddAppAsync(setup, new { name = "Audited", entityId = "https://audited.example.test", acsUrl = Acs });
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{api}/admin/saml-apps/{app.GetProperty("id").GetString()}")).StatusCode);

        using (var next = await admin.PostAsync($"{api}/admin/saml-keys", null))
        {
            var key = (await HttpAssert.JsonAsync(next, HttpStatusCode.Created)).GetProperty("data").GetProperty("id").GetString();
            Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"{api}/admin/saml-keys/{key}/activate", null)).StatusCode);
        }

        var provider = await suite.AuditEntryAsync(setup, "identity_provider_changed", e => e.GetProperty("metadata").GetProperty("change").GetString() == "deleted");
        Assert.Equal("configuration", provider.GetProperty("category").GetString());
        Assert.Equal("github", provider.GetProperty("metadata").GetProperty("type").GetString());
        Assert.Equal("GitHub (staff)", provider.GetProperty("metadata").GetProperty("name").GetString());
        await suite.AuditEntryAsync(setup, "identity_provider_changed", e => e.GetProperty("metadata").GetProperty("change").GetString() == "created");
        await suite.AuditEntryAsync(setup, "identity_provider_changed", e => e.GetProperty("metadata").GetProperty("change").GetString() == "updated");
        var deletedApp = await suite.AuditEntryAsync(setup, "saml_app_changed", e => e.GetProperty("metadata").GetProperty("change").GetString() == "deleted");
        Assert.Equal("https://audited.example.test", deletedApp.GetProperty("metadata").GetProperty("entityId").GetString());
        await suite.AuditEntryAsync(setup, "saml_signing_key_changed", e => e.GetProperty("metadata").GetProperty("change").GetString() == "created");
        await suite.AuditEntryAsync(setup, "saml_signing_key_changed", e => e.GetProperty("metadata").GetProperty("change").GetString() == "activated");
    }

    [Fact]
    public async Task TheAdminApi_KeepsSamlAppsPerTenant_AndChecksThem()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.FederationAdmin(setup.Tenant);
        var apps = $"{setup.Tenant.Api}/admin/saml-apps";

        async Task InvalidAsync(object body, string field)
        {
            using var response = await admin.PostAsJsonAsync(apps, body);
            var error = await HttpAssert.JsonAsync(response, HttpStatusCode.BadRequest);
            Assert.Equal("validation_error", error.GetProperty("code").GetString());
            Assert.True(error.GetProperty("details").TryGetProperty(field, out _), $"{field} not named: {error}");
        }

        await InvalidAsync(new { entityId = "https://a.example.test", acsUrl = Acs }, "name");
        await InvalidAsync(new { name = "A", acsUrl = Acs }, "entityId");
        await InvalidAsync(new { name = "A", entityId = "https://a.example.test" }, "acsUrl");
        await InvalidAsync(new { name = "A", entityId = "https://a.example.test", acsUrl = "http://a.example.test/acs" }, "acsUrl");
        await InvalidAsync(new { name = "A", entityId = "https://a.example.test", acsUrl = "https://u:p@a.example.test/acs" }, "acsUrl");
        await InvalidAsync(new { name = "A", entityId = "https://a.example.test", acsUrl = "javascript:alert(1)" }, "acsUrl");
        await InvalidAsync(new { name = "A", entityId = "https://a.example.test", acsUrl = Acs, sloUrl = "https://a.example.test/slo#x" }, "sloUrl");
        await InvalidAsync(new { name = "A", entityId = "https://a.example.test", acsUrl = Acs, nameIdFormat = "kerberos" }, "nameIdFormat");
        await InvalidAsync(new { name = "A", entityId = "https://a.example.test", acsUrl = Acs, certificate = "not a certificate" }, "certificate");
        await InvalidAsync(new { name = "A", entityId = "https://a.example.test", acsUrl = Acs, requireSignedRequests = true }, "requireSignedRequests");
        await InvalidAsync(new { name = "A", entityId = "https://a.example.test", acsUrl = Acs, signResponse = false, signAssertion = false }, "signAssertion");
        await InvalidAsync(new { name = "A", entityId = "https://a.example.test", acsUrl = Acs, attributeMappings = new Dictionary<string, string> { ["mail"] = "password" } }, "attributeMappings");
        await InvalidAsync(new { name = "A", entityId = "https://a.example.test", acsUrl = Acs, attributeMappings = new Dictionary<string, string> { ["has space"] = "email" } }, "attributeMappings");
        using (var notJson = await admin.PostAsync(apps, new StringContent("{\"name\": 5}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        }

        // Loopback http is allowed, for development; the defaults map the names most SPs look for.
        var created = await AddAppAsync(setup, new { name = "Local", entityId = "urn:local:app", acsUrl = "http://127.0.0.1:3000/acs" });
        var id = created.GetProperty("id").GetString();
        Assert.Equal("emailAddress", created.GetProperty("nameIdFormat").GetString());
        Assert.True(created.GetProperty("signResponse").GetBoolean() && created.GetProperty("signAssertion").GetBoolean());
        Assert.Equal("family_name", created.GetProperty("attributeMappings").GetProperty("sn").GetString());
        Assert.Equal(JsonValueKind.Null, created.GetProperty("certificateThumbprint").ValueKind);

        using (var duplicate = await admin.PostAsJsonAsync(apps, new { name = "Other", entityId = "urn:local:app", acsUrl = Acs }))
        {
            Assert.Equal("duplicate_resource", (await HttpAssert.JsonAsync(duplicate, HttpStatusCode.Conflict)).GetProperty("code").GetString());
        }

        using var key = RSA.Create(2048);
        using var certificate = SamlTestSigning.SelfSigned(key, "CN=local");
        using (var patched = await admin.PatchAsJsonAsync($"{apps}/{id}", new { certificate = Convert.ToBase64String(certificate.RawData), requireSignedRequests = true, nameIdFormat = "persistent" }))
        {
            var data = (await HttpAssert.JsonAsync(patched, HttpStatusCode.OK)).GetProperty("data");
            Assert.Equal(certificate.GetCertHashString(HashAlgorithmName.SHA256), data.GetProperty("certificateThumbprint").GetString());
            Assert.Equal("persistent", data.GetProperty("nameIdFormat").GetString());
            Assert.Equal("Local", data.GetProperty("name").GetString());
        }

        using (var list = await admin.GetAsync(apps))
        {
            Assert.Equal(1, (await HttpAssert.JsonAsync(list, HttpStatusCode.OK)).GetProperty("data").GetArrayLength());
        }

        // Another tenant sees none of it, and cannot change or remove it.
        var other = await suite.SetUpAsync();
        using (var stranger = suite.FederationAdmin(other.Tenant))
        {
            Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync($"{other.Tenant.Api}/admin/saml-apps/{id}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await stranger.PatchAsJsonAsync($"{other.Tenant.Api}/admin/saml-apps/{id}", new { name = "Mine" })).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await stranger.DeleteAsync($"{other.Tenant.Api}/admin/saml-apps/{id}")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await stranger.GetAsync($"{setup.Tenant.Api}/admin/saml-apps")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{apps}/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"{apps}/{id}")).StatusCode);
    }

    [Fact]
    public async Task AnAppThatAllowsIt_IsOpenedFromTheIdp_WithAnUnsolicitedSignedAssertion_AfterSignIn()
    {
        var setup = await suite.SetUpAsync();
        var closed = await AddAppAsync(setup, new { name = "Closed", entityId = "https://closed.example.test", acsUrl = "https://closed.example.test/acs" });
        Assert.False(closed.GetProperty("allowIdpInitiated").GetBoolean());
        Assert.Equal(JsonValueKind.Null, closed.GetProperty("initiateUrl").ValueKind);
        var app = await AddAppAsync(setup, new { name = "Portal tile", entityId = "https://wiki.example.test", acsUrl = Acs, allowIdpInitiated = true });
        var initiate = app.GetProperty("initiateUrl").GetString()!;
        Assert.Equal($"http://localhost/t/{setup.Tenant.Slug}/saml/idp/init/{app.GetProperty("id").GetString()}", initiate);
        using var browser = suite.FederatedBrowser();
        using var certificate = await IdpCertificateAsync(browser, setup);

        // Not signed in yet: the login page first, then the app gets an answer to no request of its own.
        using var first = await browser.GetAsync(initiate + "?RelayState=/home");
        Assert.Equal(HttpStatusCode.Redirect, first.StatusCode);
        var (action, response, relayState) = Posted(await SignInAndContinueAsync(browser, setup, first));
        Assert.Equal(Acs, action);
        Assert.Equal("/home", relayState);
        var names = Names(response);
        Assert.False(response.DocumentElement!.HasAttribute("InResponseTo"));
        Assert.Null(response.SelectSingleNode("//saml:SubjectConfirmationData/@InResponseTo", names));
        Assert.Equal(setup.Email, Value(response, names, "//saml:Subject/saml:NameID"));
        AssertSignedBy(response.DocumentElement, certificate);
        var audited = await suite.AuditEntryAsync(setup, "saml_assertion_issued");
        Assert.True(audited.GetProperty("metadata").GetProperty("unsolicited").GetBoolean());

        // Signed in now: answered at once, each time.
        using (var again = await browser.GetAsync(initiate))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.Null(Posted(await again.Content.ReadAsStringAsync()).RelayState);
        }

        // An app that does not allow it, a disabled one, another tenant's: nothing is posted anywhere.
        using (var refused = await browser.GetAsync($"/t/{setup.Tenant.Slug}/saml/idp/init/{closed.GetProperty("id").GetString()}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
            Assert.DoesNotContain("SAMLResponse", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var other = await suite.SetUpAsync();
        using (var foreign = await browser.GetAsync($"/t/{other.Tenant.Slug}/saml/idp/init/{app.GetProperty("id").GetString()}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        }

        await RefusedAsync(browser.GetAsync(initiate + "?RelayState=" + new string('x', 1025)), "RelayState");
        using (var admin = suite.FederationAdmin(setup.Tenant))
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/saml-apps/{app.GetProperty("id").GetString()}", new { isEnabled = false })).StatusCode);
        }

        using var disabled = await browser.GetAsync(initiate);
        Assert.Equal(HttpStatusCode.NotFound, disabled.StatusCode);
    }

    [Fact]
    public async Task TheSigningKey_Rotates_PublishedBeforeItSigns_AndTheOldOneStaysPublishedAfter()
    {
        var setup = await suite.SetUpAsync();
        await AddAppAsync(setup, new { name = "Wiki", entityId = "https://wiki.example.test", acsUrl = Acs });
        using var admin = suite.FederationAdmin(setup.Tenant);
        var api = $"{setup.Tenant.Api}/admin/saml-keys";
        using var browser = suite.FederatedBrowser();
        async Task<string[]> PublishedAsync()
        {
            var (metadata, names) = await MetadataAsync(browser, setup);
            return [.. metadata.SelectNodes("//md:KeyDescriptor[@use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate", names)!.Cast<XmlNode>().Select(n => n.InnerText)];
        }

        static string Der(JsonElement key) => Convert.ToBase64String(X509Certificate2.CreateFromPem(key.GetProperty("certificate").GetString()).RawData);

        // Before any rotation: one key, the current one, which signs.
        var keys = (await HttpAssert.JsonAsync(await admin.GetAsync(api), HttpStatusCode.OK)).GetProperty("data");
        var first = Assert.Single(keys.EnumerateArray());
        Assert.Equal("current", first.GetProperty("status").GetString());
        Assert.DoesNotContain("PRIVATE", first.GetRawText(), StringComparison.Ordinal);
        Assert.Equal([Der(first)], await PublishedAsync());

        // The next key: published beside the current one, signing nothing yet.
        using var made = await admin.PostAsync(api, null);
        var next = (await HttpAssert.JsonAsync(made, HttpStatusCode.Created)).GetProperty("data");
        Assert.Equal("next", next.GetProperty("status").GetString());
        Assert.Equal([Der(first), Der(next)], await PublishedAsync());
        await ApiAssert.ErrorAsync(await admin.PostAsync(api, null), 409, "duplicate_resource");
        await ApiAssert.ErrorAsync(await admin.PostAsync($"{api}/{first.GetProperty("id").GetString()}/activate", null), 409, "key_not_next");
        using (var firstCertificate = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(Der(first))))
        {
            using var toLogin = await browser.GetAsync(SsoUrl(setup) + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test", acs: Acs)));
            var (_, response, _) = Posted(await SignInAndContinueAsync(browser, setup, toLogin));
            AssertSignedBy(response.DocumentElement!, firstCertificate);
        }

        // Activated: it signs; the replaced key stays published (partners that have not read the metadata since still know it).
        using var activated = await admin.PostAsync($"{api}/{next.GetProperty("id").GetString()}/activate", null);
        var after = (await HttpAssert.JsonAsync(activated, HttpStatusCode.OK)).GetProperty("data").EnumerateArray().ToList();
        Assert.Equal([("current", Der(next)), ("previous", Der(first))], after.Select(k => (k.GetProperty("status").GetString(), Der(k))));
        Assert.Equal([Der(next), Der(first)], await PublishedAsync());
        using (var nextCertificate = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(Der(next))))
        {
            var response = await PostedAtOnceAsync(browser, setup, AuthnRequest(NewId(), "https://wiki.example.test", acs: Acs));
            AssertSignedBy(response.DocumentElement!, nextCertificate);
        }

        // The rotation after: the previous key goes when the next one is made. Another tenant's administrator sees none of it.
        using var third = await admin.PostAsync(api, null);
        var thirdKey = (await HttpAssert.JsonAsync(third, HttpStatusCode.Created)).GetProperty("data");
        Assert.Equal([Der(next), Der(thirdKey)], await PublishedAsync());
        var other = await suite.Admin.CreateTenantAsync();
        using var foreign = suite.FederationAdmin(other);
        await ApiAssert.ErrorAsync(await foreign.PostAsync($"{other.Api}/admin/saml-keys/{thirdKey.GetProperty("id").GetString()}/activate", null), 404, "resource_not_found");
        Assert.DoesNotContain(Der(thirdKey), (await HttpAssert.JsonAsync(await foreign.GetAsync($"{other.Api}/admin/saml-keys"), HttpStatusCode.OK)).GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheTenantsOwnKey_IsImportedAsTheNextKey_Checked_AndSignsOnceActivated()
    {
        var setup = await suite.SetUpAsync();
        await AddAppAsync(setup, new { name = "Wiki", entityId = "https://wiki.example.test", acsUrl = Acs });
        using var admin = suite.FederationAdmin(setup.Tenant);
        var api = $"{setup.Tenant.Api}/admin/saml-keys";
        using var ownKey = RSA.Create(3072);
        using var ownCertificate = SamlTestSigning.SelfSigned(ownKey, "CN=corp-saml");
        var certificatePem = ownCertificate.ExportCertificatePem();
        using var weakKey = RSA.Create(1024);
        using var weakCertificate = SamlTestSigning.SelfSigned(weakKey, "CN=weak");
        using var otherKey = RSA.Create(2048);
        using var expired = new CertificateRequest("CN=expired", ownKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddHours(-1));
        var encrypted = ownKey.ExportEncryptedPkcs8PrivateKeyPem("secret", new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 100_000));

        // Checked before anything is kept: a weak key, another certificate's key, an encrypted or missing key, an expired or unreadable certificate.
        foreach (var (body, field) in new (object Body, string Field)[]
                 {
                     (new { certificate = weakCertificate.ExportCertificatePem(), privateKey = weakKey.ExportPkcs8PrivateKeyPem() }, "privateKey"),
                     (new { certificate = certificatePem, privateKey = otherKey.ExportPkcs8PrivateKeyPem() }, "privateKey"),
                     (new { certificate = certificatePem, privateKey = encrypted }, "privateKey"),
                     (new { certificate = certificatePem }, "privateKey"),
                     (new { certificate = expired.ExportCertificatePem(), privateKey = ownKey.ExportRSAPrivateKeyPem() }, "certificate"),
                     (new { certificate = "not a certificate", privateKey = ownKey.ExportPkcs8PrivateKeyPem() }, "certificate"),
                 })
        {
            using var refused = await admin.PostAsJsonAsync(api, body);
            var error = await ApiAssert.ErrorAsync(refused, 400, "validation_error");
            Assert.Contains(field, error.ToJsonString(), StringComparison.Ordinal);
        }

        Assert.Single((await HttpAssert.JsonAsync(await admin.GetAsync(api), HttpStatusCode.OK)).GetProperty("data").EnumerateArray());

        // The tenant's own key (PKCS#1 PEM here), as the next key: published, never shown back.
        using var imported = await admin.PostAsJsonAsync(api, new { certificate = certificatePem, privateKey = ownKey.ExportRSAPrivateKeyPem() });
        var next = (await HttpAssert.JsonAsync(imported, HttpStatusCode.Created)).GetProperty("data");
        Assert.Equal("next", next.GetProperty("status").GetString());
        Assert.Equal(ownCertificate.GetCertHashString(HashAlgorithmName.SHA256), next.GetProperty("thumbprint").GetString());
        Assert.DoesNotContain("PRIVATE", next.GetRawText(), StringComparison.Ordinal);

        using var browser = suite.FederatedBrowser();
        using (var toLogin = await browser.GetAsync(SsoUrl(setup) + "?" + RedirectQuery(AuthnRequest(NewId(), "https://wiki.example.test", acs: Acs))))
        {
            await SignInAndContinueAsync(browser, setup, toLogin);
        }

        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"{api}/{next.GetProperty("id").GetString()}/activate", null)).StatusCode);
        var response = await PostedAtOnceAsync(browser, setup, AuthnRequest(NewId(), "https://wiki.example.test", acs: Acs));
        AssertSignedBy(response.DocumentElement!, ownCertificate);
    }

    private async Task<JsonElement> AddAppAsync(SignInSetup setup, object body)
    {
        using var admin = suite.FederationAdmin(setup.Tenant);
        using var created = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/saml-apps", body);
        return (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data");
    }

    /// <summary>The login page a request sent the browser to: the user signs in, and the browser goes on to the IdP's answer (its HTML).</summary>
    private static async Task<string> SignInAndContinueAsync(HttpClient browser, SignInSetup setup, HttpResponseMessage toLogin)
    {
        using var login = await HostedFlow.SubmitLoginAsync(browser, toLogin.Headers.Location!.OriginalString, setup.Email, setup.Password);
        var continuation = HostedFlow.LocalRedirect(login) ?? throw new InvalidOperationException("Login did not redirect: " + await login.Content.ReadAsStringAsync());
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/saml/idp/continue?request=", continuation, StringComparison.Ordinal);
        using var answer = await browser.GetAsync(continuation);
        var html = await answer.Content.ReadAsStringAsync();
        Assert.True(answer.StatusCode == HttpStatusCode.OK, html);

        // The continuation answers once.
        using var replayed = await browser.GetAsync(continuation);
        Assert.Equal(HttpStatusCode.BadRequest, replayed.StatusCode);
        return html;
    }

    private static string SsoUrl(SignInSetup setup) => $"/t/{setup.Tenant.Slug}/saml/idp/sso";

    /// <summary>A request the browser already has a session for: answered at once (no login), the response read.</summary>
    private static async Task<XmlDocument> PostedAtOnceAsync(HttpClient browser, SignInSetup setup, string request, string acs = Acs)
    {
        using var answer = await browser.PostAsync(SsoUrl(setup), Form(request));
        var html = await answer.Content.ReadAsStringAsync();
        Assert.True(answer.StatusCode == HttpStatusCode.OK, html);
        var (action, response, _) = Posted(html);
        Assert.Equal(acs, action);
        return response;
    }

    private static async Task RefusedAsync(Task<HttpResponseMessage> sending, string? saying = null)
    {
        using var response = await sending;
        var html = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {html}");
        Assert.DoesNotContain("SAMLResponse", html, StringComparison.Ordinal);
        if (saying is not null)
        {
            Assert.True(html.Contains(saying, StringComparison.Ordinal), html);
        }
    }

    private static async Task AcceptedAsync(Task<HttpResponseMessage> sending)
    {
        using var response = await sending;
        Assert.True(response.StatusCode == HttpStatusCode.Redirect, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Contains("/login?returnUrl=", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }

    private static FormUrlEncodedContent Form(string xml) => new(new Dictionary<string, string> { ["SAMLRequest"] = Base64(xml) });

    private static string NewId() => "_" + Guid.NewGuid().ToString("N");

    private static string AuthnRequest(
        string id, string issuer, string? acs = null, string? destination = null, string? nameIdFormat = null, bool forceAuthn = false, bool isPassive = false,
        string? binding = null, DateTimeOffset? issued = null)
    {
        var attributes = new StringBuilder();
        attributes.Append($" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{(issued ?? DateTimeOffset.UtcNow).UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}\"");
        if (acs is not null)
        {
            attributes.Append($" AssertionConsumerServiceURL=\"{acs}\"");
        }

        if (destination is not null)
        {
            attributes.Append($" Destination=\"{destination}\"");
        }

        if (binding is not null)
        {
            attributes.Append($" ProtocolBinding=\"{binding}\"");
        }

        if (forceAuthn)
        {
            attributes.Append(" ForceAuthn=\"true\"");
        }

        if (isPassive)
        {
            attributes.Append(" IsPassive=\"true\"");
        }

        var policy = nameIdFormat is null ? string.Empty : $"<samlp:NameIDPolicy Format=\"{nameIdFormat}\" AllowCreate=\"true\"/>";
        return "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\""
               + $"{attributes}><saml:Issuer>{issuer}</saml:Issuer>{policy}</samlp:AuthnRequest>";
    }

    private static string LogoutRequest(string id, string issuer, string nameId, string sessionIndex) =>
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\""
        + $" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{DateTimeOffset.UtcNow.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}\">"
        + $"<saml:Issuer>{issuer}</saml:Issuer><saml:NameID>{nameId}</saml:NameID><samlp:SessionIndex>{sessionIndex}</samlp:SessionIndex></samlp:LogoutRequest>";

    private static string Base64(string xml) => Convert.ToBase64String(Encoding.UTF8.GetBytes(xml));

    private static string Deflated(string xml)
    {
        using var buffer = new MemoryStream();
        using (var deflate = new DeflateStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            deflate.Write(Encoding.UTF8.GetBytes(xml));
        }

        return Convert.ToBase64String(buffer.ToArray());
    }

    private static string RedirectQuery(string xml, string? relayState = null) =>
        "SAMLRequest=" + Uri.EscapeDataString(Deflated(xml)) + (relayState is null ? string.Empty : "&RelayState=" + Uri.EscapeDataString(relayState));

    /// <summary>SAML Bindings §3.4.4.1: the signature covers the encoded parameters in order.</summary>
    private static string SignedRedirectQuery(string xml, string? relayState, RSA key, string sigAlg)
    {
        var signedPart = RedirectQuery(xml, relayState) + "&SigAlg=" + Uri.EscapeDataString(sigAlg);
        var hash = sigAlg == Sha1 ? HashAlgorithmName.SHA1 : HashAlgorithmName.SHA256;
        return signedPart + "&Signature=" + Uri.EscapeDataString(Convert.ToBase64String(key.SignData(Encoding.ASCII.GetBytes(signedPart), hash, RSASignaturePadding.Pkcs1)));
    }

    private static XmlDocument SignEnveloped(string xml, RSA key, X509Certificate2 certificate)
    {
        var document = new XmlDocument { PreserveWhitespace = true };
        document.LoadXml(xml);
        SamlTestSigning.Sign(document.DocumentElement!, key, certificate);
        return document;
    }

    /// <summary>The answer page's form: where it posts, the response it carries (parsed), and the RelayState.</summary>
    private static (string Action, XmlDocument Response, string? RelayState) Posted(string html)
    {
        var action = WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(html, "<form method=\"post\" action=\"([^\"]+)\"").Groups[1].Value);
        var fields = HostedForms.HiddenFields(html);
        Assert.True(fields.ContainsKey("SAMLResponse"), html);
        var document = new XmlDocument { PreserveWhitespace = true };
        document.LoadXml(Encoding.UTF8.GetString(Convert.FromBase64String(fields["SAMLResponse"])));
        return (action, document, fields.GetValueOrDefault("RelayState"));
    }

    /// <summary>A LogoutResponse sent back by the HTTP-Redirect binding: its signature checked, its status and RelayState.</summary>
    private static (string Status, string? RelayState) LogoutAnswer(HttpResponseMessage answer, X509Certificate2 certificate, string requestId)
    {
        Assert.Equal(HttpStatusCode.Redirect, answer.StatusCode);
        var location = answer.Headers.Location!.OriginalString;
        Assert.StartsWith(Slo + "?", location, StringComparison.Ordinal);
        var query = location[(Slo.Length + 1)..];
        var signedPart = query[..query.IndexOf("&Signature=", StringComparison.Ordinal)];
        var parameters = QueryHelpers.ParseQuery(query);
        Assert.Equal(RsaSha256, parameters["SigAlg"].ToString());
        Assert.True(certificate.GetRSAPublicKey()!.VerifyData(Encoding.ASCII.GetBytes(signedPart), Convert.FromBase64String(parameters["Signature"].ToString()), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        using var inflate = new DeflateStream(new MemoryStream(Convert.FromBase64String(parameters["SAMLResponse"].ToString())), CompressionMode.Decompress);
        var document = new XmlDocument();
        document.Load(inflate);
        Assert.Equal("LogoutResponse", document.DocumentElement!.LocalName);
        Assert.Equal(requestId, document.DocumentElement.GetAttribute("InResponseTo"));
        Assert.Equal(Slo, document.DocumentElement.GetAttribute("Destination"));
        return (Value(document, Names(document), "/samlp:LogoutResponse/samlp:Status/samlp:StatusCode/@Value"),
            parameters.TryGetValue("RelayState", out var relay) ? relay.ToString() : null);
    }

    /// <summary>A message we sent by the HTTP-Redirect binding to <paramref name="endpoint"/>: its query signature checked, the message inflated.</summary>
    private static XmlDocument SignedRedirectMessage(string url, string endpoint, string field, X509Certificate2 certificate)
    {
        Assert.StartsWith(endpoint + "?" + field + "=", url, StringComparison.Ordinal);
        var query = url[(endpoint.Length + 1)..];
        var signedPart = query[..query.IndexOf("&Signature=", StringComparison.Ordinal)];
        var parameters = QueryHelpers.ParseQuery(query);
        Assert.Equal(RsaSha256, parameters["SigAlg"].ToString());
        Assert.True(certificate.GetRSAPublicKey()!.VerifyData(Encoding.ASCII.GetBytes(signedPart), Convert.FromBase64String(parameters["Signature"].ToString()), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        using var inflate = new DeflateStream(new MemoryStream(Convert.FromBase64String(parameters[field].ToString())), CompressionMode.Decompress);
        var document = new XmlDocument();
        document.Load(inflate);
        return document;
    }

    /// <summary>The element carries one signature, over itself (by its ID), verifying with <paramref name="certificate"/>.</summary>
    private static void AssertSignedBy(XmlElement element, X509Certificate2 certificate)
    {
        var signature = element.ChildNodes.OfType<XmlElement>().Single(e => e.LocalName == "Signature" && e.NamespaceURI == SignedXml.XmlDsigNamespaceUrl);
        var signed = new SignedXml(element.OwnerDocument);
        signed.LoadXml(signature);
        Assert.Equal("#" + element.GetAttribute("ID"), ((Reference)signed.SignedInfo!.References[0]!).Uri);
        Assert.Equal(SignedXml.XmlDsigRSASHA256Url, signed.SignatureMethod);
        Assert.True(signed.CheckSignature(certificate, verifySignatureOnly: true), "The signature does not verify");
    }

    private async Task<(XmlDocument Document, XmlNamespaceManager Names)> MetadataAsync(HttpClient browser, SignInSetup setup)
    {
        using var response = await browser.GetAsync($"/t/{setup.Tenant.Slug}/saml/idp/metadata");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/samlmetadata+xml", response.Content.Headers.ContentType!.MediaType);
        var document = new XmlDocument();
        document.LoadXml(await response.Content.ReadAsStringAsync());
        return (document, Names(document));
    }

    private async Task<X509Certificate2> IdpCertificateAsync(HttpClient browser, SignInSetup setup)
    {
        var (document, names) = await MetadataAsync(browser, setup);
        return Certificate(document, names);
    }

    private static X509Certificate2 Certificate(XmlDocument metadata, XmlNamespaceManager names) =>
        X509CertificateLoader.LoadCertificate(Convert.FromBase64String(
            metadata.SelectSingleNode("//md:KeyDescriptor[@use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate", names)!.InnerText));

    private static XmlNamespaceManager Names(XmlDocument document)
    {
        var names = new XmlNamespaceManager(document.NameTable);
        names.AddNamespace("samlp", "urn:oasis:names:tc:SAML:2.0:protocol");
        names.AddNamespace("saml", "urn:oasis:names:tc:SAML:2.0:assertion");
        names.AddNamespace("md", "urn:oasis:names:tc:SAML:2.0:metadata");
        names.AddNamespace("ds", SignedXml.XmlDsigNamespaceUrl);
        return names;
    }

    private static string Value(XmlDocument document, XmlNamespaceManager names, string xpath) =>
        document.SelectSingleNode(xpath, names)?.Value ?? document.SelectSingleNode(xpath, names)?.InnerText
        ?? throw new Xunit.Sdk.XunitException($"Nothing at {xpath} in {document.OuterXml}");
}
