using System.Net.Http.Json;
using LumoAuth.Admin.Features.Email;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;
using Microsoft.Extensions.DependencyInjection;
using OtpNet;

namespace LumoAuth.Admin.Tests;

/// <summary>Risk-based sign-in (<c>adaptiveAuth</c>): known browsers and networks pass, new ones are challenged, risky ones refused.</summary>
public sealed class AdaptiveAuthTests(EmailAdminFixture fixture) : IClassFixture<EmailAdminFixture>
{
    private const string Password = "correct horse battery 1";
    private const string Laptop = "laptop-device-id-0000000000000001";
    private const string Office = "198.51.100.20";

    private AdminFactory Factory => fixture.Admin;

    private async Task<AuthenticateResponse> SignInAsync(TestTenant tenant, string email, string password, string device, string address, string? code = null)
    {
        using var client = Factory.Internal();
        using var response = await client.PostAsJsonAsync(InternalRoutes.Authenticate,
            new AuthenticateRequest(tenant.Id, email, password, code, address) { DeviceId = device, OfferMfaEnrolment = true });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<AuthenticateResponse>())!;
    }

    private async Task<(TestTenant Tenant, HttpClient Admin)> TenantAsync(object adaptiveAuth)
    {
        var tenant = await Factory.CreateTenantAsync();
        var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { adaptiveAuth }));
        return (tenant, admin);
    }

    private static async Task<System.Text.Json.Nodes.JsonObject> AuditedAsync(HttpClient admin, TestTenant tenant, string action, Guid userId) =>
        await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/audit-logs?action={action}&targetId={userId}")))["data"]!.AsArray()
                .FirstOrDefault()?.AsObject());

    [Fact]
    public async Task KnownBrowserAndNetwork_SkipTheApp_ANewBrowserIsAskedForItsCode()
    {
        var (tenant, admin) = await TenantAsync(new { enabled = true });
        using var _ = admin;
        var id = await Factory.CreateUserAsync(tenant, "adaptive@example.com", Password);
        var secret = (await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{id}/mfa/totp", null), 201))["data"]!["secret"]!.GetValue<string>();
        var totp = new Totp(Base32Encoding.ToBytes(secret));
        var step = DateTime.UtcNow;
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users/{id}/mfa/totp/confirm", new { code = totp.ComputeTotp(step) }));

        // First sign-in: the browser and the network are new (score 60, medium): the app's code is asked for.
        var first = await SignInAsync(tenant, "adaptive@example.com", Password, Laptop, Office);
        Assert.Equal(AuthenticationOutcomes.MfaRequired, first.Outcome);
        var passed = await SignInAsync(tenant, "adaptive@example.com", Password, Laptop, Office, totp.ComputeTotp(step.AddSeconds(30)));
        Assert.Equal(AuthenticationOutcomes.Success, passed.Outcome);
        var medium = await AuditedAsync(admin, tenant, "adaptive_auth_medium_risk", id);
        Assert.Equal(60, medium["metadata"]!["riskScore"]!.GetValue<int>());
        Assert.Equal("authentication", medium["category"]!.GetValue<string>());

        // Same browser, same /24: low risk, no second step (one factor, said so in amr).
        var known = await SignInAsync(tenant, "adaptive@example.com", Password, Laptop, "198.51.100.77");
        Assert.Equal(AuthenticationOutcomes.Success, known.Outcome);
        Assert.Equal(["pwd"], known.AuthenticationMethods);
        Assert.Equal(0, (await AuditedAsync(admin, tenant, "adaptive_auth_low_risk", id))["metadata"]!["riskScore"]!.GetValue<int>());

        // Another browser from the known network: 35, medium again.
        Assert.Equal(AuthenticationOutcomes.MfaRequired, (await SignInAsync(tenant, "adaptive@example.com", Password, "phone-device-id-000000000000000002", Office)).Outcome);
    }

    [Fact]
    public async Task WrongPasswordsThenANewBrowserAndNetwork_AreBlocked_AndTheOwnerAndAdministratorsAreMailed()
    {
        var (tenant, admin) = await TenantAsync(new { enabled = true });
        using var _ = admin;
        var id = await Factory.CreateUserAsync(tenant, "target@example.com", Password);
        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, (await SignInAsync(tenant, "target@example.com", "guess 1", "x-device-id-0000000000000000003", "203.0.113.66")).Outcome);
        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, (await SignInAsync(tenant, "target@example.com", "guess 2", "x-device-id-0000000000000000003", "203.0.113.66")).Outcome);

        // 35 (browser) + 25 (network) + 20 (two failures) = 80 > 70: refused even with the right password.
        var blocked = await SignInAsync(tenant, "target@example.com", Password, "x-device-id-0000000000000000003", "203.0.113.66");
        Assert.Equal(AuthenticationOutcomes.RiskBlocked, blocked.Outcome);
        Assert.Null(blocked.UserId);
        var entry = await AuditedAsync(admin, tenant, "adaptive_auth_high_risk", id);
        Assert.Equal("failure", entry["outcome"]!.GetValue<string>());
        Assert.Equal(["new_device", "new_network", "failed_attempts"], entry["metadata"]!["signals"]!.AsArray().Select(s => s!.GetValue<string>()));

        var toOwner = await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            var mails = fixture.Smtp.To("target@example.com", EmailKinds.LoginBlocked);
            return mails.Count > 0 ? mails[0] : null;
        }, TimeSpan.FromSeconds(40));
        Assert.Contains("203.0.113.66", toOwner.Text, StringComparison.Ordinal);
        Assert.Contains("change it now", toOwner.Text, StringComparison.Ordinal);
        var toAdministrator = await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            var mails = fixture.Smtp.To($"admin@{tenant.Slug}.example.com", EmailKinds.LoginBlocked);
            return mails.Count > 0 ? mails[0] : null;
        }, TimeSpan.FromSeconds(40));
        Assert.Contains("target@example.com", toAdministrator.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TrustedRange_IsLowRisk_AndAUserWithoutFactorsIsLetThroughAtMediumRisk()
    {
        var (tenant, admin) = await TenantAsync(new { enabled = true, trustedIpRanges = new[] { "192.0.2.0/24", "2001:db8::/32" } });
        using var _ = admin;
        var id = await Factory.CreateUserAsync(tenant, "plain@example.com", Password);

        var trusted = await SignInAsync(tenant, "plain@example.com", Password, "t-device-id-0000000000000000004", "192.0.2.10");
        Assert.Equal(AuthenticationOutcomes.Success, trusted.Outcome);
        var low = await AuditedAsync(admin, tenant, "adaptive_auth_low_risk", id);
        Assert.Equal(["trusted_ip"], low["metadata"]!["signals"]!.AsArray().Select(s => s!.GetValue<string>()));

        // No factor and no mailed codes allowed: nothing can be asked, so the sign-in goes ahead, recorded as such.
        var untrusted = await SignInAsync(tenant, "plain@example.com", Password, "u-device-id-0000000000000000005", "203.0.113.200");
        Assert.Equal(AuthenticationOutcomes.Success, untrusted.Outcome);
        Assert.Equal("none_available", (await AuditedAsync(admin, tenant, "adaptive_auth_medium_risk", id))["metadata"]!["challenge"]!.GetValue<string>());
    }

    [Fact]
    public async Task Settings_AreChecked()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { adaptiveAuth = new { trustedIpRanges = new[] { "not a network" } } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { adaptiveAuth = new { lowRiskThreshold = 80, highRiskThreshold = 60 } }), 400, "validation_error");
        var settings = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/settings")))["data"]!["adaptiveAuth"]!;
        Assert.False(settings["enabled"]!.GetValue<bool>());
        Assert.Equal((30, 70), (settings["lowRiskThreshold"]!.GetValue<int>(), settings["highRiskThreshold"]!.GetValue<int>()));
    }
}

