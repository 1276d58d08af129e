using System.Security.Claims;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>Which admin scopes let a caller through to which admin routes (the docs' API key scopes).</summary>
public sealed class AdminScopeHandlerTests
{
    [Theory]
    [InlineData("admin:read", "GET", "/t/acme/api/v1/admin/clients", true)]
    [InlineData("admin:read", "POST", "/t/acme/api/v1/admin/clients", false)]
    [InlineData("admin.write", "DELETE", "/t/acme/api/v1/admin/users/1", true)]
    [InlineData("admin:clients", "POST", "/t/acme/api/v1/admin/clients", true)]
    [InlineData("admin:clients", "GET", "/t/acme/api/v1/admin/clients/abc", true)]
    [InlineData("admin:clients", "GET", "/t/acme/api/v1/admin/scopes", true)]
    [InlineData("admin:clients", "GET", "/t/acme/api/v1/admin/users", false)]
    [InlineData("admin:clients", "GET", "/t/acme/api/v1/admin/clientsX", false)]
    [InlineData("admin:users", "DELETE", "/t/acme/api/v1/admin/users/1/sessions", true)]
    [InlineData("admin:users", "GET", "/t/acme/api/v1/admin/sessions", true)]
    [InlineData("admin:users", "POST", "/t/acme/api/v1/admin/roles", false)]
    [InlineData("admin:roles", "POST", "/t/acme/api/v1/admin/roles", true)]
    [InlineData("admin:groups", "PUT", "/t/acme/api/v1/admin/groups/g", true)]
    [InlineData("admin:webhooks", "POST", "/t/acme/api/v1/admin/webhooks", true)]
    [InlineData("admin:audit", "GET", "/t/acme/api/v1/admin/audit-logs", true)]
    [InlineData("admin:audit", "GET", "/t/acme/api/v1/admin/settings", false)]
    [InlineData("admin:users", "GET", "/t/admin/api/v1/users", false)]
    [InlineData("admin:users", "GET", "/t/admin/api/v1/roles", false)]
    [InlineData("admin:users", "GET", "/t/acme/api/v1/admin", false)]
    [InlineData("admin:users", "GET", "/t/acme/api/v1/sessions", false)]
    [InlineData("admin:users", "POST", "/t/acme/api/v1/invitations", true)]
    [InlineData("admin:users", "POST", "/t/acme/api/v1/users/1/roles", false)]
    [InlineData("admin:users", "PUT", "/t/acme/api/v1/admin/users/1/roles", false)]
    [InlineData("admin:groups", "PUT", "/t/acme/api/v1/admin/groups/g/roles", false)]
    [InlineData("admin:groups", "POST", "/t/acme/api/v1/groups/g/roles", false)]
    [InlineData("admin:roles", "PUT", "/t/acme/api/v1/admin/users/1/roles", true)]
    [InlineData("admin:roles", "POST", "/t/acme/api/v1/users/1/roles", true)]
    [InlineData("admin:roles", "POST", "/t/acme/api/v1/groups/g/roles", true)]
    [InlineData("admin:roles", "GET", "/t/acme/api/v1/users/1", false)]
    [InlineData("admin:users", "POST", "/t/acme/api/v1/gdpr/data-export", false)]
    [InlineData("admin:roles", "POST", "/t/acme/api/v1/permissions", true)]
    [InlineData("admin:groups", "POST", "/t/acme/api/v1/groups/g/members", true)]
    [InlineData("admin:groups", "POST", "/t/acme/api/v1/invitations", false)]
    [InlineData("openid", "GET", "/t/acme/api/v1/admin/clients", false)]
    // Routing ignores case, so the scope check does too: a differently cased role assignment is still one.
    [InlineData("admin:users", "PUT", "/t/acme/api/v1/admin/users/1/Roles", false)]
    [InlineData("admin:users", "PUT", "/t/acme/API/V1/Admin/Users/1/ROLES", false)]
    [InlineData("admin:groups", "POST", "/t/acme/api/v1/Groups/g/Roles", false)]
    [InlineData("admin:roles", "PUT", "/t/acme/api/v1/admin/Users/1/Roles", true)]
    [InlineData("admin:users", "GET", "/t/acme/API/v1/Admin/Users", true)]
    [InlineData("admin:users", "POST", "/t/acme/api/v1/Invitations", true)]
    public async Task Scope_OpensOnlyItsRoutes(string scope, string method, string path, bool allowed) =>
        Assert.Equal(allowed, await AllowsAsync(scope, method, pathBase: "", path));

    [Fact]
    public async Task ResourceScope_SeesTheFullPath_WhenAServiceMovedPartOfItIntoPathBase() =>
        Assert.True(await AllowsAsync("admin:clients", "POST", pathBase: "/t/acme/api/v1", path: "/admin/clients"));

    private static async Task<bool> AllowsAsync(string scope, string method, string pathBase, string path)
    {
        var http = new DefaultHttpContext();
        http.Request.Method = method;
        http.Request.PathBase = pathBase;
        http.Request.Path = path;
        var user = new ClaimsPrincipal(new ClaimsIdentity([new Claim(LumoClaims.Scope, scope)], "test"));
        var context = new AuthorizationHandlerContext([new AdminScopeRequirement()], user, http);

        await new AdminScopeHandler().HandleAsync(context);

        return context.HasSucceeded;
    }
}

/// <summary>Which scopes open the relationship store's tuples (writes, reads, changes feed).</summary>
public sealed class RelationshipScopeHandlerTests
{
    [Theory]
    [InlineData("zanzibar.write", "POST", true)]
    [InlineData("zanzibar:write", "DELETE", true)]
    [InlineData("zanzibar.write", "GET", true)]
    [InlineData("zanzibar.read", "GET", true)]
    [InlineData("zanzibar.read", "POST", false)]
    [InlineData("admin.write", "POST", true)]
    [InlineData("admin:read", "GET", true)]
    [InlineData("admin:read", "POST", false)]
    [InlineData("admin:users", "POST", false)]
    [InlineData("openid", "GET", false)]
    public async Task Scope_OpensTheTuples(string scope, string method, bool allowed)
    {
        var http = new DefaultHttpContext();
        http.Request.Method = method;
        http.Request.Path = "/t/acme/api/v1/zanzibar/tuples";
        var user = new ClaimsPrincipal(new ClaimsIdentity([new Claim(LumoClaims.Scope, scope)], "test"));
        var context = new AuthorizationHandlerContext([new RelationshipScopeRequirement()], user, http);

        await new RelationshipScopeHandler().HandleAsync(context);

        Assert.Equal(allowed, context.HasSucceeded);
    }

    [Theory]
    [InlineData("zanzibar.read", true)]
    [InlineData("admin:read", true)]
    [InlineData("admin:users", false)]
    [InlineData("openid", false)]
    public async Task Scope_OpensTheQueries_SentAsPost(string scope, bool allowed)
    {
        var http = new DefaultHttpContext();
        http.Request.Method = "POST";
        http.Request.Path = "/t/acme/api/v1/zanzibar/list-objects";
        var user = new ClaimsPrincipal(new ClaimsIdentity([new Claim(LumoClaims.Scope, scope)], "test"));
        var context = new AuthorizationHandlerContext([new RelationshipScopeRequirement { ReadsOnly = true }], user, http);

        await new RelationshipScopeHandler().HandleAsync(context);

        Assert.Equal(allowed, context.HasSucceeded);
    }
}
