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
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.Tests;

/// <summary>
/// The tenant as a SAML 2.0 service provider (FED-06…11): users sign in with an outside SAML IdP the tenant added; the
/// ACS believes a response only when it answers our request, is signed by the IdP's certificate over the very elements
/// read, is for this SP and current, and was not used before — through the gateway, with admin, token, PostgreSQL, Redis
/// and RabbitMQ real. The test plays the IdP with a key of its own.
/// </summary>
public sealed class SamlSpTests(FederationSuite suite) : IClassFixture<FederationSuite>, IDisposable
{
    private const string IdpEntityId = "https://idp.example.test/saml";
    private const string IdpSso = "https://idp.example.test/sso";
    private const string IdpSlo = "https://idp.example.test/slo";

    private readonly RSA _idpKey = RSA.Create(2048);
    private X509Certificate2? _idpCertificate;

    private X509Certificate2 IdpCertificate => _idpCertificate ??= SamlTestSigning.SelfSigned(_idpKey, "CN=idp");

    public void Dispose()
    {
        _idpCertificate?.Dispose();
        _idpKey.Dispose();
    }

    [Fact]
    public async Task AUserSignsInWithTheIdp_FromTheLoginPage_GetsAnAccountFromTheAssertion_AndTheLinkSignsThemInAgain()
    {
        var setup = await suite.SetUpAsync();
        var idp = await AddIdpAsync(setup);
        var id = idp.GetProperty("id").GetString()!;
        Assert.Equal($"http://localhost/t/{setup.Tenant.Slug}/saml/sp/metadata", idp.GetProperty("sp").GetProperty("entityId").GetString());
        Assert.Equal($"http://localhost/t/{setup.Tenant.Slug}/saml/sp/acs", idp.GetProperty("sp").GetProperty("acsUrl").GetString());
        using var browser = suite.FederatedBrowser();

        // The login page offers the IdP; its link starts the SP's sign-in.
        var loginPage = await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/login");
        Assert.Contains($"href=\"/t/{setup.Tenant.Slug}/saml/sp/login/{id}\"", loginPage, StringComparison.Ordinal);
        var metadata = await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/saml/sp/metadata");
        Assert.Contains($"entityID=\"http://localhost/t/{setup.Tenant.Slug}/saml/sp/metadata\"", metadata, StringComparison.Ordinal);
        Assert.Contains("AssertionConsumerService", metadata, StringComparison.Ordinal);

        var email = $"sso-{Guid.NewGuid():N}"[..12] + "@example.com";
        var (request, relayState) = await StartAsync(browser, setup, id);
        Assert.Equal($"http://localhost/t/{setup.Tenant.Slug}/saml/sp/metadata", request.Issuer);
        Assert.Equal(IdpSso, request.Destination);
        Assert.Equal($"http://localhost/t/{setup.Tenant.Slug}/saml/sp/acs", request.AcsUrl);
        await SignedInAsync(browser, setup, relayState, Response(setup, request.Id, email, attributes: new() { ["firstName"] = "Sam", ["sn"] = "Sso" }));

        var userId = await UserIdAsync(setup, email);
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            var user = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{userId}"), HttpStatusCode.OK)).GetProperty("data");
            Assert.Equal("Sam", user.GetProperty("givenName").GetString());
            Assert.True(user.GetProperty("emailVerified").GetBoolean());
        }

        // Again, in another browser: the NameID's link signs the same person in, whatever address the IdP sends now; with
        // updateUserOnLogin the names follow the IdP's (the address stays the tenant's).
        using (var api = suite.FederationAdmin(setup.Tenant))
        {
            Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/identity-providers/{id}", new { updateUserOnLogin = true })).StatusCode);
        }