/// <summary>An admin with a GeoIP table of two cities (MaxMind's "Blocks" CSV shape) and mail to a local receiver.</summary>
public sealed class GeoIpAdminFixture() : EmailAdminFixture(new Dictionary<string, string?> { ["GeoIp:BlocksCsvPaths:0"] = WriteBlocks() })
{
    public const string NewYork = "198.51.100.10";
    public const string London = "203.0.113.10";

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        File.Delete(Admin.ExtraSettings!["GeoIp:BlocksCsvPaths:0"]!);
    }

    private static string WriteBlocks()
    {
        var path = Path.Combine(Path.GetTempPath(), $"lumoauth-geoip-{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, string.Join('\n',
            "network,geoname_id,registered_country_geoname_id,represented_country_geoname_id,is_anonymous_proxy,is_satellite_provider,postal_code,latitude,longitude,accuracy_radius",
            "198.51.100.0/24,5128581,6252001,,0,0,10001,40.7128,-74.0060,20",
            "203.0.113.0/24,2643743,2635167,,0,0,EC1A,51.5074,-0.1278,20",
            "2001:db8:1::/48,2643743,2635167,,0,0,,51.5074,-0.1278,50"));
        return path;
    }
}

public sealed class ImpossibleTravelTests(GeoIpAdminFixture fixture) : IClassFixture<GeoIpAdminFixture>
{
    private const string Password = "correct horse battery 1";
    private const string Device = "travel-device-id-000000000000001";

