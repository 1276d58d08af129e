using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// SAML partners set up from their metadata (SAML Metadata 2.0), inline (<c>metadataXml</c>) or by URL
/// (<c>metadataUrl</c>, fetched over https through the SSRF-guarded client): an outside IdP at
/// <c>/admin/identity-providers</c>, an application at <c>/admin/saml-apps</c>. What the body names wins over the document;
/// what the document gives is checked as if typed.
/// </summary>
public sealed class SamlMetadataImportTests(FederationSuite suite) : IClassFixture<FederationSuite>, IDisposable
{
    private const string Redirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
    private const string Post = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

    private readonly RSA _key = RSA.Create(2048);
    private X509Certificate2? _certificate;

    private X509Certificate2 Certificate => _certificate ??= SamlTestSigning.SelfSigned(_key, "CN=partner");

    public void Dispose()
    {
        _certificate?.Dispose();
        _key.Dispose();
    }

    [Fact]
    public async Task AnIdp_IsAddedFromItsMetadata_InlineOrByUrl_AndTheBodyWins()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.FederationAdmin(setup.Tenant);
        var url = $"{setup.Tenant.Api}/admin/identity-providers";

        using (var created = await admin.PostAsJsonAsync(url, new { name = "Entra", metadataXml = IdpMetadata("https://sts.example.test/abc/") }))
        {
            var idp = (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data");
            Assert.Equal("https://sts.example.test/abc/", idp.GetProperty("entityId").GetString());
            Assert.Equal("https://sts.example.test/sso-redirect", idp.GetProperty("ssoUrl").GetString());
            Assert.Equal("https://sts.example.test/slo", idp.GetProperty("sloUrl").GetString());
            Assert.Equal(Certificate.GetCertHashString(HashAlgorithmName.SHA256), idp.GetProperty("certificateThumbprint").GetString());
            Assert.Equal("persistent", idp.GetProperty("nameIdFormat").GetString());
            Assert.True(idp.GetProperty("signAuthnRequests").GetBoolean());
            Assert.False(idp.GetProperty("allowTokenExchange").GetBoolean());
        }

        // By URL, with a field the body names itself.
        var metadataUrl = suite.Providers.Serve($"/metadata/{Guid.NewGuid():N}.xml", new SiteAnswer(IdpMetadata("https://okta.example.test/exk1"), ContentType: "application/samlmetadata+xml"));
        using (var fetched = await admin.PostAsJsonAsync(url, new { name = "Okta", metadataUrl, ssoUrl = "https://okta.example.test/own-sso", signAuthnRequests = false }))
        {
            var idp = (await HttpAssert.JsonAsync(fetched, HttpStatusCode.Created)).GetProperty("data");
            Assert.Equal("https://okta.example.test/exk1", idp.GetProperty("entityId").GetString());
            Assert.Equal("https://okta.example.test/own-sso", idp.GetProperty("ssoUrl").GetString());
            Assert.False(idp.GetProperty("signAuthnRequests").GetBoolean());
        }

        // An aggregate names several: the entityId chooses.
        var aggregate = $"<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">{Entity("https://a.example.test", IdpRole())}{Entity("https://b.example.test", IdpRole())}</md:EntitiesDescriptor>";
        await InvalidAsync(admin, url, new { name = "Many", metadataXml = aggregate }, "metadataXml", "several");
        using (var chosen = await admin.PostAsJsonAsync(url, new { name = "B", metadataXml = aggregate, entityId = "https://b.example.test" }))
        {
            Assert.Equal("https://b.example.test", (await HttpAssert.JsonAsync(chosen, HttpStatusCode.Created)).GetProperty("data").GetProperty("entityId").GetString());
        }

        await InvalidAsync(admin, url, new { name = "X", metadataXml = "<not-metadata" }, "metadataXml", "not a metadata document");
        await InvalidAsync(admin, url, new { name = "X", metadataXml = "<!DOCTYPE a [<!ENTITY b \"c\">]><a>&b;</a>" }, "metadataXml", "not a metadata document");
        await InvalidAsync(admin, url, new { name = "X", metadataXml = Entity("https://sp.example.test", SpRole()) }, "metadataXml", "no SAML 2.0 identity provider");
        await InvalidAsync(admin, url, new { name = "X", metadataXml = Entity("https://c.example.test", IdpRole(redirectSso: false)) }, "metadataXml", "HTTP-Redirect");
        await InvalidAsync(admin, url, new { name = "X", metadataXml = IdpMetadata("https://d.example.test"), metadataUrl = "https://d.example.test/md" }, "metadataUrl", "not both");
        await InvalidAsync(admin, url, new { name = "X", metadataUrl = "http://idp.example.test/metadata" }, "metadataUrl", "https");
        await InvalidAsync(admin, url, new { name = "X", metadataUrl = suite.Providers.Origin + "/metadata/missing.xml" }, "metadataUrl", "answered 404");
        // What the document gives is checked like typed input: a certificate that is not one.
        await InvalidAsync(admin, url, new { name = "X", metadataXml = IdpMetadata("https://e.example.test", certificate: "bm90IGEgY2VydGlmaWNhdGU=") }, "certificate", "X.509");
    }

