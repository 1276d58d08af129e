using System.Net;
using System.Text.Json;
using LumoAuth.Token.Data;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.Tests;

/// <summary>A token service with a small GeoIP table in MaxMind's "Blocks" and "Locations" CSV shapes.</summary>
public sealed class GeoIpTokenSuite : TokenSuite
{
    public const string NewYork = "198.51.100.10";
    public const string CountryOnly = "203.0.113.10";
    public const string QuotedCity = "2001:db8:1::7";

    private readonly string _blocks = Write(
        "network,geoname_id,registered_country_geoname_id,represented_country_geoname_id,is_anonymous_proxy,is_satellite_provider,postal_code,latitude,longitude,accuracy_radius",
        "198.51.100.0/24,5128581,6252001,,0,0,10001,40.7128,-74.0060,20",
        "203.0.113.0/24,,2635167,,0,0,,,,",
        "2001:db8:1::/48,4140963,6252001,,0,0,,38.8951,-77.0364,50");

    private readonly string _locations = Write(
        "geoname_id,locale_code,continent_code,continent_name,country_iso_code,country_name,subdivision_1_iso_code,subdivision_1_name,subdivision_2_iso_code,subdivision_2_name,city_name,metro_code,time_zone,is_in_european_union",
        "5128581,en,NA,\"North America\",US,\"United States\",NY,\"New York\",,,\"New York\",501,America/New_York,0",
        "6252001,en,NA,\"North America\",US,\"United States\",,,,,,,,0",
        "2635167,en,EU,Europe,GB,\"United Kingdom\",,,,,,,,0",
        "4140963,en,NA,\"North America\",US,\"United States\",DC,\"District of Columbia\",,,\"Washington, D.C.\",511,America/New_York,0");

    protected override IDictionary<string, string?> TokenSettings => new Dictionary<string, string?>
    {
        ["GeoIp:BlocksCsvPaths:0"] = _blocks,
        ["GeoIp:LocationsCsvPaths:0"] = _locations,
    };

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        File.Delete(_blocks);
        File.Delete(_locations);
    }

    private static string Write(params string[] lines)
    {
        var path = Path.Combine(Path.GetTempPath(), $"lumoauth-geoip-{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, string.Join('\n', lines));
        return path;
    }
}

/// <summary>ADM-47: a session's <c>location</c> is where its address is, by the deployment's GeoIP files.</summary>
public sealed class SessionLocationTests(GeoIpTokenSuite suite) : IClassFixture<GeoIpTokenSuite>
{
    [Fact]
    public async Task Sessions_ShowTheCityAndCountryOfTheirAddress_OrOnlyTheCountry_OrNothingForAnUnknownAddress()
    {
        var setup = await suite.SetUpAsync();
        var now = DateTimeOffset.UtcNow;
        await using (var scope = suite.Token.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
            db.Sessions.AddRange(new[] { GeoIpTokenSuite.NewYork, GeoIpTokenSuite.CountryOnly, GeoIpTokenSuite.QuotedCity, "192.0.2.1", null }
                .Select((address, i) => new BrowserSession
                {
                    Id = "sess_" + Guid.NewGuid().ToString("N"), TenantId = setup.Tenant.Id, TenantSlug = setup.Tenant.Slug, UserId = setup.UserId,
                    IpAddress = address, CreatedAt = now, LastActiveAt = now.AddSeconds(-i), ExpiresAt = now.AddHours(1),
                }));
            await db.SaveChangesAsync();
        }

        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var sessions = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/sessions"), HttpStatusCode.OK))
            .GetProperty("data").EnumerateArray().ToList();

        Assert.Equal(5, sessions.Count);
        static (string? City, string? Country)? Location(JsonElement session) =>
            session.GetProperty("location") is { ValueKind: JsonValueKind.Object } location
                ? (location.TryGetProperty("city", out var city) ? city.GetString() : null, location.GetProperty("country").GetString())
                : null;
        Assert.Equal(("New York", "US"), Location(sessions[0]));
        Assert.Equal((null, "GB"), Location(sessions[1]));
        Assert.Equal(("Washington, D.C.", "US"), Location(sessions[2]));
        Assert.Null(Location(sessions[3]));
        Assert.Null(Location(sessions[4]));

        // The list across the tenant shows the same.
        var listed = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/sessions?ipAddress={GeoIpTokenSuite.NewYork}"), HttpStatusCode.OK))
            .GetProperty("data").EnumerateArray().Single();
        Assert.Equal(("New York", "US"), Location(listed));
    }
}