        using var again = suite.FederatedBrowser();
        var (second, secondRelay) = await StartAsync(again, setup, id);
        await SignedInAsync(again, setup, secondRelay, Response(setup, second.Id, email, nameId: email, attributes: new() { ["email"] = "renamed@example.com", ["givenName"] = "Samuel" }));
        Assert.Equal(userId, await UserIdAsync(setup, email));
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            var user = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{userId}"), HttpStatusCode.OK)).GetProperty("data");
            Assert.Equal("Samuel", user.GetProperty("givenName").GetString());
            Assert.Equal("Sso", user.GetProperty("familyName").GetString());
            Assert.Equal(email, user.GetProperty("email").GetString());
        }

        // The social providers' API is not where SAML IdPs live.
        using var social = suite.FederationAdmin(setup.Tenant);
        Assert.Equal(0, (await HttpAssert.JsonAsync(await social.GetAsync($"{setup.Tenant.Api}/admin/social-providers"), HttpStatusCode.OK)).GetProperty("data").GetArrayLength());
        Assert.Equal(HttpStatusCode.NotFound, (await social.GetAsync($"{setup.Tenant.Api}/admin/social-providers/{id}")).StatusCode);
    }

    [Fact]
    public async Task ASignInBegunOnTheTenantsDomain_AsksTheIdpToAnswerThere_AndSignsInOnTheDomain()
    {
        var setup = await suite.SetUpAsync();
        var id = (await AddIdpAsync(setup)).GetProperty("id").GetString()!;
        var domain = await suite.VerifiedDomainAsync(setup.Tenant);
        var acs = $"http://{domain}/saml/sp/acs";

        // Federation hears of the domain by event; the metadata and the Admin API then list its ACS beside the default one.
        using (var api = suite.FederationAdmin(setup.Tenant))
        {
            await ApiAssert.EventuallyAsync(async () =>
            {
                var idp = (await HttpAssert.JsonAsync(await api.GetAsync($"{setup.Tenant.Api}/admin/identity-providers/{id}"), HttpStatusCode.OK)).GetProperty("data");
                return idp.GetProperty("sp").GetProperty("customDomainAcsUrls").EnumerateArray().Any(u => u.GetString() == acs) ? "listed" : null;
            });
        }

        using var browser = suite.FederatedBrowser(domain);
        var metadata = new XmlDocument();
        metadata.LoadXml(await browser.GetStringAsync("/saml/sp/metadata"));
        var services = metadata.GetElementsByTagName("AssertionConsumerService", "urn:oasis:names:tc:SAML:2.0:metadata").Cast<XmlElement>().ToList();
        Assert.Equal([$"http://localhost/t/{setup.Tenant.Slug}/saml/sp/acs", acs], services.Select(e => e.GetAttribute("Location")));
        Assert.Equal(["0", "1"], services.Select(e => e.GetAttribute("index")));

        var email = $"dom-{Guid.NewGuid():N}"[..12] + "@example.com";
        var (request, relayState) = await StartAsync(browser, setup, id);
        Assert.Equal(acs, request.AcsUrl);
        Assert.Equal($"http://localhost/t/{setup.Tenant.Slug}/saml/sp/metadata", request.Issuer);

        // An answer addressed to the deployment's ACS is not one for the domain's.
        using (var misaddressed = await browser.PostAsync("/saml/sp/acs", Form(Response(setup, request.Id, email), relayState)))
        {
            Assert.Contains("error=provider_error", misaddressed.Headers.Location?.OriginalString, StringComparison.Ordinal);
        }

        (request, relayState) = await StartAsync(browser, setup, id);
        using var posted = await browser.PostAsync("/saml/sp/acs", Form(Response(setup, request.Id, email, recipient: acs), relayState));
        Assert.Equal(HttpStatusCode.SeeOther, posted.StatusCode);
        using var completed = await browser.GetAsync(posted.Headers.Location!.OriginalString);
        using var landed = await browser.GetAsync(HostedFlow.LocalRedirect(completed)!);
        Assert.Contains("You are signed in", await landed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.NotNull(await UserIdAsync(setup, email));
    }

    [Fact]
    public async Task TheAcs_BelievesOnlyASignedCurrentAnswerToItsOwnRequest_AndNeverTheSameAssertionTwice()
    {
        var setup = await suite.SetUpAsync();
        var id = (await AddIdpAsync(setup)).GetProperty("id").GetString()!;
        using var browser = suite.FederatedBrowser();
        var email = $"sso-{Guid.NewGuid():N}"[..12] + "@example.com";
        using var stranger = RSA.Create(2048);
        using var strangerCertificate = SamlTestSigning.SelfSigned(stranger, "CN=stranger");

        async Task RefusedAsync(Func<SamlRequest, XmlDocument> respond, string reason = "provider_error")
        {
            var (request, relay) = await StartAsync(browser, setup, id);
            using var posted = await browser.PostAsync($"/t/{setup.Tenant.Slug}/saml/sp/acs", Form(respond(request), relay));
            Assert.Equal($"/t/{setup.Tenant.Slug}/login/external?error={reason}", HostedFlow.LocalRedirect(posted));
        }

        await RefusedAsync(r => Response(setup, r.Id, email, signResponse: false, signAssertion: false));
        // Both signatures are asked for by default (the docs' "Require Signed Responses/Assertions").
        await RefusedAsync(r => Response(setup, r.Id, email, signResponse: false));
        await RefusedAsync(r => Response(setup, r.Id, email, signAssertion: false));
        await RefusedAsync(r => Response(setup, r.Id, email, signer: (stranger, strangerCertificate)));
        await RefusedAsync(r => Response(setup, r.Id, email, audience: "https://another-sp.example.test"));
        await RefusedAsync(r => Response(setup, r.Id, email, recipient: "https://another-sp.example.test/acs"));
        await RefusedAsync(r => Response(setup, r.Id, email, issuer: "https://another-idp.example.test"));
        await RefusedAsync(_ => Response(setup, "_another-request", email));
        // Past its end by more than the 180 s clock skew.
        await RefusedAsync(r => Response(setup, r.Id, email, issued: DateTimeOffset.UtcNow.AddMinutes(-10)));
        await RefusedAsync(r => Response(setup, r.Id, email, nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"));
        await RefusedAsync(r => Response(setup, r.Id, email, status: "urn:oasis:names:tc:SAML:2.0:status:Responder"), "cancelled");

        // Changed after signing: the signature no longer holds.
        await RefusedAsync(r =>
        {
            var response = Response(setup, r.Id, email);
            response.GetElementsByTagName("NameID", Saml)[0]!.InnerText = "someone-else@example.com";
            return response;
        });

        // Signature wrapping: the IdP's signed assertion kept (so its signature still verifies), an attacker's assertion
        // put where the SP reads. Two assertions are never taken, wherever the second hides.
        await RefusedAsync(r =>
        {
            var response = Response(setup, r.Id, email, signResponse: false);
            var genuine = (XmlElement)response.GetElementsByTagName("Assertion", Saml)[0]!;
            var forged = (XmlElement)genuine.CloneNode(true);
            forged.SetAttribute("ID", "_forged");
            forged.GetElementsByTagName("NameID", Saml)[0]!.InnerText = "victim@example.com";
            forged.RemoveChild(forged.GetElementsByTagName("Signature", SignedXml.XmlDsigNamespaceUrl)[0]!);
            var extensions = response.CreateElement("samlp", "Extensions", Protocol);
            response.DocumentElement!.InsertBefore(extensions, genuine);
            extensions.AppendChild(genuine);
            response.DocumentElement.AppendChild(forged);
            return response;
        });

        // The same ID on two elements (the signature resolving to one, the SP reading the other) is refused too.
        await RefusedAsync(r =>
        {
            var response = Response(setup, r.Id, email);
            var assertion = (XmlElement)response.GetElementsByTagName("Assertion", Saml)[0]!;
            var status = (XmlElement)response.GetElementsByTagName("Status", Protocol)[0]!;
            status.SetAttribute("ID", assertion.GetAttribute("ID"));
            return response;
        });

        // An answer is taken once per request; an assertion once at all (a new request with an old assertion's ID).
        var (first, relay) = await StartAsync(browser, setup, id);
        var answer = Response(setup, first.Id, email, assertionId: "_assertion-once");
        await SignedInAsync(browser, setup, relay, answer);
        using (var replayed = await browser.PostAsync($"/t/{setup.Tenant.Slug}/saml/sp/acs", Form(answer, relay)))
        {
            Assert.Equal($"/t/{setup.Tenant.Slug}/login/external?error=expired", HostedFlow.LocalRedirect(replayed));
        }

        await RefusedAsync(r => Response(setup, r.Id, email, assertionId: "_assertion-once"));

        // Unsolicited (IdP-initiated) responses carry no state of ours and are not taken.
        using (var unsolicited = await browser.PostAsync($"/t/{setup.Tenant.Slug}/saml/sp/acs", Form(Response(setup, "_x", email), relayState: null)))
        {
            Assert.Equal($"/t/{setup.Tenant.Slug}/login/external?error=expired", HostedFlow.LocalRedirect(unsolicited));
        }

        // A believed response completes only in the browser that began the sign-in (its binding cookie).
        var (other, otherRelay) = await StartAsync(browser, setup, id);
        using var posted = await browser.PostAsync($"/t/{setup.Tenant.Slug}/saml/sp/acs", Form(Response(setup, other.Id, email), otherRelay));
        Assert.Equal(HttpStatusCode.SeeOther, posted.StatusCode);
        using var elsewhere = suite.FederatedBrowser();
        using var stolen = await elsewhere.GetAsync(posted.Headers.Location!.OriginalString);
        Assert.Equal($"/t/{setup.Tenant.Slug}/login/external?error=expired", HostedFlow.LocalRedirect(stolen));
    }

    /// <summary>
    /// The reader's own reasons, for the wrapping attacks that need an IdP signing only its assertions (most do by
    /// default): each is refused for what it is, not by accident of another check.
    /// </summary>
    [Fact]
    public async Task SignatureWrapping_IsRefusedForWhatItIs()
    {
        var setup = await suite.SetUpAsync();
        var provider = new LumoAuth.Federation.Data.IdentityProvider
        {
            Type = "saml",
            Saml = new LumoAuth.Federation.Data.SamlIdpSettings
            {
                EntityId = IdpEntityId, SsoUrl = IdpSso, Certificate = Convert.ToBase64String(IdpCertificate.RawData), WantResponsesSigned = false,
            },
        };
        var acs = $"http://localhost/t/{setup.Tenant.Slug}/saml/sp/acs";
        var expected = new LumoAuth.Federation.Features.Saml.SamlExpectation("_request", [$"http://localhost/t/{setup.Tenant.Slug}/saml/sp/metadata"], [acs]);
        string? ProblemOf(XmlDocument response)
        {
            var reparsed = new XmlDocument { PreserveWhitespace = true };
            reparsed.LoadXml(response.OuterXml);
            return LumoAuth.Federation.Features.Saml.SamlResponseReader.Read(reparsed, provider, expected, DateTimeOffset.UtcNow, []).Problem;
        }

        Assert.Null(ProblemOf(Response(setup, "_request", "a@example.com", signResponse: false)));

        var moved = Response(setup, "_request", "a@example.com", signResponse: false);
        var genuine = (XmlElement)moved.GetElementsByTagName("Assertion", Saml)[0]!;
        var forged = (XmlElement)genuine.CloneNode(true);
        forged.SetAttribute("ID", "_forged");
        forged.RemoveChild(forged.GetElementsByTagName("Signature", SignedXml.XmlDsigNamespaceUrl)[0]!);
        var extensions = moved.CreateElement("samlp", "Extensions", Protocol);
        moved.DocumentElement!.InsertBefore(extensions, genuine);
        extensions.AppendChild(genuine);
        moved.DocumentElement.AppendChild(forged);
        Assert.Contains("exactly one assertion", ProblemOf(moved), StringComparison.Ordinal);

        var twin = Response(setup, "_request", "a@example.com", signResponse: false);
        ((XmlElement)twin.GetElementsByTagName("Status", Protocol)[0]!).SetAttribute("ID", ((XmlElement)twin.GetElementsByTagName("Assertion", Saml)[0]!).GetAttribute("ID"));
        Assert.Contains("share an ID", ProblemOf(twin), StringComparison.Ordinal);

        // The assertion's signature moved up to the response: it covers the assertion, not the element it sits on.
        var lifted = Response(setup, "_request", "a@example.com", signResponse: false);
        var signature = lifted.GetElementsByTagName("Signature", SignedXml.XmlDsigNamespaceUrl)[0]!;
        signature.ParentNode!.RemoveChild(signature);
        lifted.DocumentElement!.InsertAfter(signature, lifted.DocumentElement.FirstChild);
        Assert.Contains("assertion must be signed", ProblemOf(lifted), StringComparison.Ordinal);

        // A signature anywhere else (inside the subject, say) is not taken as the assertion's.
        var buried = Response(setup, "_request", "a@example.com", signResponse: false);
        var own = buried.GetElementsByTagName("Signature", SignedXml.XmlDsigNamespaceUrl)[0]!;
        own.ParentNode!.RemoveChild(own);
        buried.GetElementsByTagName("Subject", Saml)[0]!.AppendChild(own);
        Assert.Contains("somewhere other", ProblemOf(buried), StringComparison.Ordinal);

        // Comments in the NameID change nothing: the whole text is read, as it was signed.
        var commented = Response(setup, "_request", "a@example.com", signResponse: false, nameId: "a@evil.test<!---->.example.com");
        Assert.Null(ProblemOf(commented));
    }

    [Fact]
    public async Task TheIdp_SignsTheUserOutWithASignedLogoutRequest_AndIsAnsweredSigned()
    {
        var setup = await suite.SetUpAsync();
        var id = (await AddIdpAsync(setup)).GetProperty("id").GetString()!;
        using var browser = suite.FederatedBrowser();
        var email = $"sso-{Guid.NewGuid():N}"[..12] + "@example.com";
        var (request, relay) = await StartAsync(browser, setup, id);
        await SignedInAsync(browser, setup, relay, Response(setup, request.Id, email));
        var slo = $"/t/{setup.Tenant.Slug}/saml/sp/slo";

        var logout = LogoutRequest(email);
        using (var unsigned = await browser.GetAsync($"{slo}?SAMLRequest={Uri.EscapeDataString(Deflated(logout))}"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, unsigned.StatusCode);
        }

        using (var signedIn = await browser.GetAsync($"/t/{setup.Tenant.Slug}/account/linked-accounts"))
        {
            Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        }

        var query = $"SAMLRequest={Uri.EscapeDataString(Deflated(logout))}&RelayState=bye&SigAlg={Uri.EscapeDataString("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")}";
        var signature = Convert.ToBase64String(_idpKey.SignData(Encoding.ASCII.GetBytes(query), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        // Signed, but about someone else: answered, and nobody is signed out (nor by the same request again).
        var strangers = LogoutRequest("someone-else@example.com");
        var strangerQuery = $"SAMLRequest={Uri.EscapeDataString(Deflated(strangers))}&SigAlg={Uri.EscapeDataString("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")}";
        var strangerSignature = Convert.ToBase64String(_idpKey.SignData(Encoding.ASCII.GetBytes(strangerQuery), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        using (var notYou = await browser.GetAsync($"{slo}?{strangerQuery}&Signature={Uri.EscapeDataString(strangerSignature)}"))
        {
            Assert.Equal(HttpStatusCode.Redirect, notYou.StatusCode);
            using var inflate = new DeflateStream(new MemoryStream(Convert.FromBase64String(QueryHelpers.ParseQuery(notYou.Headers.Location!.Query)["SAMLResponse"].ToString())), CompressionMode.Decompress);
            Assert.Contains("status:Requester", new StreamReader(inflate).ReadToEnd(), StringComparison.Ordinal);
        }

        using (var stillIn = await browser.GetAsync($"/t/{setup.Tenant.Slug}/account/linked-accounts"))
        {
            Assert.Equal(HttpStatusCode.OK, stillIn.StatusCode);
        }

        using var answered = await browser.GetAsync($"{slo}?{query}&Signature={Uri.EscapeDataString(signature)}");
        Assert.Equal(HttpStatusCode.Redirect, answered.StatusCode);
        var location = answered.Headers.Location!.OriginalString;
        Assert.StartsWith(IdpSlo + "?SAMLResponse=", location, StringComparison.Ordinal);
        var parameters = QueryHelpers.ParseQuery(new Uri(location).Query);
        Assert.Equal("bye", parameters["RelayState"].ToString());

        // Answered with the tenant's SAML key (the one its metadata publishes), and the session is gone.
        var metadata = new XmlDocument();
        metadata.LoadXml(await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/saml/sp/metadata"));
        using var spCertificate = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(metadata.GetElementsByTagName("X509Certificate", SignedXml.XmlDsigNamespaceUrl)[0]!.InnerText));
        var signedPart = location[(IdpSlo.Length + 1)..location.IndexOf("&Signature=", StringComparison.Ordinal)];
        Assert.True(spCertificate.GetRSAPublicKey()!.VerifyData(Encoding.ASCII.GetBytes(signedPart), Convert.FromBase64String(parameters["Signature"].ToString()), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        using var account = await browser.GetAsync($"/t/{setup.Tenant.Slug}/account/linked-accounts");
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/login", HostedFlow.LocalRedirect(account), StringComparison.Ordinal);

        // The same signed request again is refused: it was answered already.
        using var replayed = await browser.GetAsync($"{slo}?{query}&Signature={Uri.EscapeDataString(signature)}");
        Assert.Equal(HttpStatusCode.BadRequest, replayed.StatusCode);
    }

    [Fact]
    public async Task TheIdp_EndsItsSessionsOverTheBackChannel_WithASignedSoapLogoutRequest_InEveryBrowser()
    {
        var setup = await suite.SetUpAsync();
        var id = (await AddIdpAsync(setup)).GetProperty("id").GetString()!;
        var email = $"soap-{Guid.NewGuid():N}"[..12] + "@example.com";
        using var first = suite.FederatedBrowser();
        using var second = suite.FederatedBrowser();
        foreach (var (browser, index) in new[] { (first, "_idx-one"), (second, "_idx-two") })
        {
            var (request, relay) = await StartAsync(browser, setup, id);
            await SignedInAsync(browser, setup, relay, Response(setup, request.Id, email, sessionIndex: index));
        }

        var userId = Guid.Parse(await UserIdAsync(setup, email));
        Assert.Equal(2, await LiveSessionsAsync(userId));
        using var idp = suite.Federation.CreateClient();
        var soap = $"/t/{setup.Tenant.Slug}/saml/sp/slo/soap";
        Assert.Contains($"Location=\"http://localhost{soap}\"", await idp.GetStringAsync($"/t/{setup.Tenant.Slug}/saml/sp/metadata"), StringComparison.Ordinal);

        // Not a SOAP envelope holding a LogoutRequest: a SOAP fault, nothing ends.
        foreach (var body in new[] { "not xml", "<x/>", Envelope("<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>"), new string('a', 70_000) })
        {
            using var refused = await idp.PostAsync(soap, new StringContent(body, Encoding.UTF8, "text/xml"));
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("soap:Fault", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Unsigned, signed by another key, or naming someone nobody is linked to: answered Requester, nothing ends.
        using var stranger = RSA.Create(2048);
        using var strangerCertificate = SamlTestSigning.SelfSigned(stranger, "CN=stranger");
        foreach (var refusedRequest in new[]
                 {
                     Envelope(LogoutRequest(email)), SignedSoapLogout(email, "_idx-one", (stranger, strangerCertificate)),
                     SignedSoapLogout("nobody@example.com", null),
                 })
        {
            Assert.Equal("urn:oasis:names:tc:SAML:2.0:status:Requester", await SoapStatusAsync(idp, soap, refusedRequest));
        }

        Assert.Equal(2, await LiveSessionsAsync(userId));

        // Signed, naming the person and one of the IdP's sessions: that session ends (whatever browser holds it), answered
        // Success with the tenant's signature; the same request again is a replay.
        var one = SignedSoapLogout(email, "_idx-one");
        Assert.Equal("urn:oasis:names:tc:SAML:2.0:status:Success", await SoapStatusAsync(idp, soap, one));
        Assert.Equal(1, await LiveSessionsAsync(userId));
        using (var signedOut = await first.GetAsync($"/t/{setup.Tenant.Slug}/account/linked-accounts"))
        {
            Assert.StartsWith($"/t/{setup.Tenant.Slug}/login", HostedFlow.LocalRedirect(signedOut), StringComparison.Ordinal);
        }

        using (var stillIn = await second.GetAsync($"/t/{setup.Tenant.Slug}/account/linked-accounts"))
        {
            Assert.Equal(HttpStatusCode.OK, stillIn.StatusCode);
        }

        Assert.Equal("urn:oasis:names:tc:SAML:2.0:status:Requester", await SoapStatusAsync(idp, soap, one));

        // Without a session index, every session the IdP opened for the person ends.
        Assert.Equal("urn:oasis:names:tc:SAML:2.0:status:Success", await SoapStatusAsync(idp, soap, SignedSoapLogout(email, null)));
        Assert.Equal(0, await LiveSessionsAsync(userId));
    }

    private static string Envelope(string message) =>
        $"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>{message}</soap:Body></soap:Envelope>";

    /// <summary>A LogoutRequest for the SOAP binding, signed in the message (by the IdP's key unless another signer is given).</summary>
    private string SignedSoapLogout(string nameId, string? sessionIndex, (RSA Key, X509Certificate2 Certificate)? signer = null)
    {
        var document = new XmlDocument { PreserveWhitespace = true };
        document.LoadXml(LogoutRequest(nameId));
        if (sessionIndex is not null)
        {
            var index = document.CreateElement("samlp", "SessionIndex", Protocol);
            index.InnerText = sessionIndex;
            document.DocumentElement!.AppendChild(index);
        }

        var (key, certificate) = signer ?? (_idpKey, IdpCertificate);
        SamlTestSigning.Sign(document.DocumentElement!, key, certificate);
        return Envelope(document.DocumentElement!.OuterXml);
    }

    /// <summary>Posts a SOAP message to the back channel; the status of the signed LogoutResponse it is answered with.</summary>
    private async Task<string> SoapStatusAsync(HttpClient idp, string soap, string body)
    {
        using var answered = await idp.PostAsync(soap, new StringContent(body, Encoding.UTF8, "text/xml"));
        var text = await answered.Content.ReadAsStringAsync();
        Assert.True(answered.StatusCode == HttpStatusCode.OK, text);
        var envelope = new XmlDocument { PreserveWhitespace = true };
        envelope.LoadXml(text);
        var response = (XmlElement)envelope.GetElementsByTagName("LogoutResponse", Protocol)[0]!;
        Assert.Single(response.ChildNodes.OfType<XmlElement>(), e => e.LocalName == "Signature");
        return ((XmlElement)response.GetElementsByTagName("StatusCode", Protocol)[0]!).GetAttribute("Value");
    }

    private async Task<int> LiveSessionsAsync(Guid userId)
    {
        using var scope = suite.Token.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<LumoAuth.Token.Data.TokenDbContext>();
        return await db.Sessions.IgnoreQueryFilters().CountAsync(s => s.UserId == userId && s.RevokedAt == null);
    }

    [Fact]
    public async Task SigningOutHere_SignsThePersonOutAtTheIdp_WithASignedLogoutRequest_ThenGoesBackToTheApplication()
    {
        var setup = await suite.SetUpAsync();
        var id = (await AddIdpAsync(setup)).GetProperty("id").GetString()!;
        var email = $"sso-{Guid.NewGuid():N}"[..12] + "@example.com";
        var sessionIndex = "_idp-session-" + Guid.NewGuid().ToString("N");
        using var browser = suite.FederatedBrowser();
        var (request, relay) = await StartAsync(browser, setup, id);
        await SignedInAsync(browser, setup, relay, Response(setup, request.Id, email, sessionIndex: sessionIndex));

        // The person signs out at the application (RP-initiated logout, confirmed): our session ends, and the browser is
        // sent on to the IdP with a LogoutRequest naming them and the IdP's session.
        var (toIdp, logoutRequest) = await SignOutAsync(browser, setup, state: "bye");
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/login", HostedFlow.LocalRedirect(await browser.GetAsync($"/t/{setup.Tenant.Slug}/account/linked-accounts")), StringComparison.Ordinal);
        var root = logoutRequest.DocumentElement!;
        Assert.Equal(("LogoutRequest", IdpSlo), (root.LocalName, root.GetAttribute("Destination")));
        Assert.Equal($"http://localhost/t/{setup.Tenant.Slug}/saml/sp/metadata", root.GetElementsByTagName("Issuer", Saml)[0]!.InnerText);
        var nameId = (XmlElement)root.GetElementsByTagName("NameID", Saml)[0]!;
        Assert.Equal((email, "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"), (nameId.InnerText, nameId.GetAttribute("Format")));
        Assert.Equal(sessionIndex, root.GetElementsByTagName("SessionIndex", Protocol)[0]!.InnerText);

        // Signed in the query with the tenant's SAML key, the one its metadata publishes.
        var metadata = new XmlDocument();
        metadata.LoadXml(await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/saml/sp/metadata"));
        using var spCertificate = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(metadata.GetElementsByTagName("X509Certificate", SignedXml.XmlDsigNamespaceUrl)[0]!.InnerText));
        var location = toIdp.OriginalString;
        var signedPart = location[(IdpSlo.Length + 1)..location.IndexOf("&Signature=", StringComparison.Ordinal)];
        var parameters = QueryHelpers.ParseQuery(toIdp.Query);
        Assert.True(spCertificate.GetRSAPublicKey()!.VerifyData(
            Encoding.ASCII.GetBytes(signedPart), Convert.FromBase64String(parameters["Signature"].ToString()), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

        // An answer to another request, or one whose signature does not hold, is not the IdP's word: the person is told.
        var slo = $"/t/{setup.Tenant.Slug}/saml/sp/slo";
        var relayState = parameters["RelayState"].ToString();
        using (var forged = await browser.GetAsync($"{slo}?{SignedLogoutResponse(root.GetAttribute("ID"), relayState, tamper: true)}"))
        {
            Assert.Contains("did not confirm", await forged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // A new sign-in and sign-out: an answer naming another request is not believed either.
        async Task<(HttpClient Browser, string RequestId, string RelayState)> SignInAndOutAsync(string state)
        {
            var other = suite.FederatedBrowser();
            var (signIn, signInRelay) = await StartAsync(other, setup, id);
            await SignedInAsync(other, setup, signInRelay, Response(setup, signIn.Id, email));
            var (to, sent) = await SignOutAsync(other, setup, state);
            return (other, sent.DocumentElement!.GetAttribute("ID"), QueryHelpers.ParseQuery(to.Query)["RelayState"].ToString());
        }

        var (second, _, secondRelay) = await SignInAndOutAsync("bye-2");
        using (second)
        using (var otherRequest = await second.GetAsync($"{slo}?{SignedLogoutResponse("_not-our-request", secondRelay)}"))
        {
            Assert.Contains("did not confirm", await otherRequest.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // The IdP's signed answer to our request sends the browser back to the application, with the application's state;
        // the same answer again finds nothing to go on with.
        var (third, thirdRequest, thirdRelay) = await SignInAndOutAsync("bye-3");
        using (third)
        {
            var answer = SignedLogoutResponse(thirdRequest, thirdRelay);
            using var answered = await third.GetAsync($"{slo}?{answer}");
            Assert.Equal(HttpStatusCode.Redirect, answered.StatusCode);
            Assert.Equal($"{SignInSetup.PostLogoutUri}?state=bye-3", answered.Headers.Location!.OriginalString);
            using var replayed = await third.GetAsync($"{slo}?{answer}");
            Assert.Equal(HttpStatusCode.OK, replayed.StatusCode);
            Assert.Null(replayed.Headers.Location);
        }
    }

    /// <summary>
    /// Signs the browser out at the tenant (logout page, confirmed, naming the client and its post-logout URI) and follows
    /// it to the IdP: the IdP's logout URL with its query, and our LogoutRequest read.
    /// </summary>
    private static async Task<(Uri ToIdp, XmlDocument Request)> SignOutAsync(HttpClient browser, SignInSetup setup, string state)
    {
        var url = QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/logout", new Dictionary<string, string?>
        {
            ["client_id"] = setup.ClientId, ["post_logout_redirect_uri"] = SignInSetup.PostLogoutUri, ["state"] = state,
        });
        using var page = await browser.GetAsync(url);
        var form = HostedFlow.HiddenFields(await page.Content.ReadAsStringAsync());
        form["logout_confirmed"] = "yes";
        using var confirmed = await browser.PostAsync($"{setup.Tenant.Api}/oauth/logout", new FormUrlEncodedContent(form));
        var atFederation = HostedFlow.LocalRedirect(confirmed);
        Assert.True(atFederation?.StartsWith($"/t/{setup.Tenant.Slug}/saml/sp/logout/", StringComparison.Ordinal) == true, $"{confirmed.StatusCode} {atFederation}");
        using var sent = await browser.GetAsync(atFederation);
        Assert.Equal(HttpStatusCode.Redirect, sent.StatusCode);
        var toIdp = sent.Headers.Location!;
        Assert.StartsWith(IdpSlo + "?SAMLRequest=", toIdp.OriginalString, StringComparison.Ordinal);
        using var inflate = new DeflateStream(new MemoryStream(Convert.FromBase64String(QueryHelpers.ParseQuery(toIdp.Query)["SAMLRequest"].ToString())), CompressionMode.Decompress);
        var document = new XmlDocument();
        document.Load(inflate);
        return (toIdp, document);
    }

    /// <summary>The IdP's LogoutResponse by the Redirect binding, signed in the query with its key (or a signature that does not hold).</summary>
    private string SignedLogoutResponse(string inResponseTo, string relayState, bool tamper = false)
    {
        var xml = $"<samlp:LogoutResponse xmlns:samlp=\"{Protocol}\" xmlns:saml=\"{Saml}\" ID=\"_lr{Guid.NewGuid():N}\" Version=\"2.0\" "
                  + $"IssueInstant=\"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ}\" InResponseTo=\"{inResponseTo}\"><saml:Issuer>{IdpEntityId}</saml:Issuer>"
                  + "<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status></samlp:LogoutResponse>";
        var query = $"SAMLResponse={Uri.EscapeDataString(Deflated(xml))}&RelayState={Uri.EscapeDataString(relayState)}&SigAlg={Uri.EscapeDataString("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")}";
        var signature = _idpKey.SignData(Encoding.ASCII.GetBytes(query), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        if (tamper)
        {
            signature[0] ^= 0xFF;
        }

        return $"{query}&Signature={Uri.EscapeDataString(Convert.ToBase64String(signature))}";
    }

    [Fact]
    public async Task AnIdpFollowedByItsMetadataUrl_RollsItsKey_WithoutAnyoneUpdatingTheProvider()
    {
        var setup = await suite.SetUpAsync();
        using var nextKey = RSA.Create(2048);
        using var nextCertificate = SamlTestSigning.SelfSigned(nextKey, "CN=idp-next");
        var path = $"/metadata-{Guid.NewGuid():N}.xml";
        string Metadata(string entityId, params X509Certificate2[] certificates) =>
            $"<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{entityId}\">"
            + "<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">"
            + string.Concat(certificates.Select(c => "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>"
                                                     + Convert.ToBase64String(c.RawData) + "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"))
            + $"<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{IdpSlo}\"/>"
            + $"<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{IdpSso}\"/></md:IDPSSODescriptor></md:EntityDescriptor>";
        void Publish(string metadata) => suite.Providers.Serve(path, new SiteAnswer(metadata, ContentType: "application/samlmetadata+xml"));
        async Task RefreshAsync()
        {
            using var scope = suite.Federation.Services.CreateScope();
            await LumoAuth.Federation.Features.Saml.SamlMetadataRefresh.RefreshDueAsync(
                scope.ServiceProvider.GetRequiredService<LumoAuth.Federation.Data.FederationDbContext>(),
                scope.ServiceProvider.GetRequiredService<LumoAuth.Federation.Features.Saml.SamlMetadataImport>(), DateTimeOffset.UtcNow, TimeSpan.Zero,
                Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, CancellationToken.None);
        }

        Publish(Metadata(IdpEntityId, IdpCertificate));
        using var admin = suite.FederationAdmin(setup.Tenant);
        var api = $"{setup.Tenant.Api}/admin/identity-providers";
        using var created = await admin.PostAsJsonAsync(api, new { name = "Entra", metadataUrl = suite.Providers.Origin + path });
        var idp = (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data");
        var id = idp.GetProperty("id").GetString()!;
        Assert.Equal(suite.Providers.Origin + path, idp.GetProperty("metadataUrl").GetString());
        Assert.Equal(JsonValueKind.Null, idp.GetProperty("nextCertificateThumbprint").ValueKind);

        var email = $"sso-{Guid.NewGuid():N}"[..12] + "@example.com";
        async Task<bool> SignsInAsync((RSA, X509Certificate2)? signer)
        {
            using var browser = suite.FederatedBrowser();
            var (request, relay) = await StartAsync(browser, setup, id);
            using var posted = await browser.PostAsync($"/t/{setup.Tenant.Slug}/saml/sp/acs", Form(Response(setup, request.Id, email, signer: signer), relay));
            return posted.StatusCode == HttpStatusCode.SeeOther;
        }

        Assert.True(await SignsInAsync(null));
        Assert.False(await SignsInAsync((nextKey, nextCertificate)));

        // The IdP publishes its next key beside the current one: after the refresh, both sign people in.
        Publish(Metadata(IdpEntityId, IdpCertificate, nextCertificate));
        await RefreshAsync();
        Assert.True(await SignsInAsync(null));
        Assert.True(await SignsInAsync((nextKey, nextCertificate)));
        var rolling = (await HttpAssert.JsonAsync(await admin.GetAsync($"{api}/{id}"), HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal(nextCertificate.GetCertHashString(HashAlgorithmName.SHA256), rolling.GetProperty("nextCertificateThumbprint").GetString());

        // The rollover ends: only the new key signs; the old one no longer does.
        Publish(Metadata(IdpEntityId, nextCertificate));
        await RefreshAsync();
        Assert.False(await SignsInAsync(null));
        Assert.True(await SignsInAsync((nextKey, nextCertificate)));
        var rolled = (await HttpAssert.JsonAsync(await admin.GetAsync($"{api}/{id}"), HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal(nextCertificate.GetCertHashString(HashAlgorithmName.SHA256), rolled.GetProperty("certificateThumbprint").GetString());
        Assert.Equal(JsonValueKind.Null, rolled.GetProperty("nextCertificateThumbprint").ValueKind);

        // A document for another entity (a URL now serving someone else's metadata) changes nothing.
        Publish(Metadata("https://someone-else.example.test/saml", IdpCertificate));
        await RefreshAsync();
        Assert.False(await SignsInAsync(null));
        Assert.True(await SignsInAsync((nextKey, nextCertificate)));

        // An empty metadataUrl stops following it.
        using var stopped = await admin.PatchAsJsonAsync($"{api}/{id}", new { metadataUrl = "" });
        Assert.Equal(JsonValueKind.Null, (await HttpAssert.JsonAsync(stopped, HttpStatusCode.OK)).GetProperty("data").GetProperty("metadataUrl").ValueKind);
    }

    [Fact]
    public async Task TheAdminApi_KeepsSamlIdpsPerTenant_AndChecksThem()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.FederationAdmin(setup.Tenant);
        var url = $"{setup.Tenant.Api}/admin/identity-providers";
        var pem = IdpCertificate.ExportCertificatePem();

        async Task InvalidAsync(object body, string field)
        {
            using var response = await admin.PostAsJsonAsync(url, body);
            var error = await HttpAssert.JsonAsync(response, HttpStatusCode.BadRequest);
            Assert.True(error.GetProperty("details").TryGetProperty(field, out _), $"{field} not named: {error}");
        }

        await InvalidAsync(new { entityId = IdpEntityId, ssoUrl = IdpSso, certificate = pem }, "name");
        await InvalidAsync(new { name = "Okta", ssoUrl = IdpSso, certificate = pem }, "entityId");
        await InvalidAsync(new { name = "Okta", entityId = IdpEntityId, certificate = pem }, "ssoUrl");
        await InvalidAsync(new { name = "Okta", entityId = IdpEntityId, ssoUrl = IdpSso }, "certificate");
        await InvalidAsync(new { name = "Okta", entityId = IdpEntityId, ssoUrl = "http://idp.example.test/sso", certificate = pem }, "ssoUrl");
        await InvalidAsync(new { name = "Okta", entityId = IdpEntityId, ssoUrl = IdpSso, certificate = "MIIB-not-a-certificate" }, "certificate");
        await InvalidAsync(new { name = "Okta", entityId = IdpEntityId, ssoUrl = IdpSso, certificate = pem, nameIdFormat = "transient" }, "nameIdFormat");
        await InvalidAsync(new { name = "Okta", entityId = IdpEntityId, ssoUrl = IdpSso, certificate = pem, wantResponsesSigned = false, wantAssertionsSigned = false }, "wantAssertionsSigned");
        await InvalidAsync(new { type = "oidc", name = "Okta", entityId = IdpEntityId, ssoUrl = IdpSso, certificate = pem }, "type");
        await InvalidAsync(new { name = "Okta", entityId = IdpEntityId, ssoUrl = IdpSso, certificate = pem, defaultRoles = new[] { "" } }, "defaultRoles");

        var created = await AddIdpAsync(setup);
        var id = created.GetProperty("id").GetString();
        Assert.Equal("saml", created.GetProperty("type").GetString());
        Assert.True(created.GetProperty("trustEmail").GetBoolean() && created.GetProperty("allowSignup").GetBoolean());
        Assert.False(created.GetProperty("autoLinkUsers").GetBoolean());
        Assert.Equal(IdpCertificate.GetCertHashString(HashAlgorithmName.SHA256), created.GetProperty("certificateThumbprint").GetString());
        Assert.Equal(0, created.GetProperty("defaultRoles").GetArrayLength());
        using (var patched = await admin.PatchAsJsonAsync($"{url}/{id}", new { wantResponsesSigned = false, sloUrl = "", defaultRoles = new[] { "viewer", "viewer" } }))
        {
            var data = (await HttpAssert.JsonAsync(patched, HttpStatusCode.OK)).GetProperty("data");
            Assert.Equal(["viewer"], data.GetProperty("defaultRoles").EnumerateArray().Select(r => r.GetString()));
            Assert.False(data.GetProperty("wantResponsesSigned").GetBoolean());
            Assert.Equal(JsonValueKind.Null, data.GetProperty("sloUrl").ValueKind);
            Assert.Equal(IdpEntityId, data.GetProperty("entityId").GetString());
        }

        using (var duplicate = await admin.PostAsJsonAsync(url, new { name = "Okta", entityId = "https://other.example.test", ssoUrl = IdpSso, certificate = pem }))
        {
            Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        }

        var other = await suite.SetUpAsync();
        using (var stranger = suite.FederationAdmin(other.Tenant))
        {
            Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync($"{other.Tenant.Api}/admin/identity-providers/{id}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await stranger.DeleteAsync($"{other.Tenant.Api}/admin/identity-providers/{id}")).StatusCode);
            Assert.Equal(0, (await HttpAssert.JsonAsync(await stranger.GetAsync($"{other.Tenant.Api}/admin/identity-providers"), HttpStatusCode.OK)).GetProperty("data").GetArrayLength());
        }

        // Another tenant's SP login cannot start a sign-in with this tenant's IdP.
        using var browser = suite.FederatedBrowser();
        using (var foreign = await browser.GetAsync($"/t/{other.Tenant.Slug}/saml/sp/login/{id}"))
        {
            Assert.Equal($"/t/{other.Tenant.Slug}/login/external?error=provider_disabled", HostedFlow.LocalRedirect(foreign));
        }

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{url}/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"{url}/{id}")).StatusCode);
    }

    [Fact]
    public async Task AProviderChangedSinceItWasRead_IsNotOverwrittenByTheStaleCopy()
    {
        var setup = await suite.SetUpAsync();
        var id = Guid.Parse((await AddIdpAsync(setup)).GetProperty("id").GetString()!);
        using var scope = suite.Federation.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<LumoAuth.Federation.Data.FederationDbContext>();
        // What the metadata job (or a slow edit) read...
        var stale = await db.IdentityProviders.IgnoreQueryFilters().FirstAsync(p => p.Id == id);

        // ...an administrator changes meanwhile...
        using (var admin = suite.FederationAdmin(setup.Tenant))
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/identity-providers/{id}", new { name = "Renamed" })).StatusCode);
        }

        // ...so the stale copy is refused, and the edit stands.
        stale.Saml!.SsoUrl = "https://idp.example.test/elsewhere";
        await Assert.ThrowsAsync<DbUpdateConcurrencyException>(() => db.SaveChangesAsync());
        using var reader = suite.FederationAdmin(setup.Tenant);
        var current = (await HttpAssert.JsonAsync(await reader.GetAsync($"{setup.Tenant.Api}/admin/identity-providers/{id}"), HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal(("Renamed", IdpSso), (current.GetProperty("name").GetString(), current.GetProperty("ssoUrl").GetString()));
    }

    [Fact]
    public async Task EncryptedAssertions_AreDecryptedWithTheTenantsKey_CbcOnlyInsideASignedResponse_AndCanBeRequired()
    {
        var setup = await suite.SetUpAsync();
        var id = (await AddIdpAsync(setup)).GetProperty("id").GetString()!;
        var email = $"enc-{Guid.NewGuid():N}"[..12] + "@example.com";
        using var metadataBrowser = suite.FederatedBrowser();
        using var spCertificate = await SamlTestSigning.SpEncryptionCertificateAsync(metadataBrowser, setup.Tenant.Slug);
        Assert.True(spCertificate.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages.HasFlag(X509KeyUsageFlags.KeyEncipherment));

        async Task<HttpResponseMessage> PostAsync(HttpClient browser, Func<SamlRequest, XmlDocument> respond)
        {
            var (request, relay) = await StartAsync(browser, setup, id);
            return await browser.PostAsync($"/t/{setup.Tenant.Slug}/saml/sp/acs", Form(respond(request), relay));
        }

        async Task AcceptedAsync(Func<SamlRequest, XmlDocument> respond)
        {
            using var browser = suite.FederatedBrowser();
            var (request, relay) = await StartAsync(browser, setup, id);
            await SignedInAsync(browser, setup, relay, respond(request));
        }

        async Task RefusedAsync(Func<SamlRequest, XmlDocument> respond)
        {
            using var browser = suite.FederatedBrowser();
            using var posted = await PostAsync(browser, respond);
            Assert.Equal($"/t/{setup.Tenant.Slug}/login/external?error=provider_error", HostedFlow.LocalRedirect(posted));
        }

        // AES-GCM, the key in the data's KeyInfo or beside it, RSA-OAEP with SHA-1 or SHA-256: the signed assertion inside
        // is read as a plain one.
        await AcceptedAsync(r => Response(setup, r.Id, email, encryptFor: (spCertificate, new SamlTestSigning.Encryption())));
        await AcceptedAsync(r => Response(setup, r.Id, email, encryptFor: (spCertificate, new SamlTestSigning.Encryption("gcm128", "rsa-oaep-sha256", KeyBesideData: true))));
        // AES-CBC inside a signed response: the signature over the ciphertext is checked before anything is decrypted.
        await AcceptedAsync(r => Response(setup, r.Id, email, encryptFor: (spCertificate, new SamlTestSigning.Encryption("cbc"))));
        // One person, signed in three times.
        Assert.NotEmpty(await UserIdAsync(setup, email));

        // RSA PKCS#1 v1.5 key transport; a key for someone else.
        await RefusedAsync(r => Response(setup, r.Id, email, encryptFor: (spCertificate, new SamlTestSigning.Encryption(KeyTransport: "rsa-1_5"))));
        using (var strangerKey = RSA.Create(2048))
        using (var strangerCertificate = SamlTestSigning.SelfSigned(strangerKey, "CN=another-sp"))
        {
            await RefusedAsync(r => Response(setup, r.Id, email, encryptFor: (strangerCertificate, new SamlTestSigning.Encryption())));
        }

        // Without a response signature, CBC is refused (it could be probed) while GCM is taken.
        using (var api = suite.FederationAdmin(setup.Tenant))
        {
            Assert.Equal(HttpStatusCode.OK, (await api.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/identity-providers/{id}", new { wantResponsesSigned = false })).StatusCode);
        }

        await RefusedAsync(r => Response(setup, r.Id, email, signResponse: false, encryptFor: (spCertificate, new SamlTestSigning.Encryption("cbc"))));
        // An altered ciphertext fails its tag; an unsigned assertion inside is refused as ever.
        await RefusedAsync(r =>
        {
            var response = Response(setup, r.Id, email, signResponse: false, encryptFor: (spCertificate, new SamlTestSigning.Encryption()));
            var value = response.GetElementsByTagName("CipherValue", SamlTestSigning.XmlEnc).Cast<XmlElement>().Last();
            var bytes = Convert.FromBase64String(value.InnerText);
            bytes[20] ^= 1;
            value.InnerText = Convert.ToBase64String(bytes);
            return response;
        });
        await RefusedAsync(r => Response(setup, r.Id, email, signAssertion: false, signResponse: false, encryptFor: (spCertificate, new SamlTestSigning.Encryption())));

        await AcceptedAsync(r => Response(setup, r.Id, email, signResponse: false, encryptFor: (spCertificate, new SamlTestSigning.Encryption())));

        // Required: a plain assertion is refused from then on.
        using (var api = suite.FederationAdmin(setup.Tenant))
        {
            using var required = await api.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/identity-providers/{id}", new { wantAssertionsEncrypted = true });
            Assert.True((await HttpAssert.JsonAsync(required, HttpStatusCode.OK)).GetProperty("data").GetProperty("wantAssertionsEncrypted").GetBoolean());
        }

        await RefusedAsync(r => Response(setup, r.Id, email));
        await AcceptedAsync(r => Response(setup, r.Id, email, encryptFor: (spCertificate, new SamlTestSigning.Encryption())));

        // After a rotation of the tenant's key, an IdP that still encrypts for the old certificate is understood.
        using (var admin = suite.FederationAdmin(setup.Tenant))
        {
            var next = (await HttpAssert.JsonAsync(await admin.PostAsync($"{setup.Tenant.Api}/admin/saml-keys", null), HttpStatusCode.Created)).GetProperty("data");
            Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"{setup.Tenant.Api}/admin/saml-keys/{next.GetProperty("id").GetString()}/activate", null)).StatusCode);
        }

        await AcceptedAsync(r => Response(setup, r.Id, email, encryptFor: (spCertificate, new SamlTestSigning.Encryption())));
    }

    private const string Protocol = "urn:oasis:names:tc:SAML:2.0:protocol";
    private const string Saml = "urn:oasis:names:tc:SAML:2.0:assertion";

    private sealed record SamlRequest(string Id, string Issuer, string Destination, string AcsUrl);

    private async Task<JsonElement> AddIdpAsync(SignInSetup setup)
    {
        using var admin = suite.FederationAdmin(setup.Tenant);
        using var created = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/identity-providers", new
        {
            type = "saml", name = "Okta", entityId = IdpEntityId, ssoUrl = IdpSso, sloUrl = IdpSlo, certificate = IdpCertificate.ExportCertificatePem(),
        });
        return (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data");
    }

    /// <summary>The SP's redirect to the IdP: our AuthnRequest (inflated and read) and the RelayState to send back.</summary>
    private static async Task<(SamlRequest Request, string RelayState)> StartAsync(HttpClient browser, SignInSetup setup, string idpId)
    {
        using var start = await browser.GetAsync($"/t/{setup.Tenant.Slug}/saml/sp/login/{idpId}");
        Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
        var location = start.Headers.Location!;
        Assert.StartsWith(IdpSso + "?", location.AbsoluteUri, StringComparison.Ordinal);
        var query = QueryHelpers.ParseQuery(location.Query);
        using var inflate = new DeflateStream(new MemoryStream(Convert.FromBase64String(query["SAMLRequest"].ToString())), CompressionMode.Decompress);
        var document = new XmlDocument();
        document.Load(inflate);
        var root = document.DocumentElement!;
        return (new SamlRequest(root.GetAttribute("ID"), root.GetElementsByTagName("Issuer", Saml)[0]!.InnerText, root.GetAttribute("Destination"),
            root.GetAttribute("AssertionConsumerServiceURL")), query["RelayState"].ToString());
    }

    /// <summary>Posts the IdP's response to the ACS and follows the browser to the token service's "signed in" page.</summary>
    private static async Task SignedInAsync(HttpClient browser, SignInSetup setup, string relayState, XmlDocument response)
    {
        using var posted = await browser.PostAsync($"/t/{setup.Tenant.Slug}/saml/sp/acs", Form(response, relayState));
        Assert.True(posted.StatusCode == HttpStatusCode.SeeOther, $"{(int)posted.StatusCode} {posted.Headers.Location}");
        using var completed = await browser.GetAsync(posted.Headers.Location!.OriginalString);
        var ticket = HostedFlow.LocalRedirect(completed);
        Assert.True(ticket?.StartsWith($"/t/{setup.Tenant.Slug}/login/external?ticket=", StringComparison.Ordinal) == true, ticket);
        using var landed = await browser.GetAsync(ticket);
        Assert.Contains("You are signed in", await landed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private async Task<string> UserIdAsync(SignInSetup setup, string email)
    {
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var users = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users?search={Uri.EscapeDataString(email)}"), HttpStatusCode.OK)).GetProperty("data");
        return Assert.Single(users.EnumerateArray()).GetProperty("id").GetString()!;
    }

    private static FormUrlEncodedContent Form(XmlDocument response, string? relayState)
    {
        var fields = new Dictionary<string, string> { ["SAMLResponse"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(response.OuterXml)) };
        if (relayState is not null)
        {
            fields["RelayState"] = relayState;
        }

        return new FormUrlEncodedContent(fields);
    }

    /// <summary>The IdP's response, signed as asked (the assertion, then the response, with the IdP's key unless another signer is given).</summary>
    private XmlDocument Response(
        SignInSetup setup, string inResponseTo, string email, string? nameId = null, Dictionary<string, string>? attributes = null, bool signResponse = true,
        bool signAssertion = true, (RSA Key, X509Certificate2 Certificate)? signer = null, string? audience = null, string? recipient = null, string? issuer = null,
        DateTimeOffset? issued = null, string? nameIdFormat = null, string status = "urn:oasis:names:tc:SAML:2.0:status:Success", string? assertionId = null,
        string? sessionIndex = null, (X509Certificate2 Certificate, SamlTestSigning.Encryption How)? encryptFor = null)
    {
        var now = issued ?? DateTimeOffset.UtcNow;
        static string Instant(DateTimeOffset t) => SamlTestSigning.Instant(t);
        var acs = recipient ?? $"http://localhost/t/{setup.Tenant.Slug}/saml/sp/acs";
        var values = attributes ?? new Dictionary<string, string> { ["email"] = email };
        var statement = string.Concat(values.Select(a => $"<saml:Attribute Name=\"{a.Key}\"><saml:AttributeValue>{a.Value}</saml:AttributeValue></saml:Attribute>"));
        var id = assertionId ?? "_a" + Guid.NewGuid().ToString("N");
        var xml = $"<samlp:Response xmlns:samlp=\"{Protocol}\" xmlns:saml=\"{Saml}\" ID=\"_r{Guid.NewGuid():N}\" Version=\"2.0\" IssueInstant=\"{Instant(now)}\" "
                  + $"Destination=\"{acs}\" InResponseTo=\"{inResponseTo}\"><saml:Issuer>{issuer ?? IdpEntityId}</saml:Issuer>"
                  + $"<samlp:Status><samlp:StatusCode Value=\"{status}\"/></samlp:Status>"
                  + $"<saml:Assertion ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{Instant(now)}\"><saml:Issuer>{issuer ?? IdpEntityId}</saml:Issuer>"
                  + $"<saml:Subject><saml:NameID Format=\"{nameIdFormat ?? "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"}\">{nameId ?? email}</saml:NameID>"
                  + $"<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\"><saml:SubjectConfirmationData InResponseTo=\"{inResponseTo}\" "
                  + $"NotOnOrAfter=\"{Instant(now.AddMinutes(5))}\" Recipient=\"{acs}\"/></saml:SubjectConfirmation></saml:Subject>"
                  + $"<saml:Conditions NotBefore=\"{Instant(now.AddMinutes(-1))}\" NotOnOrAfter=\"{Instant(now.AddMinutes(5))}\"><saml:AudienceRestriction>"
                  + $"<saml:Audience>{audience ?? $"http://localhost/t/{setup.Tenant.Slug}/saml/sp/metadata"}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"
                  + $"<saml:AuthnStatement AuthnInstant=\"{Instant(now)}\" SessionIndex=\"{sessionIndex ?? "_s" + Guid.NewGuid().ToString("N")}\"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
                  + $"<saml:AttributeStatement>{statement}</saml:AttributeStatement></saml:Assertion></samlp:Response>";
        var document = new XmlDocument { PreserveWhitespace = true };
        document.LoadXml(xml);
        var (key, certificate) = signer ?? (_idpKey, IdpCertificate);
        if (signAssertion)
        {
            SamlTestSigning.Sign((XmlElement)document.GetElementsByTagName("Assertion", Saml)[0]!, key, certificate);
        }

        if (encryptFor is { } encryption)
        {
            SamlTestSigning.Encrypt((XmlElement)document.GetElementsByTagName("Assertion", Saml)[0]!, encryption.Certificate, encryption.How);
        }

        if (signResponse)
        {
            SamlTestSigning.Sign(document.DocumentElement!, key, certificate);
        }

        return document;
    }

    private static string LogoutRequest(string nameId) =>
        $"<samlp:LogoutRequest xmlns:samlp=\"{Protocol}\" xmlns:saml=\"{Saml}\" ID=\"_l{Guid.NewGuid():N}\" Version=\"2.0\" "
        + $"IssueInstant=\"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ}\"><saml:Issuer>{IdpEntityId}</saml:Issuer><saml:NameID>{nameId}</saml:NameID></samlp:LogoutRequest>";

    private static string Deflated(string xml)
    {
        using var buffer = new MemoryStream();
        using (var deflate = new DeflateStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            deflate.Write(Encoding.UTF8.GetBytes(xml));
        }

        return Convert.ToBase64String(buffer.ToArray());
    }
}
