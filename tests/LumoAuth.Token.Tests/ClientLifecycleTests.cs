using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Contracts.Clients;
using LumoAuth.Messaging.Outbox;
using LumoAuth.Token.Data;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Token.Tests;

/// <summary>ADM-41…46 beyond creation: update, delete, secret rotation, kinds, lifetimes, origins, PKCE.</summary>
public sealed class ClientLifecycleTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    private string Clients(TestTenant tenant) => $"/t/{tenant.Slug}/api/v1/admin/clients";

    [Fact]
    public async Task UpdateClient_ChangesGivenFields_KeepsTheRest_AndWritesClientUpdated()
    {
        var tenant = factory.Acme;
        var created = await factory.CreateOAuthClientAsync(tenant, new { name = "before", description = "keep me", allowedScopes = new[] { "a.read" } });
        using var admin = factory.AdminClient(tenant);

        using var response = await admin.PutAsJsonAsync($"{Clients(tenant)}/{created.ClientId}", new
        {
            name = "after",
            allowedScopes = new[] { "a.read", "b.write" },
            accessTokenLifetime = 600,
        });

        var data = (await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal("after", data.GetProperty("name").GetString());
        Assert.Equal("keep me", data.GetProperty("description").GetString());
        Assert.Equal(["a.read", "b.write"], data.GetProperty("allowedScopes").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(600, data.GetProperty("accessTokenLifetime").GetInt32());
        Assert.Equal(2_592_000, data.GetProperty("refreshTokenLifetime").GetInt32());
        Assert.Equal("m2m", data.GetProperty("applicationType").GetString());
        Assert.False(data.TryGetProperty("secret", out _));

        var events = await factory.WithDbAsync(db => db.Set<OutboxMessage>()
            .Where(m => m.MessageType == ContractTypes.NameOf(typeof(ClientUpdated)) && m.TenantId == tenant.Info.Id)
            .Select(m => m.Body).ToListAsync());
        Assert.Contains(events, b => b.Contains(created.ClientId, StringComparison.Ordinal));

        // The old secret still works and the new lifetime and scopes apply at once on this replica.
        using var token = await factory.ClientCredentialsAsync(tenant, created, "b.write");
        var json = await HttpAssert.JsonAsync(token, HttpStatusCode.OK);
        // expires_in counts down from the issue instant, so it may already be a second short.
        Assert.InRange(json.GetProperty("expires_in").GetInt32(), 598, 600);
    }

    [Fact]
    public async Task UpdateClient_InvalidMergedSettings_Returns400ForTheField()
    {
        var created = await factory.CreateOAuthClientAsync(factory.Acme);
        using var admin = factory.AdminClient(factory.Acme);

        using var noRedirect = await admin.PutAsJsonAsync($"{Clients(factory.Acme)}/{created.ClientId}", new { grantTypes = new[] { "client_credentials", "authorization_code" } });
        using var badLifetime = await admin.PutAsJsonAsync($"{Clients(factory.Acme)}/{created.ClientId}", new { accessTokenLifetime = 5 });

        var json = await HttpAssert.EnvelopeAsync(noRedirect, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(json.GetProperty("details").TryGetProperty("grantTypes", out _));
        json = await HttpAssert.EnvelopeAsync(badLifetime, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(json.GetProperty("details").TryGetProperty("accessTokenLifetime", out _));
    }

    [Fact]
    public async Task UpdateDeleteRotate_OtherTenantsClient_Return404AndChangeNothing()
    {
        var acmeClient = await factory.CreateOAuthClientAsync(factory.Acme);
        using var globex = factory.AdminClient(factory.Globex);
        var path = $"{Clients(factory.Globex)}/{acmeClient.ClientId}";

        using var put = await globex.PutAsJsonAsync(path, new { name = "hijacked" });
        using var delete = await globex.DeleteAsync(path);
        using var rotate = await globex.PostAsync(path + "/rotate-secret", null);

        await HttpAssert.EnvelopeAsync(put, HttpStatusCode.NotFound, "resource_not_found");
        await HttpAssert.EnvelopeAsync(delete, HttpStatusCode.NotFound, "resource_not_found");
        await HttpAssert.EnvelopeAsync(rotate, HttpStatusCode.NotFound, "resource_not_found");
        using var token = await factory.ClientCredentialsAsync(factory.Acme, acmeClient);
        await HttpAssert.JsonAsync(token, HttpStatusCode.OK);
    }

    [Fact]
    public async Task UpdateClient_Deactivated_CannotAuthenticate_UntilReactivated()
    {
        var tenant = factory.Acme;
        var created = await factory.CreateOAuthClientAsync(tenant);
        using var admin = factory.AdminClient(tenant);
        await factory.AccessTokenAsync(tenant, created);

        using var off = await admin.PutAsJsonAsync($"{Clients(tenant)}/{created.ClientId}", new { isActive = false });
        Assert.False((await HttpAssert.JsonAsync(off, HttpStatusCode.OK)).GetProperty("data").GetProperty("isActive").GetBoolean());
        using (var refused = await factory.ClientCredentialsAsync(tenant, created))
        {
            await HttpAssert.OAuthErrorAsync(refused, HttpStatusCode.Unauthorized, "invalid_client");
        }

        using var on = await admin.PutAsJsonAsync($"{Clients(tenant)}/{created.ClientId}", new { isActive = true });
        await HttpAssert.JsonAsync(on, HttpStatusCode.OK);
        await factory.AccessTokenAsync(tenant, created);
    }

    [Fact]
    public async Task DeleteClient_Returns204_ThenUnknownEverywhere_AndWritesClientDeleted()
    {
        var tenant = factory.Acme;
        var created = await factory.CreateOAuthClientAsync(tenant);
        await factory.AccessTokenAsync(tenant, created);
        using var admin = factory.AdminClient(tenant);

        using var deleted = await admin.DeleteAsync($"{Clients(tenant)}/{created.ClientId}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);

        using var get = await admin.GetAsync($"{Clients(tenant)}/{created.ClientId}");
        await HttpAssert.EnvelopeAsync(get, HttpStatusCode.NotFound, "resource_not_found");
        using var again = await admin.DeleteAsync($"{Clients(tenant)}/{created.ClientId}");
        await HttpAssert.EnvelopeAsync(again, HttpStatusCode.NotFound, "resource_not_found");
        using var token = await factory.ClientCredentialsAsync(tenant, created);
        await HttpAssert.OAuthErrorAsync(token, HttpStatusCode.Unauthorized, "invalid_client");
        var events = await factory.WithDbAsync(db => db.Set<OutboxMessage>()
            .Where(m => m.MessageType == ContractTypes.NameOf(typeof(ClientDeleted)) && m.TenantId == tenant.Info.Id)
            .Select(m => m.Body).ToListAsync());
        Assert.Contains(events, b => b.Contains(created.ClientId, StringComparison.Ordinal));
    }

    /// <summary>
    /// A busy client's stored tokens (thousands of them) and grants all go with it; another client's stay.
    /// </summary>
    [Fact]
    public async Task DeleteClient_WithManyStoredTokens_TakesThemAll_AndLeavesOtherClientsAlone()
    {
        var tenant = factory.Acme;
        var doomed = await factory.CreateOAuthClientAsync(tenant);
        var kept = await factory.CreateOAuthClientAsync(tenant);
        await factory.WithDbAsync(async db =>
        {
            foreach (var (clientId, count) in new[] { (doomed.ClientId, 12_001), (kept.ClientId, 3) })
            {
                var application = await db.Set<TokenApplication>().IgnoreQueryFilters().SingleAsync(a => a.TenantId == tenant.Info.Id && a.ClientId == clientId);
                var grant = new TokenAuthorization { Application = application, TenantId = tenant.Info.Id, Status = "valid", Type = "permanent", Subject = "someone", CreationDate = DateTime.UtcNow };
                db.Add(grant);
                db.AddRange(Enumerable.Range(0, count).Select(_ => new TokenToken
                {
                    Application = application, Authorization = grant, TenantId = tenant.Info.Id, Status = "valid", Type = "refresh_token",
                    Subject = "someone", CreationDate = DateTime.UtcNow, ExpirationDate = DateTime.UtcNow.AddDays(1),
                }));
            }

            return await db.SaveChangesAsync();
        });
        using var admin = factory.AdminClient(tenant);

        using var deleted = await admin.DeleteAsync($"{Clients(tenant)}/{doomed.ClientId}");

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        var left = await factory.WithDbAsync(async db => (
            Doomed: await db.Set<TokenToken>().IgnoreQueryFilters().CountAsync(t => t.Application!.ClientId == doomed.ClientId && t.TenantId == tenant.Info.Id),
            DoomedGrants: await db.Set<TokenAuthorization>().IgnoreQueryFilters().CountAsync(a => a.Application!.ClientId == doomed.ClientId && a.TenantId == tenant.Info.Id),
            Kept: await db.Set<TokenToken>().IgnoreQueryFilters().CountAsync(t => t.Application!.ClientId == kept.ClientId && t.TenantId == tenant.Info.Id)));
        Assert.Equal((0, 0, 3), left);
    }

    [Fact]
    public async Task RotateSecret_NewSecretShownOnce_OldSecretRejectedImmediately()
    {
        var tenant = factory.Acme;
        var created = await factory.CreateOAuthClientAsync(tenant);
        await factory.AccessTokenAsync(tenant, created);
        using var admin = factory.AdminClient(tenant);

        using var rotated = await admin.PostAsync($"{Clients(tenant)}/{created.ClientId}/rotate-secret", null);

        var json = await HttpAssert.JsonAsync(rotated, HttpStatusCode.OK);
        Assert.Equal("Client secret rotated successfully", json.GetProperty("message").GetString());
        var secret = json.GetProperty("data").GetProperty("secret").GetString()!;
        Assert.StartsWith("cs_", secret, StringComparison.Ordinal);
        Assert.NotEqual(created.Secret, secret);
        Assert.Equal(created.ClientId, json.GetProperty("data").GetProperty("clientId").GetString());
        using (var old = await factory.ClientCredentialsAsync(tenant, created))
        {
            await HttpAssert.OAuthErrorAsync(old, HttpStatusCode.Unauthorized, "invalid_client");
        }

        await factory.AccessTokenAsync(tenant, created with { Secret = secret });
        using var fetched = await admin.GetAsync($"{Clients(tenant)}/{created.ClientId}");
        Assert.DoesNotContain(secret, await fetched.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RotateSecret_DocumentedAlias_Works()
    {
        var tenant = factory.Acme;
        var created = await factory.CreateOAuthClientAsync(tenant);
        using var admin = factory.AdminClient(tenant);

        using var rotated = await admin.PostAsync($"/t/{tenant.Slug}/api/v1/admin/oauth-clients/{created.ClientId}/secret", null);
        using var listed = await admin.GetAsync($"/t/{tenant.Slug}/api/v1/admin/oauth-clients");

        var secret = (await HttpAssert.JsonAsync(rotated, HttpStatusCode.OK)).GetProperty("data").GetProperty("secret").GetString()!;
        await factory.AccessTokenAsync(tenant, created with { Secret = secret });
        Assert.Contains(created.ClientId, await listed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RotateSecret_PublicClient_Returns400()
    {
        var created = await factory.CreateOAuthClientAsync(factory.Acme, new { name = "spa", applicationType = "spa", redirectUris = new[] { "https://spa.example.com/cb" } });
        using var admin = factory.AdminClient(factory.Acme);

        using var rotated = await admin.PostAsync($"{Clients(factory.Acme)}/{created.ClientId}/rotate-secret", null);

        await HttpAssert.EnvelopeAsync(rotated, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task CreateClient_Kinds_GetTheirDefaults()
    {
        var spa = await factory.CreateOAuthClientAsync(factory.Acme, new
        {
            name = "spa",
            redirectUris = new[] { "https://spa.example.com/cb" },
            isConfidential = false,
            allowedOrigins = new[] { "https://SPA.example.com" },
        });
        var native = await factory.CreateOAuthClientAsync(factory.Acme, new
        {
            name = "mobile",
            isConfidential = false,
            redirectUris = new[] { "com.example.app:/oauth2redirect", "myapp://callback", "http://127.0.0.1/cb" },
            grantTypes = new[] { "authorization_code", "refresh_token" },
        });
        var web = await factory.CreateOAuthClientAsync(factory.Acme, new
        {
            name = "portal",
            applicationType = "web",
            redirectUris = new[] { "https://portal.example.com/signin-oidc" },
            requiresPkce = true,
            refreshTokenLifetime = 86_400,
        });

        Assert.Equal("spa", spa.Data.GetProperty("applicationType").GetString());
        Assert.Null(spa.Secret);
        Assert.True(spa.Data.GetProperty("requiresPkce").GetBoolean());
        Assert.Equal(["https://spa.example.com"], spa.Data.GetProperty("allowedOrigins").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("native", native.Data.GetProperty("applicationType").GetString());
        Assert.True(native.Data.GetProperty("requiresPkce").GetBoolean());
        Assert.Equal("web", web.Data.GetProperty("applicationType").GetString());
        Assert.NotNull(web.Secret);
        Assert.True(web.Data.GetProperty("requiresPkce").GetBoolean());
        Assert.Equal(["authorization_code"], web.Data.GetProperty("grantTypes").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(86_400, web.Data.GetProperty("refreshTokenLifetime").GetInt32());
        Assert.Equal(3600, web.Data.GetProperty("accessTokenLifetime").GetInt32());
    }

    public static TheoryData<string, string> InvalidKindBodies => new()
    {
        { """{"name":"x","applicationType":"desktop"}""", "applicationType" },
        { """{"name":"x","applicationType":"spa","isConfidential":true,"redirectUris":["https://a.example.com/cb"]}""", "isConfidential" },
        { """{"name":"x","applicationType":"web","redirectUris":["myapp://callback"]}""", "redirectUris" },
        { """{"name":"x","applicationType":"spa","redirectUris":["myapp://callback"]}""", "redirectUris" },
        { """{"name":"x","applicationType":"native","redirectUris":["javascript://alert(1)"]}""", "redirectUris" },
        { """{"name":"x","applicationType":"web","redirectUris":["https://*.example.com/cb"]}""", "redirectUris" },
        { """{"name":"x","applicationType":"m2m","grantTypes":["authorization_code"],"redirectUris":["https://a.example.com/cb"]}""", "grantTypes" },
        { """{"name":"x","applicationType":"spa","redirectUris":["https://a.example.com/cb"],"requiresPkce":false}""", "requiresPkce" },
        { """{"name":"x","applicationType":"spa","redirectUris":["https://a.example.com/cb"],"allowedOrigins":["https://a.example.com/path"]}""", "allowedOrigins" },
        { """{"name":"x","applicationType":"spa","redirectUris":["https://a.example.com/cb"],"allowedOrigins":["http://a.example.com"]}""", "allowedOrigins" },
        { """{"name":"x","applicationType":"native","redirectUris":["myapp://cb"],"allowedOrigins":["https://a.example.com"]}""", "allowedOrigins" },
        { """{"name":"x","applicationType":"web","redirectUris":["https://a.example.com/cb"],"postLogoutRedirectUris":["http://evil.example.com/"]}""", "postLogoutRedirectUris" },
        { """{"name":"x","accessTokenLifetime":86401}""", "accessTokenLifetime" },
        { """{"name":"x","refreshTokenLifetime":10}""", "refreshTokenLifetime" },
    };

    [Theory]
    [MemberData(nameof(InvalidKindBodies))]
    public async Task CreateClient_KindRuleBroken_ReturnsValidationErrorForTheField(string body, string field)
    {
        using var admin = factory.AdminClient(factory.Acme);
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");

        using var response = await admin.PostAsync(Clients(factory.Acme), content);

        var json = await HttpAssert.EnvelopeAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(json.GetProperty("details").TryGetProperty(field, out _), json.ToString());
    }

    [Fact]
    public async Task CreateClient_AccessTokenLifetime_IsTheTokensLifetime()
    {
        var created = await factory.CreateOAuthClientAsync(factory.Acme, new { name = "short", accessTokenLifetime = 120 });

        using var response = await factory.ClientCredentialsAsync(factory.Acme, created);

        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        Assert.InRange(json.GetProperty("expires_in").GetInt32(), 118, 120);
        var jwt = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(json.GetProperty("access_token").GetString());
        Assert.InRange((jwt.ValidTo - jwt.IssuedAt).TotalSeconds, 119, 121);
    }

    [Fact]
    public async Task UpdateClient_PublicToConfidential_NeedsARotatedSecret()
    {
        var created = await factory.CreateOAuthClientAsync(factory.Acme, new { name = "native", isConfidential = false, redirectUris = new[] { "http://127.0.0.1/cb" } });
        using var admin = factory.AdminClient(factory.Acme);

        using var updated = await admin.PutAsJsonAsync($"{Clients(factory.Acme)}/{created.ClientId}", new { applicationType = "web" });
        var data = (await HttpAssert.JsonAsync(updated, HttpStatusCode.OK)).GetProperty("data");
        using var rotated = await admin.PostAsync($"{Clients(factory.Acme)}/{created.ClientId}/rotate-secret", null);

        Assert.True(data.GetProperty("isConfidential").GetBoolean());
        Assert.Equal("web", data.GetProperty("applicationType").GetString());
        Assert.Equal(JsonValueKind.String, (await HttpAssert.JsonAsync(rotated, HttpStatusCode.OK)).GetProperty("data").GetProperty("secret").ValueKind);
    }
}
