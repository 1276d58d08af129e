using System.Net;
using System.Net.Http.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Registering a PKI mutual-TLS client (RFC 8705 §2.1): its certificate's subject DN and the authorities that issue it,
/// both or neither, for confidential clients; authentication itself is proven end to end over real TLS
/// (<c>CrossServiceTests.PkiMutualTlsClient_…</c>).
/// </summary>
public sealed class MutualTlsClientTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    private static readonly System.Security.Cryptography.X509Certificates.X509Certificate2 Authority = TestCertificates.Authority("Test CA");

    public static TheoryData<string, object> Refusals => new()
    {
        { "tlsClientCertificateAuthorities", new { name = "a", isConfidential = true, grantTypes = new[] { "client_credentials" }, tlsClientAuthSubjectDn = "CN=a" } },
        { "tlsClientAuthSubjectDn", new { name = "b", isConfidential = true, grantTypes = new[] { "client_credentials" }, tlsClientCertificateAuthorities = new[] { Convert.ToBase64String(Authority.RawData) } } },
        { "tlsClientCertificateAuthorities", new { name = "c", isConfidential = true, grantTypes = new[] { "client_credentials" }, tlsClientAuthSubjectDn = "CN=c", tlsClientCertificateAuthorities = new[] { "bm90IGEgY2VydA==" } } },
        { "tlsClientCertificateAuthorities", new { name = "d", isConfidential = true, grantTypes = new[] { "client_credentials" }, tlsClientAuthSubjectDn = "CN=d", tlsClientCertificateAuthorities = new[] { Convert.ToBase64String(TestCertificates.Client("leaf").RawData) } } },
        { "tlsClientAuthSubjectDn", new { name = "e", applicationType = "spa", redirectUris = new[] { "https://spa.example.com/cb" }, tlsClientAuthSubjectDn = "CN=e", tlsClientCertificateAuthorities = new[] { Convert.ToBase64String(Authority.RawData) } } },
        { "tlsClientAuthSubjectDn", new { name = "f", isConfidential = true, grantTypes = new[] { "client_credentials" }, tlsClientAuthSubjectDn = "not=a=dn,,", tlsClientCertificateAuthorities = new[] { Convert.ToBase64String(Authority.RawData) } } },
        { "tlsClientCertificateAuthorities", new { name = "g", isConfidential = true, grantTypes = new[] { "client_credentials" }, tlsClientAuthSubjectDn = "CN=g", tlsClientCertificateAuthorities = new string?[] { null } } },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task CreateClient_IncompleteOrWrongTlsClientAuth_IsAValidationError(string field, object body)
    {
        using var admin = factory.AdminClient(factory.Acme);

        using var response = await admin.PostAsJsonAsync($"/t/{factory.Acme.Slug}/api/v1/admin/clients", body);

        var json = await HttpAssert.EnvelopeAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(json.GetProperty("details").TryGetProperty(field, out _), json.GetRawText());
    }

    [Fact]
    public async Task CreateClient_WithSubjectAndPemAuthority_KeepsThem_AndAnUpdateCanClearThem()
    {
        using var admin = factory.AdminClient(factory.Acme);
        var client = await factory.CreateOAuthClientAsync(factory.Acme, new
        {
            name = "payments", isConfidential = true, grantTypes = new[] { "client_credentials" },
            tlsClientAuthSubjectDn = "CN=payments,O=Example", tlsClientCertificateAuthorities = new[] { Authority.ExportCertificatePem() },
        });
        Assert.Equal("CN=payments,O=Example", client.Data.GetProperty("tlsClientAuthSubjectDn").GetString());
        Assert.Equal(Convert.ToBase64String(Authority.RawData), client.Data.GetProperty("tlsClientCertificateAuthorities")[0].GetString());

        using var cleared = await admin.PutAsJsonAsync($"/t/{factory.Acme.Slug}/api/v1/admin/clients/{client.ClientId}",
            new { tlsClientAuthSubjectDn = "", tlsClientCertificateAuthorities = Array.Empty<string>() });
        var data = (await HttpAssert.JsonAsync(cleared, HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal(System.Text.Json.JsonValueKind.Null, data.GetProperty("tlsClientAuthSubjectDn").ValueKind);
        Assert.Equal(0, data.GetProperty("tlsClientCertificateAuthorities").GetArrayLength());
    }
}
