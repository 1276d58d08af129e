using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.CustomDomains;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Tests;

/// <summary>An admin whose domain checks ask a DNS server of the test's own (on loopback), with a small per-tenant limit.</summary>
public sealed class CustomDomainFixture : IAsyncLifetime
{
    public const string Target = "edge.lumoauth.test";

    public CustomDomainFixture()
    {
        Admin = new AdminFactory
        {
            ExtraSettings = new Dictionary<string, string?>
            {
                ["CustomDomains:NameServers:0"] = Dns.Endpoint,
                ["CustomDomains:Target"] = Target,
                ["CustomDomains:MaxPerTenant"] = "4",
                ["CustomDomains:LookupTimeout"] = "00:00:02",
                // Tests check a domain again as soon as they publish its records (the token suite covers the cooldown).
                ["CustomDomains:CheckCooldown"] = "00:00:00",
            },
        };
    }

    public TestDnsServer Dns { get; } = new();

    public AdminFactory Admin { get; }

    public Task InitializeAsync() => Admin.InitializeAsync();

    public async Task DisposeAsync()
    {
        await Admin.DisposeAsync();
        Dns.Dispose();
    }
}

public sealed class CustomDomainTests(CustomDomainFixture fixture) : IClassFixture<CustomDomainFixture>
{
    private static string NewDomain() => $"auth-{Guid.NewGuid().ToString("N")[..15]}.acme.example";

    private async Task<(TestTenant Tenant, HttpClient Client)> TenantAsync()
    {
        var tenant = await fixture.Admin.CreateTenantAsync();
        return (tenant, fixture.Admin.ClientFor(tenant));
    }

