using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LumoAuth.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// Walks every tenant-scoped endpoint the service maps (read from its route table, so a new endpoint joins
/// the walk by itself): with a second tenant's credential every one answers 401, and with the first
/// tenant's credential against the second tenant's ids every one answers 404.
/// </summary>
public sealed class TenantIsolationWalkTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private const string TenantPrefix = "/t/{tenantSlug}/api/v1/";

    internal sealed record TenantIds(TestTenant Tenant, IReadOnlyDictionary<string, string> Ids);

    /// <summary>A tenant with one of each thing the route table has an id for.</summary>
    internal static async Task<TenantIds> SeedAsync(AdminFactory factory)
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var userId = await factory.CreateUserAsync(tenant, $"walker@{tenant.Slug}.example.com");
        var groupId = await factory.CreateGroupAsync(tenant, "Walkers");
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/members", new { userIds = new[] { userId.ToString() } }));
        var webhook = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/webhooks",
            new { url = "https://hooks.invalid/walk", events = new[] { "user.created" } }), 201))["data"]!["webhook"]!["id"]!.GetValue<string>();
        var delivery = (await ApiAssert.OkAsync(await client.PostAsync($"{tenant.Api}/admin/webhooks/{webhook}/test", null)))["data"]!["deliveryId"]!.GetValue<string>();
        var apiKey = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = "walk" }), 201))["data"]!["id"]!.GetValue<string>();
        var invitation = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = $"invitee@{tenant.Slug}.example.com" }), 201))["data"]!["id"]!.GetValue<string>();
        var domain = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/custom-domains", new { domain = $"login.{tenant.Slug}.example.com" }), 201))["data"]!["id"]!.GetValue<string>();
        // A passkey needs a browser ceremony; the walk only needs a row of this tenant's.
        var passkey = Guid.CreateVersion7();
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<LumoAuth.Admin.Data.AdminDbContext>();
            db.Passkeys.Add(new LumoAuth.Admin.Data.PasskeyCredential
            {
                Id = passkey, TenantId = tenant.Id, UserId = userId, CredentialId = Guid.NewGuid().ToByteArray(), PublicKey = [1], UserHandle = userId.ToByteArray(),
                CreatedAt = DateTimeOffset.UtcNow,
            });
            await db.SaveChangesAsync();
        }

        var log = await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs")))["data"]!.AsArray().FirstOrDefault()?["id"]?.GetValue<string>());
        return new TenantIds(tenant, new Dictionary<string, string>
        {
            ["tenantSlug"] = tenant.Slug, ["userId"] = userId.ToString(), ["groupId"] = groupId.ToString(), ["webhookId"] = webhook,
            ["deliveryId"] = delivery, ["apiKeyId"] = apiKey, ["logId"] = log, ["invitationId"] = invitation, ["passkeyId"] = passkey.ToString(),
            ["domainId"] = domain,
            // Not an id: the kind of mail a preview shows, the same for every tenant.
            ["kind"] = "password_reset",
        });
    }

    /// <summary>Tenant-scoped endpoints, except public ones (marked anonymous: the API description, SCIM discovery).</summary>
    private List<(string Method, string Pattern)> TenantEndpoints() =>
        factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } raw && raw.StartsWith(TenantPrefix, StringComparison.Ordinal)
                && e.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAllowAnonymous>() is null)
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []).Select(m => (m, e.RoutePattern.RawText!)))
            .Distinct()
            .ToList();

    private static string Fill(string pattern, IReadOnlyDictionary<string, string> ids, TestTenant pathTenant)
    {
        var path = new StringBuilder();
        foreach (var segment in pattern.Split('/'))
        {
            if (segment.StartsWith('{'))
            {
                var name = segment.Trim('{', '}').Split(':')[0].TrimStart('*');
                var value = name == "tenantSlug" ? pathTenant.Slug : ids.TryGetValue(name, out var id) ? id : throw new InvalidOperationException(
                    $"The walk has no id for route parameter '{name}' of {pattern}: seed one in {nameof(SeedAsync)}.");
                path.Append('/').Append(Uri.EscapeDataString(value));
            }
            else if (segment.Length > 0)
            {
                path.Append('/').Append(segment);
            }
        }

        return path.ToString();
    }

    private static HttpRequestMessage Request(string method, string path) =>
        new(new HttpMethod(method), path) { Content = method is "GET" or "DELETE" ? null : new StringContent("{}", Encoding.UTF8, "application/json") };

    [Fact]
    public async Task EveryEndpoint_WithAnotherTenantsApiKey_Returns401()
    {
        var a = await SeedAsync(factory);
        var b = await SeedAsync(factory);
        using var clientB = factory.ClientFor(b.Tenant);
        var endpoints = TenantEndpoints();
        Assert.True(endpoints.Count > 40, $"only {endpoints.Count} endpoints found");
        var failures = new List<string>();
        foreach (var (method, pattern) in endpoints)
        {
            using var request = Request(method, Fill(pattern, a.Ids, a.Tenant));
            using var response = await clientB.SendAsync(request);
            if ((int)response.StatusCode != 401)
            {
                failures.Add($"{method} {pattern}: {(int)response.StatusCode}");
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public async Task EveryEndpointWithAnId_WithTheOtherTenantsIds_Returns404()
    {
        var a = await SeedAsync(factory);
        var b = await SeedAsync(factory);
        using var clientA = factory.ClientFor(a.Tenant);
        var failures = new List<string>();
        var walked = 0;
        // A mail preview's {kind} names a template every tenant has, not a row of one: it has no other tenant's id to try.
        foreach (var (method, pattern) in TenantEndpoints().Where(e => e.Pattern.Count(c => c == '{') > 1 && !e.Pattern.Contains("{kind}", StringComparison.Ordinal)))
        {
            walked++;
            using var request = Request(method, Fill(pattern, b.Ids, a.Tenant));
            using var response = await clientA.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            if ((int)response.StatusCode != 404 || body.Contains("walker@" + b.Tenant.Slug, StringComparison.Ordinal))
            {
                failures.Add($"{method} {pattern}: {(int)response.StatusCode} {body}");
            }
        }

        Assert.True(walked > 30, $"only {walked} endpoints with ids");
        Assert.True(failures.Count == 0, string.Join('\n', failures));

        // And nothing of B changed: its user is still a member, its webhook still there.
        using var clientB = factory.ClientFor(b.Tenant);
        var group = (await ApiAssert.OkAsync(await clientB.GetAsync($"{b.Tenant.Api}/admin/groups/{b.Ids["groupId"]}")))["data"]!;
        Assert.Equal(1, group["memberCount"]!.GetValue<int>());
        await ApiAssert.OkAsync(await clientB.GetAsync($"{b.Tenant.Api}/admin/webhooks/{b.Ids["webhookId"]}"));
        await ApiAssert.OkAsync(await clientB.GetAsync($"{b.Tenant.Api}/admin/users/{b.Ids["userId"]}"));
    }

    [Fact]
    public async Task OpenApiDocument_DescribesTheTenantAdminApi_WithoutInternalRoutes()
    {
        var tenant = await factory.CreateTenantAsync();
        using var anonymous = factory.CreateClient();
        var document = JsonNode.Parse(await anonymous.GetStringAsync($"{tenant.Api}/admin/openapi.json"))!;
        var paths = document["paths"]!.AsObject().Select(p => p.Key).ToList();
        foreach (var expected in new[]
                 {
                     "/t/{tenantSlug}/api/v1/admin/users/{userId}", "/t/{tenantSlug}/api/v1/admin/groups/{groupId}/members",
                     "/t/{tenantSlug}/api/v1/admin/settings", "/t/{tenantSlug}/api/v1/admin/webhooks/{webhookId}/rotate-secret",
                     "/t/{tenantSlug}/api/v1/admin/audit-logs/export", "/t/{tenantSlug}/api/v1/admin/api-keys",
                 })
        {
            Assert.Contains(expected, paths);
        }

        Assert.DoesNotContain(paths, p => p.StartsWith("/internal/", StringComparison.Ordinal));
        // Every tenant-scoped endpoint of the route table is described.
        var described = document["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject().Select(m => (m.Key.ToUpperInvariant(), p.Key.TrimEnd('/')))).ToHashSet();
        var missing = TenantEndpoints().Where(e => !described.Contains((e.Method, StripConstraints(e.Pattern)))).ToList();
        Assert.True(missing.Count == 0, string.Join('\n', missing));
        // Instants are described as such (API answers write them in UTC by a converter of their own).
        var expiresAt = document["components"]!["schemas"]!["CreateApiKeyRequest"]!["properties"]!["expiresAt"]!;
        Assert.Equal("date-time", expiresAt["format"]!.GetValue<string>());
        Assert.Contains("string", expiresAt["type"]!.ToJsonString(), StringComparison.Ordinal);
    }

    private static string StripConstraints(string pattern) =>
        string.Join('/', pattern.Split('/').Select(s => s.StartsWith('{') ? "{" + s.Trim('{', '}').Split(':')[0] + "}" : s)).TrimEnd('/');
}
