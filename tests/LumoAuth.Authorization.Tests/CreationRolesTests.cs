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

        // A read misses its roles (the service answers 503) and pauses the lookups that decorate objects; the service is back after it.
        suite.Lookups.Failing = true;
        var plain = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "plain@example.com" }), 201))["data"]!;
        Assert.Null(plain["roles"]);
        suite.Lookups.Failing = false;

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
/// Admin and authorization wired to each other, with a switch that makes the roles lookups admin sends fail (503) while it
/// is on; after a failed decorative lookup admin pauses those for an hour.
/// </summary>
public sealed class MissedRoleLookupSuite : AdminWithAuthorizationSuite
{
    public MissedRoleLookupSuite()
        : this(new RoleLookupSwitch())
    {
    }

    private MissedRoleLookupSuite(RoleLookupSwitch lookups)
        : base(adminSettings: new Dictionary<string, string?> { ["RoleLookup:Pause"] = "01:00:00" }, authorizationLink: inner => new SwitchedRoleLookups(lookups) { InnerHandler = inner }) =>
        Lookups = lookups;

    public RoleLookupSwitch Lookups { get; }
}

public sealed class RoleLookupSwitch
{
    private volatile bool _failing;

    public bool Failing
    {
        get => _failing;
        set => _failing = value;
    }
}

/// <summary>Answers roles-of-many questions with a 503 while the switch is on; passes everything else on.</summary>
public sealed class SwitchedRoleLookups(RoleLookupSwitch lookups) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        lookups.Failing && request.RequestUri!.AbsolutePath.EndsWith(LumoAuth.Contracts.Internal.InternalRoutes.RolesOfMany, StringComparison.Ordinal)
            ? Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.ServiceUnavailable) { RequestMessage = request })
            : base.SendAsync(request, cancellationToken);
}
