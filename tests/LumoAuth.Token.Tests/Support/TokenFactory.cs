extern alias TokenService;

using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Clients;
using LumoAuth.Contracts.Internal;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Testing;
using LumoAuth.Token.Data;
using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace LumoAuth.Token.Tests.Support;

/// <summary>
/// The token service in-process on its own database. Tenants and API keys come from small in-memory
/// sources (admin owns the real ones and is tested elsewhere). The outbox relay is off, so tests can
/// read the events a request wrote; what the service publishes directly (issued-token batches) is recorded.
/// </summary>
public sealed class TokenFactory : ServiceFactory<TokenService::Program, TokenDbContext>
{
    private readonly InMemoryTenants _tenants = new();
    private readonly PublishedMessages _published = new();

    public TokenFactory()
        : base(ServiceNames.TokenDb)
    {
        Acme = AddTenant("acme");
        Globex = AddTenant("globex");
    }

    public TestTenant Acme { get; }

    /// <summary>Admin is never there for this service alone: waiting out retries' backoff for it would only add seconds per call.</summary>
    protected override bool RetriesAtOnce => true;

    public TestTenant Globex { get; }

    /// <summary>A tenant of its own, for a test that must not see anyone else's data.</summary>
    public TestTenant AddTenant(string slugPrefix)
    {
        var slug = $"{slugPrefix}-{Guid.NewGuid():N}"[..(slugPrefix.Length + 9)];
        var info = new TenantInfo(Guid.NewGuid(), slug, slugPrefix, TenantStatuses.Active, "us");
        var tenant = new TestTenant(info, $"lk_test_{Guid.NewGuid():N}", $"{PublicBaseUrl}/t/{slug}/api/v1");
        _tenants.Add(tenant);
        return tenant;
    }

    public HttpClient AdminClient(TestTenant tenant)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add(ApiKeyAuthenticationHandler.HeaderName, tenant.ApiKey);
        return client;
    }

    public async Task<CreatedClient> CreateOAuthClientAsync(TestTenant tenant, object? body = null)
    {
        using var client = AdminClient(tenant);
        using var response = await client.PostAsJsonAsync(
            $"/t/{tenant.Slug}/api/v1/admin/clients",
            body ?? new { name = "test client", allowedScopes = new[] { "orders.read", "orders.write" } });
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        var data = json.GetProperty("data");
        return new CreatedClient(data.GetProperty("clientId").GetString()!, data.GetProperty("secret").GetString(), data);
    }

    /// <summary>A form POST to the tenant's token endpoint (or another OAuth endpoint under the issuer).</summary>
    public async Task<HttpResponseMessage> PostFormAsync(TestTenant tenant, string endpoint, Dictionary<string, string> form, AuthenticationHeaderValue? authorization = null)
    {
        using var http = CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Issuer}/{endpoint}") { Content = new FormUrlEncodedContent(form) };
        request.Headers.Authorization = authorization;
        return await http.SendAsync(request);
    }

    public Task<HttpResponseMessage> ClientCredentialsAsync(TestTenant tenant, CreatedClient client, string? scope = null, string? secret = null)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials" };
        if (scope is not null)
        {
            form["scope"] = scope;
        }

        return PostFormAsync(tenant, "oauth/token", form, HttpAssert.Basic(client.ClientId, secret ?? client.Secret!));
    }

    /// <summary>A client-credentials access token for the client, asserting success.</summary>
    public async Task<string> AccessTokenAsync(TestTenant tenant, CreatedClient client, string? scope = null)
    {
        using var response = await ClientCredentialsAsync(tenant, client, scope);
        var json = await HttpAssert.JsonAsync(response, System.Net.HttpStatusCode.OK);
        return json.GetProperty("access_token").GetString()!;
    }

    /// <summary>
    /// The audit event of an issued access token, by its jti, and the JSON of the batch message carrying it (the
    /// batcher publishes within a fraction of a second).
    /// </summary>
    public async Task<(string Message, JsonElement Token)> AccessTokenIssuedAsync(TestTenant tenant, string tokenId)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            foreach (var batch in _published.Messages.OfType<AccessTokensIssued>().Where(b => b.TenantId == tenant.Info.Id))
            {
                var message = JsonSerializer.Serialize(batch, MessagingJson.Options);
                foreach (var token in JsonDocument.Parse(message).RootElement.GetProperty("tokens").EnumerateArray())
                {
                    if (token.GetProperty("tokenId").GetString() == tokenId)
                    {
                        return (message, token.Clone());
                    }
                }
            }

            await Task.Delay(100);
        }

        throw new Xunit.Sdk.XunitException($"no AccessTokenIssued event for token {tokenId}");
    }

    /// <summary>The first published event of type <typeparamref name="T"/> that matches, waited for up to twenty seconds.</summary>
    public async Task<T> PublishedAsync<T>(Func<T, bool> match)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            if (_published.Messages.OfType<T>().FirstOrDefault(match) is { } found)
            {
                return found;
            }

            await Task.Delay(100);
        }

        throw new Xunit.Sdk.XunitException($"no matching {typeof(T).Name} was published");
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Services.GetRequiredService<IBus>().ConnectPublishObserver(_published);
    }

    public async Task<T> WithDbAsync<T>(Func<TokenDbContext, Task<T>> query)
    {
        await using var scope = Services.CreateAsyncScope();
        return await query(scope.ServiceProvider.GetRequiredService<TokenDbContext>());
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services =>
        {
            services.Replace(ServiceDescriptor.Singleton<ITenantSource>(_tenants));
            services.Replace(ServiceDescriptor.Singleton<IApiKeySource>(_tenants));
            services.Replace(ServiceDescriptor.Singleton<LumoAuth.Token.Protocol.IMcpResourceSource>(McpServers));
            var relay = services.Single(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(OutboxRelay<TokenDbContext>));
            services.Remove(relay);
        });
    }

    /// <summary>The tenants' MCP servers, as the agents service would list them (none until a test adds one).</summary>
    public InMemoryMcpServers McpServers { get; } = new();

    /// <summary>Every message the service publishes straight to the broker (the batcher's), as sent.</summary>
    private sealed class PublishedMessages : IPublishObserver
    {
        public ConcurrentQueue<object> Messages { get; } = new();

        public Task PrePublish<T>(PublishContext<T> context)
            where T : class => Task.CompletedTask;

        public Task PostPublish<T>(PublishContext<T> context)
            where T : class
        {
            Messages.Enqueue(context.Message);
            return Task.CompletedTask;
        }

        public Task PublishFault<T>(PublishContext<T> context, Exception exception)
            where T : class => Task.CompletedTask;
    }

    private sealed class InMemoryTenants : ITenantSource, IApiKeySource
    {
        private readonly ConcurrentDictionary<string, TestTenant> _bySlug = new();

        public void Add(TestTenant tenant) => _bySlug[tenant.Slug] = tenant;

        public Task<TenantInfo?> FindBySlugAsync(string slug, CancellationToken cancellationToken) =>
            Task.FromResult(_bySlug.TryGetValue(slug, out var tenant) ? tenant.Info : null);

        public Task<TenantInfo?> FindByIdAsync(Guid id, CancellationToken cancellationToken) =>
            Task.FromResult(_bySlug.Values.FirstOrDefault(t => t.Info.Id == id)?.Info);

        public Task<VerifiedApiKey?> VerifyAsync(Guid tenantId, string key, CancellationToken cancellationToken)
        {
            var owner = _bySlug.Values.FirstOrDefault(t => t.Info.Id == tenantId && t.ApiKey == key);
            return Task.FromResult(owner is null
                ? null
                : new VerifiedApiKey(owner.ApiKeyId, owner.Info.Id, "test key", ["admin"], null));
        }
    }
}

