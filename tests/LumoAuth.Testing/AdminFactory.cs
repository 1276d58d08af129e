using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Admin.Data;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Testing;

/// <summary>
/// The admin service in-process against real PostgreSQL and RabbitMQ, with its own database. Other
/// services' tests run it beside them and point their internal admin client at it (<see cref="AdminHandler"/>),
/// so tenant and API-key lookups are the real ones.
/// </summary>
public sealed class AdminFactory() : ServiceFactory<AdminDbContext, AdminDbContext>(ServiceNames.AdminDb)
{
    /// <summary>Extra configuration for this instance (e.g. <c>Webhooks:AllowPrivateTargets</c> for a local receiver).</summary>
    public IDictionary<string, string?> ExtraSettings { get; init; } = new Dictionary<string, string?>();

    /// <summary>
    /// A handler into an in-process authorization service for admin's internal authorization client. A factory,
    /// called on first use: that service is built after admin (it needs admin to resolve tenants).
    /// </summary>
    public Func<HttpMessageHandler>? AuthorizationHandler { get; init; }

    /// <summary>Extra registrations for this instance (e.g. a logger provider that records what the service logs).</summary>
    public Action<IServiceCollection>? ExtraServices { get; init; }

    protected override IDictionary<string, string?> Settings => ExtraSettings;

    protected override void ConfigureServices(IServiceCollection services)
    {
        if (AuthorizationHandler is { } handler)
        {
            services.AddHttpClient(InternalClients.Authorization).ConfigurePrimaryHttpMessageHandler(handler);
        }

        ExtraServices?.Invoke(services);
    }

    public HttpClient Platform()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-Platform-Key", TestInfrastructure.PlatformKey);
        return client;
    }

    /// <summary>Creates a tenant through the platform API; returns its slug and first API key.</summary>
    public async Task<TestTenant> CreateTenantAsync(string? slug = null)
    {
        slug ??= "t" + Guid.NewGuid().ToString("N")[..12];
        using var platform = Platform();
        using var response = await platform.PostAsJsonAsync("/api/v1/tenants", new
        {
            slug, name = "Tenant " + slug, adminEmail = $"admin@{slug}.example.com",
        });
        response.EnsureSuccessStatusCode();
        var data = (await response.Content.ReadFromJsonAsync<JsonObject>())!["data"]!;
        return new TestTenant(slug, Guid.Parse(data["tenant"]!["id"]!.GetValue<string>()), data["apiKey"]!["key"]!.GetValue<string>());
    }

    public HttpClient ClientFor(TestTenant tenant)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        return client;
    }

    /// <summary>Creates a user in the tenant through the admin API; returns its id.</summary>
    public async Task<Guid> CreateUserAsync(TestTenant tenant, string email, string? password = null, string? name = null)
    {
        using var client = ClientFor(tenant);
        using var response = await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email, password, name });
        response.EnsureSuccessStatusCode();
        return Guid.Parse((await response.Content.ReadFromJsonAsync<JsonObject>())!["data"]!["id"]!.GetValue<string>());
    }

    /// <summary>Creates a group in the tenant through the admin API; returns its id.</summary>
    public async Task<Guid> CreateGroupAsync(TestTenant tenant, string name, string? slug = null)
    {
        using var client = ClientFor(tenant);
        using var response = await client.PostAsJsonAsync($"{tenant.Api}/admin/groups", new { name, slug });
        response.EnsureSuccessStatusCode();
        return Guid.Parse((await response.Content.ReadFromJsonAsync<JsonObject>())!["data"]!["id"]!.GetValue<string>());
    }

    /// <summary>An HTTP handler into this in-process admin, for another service's internal admin client.</summary>
    public HttpMessageHandler AdminHandler() => Server.CreateHandler();

    public HttpClient Internal()
    {
        var client = CreateDirectClient();
        client.DefaultRequestHeaders.Add("X-Internal-Key", TestInfrastructure.InternalKey);
        return client;
    }

    /// <summary>
    /// Waits until at least <paramref name="count"/> statements matching <paramref name="queryLike"/> (an SQL LIKE pattern)
    /// wait for a row lock in admin's database: how a test lines requests up behind a lock it holds, without timing.
    /// </summary>
    public Task WaitForLockWaitersAsync(string queryLike, int count = 1) =>
        ApiAssert.EventuallyAsync(async () =>
        {
            await using var scope = Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            var waiting = await db.Database.SqlQuery<int>($"""
                SELECT count(*)::int AS "Value" FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE {queryLike}
                """).SingleAsync();
            return waiting >= count ? (object?)waiting : null;
        }, TimeSpan.FromSeconds(60));

    /// <summary>Waits until the outbox relay has published every event written for the tenant so far.</summary>
    public async Task WaitForOutboxAsync(TestTenant tenant) =>
        await ApiAssert.EventuallyAsync(async () =>
        {
            await using var scope = Services.CreateAsyncScope();
            var waiting = await scope.ServiceProvider.GetRequiredService<AdminDbContext>().Set<LumoAuth.Messaging.Outbox.OutboxMessage>()
                .AnyAsync(m => m.TenantId == tenant.Id);
            return waiting ? null : "published";
        });

    /// <summary>Stores a sign-in link for the user as admin would have mailed it (<paramref name="token"/> is what the link carries).</summary>
    public async Task PlantMagicLinkAsync(TestTenant tenant, Guid userId, string token)
    {
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        db.MagicLinkTokens.Add(new MagicLinkToken
        {
            Id = Guid.NewGuid(), TenantId = tenant.Id, UserId = userId, TokenHash = LumoAuth.Admin.Features.Credentials.TokenRedemptionEndpoints.HashOf(token),
            CreatedAt = DateTimeOffset.UtcNow, ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(10),
        });
        await db.SaveChangesAsync();
    }

    /// <summary>Stores a password reset link for the user, living <paramref name="lifetime"/> (an hour when not given).</summary>
    public async Task PlantResetTokenAsync(TestTenant tenant, Guid userId, string token, TimeSpan? lifetime = null)
    {
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        db.PasswordResetTokens.Add(new PasswordResetToken
        {
            Id = Guid.NewGuid(), TenantId = tenant.Id, UserId = userId, TokenHash = LumoAuth.Admin.Features.Credentials.TokenRedemptionEndpoints.HashOf(token),
            CreatedAt = DateTimeOffset.UtcNow, ExpiresAt = DateTimeOffset.UtcNow + (lifetime ?? TimeSpan.FromHours(1)),
        });
        await db.SaveChangesAsync();
    }
}
