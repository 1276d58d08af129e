using System.Security.Claims;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Features.Rbac;
using LumoAuth.ServiceDefaults.Security;

namespace LumoAuth.Authorization.Tests;

/// <summary>Whose permissions an RBAC/ABAC check is about, for each kind of credential.</summary>
public sealed class CallerSubjectTests
{
    private static readonly string UserId = Guid.NewGuid().ToString();

    [Fact]
    public void Bearer_ChecksItsOwnSubject_UserOrAgent()
    {
        Assert.True(AuthzEndpoints.TrySubject(Bearer(UserId), null, out var user, out _));
        Assert.Equal(new SubjectRef("user", UserId), user);
        Assert.True(AuthzEndpoints.TrySubject(Bearer("summarizer"), null, out var agent, out _));
        Assert.Equal(new SubjectRef("agent", "summarizer"), agent);
        Assert.True(AuthzEndpoints.TrySubject(Bearer(UserId), $"user:{UserId}", out var named, out _));
        Assert.Equal(user, named);
    }

    [Fact]
    public void Bearer_WithoutAdminScope_CannotNameAnotherSubject()
    {
        Assert.False(AuthzEndpoints.TrySubject(Bearer(UserId), "user:someone-else", out _, out var error));
        Assert.Equal(403, ((Microsoft.AspNetCore.Http.IStatusCodeHttpResult)error!).StatusCode);
        Assert.True(AuthzEndpoints.TrySubject(Bearer(UserId, "openid admin:read"), "user:someone-else", out var other, out _));
        Assert.Equal("someone-else", other.Id);
    }

    [Fact]
    public void ApiKey_MustNameTheSubject()
    {
        var apiKey = new ClaimsPrincipal(new ClaimsIdentity([new Claim(LumoClaims.AuthMethod, "api_key")], "ApiKey"));
        Assert.False(AuthzEndpoints.TrySubject(apiKey, null, out _, out var error));
        Assert.Equal(400, ((Microsoft.AspNetCore.Http.IStatusCodeHttpResult)error!).StatusCode);
        Assert.True(AuthzEndpoints.TrySubject(apiKey, "agent:bot-1", out var agent, out _));
        Assert.Equal(new SubjectRef("agent", "bot-1"), agent);
        Assert.False(AuthzEndpoints.TrySubject(apiKey, "user:*", out _, out _));
        Assert.False(AuthzEndpoints.TrySubject(apiKey, "group:eng#member", out _, out _));
    }

    private static ClaimsPrincipal Bearer(string subject, string? scope = null)
    {
        var claims = new List<Claim> { new(LumoClaims.AuthMethod, "bearer"), new(LumoClaims.Subject, subject) };
        if (scope is not null)
        {
            claims.Add(new Claim(LumoClaims.Scope, scope));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, "TenantBearer"));
    }
}
