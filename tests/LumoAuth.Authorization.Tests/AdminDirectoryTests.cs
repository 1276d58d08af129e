using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;

namespace LumoAuth.Authorization.Tests;

/// <summary>Role assignments name users and groups that admin owns: unknown or foreign ids are 404, and an unreachable admin is a 503.</summary>
public sealed class AdminDirectoryTests(AdminOutageSuite suite) : IClassFixture<AdminOutageSuite>
{
    [Fact]
    public async Task GroupRoles_UnknownOrForeignGroup_Returns404()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var other = await suite.Admin.CreateTenantAsync();
        var foreignGroup = await suite.Admin.CreateGroupAsync(other, "Theirs");
        var groupId = await suite.Admin.CreateGroupAsync(tenant, "Ours");
        using var client = AuthorizationSuite.ClientFor(suite.Authorization, tenant);

        foreach (var id in new[] { Guid.NewGuid(), foreignGroup })
        {
            await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/{id}/roles", new { roles = new[] { "user" } }), 404, "resource_not_found");
            await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/groups/{id}/roles"), 404, "resource_not_found");
        }

        var assigned = await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/roles", new { roles = new[] { "user" } }));
        Assert.Equal(["user"], assigned["data"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/roles", new { }), 400, "validation_error");
    }

    [Fact]
    public async Task InternalGroupLookup_NeedsTheInternalKeyAndTenant_AndHidesOtherTenants()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var other = await suite.Admin.CreateTenantAsync();
        var groupId = await suite.Admin.CreateGroupAsync(tenant, "Lookup", "lookup");
        var path = InternalRoutes.Group.Replace("{groupId:guid}", groupId.ToString(), StringComparison.Ordinal);
        using var internalClient = suite.Admin.Internal();

        var found = await ApiAssert.OkAsync(await internalClient.GetAsync($"{path}?tenantId={tenant.Id}"));
        Assert.Equal("lookup", found["slug"]!.GetValue<string>());
        Assert.Equal(tenant.Id, Guid.Parse(found["tenantId"]!.GetValue<string>()));
        await ApiAssert.ErrorAsync(await internalClient.GetAsync($"{path}?tenantId={other.Id}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await internalClient.GetAsync(path), 400, "validation_error");

        using var anonymous = suite.Admin.CreateDirectClient();
        await ApiAssert.ErrorAsync(await anonymous.GetAsync($"{path}?tenantId={tenant.Id}"), 401, "unauthorized");
        using var throughGateway = suite.Admin.CreateClient();
        throughGateway.DefaultRequestHeaders.Add(InternalRoutes.InternalKeyHeader, TestInfrastructure.InternalKey);
        await ApiAssert.ErrorAsync(await throughGateway.GetAsync($"{path}?tenantId={tenant.Id}"), 404, "route_not_found");
    }

    [Fact]
    public async Task Assignments_AdminUnreachable_FailClosedWith503()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var groupId = await suite.Admin.CreateGroupAsync(tenant, "Cut off");
        var userId = await suite.Admin.CreateUserAsync(tenant, "cut@example.com");
        using var client = AuthorizationSuite.ClientFor(suite.Authorization, tenant);
        // While admin answers, the tenant and the API key are resolved (and cached) as usual.
        await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/groups/{groupId}/roles"));

        suite.Link.Cut();
        try
        {
            await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/roles", new { roles = new[] { "user" } }), 503, "service_unavailable");
            await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = new[] { "user" } }), 503, "service_unavailable");
        }
        finally
        {
            suite.Link.Restore();
        }

        var roles = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/groups/{groupId}/roles"));
        Assert.Empty(roles["data"]!["roles"]!.AsArray());
    }

    [Fact]
    public async Task AbacCheck_NeedingAdminsFacts_FailsClosedWhileAdminIsUnreachable()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var userId = await suite.Admin.CreateUserAsync(tenant, "facts@example.com");
        using var client = AuthorizationSuite.ClientFor(suite.Authorization, tenant);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", new
        {
            name = "Unverified addresses may not delete", effect = "deny", priority = 500,
            target = new { resources = new[] { "file" }, actions = new[] { "delete" } },
            conditions = new { all = new[] { new { attribute = "user.emailVerified", @operator = "equals", value = false } } },
        }), 201);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", new
        {
            name = "Everyone reads and deletes files", effect = "allow", priority = 100,
            target = new { resources = new[] { "file" }, actions = new[] { "read", "delete" } },
            conditions = new { all = new[] { new { attribute = "resource.type", @operator = "equals", value = "file" } } },
        }), 201);
        object Check(string action) => new { resourceType = "file", resourceId = "f1", action, subject = userId.ToString() };
        var denied = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", Check("delete")));
        Assert.False(denied["allowed"]!.GetValue<bool>());

        suite.Link.Cut();
        try
        {
            // Without admin the deny policy cannot be judged: no answer rather than an allow.
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", Check("delete")), 503, "service_unavailable");
            await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/abac/my-attributes?subject={userId}"), 503, "service_unavailable");
            // A check whose policies read nothing admin knows is answered as ever.
            Assert.True((await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", Check("read"))))["allowed"]!.GetValue<bool>());
        }
        finally
        {
            suite.Link.Restore();
        }

        Assert.False((await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", Check("delete"))))["allowed"]!.GetValue<bool>());
    }
}

/// <summary>The authorization service beside a real admin, over a link the test can cut: requests then meet a closed loopback port.</summary>
public sealed class AdminOutageSuite : IAsyncLifetime
{
    public AdminFactory Admin { get; } = new();

    public AdminLink Link { get; } = new();

    public AuthorizationFactory Authorization { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Admin.InitializeAsync();
        Authorization = new AuthorizationFactory(Admin, adminHandler: () => new AdminLinkHandler(Link, Admin.AdminHandler()));
        await Authorization.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await Authorization.DisposeAsync();
        await Admin.DisposeAsync();
    }
}

public sealed class AdminLink
{
    private volatile bool _cut;

    // Held for the whole run: connections to it are refused by the operating system, and no other server can take it.
    private readonly ClosedPort _closedPort = LoopbackApp.ClosedPort();

    /// <summary>A loopback port nothing listens on.</summary>
    public int ClosedPort => _closedPort.Port;

    public bool IsCut => _cut;

    public void Cut() => _cut = true;

    public void Restore() => _cut = false;
}

/// <summary>Sends to the in-process admin while the link is up, and to the closed port once it is cut.</summary>
public sealed class AdminLinkHandler(AdminLink link, HttpMessageHandler admin) : DelegatingHandler(admin)
{
    private readonly HttpMessageInvoker _network = new(new SocketsHttpHandler());

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!link.IsCut)
        {
            return base.SendAsync(request, cancellationToken);
        }

        request.RequestUri = new UriBuilder(request.RequestUri!) { Host = IPAddress.Loopback.ToString(), Port = link.ClosedPort }.Uri;
        return _network.SendAsync(request, cancellationToken);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _network.Dispose();
        }

        base.Dispose(disposing);
    }
}