    [Fact]
    public async Task AnApp_IsAddedFromItsSpMetadata_TakingTheDefaultPostAcs_AndAnUpdateBringsItsNewCertificate()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.FederationAdmin(setup.Tenant);
        var url = $"{setup.Tenant.Api}/admin/saml-apps";

        string id;
        using (var created = await admin.PostAsJsonAsync(url, new { name = "Wiki", metadataXml = Entity("https://wiki.example.test", SpRole()) }))
        {
            var app = (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data");
            id = app.GetProperty("id").GetString()!;
            Assert.Equal("https://wiki.example.test", app.GetProperty("entityId").GetString());
            Assert.Equal("https://wiki.example.test/acs-default", app.GetProperty("acsUrl").GetString());
            Assert.Equal("https://wiki.example.test/slo", app.GetProperty("sloUrl").GetString());
            Assert.Equal("https://wiki.example.test/slo-soap", app.GetProperty("sloSoapUrl").GetString());
            Assert.True(app.GetProperty("requireSignedRequests").GetBoolean());
            Assert.Equal("emailAddress", app.GetProperty("nameIdFormat").GetString());
        }

        using var rotatedKey = RSA.Create(2048);
        using var rotated = SamlTestSigning.SelfSigned(rotatedKey, "CN=rotated");
        using (var updated = await admin.PatchAsJsonAsync($"{url}/{id}", new { metadataXml = Entity("https://wiki.example.test", SpRole(Convert.ToBase64String(rotated.RawData))) }))
        {
            Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        }

        using var read = await admin.GetAsync($"{url}/{id}");
        var json = (await HttpAssert.JsonAsync(read, HttpStatusCode.OK)).GetProperty("data").GetRawText();
        Assert.Contains(rotated.GetCertHashString(HashAlgorithmName.SHA256), json, StringComparison.OrdinalIgnoreCase);

        await InvalidAsync(admin, url, new { name = "X", metadataXml = Entity("https://idp.example.test", IdpRole()) }, "metadataXml", "no SAML 2.0 service provider");
        await InvalidAsync(admin, url, new { name = "X", metadataXml = Entity("https://f.example.test", SpRole(postAcs: false)) }, "metadataXml", "HTTP-POST");
    }

    private static async Task InvalidAsync(HttpClient admin, string url, object body, string field, string because)
    {
        using var response = await admin.PostAsJsonAsync(url, body);
        var error = await HttpAssert.JsonAsync(response, HttpStatusCode.BadRequest);
        Assert.True(error.GetProperty("details").TryGetProperty(field, out var problems), $"{field} not named: {error}");
        Assert.Contains(because, problems[0].GetString(), StringComparison.Ordinal);
    }

    private string IdpMetadata(string entityId, string? certificate = null) => Entity(entityId, IdpRole(certificate: certificate));

    private static string Entity(string entityId, string role) =>
        $"<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{entityId}\">{role}</md:EntityDescriptor>";

    private string KeyDescriptor(string use, string? certificate) =>
        $"<md:KeyDescriptor use=\"{use}\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data><ds:X509Certificate>\n  {certificate ?? Convert.ToBase64String(Certificate.RawData)}\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>";

    private string IdpRole(bool redirectSso = true, string? certificate = null) =>
        "<md:IDPSSODescriptor WantAuthnRequestsSigned=\"true\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">"
        + KeyDescriptor("encryption", "bm90IHRoaXMgb25l") + KeyDescriptor("signing", certificate)
        + $"<md:SingleLogoutService Binding=\"{Redirect}\" Location=\"https://sts.example.test/slo\"/>"
        + "<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>"
        + "<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>"
        + $"<md:SingleSignOnService Binding=\"{Post}\" Location=\"https://sts.example.test/sso-post\"/>"
        + (redirectSso ? $"<md:SingleSignOnService Binding=\"{Redirect}\" Location=\"https://sts.example.test/sso-redirect\"/>" : string.Empty)
        + "</md:IDPSSODescriptor>";

    private string SpRole(string? certificate = null, bool postAcs = true) =>
        "<md:SPSSODescriptor AuthnRequestsSigned=\"true\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">"
        + KeyDescriptor("signing", certificate)
        + $"<md:SingleLogoutService Binding=\"{Redirect}\" Location=\"https://wiki.example.test/slo\"/>"
        + "<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:SOAP\" Location=\"https://wiki.example.test/slo-soap\"/>"
        + "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>"
        + $"<md:AssertionConsumerService Binding=\"{Redirect}\" Location=\"https://wiki.example.test/acs-redirect\" index=\"0\"/>"
        + (postAcs
            ? $"<md:AssertionConsumerService Binding=\"{Post}\" Location=\"https://wiki.example.test/acs-first\" index=\"1\"/>"
              + $"<md:AssertionConsumerService Binding=\"{Post}\" Location=\"https://wiki.example.test/acs-default\" index=\"2\" isDefault=\"true\"/>"
            : string.Empty)
        + "</md:SPSSODescriptor>";
}
