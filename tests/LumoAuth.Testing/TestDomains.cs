using System.Net.Http.Json;

namespace LumoAuth.Testing;

/// <summary>
/// Custom domains for tests: one DNS server per test process that admin's checks ask (its settings go to the admin
/// factory), and a domain of a tenant registered, published there and verified through the Admin API.
/// </summary>
public static class TestDomains
{
    /// <summary>The CNAME target domains point at (admin's <c>CustomDomains:Target</c>).</summary>
    public const string Target = "edge.lumoauth.test";

    /// <summary>Shared by every suite of the process: admin reads the settings before a suite's own constructor runs.</summary>
    public static TestDnsServer Dns { get; } = new();

    /// <summary>What an admin factory needs to check domains against <see cref="Dns"/>.</summary>
    public static Dictionary<string, string?> AdminSettings => new()
    {
        ["CustomDomains:NameServers:0"] = Dns.Endpoint,
        ["CustomDomains:Target"] = Target,
    };

    /// <summary>A fresh domain name under a zone no real resolver answers for.</summary>
    public static string NewName(string label = "login") => $"{label}-{Guid.NewGuid().ToString("N")[..12]}.acme.example";

    /// <summary>Registers <paramref name="domain"/> for the tenant, publishes its records and verifies it; its id.</summary>
    public static async Task<string> VerifyAsync(AdminFactory admin, TestTenant tenant, string domain)
    {
        using var client = admin.ClientFor(tenant);
        var added = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/custom-domains", new { domain }), 201))["data"]!;
        Dns.Publish(added["dnsRecords"]!);
        var id = added["id"]!.GetValue<string>();
        await ApiAssert.OkAsync(await client.PostAsync($"{tenant.Api}/custom-domains/{id}/verify", null));
        return id;
    }
}