    private static async Task<JsonObject> AddAsync(HttpClient client, TestTenant tenant, string domain) =>
        (JsonObject)(await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/custom-domains", new { domain }), 201))["data"]!;

    /// <summary>Publishes what the domain's response asks for: the ownership TXT record and the CNAME to the target.</summary>
    private void Publish(JsonObject domain, bool txt = true, bool cname = true) => fixture.Dns.Publish(domain["dnsRecords"]!, txt, cname);

    [Fact]
    public async Task Add_ListsThePendingDomainWithTheRecordsToPublish()
    {
        var (tenant, client) = await TenantAsync();
        var name = NewDomain();
        var added = await AddAsync(client, tenant, name.ToUpperInvariant() + ".");

        Assert.Equal(name, added["domain"]!.GetValue<string>());
        Assert.Equal("pending", added["status"]!.GetValue<string>());
        Assert.False(added["primary"]!.GetValue<bool>());
        var records = added["dnsRecords"]!.AsArray();
        Assert.Contains(records, r => r!["type"]!.GetValue<string>() == "TXT" && r["name"]!.GetValue<string>() == "_lumoauth-challenge." + name
            && r["value"]!.GetValue<string>().StartsWith("lumoauth-verification=", StringComparison.Ordinal));
        Assert.Contains(records, r => r!["type"]!.GetValue<string>() == "CNAME" && r["value"]!.GetValue<string>() == CustomDomainFixture.Target);

        var list = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/custom-domains"));
        Assert.Equal(name, Assert.Single(list["data"]!.AsArray())!["domain"]!.GetValue<string>());
        var alias = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/custom-domains/{added["id"]}"));
        Assert.Equal(name, alias["data"]!["domain"]!.GetValue<string>());

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/custom-domains", new { domain = name }), 409, "duplicate_resource");
        using var internalClient = fixture.Admin.Internal();
        var routes = await internalClient.GetFromJsonAsync<List<CustomDomainRoute>>(InternalRoutes.CustomDomains);
        Assert.DoesNotContain(routes!, r => r.Domain == name);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("intranet")]
    [InlineData("app.localhost")]
    [InlineData("printer.local")]
    [InlineData("10.0.0.1")]
    [InlineData("under_score.example.com")]
    [InlineData("-lead.example.com")]
    [InlineData("a..b.example.com")]
    [InlineData("https://auth.example.com")]
    [InlineData("auth.example.com:8443")]
    [InlineData("edge.lumoauth.test")]
    [InlineData("tenant.edge.lumoauth.test")]
    [InlineData("localhost.")]
    [InlineData("")]
    public async Task Add_RefusesWhatCannotBeATenantsDomain(string domain)
    {
        var (tenant, client) = await TenantAsync();
        var error = await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/custom-domains", new { domain }), 400, "validation_error");
        Assert.NotNull(error["details"]!["domain"]);
    }

    [Fact]
    public async Task Add_RefusesBadBodiesAndTooManyDomains()
    {
        var (tenant, client) = await TenantAsync();
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/custom-domains", new { }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/custom-domains", new { domain = 42 }), 400, "invalid_request");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/custom-domains", new { domain = NewDomain(), primary = true }), 400, "invalid_request");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/custom-domains", new { domain = new string('a', 300) + ".example" }), 400, "validation_error");
        // The ownership record's name must fit DNS's 253 characters too.
        var longest = string.Join('.', Enumerable.Repeat(new string('a', 60), 3)) + "." + new string('b', 42) + ".example";
        Assert.Equal(233, longest.Length);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/custom-domains", new { domain = "c" + longest }), 400, "validation_error");
        var accepted = await AddAsync(client, tenant, longest);
        await ApiAssert.ErrorAsync(await client.PostAsync($"{tenant.Api}/custom-domains/{accepted["id"]}/verify", null), 422, "domain_verification_failed");

        for (var i = 0; i < 3; i++)
        {
            await AddAsync(client, tenant, NewDomain());
        }

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/custom-domains", new { domain = NewDomain() }), 409, "limit_exceeded");
    }

    [Fact]
    public async Task Add_StoresAnInternationalisedNameInItsAsciiForm()
    {
        var (tenant, client) = await TenantAsync();
        var label = $"b{Guid.NewGuid():N}"[..10];
        var added = await AddAsync(client, tenant, $"{label}.Bücher.example");
        Assert.Equal($"{label}.xn--bcher-kva.example", added["domain"]!.GetValue<string>());
    }

    [Fact]
    public async Task AVerifiedDomain_WhoseOwnershipRecordIsGoneTooLong_IsNoLongerServed_AndAnotherTenantMayProveIt()
    {
        var (tenant, client) = await TenantAsync();
        var name = NewDomain();
        var added = await AddAsync(client, tenant, name);
        Publish(added);
        var url = $"{tenant.Api}/custom-domains/{added["id"]}";
        await ApiAssert.OkAsync(await client.PostAsync($"{url}/verify", null));
        await ApiAssert.OkAsync(await client.PostAsync($"{url}/primary", null));
        using var scope = fixture.Admin.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        var verifier = scope.ServiceProvider.GetRequiredService<DomainVerifier>();
        var options = scope.ServiceProvider.GetRequiredService<IOptions<CustomDomainOptions>>().Value;
        var start = DateTimeOffset.UtcNow;
        Task<int> RecheckAsync(DateTimeOffset at, DomainVerifier? asking = null) => CustomDomainRecheck.RecheckDueAsync(db, asking ?? verifier, options, at, CancellationToken.None);
        async Task<JsonNode> DomainAsync() => (await ApiAssert.OkAsync(await client.GetAsync(url)))["data"]!;

        // A day on, the record is still there: checked, nothing changes.
        Assert.Equal(0, await RecheckAsync(start.AddDays(1).AddMinutes(1)));
        var checkedOnce = await DomainAsync();
        Assert.Equal(start.AddDays(1).AddMinutes(1), checkedOnce["lastCheckedAt"]!.GetValue<DateTimeOffset>(), TimeSpan.FromSeconds(1));
        Assert.Null(checkedOnce["recordMissingSince"]);

        // The record gone: still served, the owner is told when it stops being served, and it is looked for hourly.
        fixture.Dns.Clear(DomainVerifier.ChallengeName(name));
        var missing = start.AddDays(2).AddMinutes(2);
        Assert.Equal(0, await RecheckAsync(missing));
        var failing = await DomainAsync();
        Assert.Equal("verified", failing["status"]!.GetValue<string>());
        Assert.Equal(missing, failing["recordMissingSince"]!.GetValue<DateTimeOffset>(), TimeSpan.FromSeconds(1));
        Assert.Contains("no TXT record", failing["lastCheckError"]!.GetValue<string>(), StringComparison.Ordinal);

        // DNS that does not answer proves nothing either way, even past the time allowed.
        using var silent = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var deaf = new DomainVerifier(
            Options.Create(new CustomDomainOptions { NameServers = [silent.Client.LocalEndPoint!.ToString()!], LookupTimeout = TimeSpan.FromSeconds(1) }),
            scope.ServiceProvider.GetRequiredService<IOptions<LumoAuth.ServiceDefaults.LumoAuthOptions>>());
        Assert.Equal(0, await RecheckAsync(missing + options.UnverifyAfter + TimeSpan.FromHours(1), deaf));
        var unanswered = await DomainAsync();
        Assert.Equal("verified", unanswered["status"]!.GetValue<string>());
        Assert.Equal(missing, unanswered["recordMissingSince"]!.GetValue<DateTimeOffset>(), TimeSpan.FromSeconds(1));

        // Missing for longer than the deployment allows: no longer served, nor primary, nor in the gateway's map.
        Assert.Equal(1, await RecheckAsync(missing + options.UnverifyAfter + TimeSpan.FromHours(3)));
        var dropped = await DomainAsync();
        Assert.Equal(("pending", false), (dropped["status"]!.GetValue<string>(), dropped["primary"]!.GetValue<bool>()));
        Assert.Contains("no longer served", dropped["lastCheckError"]!.GetValue<string>(), StringComparison.Ordinal);
        using (var internalClient = fixture.Admin.Internal())
        {
            var routes = await internalClient.GetFromJsonAsync<List<CustomDomainRoute>>(InternalRoutes.CustomDomains);
            Assert.DoesNotContain(routes!, r => r.Domain == name);
        }

        // The name's new holder proves it for their own tenant.
        var (other, otherClient) = await TenantAsync();
        var theirs = await AddAsync(otherClient, other, name);
        Publish(theirs);
        await ApiAssert.OkAsync(await otherClient.PostAsync($"{other.Api}/custom-domains/{theirs["id"]}/verify", null));
    }

    [Fact]
    public async Task Verify_NeedsBothTheOwnershipRecordAndTheRouting()
    {
        var (tenant, client) = await TenantAsync();
        var added = await AddAsync(client, tenant, NewDomain());
        var verify = $"{tenant.Api}/custom-domains/{added["id"]}/verify";

        var nothing = await ApiAssert.ErrorAsync(await client.PostAsync(verify, null), 422, "domain_verification_failed");
        Assert.False(nothing["details"]!["ownership"]!.GetValue<bool>());
        Assert.False(nothing["details"]!["routing"]!.GetValue<bool>());

        Publish(added, txt: false);
        var routedOnly = await ApiAssert.ErrorAsync(await client.PostAsync(verify, null), 422, "domain_verification_failed");
        Assert.False(routedOnly["details"]!["ownership"]!.GetValue<bool>());
        Assert.True(routedOnly["details"]!["routing"]!.GetValue<bool>());
        var pending = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/custom-domains/{added["id"]}"));
        Assert.Equal("pending", pending["data"]!["status"]!.GetValue<string>());
        Assert.Contains("TXT", pending["data"]!["lastCheckError"]!.GetValue<string>(), StringComparison.Ordinal);

        Publish(added, cname: false);
        var verified = await ApiAssert.OkAsync(await client.PostAsync(verify, null));
        Assert.Equal("verified", verified["data"]!["status"]!.GetValue<string>());
        Assert.Null(verified["data"]!["lastCheckError"]);

        // Verifying again is a no-op, and the gateway's map now holds the domain.
        await ApiAssert.OkAsync(await client.PostAsync(verify, null));
        using var internalClient = fixture.Admin.Internal();
        var routes = await internalClient.GetFromJsonAsync<List<CustomDomainRoute>>(InternalRoutes.CustomDomains);
        Assert.Contains(new CustomDomainRoute(added["domain"]!.GetValue<string>(), tenant.Slug), routes!);
    }

    [Fact]
    public async Task Verify_AcceptsAnApexWhoseAddressesAreTheTargets()
    {
        var (tenant, client) = await TenantAsync();
        var added = await AddAsync(client, tenant, NewDomain());
        Publish(added, cname: false);
        var domain = added["domain"]!.GetValue<string>();
        fixture.Dns.AddA(CustomDomainFixture.Target, IPAddress.Parse("192.0.2.10"));
        fixture.Dns.AddA(domain, IPAddress.Parse("192.0.2.99"));
        var verify = $"{tenant.Api}/custom-domains/{added["id"]}/verify";
        var elsewhere = await ApiAssert.ErrorAsync(await client.PostAsync(verify, null), 422, "domain_verification_failed");
        Assert.False(elsewhere["details"]!["routing"]!.GetValue<bool>());

        fixture.Dns.Clear(domain);
        fixture.Dns.AddA(domain, IPAddress.Parse("192.0.2.10"));
        await ApiAssert.OkAsync(await client.PostAsync(verify, null));
    }

    [Fact]
    public async Task Verify_ADomainAnotherTenantVerified_IsTaken()
    {
        var (first, firstClient) = await TenantAsync();
        var (second, secondClient) = await TenantAsync();
        var name = NewDomain();
        var mine = await AddAsync(firstClient, first, name);
        var theirs = await AddAsync(secondClient, second, name);
        Publish(mine);
        Publish(theirs, cname: false);
        await ApiAssert.OkAsync(await firstClient.PostAsync($"{first.Api}/custom-domains/{mine["id"]}/verify", null));

        await ApiAssert.ErrorAsync(await secondClient.PostAsync($"{second.Api}/custom-domains/{theirs["id"]}/verify", null), 409, "domain_taken");

        // Released by its owner, the name can be proven by the other tenant.
        Assert.Equal(HttpStatusCode.NoContent, (await firstClient.DeleteAsync($"{first.Api}/custom-domains/{mine["id"]}")).StatusCode);
        await ApiAssert.OkAsync(await secondClient.PostAsync($"{second.Api}/custom-domains/{theirs["id"]}/verify", null));
    }

    [Fact]
    public async Task Primary_OnlyAVerifiedDomain_AndItIsTheTenantsIssuerHostUntilRemoved()
    {
        var (tenant, client) = await TenantAsync();
        var first = await AddAsync(client, tenant, NewDomain());
        var second = await AddAsync(client, tenant, NewDomain());
        await ApiAssert.ErrorAsync(await client.PostAsync($"{tenant.Api}/custom-domains/{first["id"]}/primary", null), 409, "domain_not_verified");

        foreach (var domain in new[] { first, second })
        {
            Publish(domain);
            await ApiAssert.OkAsync(await client.PostAsync($"{tenant.Api}/custom-domains/{domain["id"]}/verify", null));
        }

        var made = await ApiAssert.OkAsync(await client.PostAsync($"{tenant.Api}/custom-domains/{first["id"]}/primary", null));
        Assert.True(made["data"]!["primary"]!.GetValue<bool>());
        Assert.Equal(first["domain"]!.GetValue<string>(), (await TenantInfoAsync(tenant)).PrimaryDomain);

        await ApiAssert.OkAsync(await client.PostAsync($"{tenant.Api}/custom-domains/{second["id"]}/primary", null));
        var list = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/custom-domains"));
        Assert.Equal([second["domain"]!.GetValue<string>()],
            list["data"]!.AsArray().Where(d => d!["primary"]!.GetValue<bool>()).Select(d => d!["domain"]!.GetValue<string>()));
        Assert.Equal(second["domain"]!.GetValue<string>(), (await TenantInfoAsync(tenant)).PrimaryDomain);

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"{tenant.Api}/custom-domains/{second["id"]}")).StatusCode);
        Assert.Null((await TenantInfoAsync(tenant)).PrimaryDomain);
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/custom-domains/{second["id"]}"), 404, "resource_not_found");
    }

    [Fact]
    public async Task AnotherTenantsDomain_IsNotFound()
    {
        var (owner, ownerClient) = await TenantAsync();
        var other = await fixture.Admin.CreateTenantAsync();
        using var stranger = fixture.Admin.ClientFor(other);
        var added = await AddAsync(ownerClient, owner, NewDomain());
        var path = $"{other.Api}/custom-domains/{added["id"]}";

        await ApiAssert.ErrorAsync(await stranger.GetAsync(path), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await stranger.PostAsync(path + "/verify", null), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await stranger.PostAsync(path + "/primary", null), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await stranger.DeleteAsync(path), 404, "resource_not_found");
        Assert.Empty((await ApiAssert.OkAsync(await stranger.GetAsync($"{other.Api}/custom-domains")))["data"]!.AsArray());
        // The owner's API key is no key of the other tenant's.
        using var ownerKeyElsewhere = fixture.Admin.CreateClient();
        ownerKeyElsewhere.DefaultRequestHeaders.Add("X-API-Key", owner.ApiKey);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ownerKeyElsewhere.GetAsync($"{other.Api}/custom-domains")).StatusCode);
    }

    [Fact]
    public async Task InternalMap_AnswersTheGatewaysKeyAndNoOther()
    {
        using var direct = fixture.Admin.CreateDirectClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await direct.GetAsync(InternalRoutes.CustomDomains)).StatusCode);
        using var wrong = new HttpRequestMessage(HttpMethod.Get, InternalRoutes.CustomDomains);
        wrong.Headers.Add(InternalRoutes.GatewayKeyHeader, "not-the-gateway-key-0123456789abcdef0123456789");
        Assert.Equal(HttpStatusCode.Unauthorized, (await direct.SendAsync(wrong)).StatusCode);
        using var right = new HttpRequestMessage(HttpMethod.Get, InternalRoutes.CustomDomains);
        right.Headers.Add(InternalRoutes.GatewayKeyHeader, TestInfrastructure.GatewayKey);
        Assert.Equal(HttpStatusCode.OK, (await direct.SendAsync(right)).StatusCode);

        // The gateway's key opens nothing else of the internal API.
        using var elsewhere = new HttpRequestMessage(HttpMethod.Get, InternalRoutes.TenantBySlug.Replace("{slug}", "any", StringComparison.Ordinal));
        elsewhere.Headers.Add(InternalRoutes.GatewayKeyHeader, TestInfrastructure.GatewayKey);
        Assert.Equal(HttpStatusCode.Unauthorized, (await direct.SendAsync(elsewhere)).StatusCode);
    }

    [Fact]
    public async Task InternalMap_AnswersNotModifiedWhileNothingChanged()
    {
        using var internalClient = fixture.Admin.Internal();
        using var first = await internalClient.GetAsync(InternalRoutes.CustomDomains);
        first.EnsureSuccessStatusCode();
        using var again = new HttpRequestMessage(HttpMethod.Get, InternalRoutes.CustomDomains);
        again.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        using var unchanged = await internalClient.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);

        // Refused through the gateway like every internal route.
        using var outside = fixture.Admin.CreateClient();
        Assert.Equal(HttpStatusCode.NotFound, (await outside.GetAsync(InternalRoutes.CustomDomains)).StatusCode);
    }

    private async Task<TenantInfo> TenantInfoAsync(TestTenant tenant)
    {
        using var internalClient = fixture.Admin.Internal();
        return (await internalClient.GetFromJsonAsync<TenantInfo>(InternalRoutes.TenantBySlug.Replace("{slug}", tenant.Slug, StringComparison.Ordinal)))!;
    }
}