    [Fact]
    public void GeoIpTable_LocatesIPv4AndIPv6_AndKnowsNothingElse()
    {
        var geo = fixture.Admin.Services.GetRequiredService<LumoAuth.ServiceDefaults.Geo.GeoIpDirectory>();
        Assert.Equal(40.7128, geo.Locate("198.51.100.255")!.Value.Latitude);
        Assert.Equal(51.5074, geo.Locate("2001:db8:1:ffff::1")!.Value.Latitude);
        Assert.Null(geo.Locate("198.51.101.1"));
        Assert.Null(geo.Locate("not an address"));
        var km = LumoAuth.ServiceDefaults.Geo.GeoIpDirectory.DistanceKm(geo.Locate(GeoIpAdminFixture.NewYork)!.Value, geo.Locate(GeoIpAdminFixture.London)!.Value);
        Assert.InRange(km, 5500, 5620);
    }

    [Fact]
    public async Task ASignInFromLondonMinutesAfterNewYork_IsImpossibleTravel_AndRefused()
    {
        var tenant = await fixture.Admin.CreateTenantAsync();
        using var admin = fixture.Admin.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { adaptiveAuth = new { enabled = true } }));
        var id = await fixture.Admin.CreateUserAsync(tenant, "traveller@example.com", Password);

        async Task<AuthenticateResponse> SignInAsync(string address)
        {
            using var client = fixture.Admin.Internal();
            using var response = await client.PostAsJsonAsync(InternalRoutes.Authenticate,
                new AuthenticateRequest(tenant.Id, "traveller@example.com", Password, null, address) { DeviceId = Device });
            return (await response.Content.ReadFromJsonAsync<AuthenticateResponse>())!;
        }

        Assert.Equal(AuthenticationOutcomes.Success, (await SignInAsync(GeoIpAdminFixture.NewYork)).Outcome);
        // The same browser, a new network 5,570 km away moments later: 25 + 50 = 75, over the high threshold.
        Assert.Equal(AuthenticationOutcomes.RiskBlocked, (await SignInAsync(GeoIpAdminFixture.London)).Outcome);

        var travel = await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/audit-logs?action=adaptive_auth_impossible_travel&targetId={id}")))["data"]!
                .AsArray().FirstOrDefault()?.AsObject());
        Assert.InRange(travel["metadata"]!["distanceKm"]!.GetValue<int>(), 5500, 5620);
        var blocked = await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/audit-logs?action=adaptive_auth_high_risk&targetId={id}")))["data"]!
                .AsArray().FirstOrDefault()?.AsObject());
        Assert.Equal(["new_network", "impossible_travel"], blocked["metadata"]!["signals"]!.AsArray().Select(s => s!.GetValue<string>()));

        // Back in New York: known browser and network, no travel from the last successful sign-in — low risk.
        Assert.Equal(AuthenticationOutcomes.Success, (await SignInAsync(GeoIpAdminFixture.NewYork)).Outcome);
    }
}
