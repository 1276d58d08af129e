using System.Net.Http.Json;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Clients;
using LumoAuth.Contracts.Users;
using LumoAuth.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Admin.Tests;

public sealed class AuditAndInternalTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    [Fact]
    public async Task CreatingAUser_LandsInTheAuditLogFromItsEvent()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        using var created = await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "audited@example.com" });
        var userId = (await ApiAssert.OkAsync(created, 201))["data"]!["id"]!.GetValue<string>();

        var entry = await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_created&targetId={userId}"));
            return page["data"]!.AsArray().FirstOrDefault()?.AsObject();
        });
        Assert.Equal("user_management", entry["category"]!.GetValue<string>());
        Assert.Equal("api_key", entry["actor"]!["type"]!.GetValue<string>());
        Assert.StartsWith("log_", entry["id"]!.GetValue<string>());

        using var single = await client.GetAsync($"{tenant.Api}/admin/audit-logs/{entry["id"]!.GetValue<string>()}");
        await ApiAssert.OkAsync(single);
        using var missing = await client.GetAsync($"{tenant.Api}/admin/audit-logs/log_{Guid.NewGuid():N}");
        await ApiAssert.ErrorAsync(missing, 404, "resource_not_found");
    }

    [Fact]
    public async Task RedeliveredEvent_ProducesOneAuditEntry()
    {
        var tenant = await factory.CreateTenantAsync();
        var bus = factory.Services.GetRequiredService<IBus>();
        var messageId = Guid.NewGuid();
        var userId = Guid.NewGuid();
        var @event = new UserCreated(userId, "twice@example.com", false) { TenantId = tenant.Id };
        await bus.Publish(@event, ctx => ctx.MessageId = messageId);
        await bus.Publish(@event, ctx => ctx.MessageId = messageId);

        using var client = factory.ClientFor(tenant);
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?targetId={userId}"));
            return page["meta"]!["total"]!.GetValue<long>() >= 1 ? page : null;
        });
        await Task.Delay(1000);
        var final = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?targetId={userId}"));
        Assert.Equal(1, final["meta"]!["total"]!.GetValue<long>());
        // The entry is keyed by the event it records.
        Assert.Equal($"log_{messageId:N}", final["data"]![0]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task BatchedTokenIssuance_IsOneAuditEntryPerToken_AndARedeliveryAddsNone()
    {
        var tenant = await factory.CreateTenantAsync();
        var clientId = $"batch-{Guid.NewGuid():N}";
        var batch = new AccessTokensIssued(
        [
            .. Enumerable.Range(0, 3).Select(i => new IssuedAccessToken(clientId, "client_credentials", null, Guid.NewGuid().ToString(), ["orders.read"], DateTimeOffset.UtcNow)
            {
                IpAddress = $"203.0.113.{i + 1}",
            }),
        ])
        { TenantId = tenant.Id };
        var bus = factory.Services.GetRequiredService<IBus>();
        var messageId = Guid.NewGuid();
        await bus.Publish(batch, ctx => ctx.MessageId = messageId);
        await bus.Publish(batch, ctx => ctx.MessageId = messageId);

        using var client = factory.ClientFor(tenant);
        var path = $"{tenant.Api}/admin/audit-logs?action=access_token_issued&targetId={clientId}";
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync(path));
            return page["meta"]!["total"]!.GetValue<long>() >= 3 ? page : null;
        });
        await Task.Delay(1000);
        var final = await ApiAssert.OkAsync(await client.GetAsync(path));
        Assert.Equal(3, final["meta"]!["total"]!.GetValue<long>());
        var entries = final["data"]!.AsArray().Select(e => e!.AsObject()).ToList();
        Assert.All(entries, e => Assert.Equal("token_management", e["category"]!.GetValue<string>()));
        Assert.All(entries, e => Assert.Equal("client", e["actor"]!["type"]!.GetValue<string>()));
        Assert.Equal(
            batch.Tokens.Select(t => t.IpAddress).Order(),
            entries.Select(e => e["ipAddress"]?.GetValue<string>()).Order());
        Assert.Equal(batch.Tokens.Select(t => t.TokenId).Order(), entries.Select(e => e["metadata"]!["tokenId"]!.GetValue<string>()).Order());
        // The metadata is the event's own facts: the envelope (tenant, time, actor, origin) has columns of its own.
        Assert.All(entries, e => Assert.Equal(
            ["clientId", "grantType", "scopes", "subject", "tokenId"],
            e["metadata"]!.AsObject().Select(p => p.Key).Order()));
    }

    [Fact]
    public async Task ABatchItemWithValuesLongerThanTheirColumns_IsRecorded_AndTheRestOfTheBatchToo()
    {
        // A client id may be the URL of its metadata document (up to 1,000 characters); a browser string can be anything.
        var tenant = await factory.CreateTenantAsync();
        var urlClient = "https://clients.example.com/" + new string('c', 960);
        var plainClient = $"plain-{Guid.NewGuid():N}";
        var batch = new AccessTokensIssued(
        [
            new IssuedAccessToken(urlClient, "authorization_code", Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), ["openid"], DateTimeOffset.UtcNow)
            {
                UserAgent = new string('u', 5000),
            },
            new IssuedAccessToken(plainClient, "client_credentials", null, Guid.NewGuid().ToString(), ["orders.read"], DateTimeOffset.UtcNow),
        ])
        { TenantId = tenant.Id };
        await factory.Services.GetRequiredService<IBus>().Publish(batch);

        using var client = factory.ClientFor(tenant);
        var plain = await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=access_token_issued&targetId={plainClient}")))["data"]!.AsArray().FirstOrDefault());
        var long_ = await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=access_token_issued&targetId={Uri.EscapeDataString(urlClient)}")))["data"]!.AsArray().FirstOrDefault());
        Assert.Equal(plainClient, plain["target"]!["id"]!.GetValue<string>());
        Assert.Equal(urlClient, long_["target"]!["id"]!.GetValue<string>());
        Assert.Equal(512, long_["userAgent"]!.GetValue<string>().Length);
    }

    [Fact]
    public async Task AuditLogs_OfAnotherTenant_AreInvisible()
    {
        var a = await factory.CreateTenantAsync();
        var b = await factory.CreateTenantAsync();
        using var clientB = factory.ClientFor(b);
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await clientB.GetAsync($"{b.Api}/admin/audit-logs?action=tenant_created"));
            return page["meta"]!["total"]!.GetValue<long>() >= 1 ? page : null;
        });
        var all = await ApiAssert.OkAsync(await clientB.GetAsync($"{b.Api}/admin/audit-logs?limit=100"));
        Assert.DoesNotContain(a.Id.ToString(), all.ToJsonString());
    }

    [Fact]
    public async Task AuditLogs_FilterByCategoryActorAndTimeRange()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var userId = await factory.CreateUserAsync(tenant, "filtered@example.com");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/settings", new { branding = new { primaryColor = "#123456" } }));
        var created = await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?category=user_management"));
            return page["data"]!.AsArray().FirstOrDefault(e => e!["target"]?["id"]?.GetValue<string>() == userId.ToString())?.AsObject();
        });
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?category=configuration&action=tenant_settings_changed"));
            return page["meta"]!["total"]!.GetValue<long>() >= 1 ? page : null;
        });

        // category: only its own entries
        var management = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?category=user_management"));
        Assert.All(management["data"]!.AsArray(), e => Assert.Equal("user_management", e!["category"]!.GetValue<string>()));

        // actorId: the API key that made the changes, and nobody else's
        var actorId = created["actor"]!["id"]!.GetValue<string>();
        var byActor = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?actorId={Uri.EscapeDataString(actorId)}"));
        Assert.True(byActor["meta"]!["total"]!.GetValue<long>() >= 2);
        var byStranger = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?actorId=nobody"));
        Assert.Equal(0, byStranger["meta"]!["total"]!.GetValue<long>());

        // startDate/endDate around the entry's time, and a window before it
        var at = DateTimeOffset.Parse(created["timestamp"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        string Range(DateTimeOffset from, DateTimeOffset to) =>
            $"{tenant.Api}/admin/audit-logs?targetId={userId}&startDate={Uri.EscapeDataString(from.ToString("O"))}&endDate={Uri.EscapeDataString(to.ToString("O"))}";
        Assert.Equal(1, (await ApiAssert.OkAsync(await client.GetAsync(Range(at.AddMinutes(-1), at.AddMinutes(1)))))["meta"]!["total"]!.GetValue<long>());
        Assert.Equal(0, (await ApiAssert.OkAsync(await client.GetAsync(Range(at.AddHours(-2), at.AddHours(-1)))))["meta"]!["total"]!.GetValue<long>());
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?startDate=yesterday"), 400, "invalid_request");
    }

    /// <summary>CIBA's login_hint: the user an address or a username names, in any letter case, only in the tenant asked about.</summary>
    [Fact]
    public async Task InternalUserByLogin_FindsByAddressOrUsername_InAnyCase_OnlyInItsTenant()
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var userId = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "kiosk@example.com", username = "Kiosk.Agent" }), 201))
            ["data"]!["id"]!.GetValue<string>();
        using var internalClient = factory.Internal();
        async Task<System.Net.HttpStatusCode> FindAsync(Guid tenantId, string login, bool expectUser = false)
        {
            using var response = await internalClient.GetAsync($"/internal/v1/users/by-login?tenantId={tenantId}&login={Uri.EscapeDataString(login)}");
            if (expectUser)
            {
                Assert.Contains(userId, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            return response.StatusCode;
        }

        Assert.Equal(System.Net.HttpStatusCode.OK, await FindAsync(tenant.Id, "KIOSK.agent", expectUser: true));
        Assert.Equal(System.Net.HttpStatusCode.OK, await FindAsync(tenant.Id, "Kiosk@Example.com", expectUser: true));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, await FindAsync(tenant.Id, "kiosk.agen%"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, await FindAsync(other.Id, "kiosk.agent"));
    }

    [Fact]
    public async Task InternalApi_RequiresTheInternalKey()
    {
        var tenant = await factory.CreateTenantAsync();
        using var anonymous = factory.CreateDirectClient();
        using var refused = await anonymous.GetAsync($"/internal/v1/tenants/by-slug/{tenant.Slug}");
        await ApiAssert.ErrorAsync(refused, 401, "unauthorized");

        using var wrong = factory.CreateDirectClient();
        wrong.DefaultRequestHeaders.Add("X-Internal-Key", "not-the-key");
        using var refusedWrong = await wrong.GetAsync($"/internal/v1/tenants/by-slug/{tenant.Slug}");
        await ApiAssert.ErrorAsync(refusedWrong, 401, "unauthorized");

        using var internalClient = factory.Internal();
        var info = await ApiAssert.OkAsync(await internalClient.GetAsync($"/internal/v1/tenants/by-slug/{tenant.Slug}"));
        Assert.Equal(tenant.Id.ToString(), info["id"]!.GetValue<string>());
        // By id, for jobs across tenants; an unknown id is not found, and the key is needed as for every internal call.
        var byId = await ApiAssert.OkAsync(await internalClient.GetAsync($"/internal/v1/tenants/{tenant.Id}"));
        Assert.Equal(tenant.Slug, byId["slug"]!.GetValue<string>());
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await internalClient.GetAsync($"/internal/v1/tenants/{Guid.NewGuid()}")).StatusCode);
        await ApiAssert.ErrorAsync(await anonymous.GetAsync($"/internal/v1/tenants/{tenant.Id}"), 401, "unauthorized");

        using var verified = await internalClient.PostAsJsonAsync("/internal/v1/api-keys/verify", new { tenantId = tenant.Id, key = tenant.ApiKey });
        await ApiAssert.OkAsync(verified);
        using var foreign = await internalClient.PostAsJsonAsync("/internal/v1/api-keys/verify", new { tenantId = Guid.NewGuid(), key = tenant.ApiKey });
        Assert.Equal(System.Net.HttpStatusCode.NotFound, foreign.StatusCode);
        using var keyless = await internalClient.PostAsJsonAsync("/internal/v1/api-keys/verify", new { tenantId = tenant.Id });
        Assert.Equal(System.Net.HttpStatusCode.NotFound, keyless.StatusCode);

        // From outside, even with the key, the gateway has no route to it.
        using var outside = factory.CreateClient();
        outside.DefaultRequestHeaders.Add("X-Internal-Key", TestInfrastructure.InternalKey);
        await ApiAssert.ErrorAsync(await outside.GetAsync($"/internal/v1/tenants/by-slug/{tenant.Slug}"), 404, "route_not_found");
    }
}