public sealed class InMemoryMcpServers : LumoAuth.Token.Protocol.IMcpResourceSource
{
    private readonly ConcurrentDictionary<Guid, ImmutableList<McpResource>> _byTenant = new();

    public void Add(TestTenant tenant, McpResource server) =>
        _byTenant.AddOrUpdate(tenant.Info.Id, [server], (_, servers) => servers.Add(server));

    public Task<IReadOnlyList<McpResource>> ListAsync(Guid tenantId, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<McpResource>>(_byTenant.TryGetValue(tenantId, out var servers) ? servers : []);
}

public sealed record TestTenant(TenantInfo Info, string ApiKey, string Issuer)
{
    public string Slug => Info.Slug;

    public Guid ApiKeyId { get; } = Guid.NewGuid();

    public string TokenEndpoint => Issuer + "/oauth/token";
}

public sealed record CreatedClient(string ClientId, string? Secret, JsonElement Data);

public static class HttpAssert
{
    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response, System.Net.HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    /// <summary>The REST envelope: <c>{error:true, status, code, message}</c>.</summary>
    public static async Task<JsonElement> EnvelopeAsync(HttpResponseMessage response, System.Net.HttpStatusCode expected, string code)
    {
        var json = await JsonAsync(response, expected);
        Assert.True(json.GetProperty("error").GetBoolean());
        Assert.Equal((int)expected, json.GetProperty("status").GetInt32());
        Assert.Equal(code, json.GetProperty("code").GetString());
        return json;
    }

    /// <summary>An RFC 6749 error: <c>{error, error_description}</c>, never the REST envelope.</summary>
    /// <param name="description">When given, the exact <c>error_description</c> (the docs' words, where they give them).</param>
    /// <summary>Asserts an OAuth error answer (status, <c>error</c>, optionally the exact description); the answer's JSON.</summary>
    public static async Task<JsonElement> OAuthErrorAsync(HttpResponseMessage response, System.Net.HttpStatusCode expected, string error, string? description = null)
    {
        var json = await JsonAsync(response, expected);
        Assert.Equal(JsonValueKind.String, json.GetProperty("error").ValueKind);
        Assert.Equal(error, json.GetProperty("error").GetString());
        Assert.False(json.TryGetProperty("code", out _));
        if (description is not null)
        {
            Assert.Equal(description, json.GetProperty("error_description").GetString());
        }

        return json;
    }

    public static AuthenticationHeaderValue Basic(string clientId, string secret) =>
        new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(
            Uri.EscapeDataString(clientId) + ":" + Uri.EscapeDataString(secret))));
}
