using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;

namespace LumoAuth.Authorization.Tests;

/// <summary>
/// A user's or group's creation answer shows the roles it was just given, even while admin's decorative role lookups are
/// held back after a miss (a slow first answer on a cold start once left <c>roles: null</c> in a creation answer).
/// </summary>
public sealed class CreationRolesTests(MissedRoleLookupSuite suite) : IClassFixture<MissedRoleLookupSuite>
{
    [Fact]
    public async Task CreationAnswer_ShowsTheRolesGiven_WhileDecorativeLookupsArePaused()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.Admin.ClientFor(tenant);

        // A read misses its roles (the service answers 503) and pauses the lookups that decorate objects.
        var plain = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "plain@example.com" }), 201))["data"]!;
        Assert.Null(plain["roles"]);

        var created = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users",
            new { email = "given@example.com", roles = new[] { "user" } }), 201))["data"]!;
        Assert.Equal(["user"], RoleSlugs(created));
        var read = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{created["id"]!.GetValue<string>()}")))["data"]!;
        Assert.Null(read["roles"]);

        var group = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/groups", new { name = "Staff", roles = new[] { "user" } }), 201))["data"]!;
        Assert.Equal(["user"], RoleSlugs(group));
    }

    private static List<string> RoleSlugs(JsonNode created) => [.. created["roles"]!.AsArray().Select(r => r!["slug"]!.GetValue<string>())];
}

/// <summary>
/// Admin and authorization wired to each other; admin's decorative roles lookups (those not asking for a fully consistent
/// read) fail, which pauses them for an hour after the first.
/// </summary>
public sealed class MissedRoleLookupSuite() : AdminWithAuthorizationSuite(
    adminSettings: new Dictionary<string, string?> { ["RoleLookup:Pause"] = "01:00:00" },
    authorizationLink: inner => new DecorativeRoleLookupsFail { InnerHandler = inner });

/// <summary>Answers a roles-of-many question with a 503 unless it asks for a fully consistent read; passes everything else on.</summary>
public sealed class DecorativeRoleLookupsFail : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri!.AbsolutePath.EndsWith(LumoAuth.Contracts.Internal.InternalRoutes.RolesOfMany, StringComparison.Ordinal)
            && await request.Content!.ReadFromJsonAsync<LumoAuth.Contracts.Internal.RolesOfManyRequest>(cancellationToken) is { FullyConsistent: false })
        {
            return new HttpResponseMessage(System.Net.HttpStatusCode.ServiceUnavailable);
        }

        return await base.SendAsync(request, cancellationToken);
    }
}
