using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Contracts.Tokens;
using ApiAssert = LumoAuth.Testing.ApiAssert;
using LumoAuth.Token.Keys;
using LumoAuth.Token.Tests.Support;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests;

/// <summary>Per-tenant signing algorithms (RS256, PS256, ES256) and rotation with a grace period.</summary>
public sealed class SigningKeyTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    private static string Keys(TestTenant tenant) => $"/t/{tenant.Slug}/api/v1/admin/signing-keys";

    /// <summary>The published signing keys (the key clients encrypt to is not a signing key and is not rotated with them).</summary>
    private async Task<JsonWebKeySet> JwksAsync(TestTenant tenant)
    {
        using var http = factory.CreateClient();
        var set = new JsonWebKeySet(await http.GetStringAsync($"{tenant.Issuer}/.well-known/jwks.json"));
        foreach (var key in set.Keys.Where(k => k.Use == "enc").ToList())
        {
            set.Keys.Remove(key);
        }

        return set;
    }

    private async Task<JsonElement> RotateAsync(TestTenant tenant, object body)
    {
        using var admin = factory.AdminClient(tenant);
        using var response = await admin.PostAsJsonAsync(Keys(tenant) + "/rotate", body);
        return (await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("data");
    }

    private async Task<bool> IntrospectActiveAsync(TestTenant tenant, CreatedClient caller, string token)
    {
        using var response = await factory.PostFormAsync(tenant, "oauth/introspect", new() { ["token"] = token }, HttpAssert.Basic(caller.ClientId, caller.Secret!));
        return (await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("active").GetBoolean();
    }

    private static async Task<bool> VerifiesAsync(string token, TestTenant tenant, JsonWebKeySet jwks)
    {
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = tenant.Issuer,
            ValidAudience = tenant.Issuer,
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidTypes = ["at+jwt"],
        });
        return result.IsValid;
    }

    [Fact]
    public async Task Rotate_ToEs256_PublishesBothKeysDuringGrace_SignsWithTheNewOne()
    {
        var tenant = factory.AddTenant("keys");
        var client = await factory.CreateOAuthClientAsync(tenant);
        var oldToken = await factory.AccessTokenAsync(tenant, client);
        var oldKid = new JsonWebToken(oldToken).Kid;

        var rotated = await RotateAsync(tenant, new { algorithm = "ES256", gracePeriodHours = 1 });

        var newKid = rotated.GetProperty("kid").GetString()!;
        Assert.Equal("ES256", rotated.GetProperty("algorithm").GetString());
        Assert.Equal("active", rotated.GetProperty("status").GetString());
        var jwks = await JwksAsync(tenant);
        Assert.Equal([newKid, oldKid], jwks.Keys.Select(k => k.Kid));
        Assert.Equal(["ES256", "RS256"], jwks.Keys.Select(k => k.Alg));
        var newToken = await factory.AccessTokenAsync(tenant, client);
        var jwt = new JsonWebToken(newToken);
        Assert.Equal(newKid, jwt.Kid);
        Assert.Equal("ES256", jwt.Alg);
        Assert.True(await VerifiesAsync(newToken, tenant, jwks));
        Assert.True(await VerifiesAsync(oldToken, tenant, jwks));
        Assert.True(await IntrospectActiveAsync(tenant, client, oldToken));
        Assert.True(await IntrospectActiveAsync(tenant, client, newToken));

        using var admin = factory.AdminClient(tenant);
        using var listed = await admin.GetAsync(Keys(tenant));
        var keys = (await HttpAssert.JsonAsync(listed, HttpStatusCode.OK)).GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["active", "grace"], keys.Select(k => k.GetProperty("status").GetString()));
        Assert.All(keys, k => Assert.False(k.TryGetProperty("protectedMaterial", out _)));
    }

    [Fact]
    public async Task Rotate_WithoutGrace_RetiresTheOldKeyAtOnce()
    {
        var tenant = factory.AddTenant("keys");
        var client = await factory.CreateOAuthClientAsync(tenant);
        var oldToken = await factory.AccessTokenAsync(tenant, client);

        var rotated = await RotateAsync(tenant, new { gracePeriodHours = 0 });

        Assert.Equal("RS256", rotated.GetProperty("algorithm").GetString());
        var jwks = await JwksAsync(tenant);
        Assert.Equal([rotated.GetProperty("kid").GetString()], jwks.Keys.Select(k => k.Kid));
        Assert.False(await VerifiesAsync(oldToken, tenant, jwks));
        Assert.False(await IntrospectActiveAsync(tenant, client, oldToken));
    }

    [Fact]
    public async Task Rotate_ToPs256_TokensUsePssAndVerify()
    {
        var tenant = factory.AddTenant("keys");
        var client = await factory.CreateOAuthClientAsync(tenant);

        await RotateAsync(tenant, new { algorithm = "ps256", gracePeriodHours = 0 });

        var token = await factory.AccessTokenAsync(tenant, client);
        Assert.Equal("PS256", new JsonWebToken(token).Alg);
        Assert.True(await VerifiesAsync(token, tenant, await JwksAsync(tenant)));
        Assert.True(await IntrospectActiveAsync(tenant, client, token));
    }

    [Fact]
    public async Task Rotate_OneTenant_LeavesAnotherTenantsKeysAlone()
    {
        var tenant = factory.AddTenant("keys");
        var other = factory.AddTenant("keys");
        var before = (await JwksAsync(other)).Keys.Select(k => k.Kid).ToList();

        await RotateAsync(tenant, new { algorithm = "ES256" });

        Assert.Equal(before, (await JwksAsync(other)).Keys.Select(k => k.Kid));
        Assert.DoesNotContain((await JwksAsync(tenant)).Keys[0].Kid, before);
    }

    [Theory]
    [InlineData("""{"algorithm":"HS256"}""", "algorithm")]
    [InlineData("""{"algorithm":"none"}""", "algorithm")]
    [InlineData("""{"gracePeriodHours":-1}""", "gracePeriodHours")]
    [InlineData("""{"gracePeriodHours":100000}""", "gracePeriodHours")]
    public async Task Rotate_InvalidBody_Returns400AndKeepsTheKey(string body, string field)
    {
        var tenant = factory.AddTenant("keys");
        var before = (await JwksAsync(tenant)).Keys.Select(k => k.Kid).ToList();
        using var admin = factory.AdminClient(tenant);
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");

        using var response = await admin.PostAsync(Keys(tenant) + "/rotate", content);

        var json = await HttpAssert.EnvelopeAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(json.GetProperty("details").TryGetProperty(field, out _));
        Assert.Equal(before, (await JwksAsync(tenant)).Keys.Select(k => k.Kid));
    }

    [Fact]
    public async Task KeyRing_ThatProtectsTenantKeys_IsItselfEncryptedWithTheDeploymentKey()
    {
        var tenant = factory.AddTenant("keys");
        await JwksAsync(tenant);

        var ring = await factory.WithDbAsync(db => Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.ToListAsync(
            db.DataProtectionKeys.Select(k => k.Xml)));

        Assert.NotEmpty(ring);
        Assert.All(ring, xml =>
        {
            Assert.Contains("encryptedSecret", xml, StringComparison.Ordinal);
            Assert.DoesNotContain("<masterKey", xml, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task Rotate_WithoutAdminCredential_Returns401()
    {
        using var http = factory.CreateClient();

        using var response = await http.PostAsJsonAsync(Keys(factory.Acme) + "/rotate", new { });

        await HttpAssert.EnvelopeAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task SigningKeyRotatedEvent_FromAnotherReplica_RebuildsThisReplicasConfiguration()
    {
        var tenant = factory.AddTenant("keys");
        var before = (await JwksAsync(tenant)).Keys.Single().Kid;
        // What another replica's rotation leaves in the shared database; this replica's configuration is still cached.
        var rotated = await factory.WithDbAsync(async db =>
        {
            var store = factory.Services.GetRequiredService<TenantKeyStore>();
            return await store.RotateAsync(db, tenant.Info.Id, "ES256", TimeSpan.FromHours(1), (_, _) => { }, CancellationToken.None);
        });
        Assert.Equal([before], (await JwksAsync(tenant)).Keys.Select(k => k.Kid));
        var bus = factory.Services.GetRequiredService<IBus>();

        await ApiAssert.EventuallyAsync(async () =>
        {
            await bus.Publish(new SigningKeyRotated(rotated.Kid, rotated.Algorithm, before, null) { TenantId = tenant.Info.Id });
            var kids = (await JwksAsync(tenant)).Keys.Select(k => k.Kid).ToList();
            return kids.Count == 2 && kids[0] == rotated.Kid ? kids : null;
        });
    }
}
