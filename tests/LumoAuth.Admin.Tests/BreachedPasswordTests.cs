using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LumoAuth.Admin.Tests;

/// <summary>A local service speaking the Pwned Passwords range API, knowing one breached password.</summary>
public sealed class BreachedPasswordFixture : IAsyncLifetime
{
    public const string Breached = "Summer-of-2024!";

    private WebApplication? _corpus;

    public AdminFactory Admin { get; private set; } = null!;

    /// <summary>What the admin service asked for: the path and whether it asked for padding.</summary>
    public ConcurrentQueue<(string Path, bool Padded)> Requests { get; } = new();

    public int Status { get; set; } = StatusCodes.Status200OK;

#pragma warning disable CA5350 // the range API's own hash
    public static string Sha1Hex(string text) => Convert.ToHexString(SHA1.HashData(Encoding.UTF8.GetBytes(text)));
#pragma warning restore CA5350

    public async Task InitializeAsync()
    {
        (_corpus, var address) = await LoopbackApp.StartAsync(app => app.MapGet("/range/{prefix}", (string prefix, HttpContext context) =>
        {
            Requests.Enqueue((context.Request.Path.Value!, context.Request.Headers["Add-Padding"] == "true"));
            if (Status != StatusCodes.Status200OK)
            {
                return Results.StatusCode(Status);
            }

            var known = Sha1Hex(Breached);
            var lines = new StringBuilder("0018A45C4D1DEF81644B54AB7F969B88D65:0\r\n");
            if (known.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                lines.Append(known[5..]).Append(":4215\r\n");
            }

            return Results.Text(lines.Append("FFFFF0C5E3B0E1E2A6E7A1C1D1B4D9E8F01:2").ToString());
        }));
        Admin = new AdminFactory { ExtraSettings = new Dictionary<string, string?> { ["Passwords:BreachCheck:BaseUrl"] = address + "/", ["Passwords:BreachCheck:Timeout"] = "00:00:20" } };
        await Admin.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await Admin.DisposeAsync();
        if (_corpus is not null)
        {
            await _corpus.DisposeAsync();
        }
    }
}

public sealed class BreachedPasswordTests(BreachedPasswordFixture fixture) : IClassFixture<BreachedPasswordFixture>
{
    private AdminFactory Factory => fixture.Admin;

    private static Task<HttpResponseMessage> CreateAsync(HttpClient client, TestTenant tenant, string email, string password) =>
        client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email, password });

    [Fact]
    public async Task BreachedPassword_IsRefused_AndOnlyAHashPrefixLeaves()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);

        var refused = await ApiAssert.ErrorAsync(await CreateAsync(client, tenant, "leaky@example.com", BreachedPasswordFixture.Breached), 400, "validation_error");
        Assert.Contains(UserCommands.BreachedPassword, refused.ToJsonString(), StringComparison.Ordinal);
        await ApiAssert.OkAsync(await CreateAsync(client, tenant, "careful@example.com", "a rare passphrase 7 owls"), 201);

        // The lookup named the first five hex digits of the SHA-1 only, and asked for padding.
        var prefix = BreachedPasswordFixture.Sha1Hex(BreachedPasswordFixture.Breached)[..5];
        Assert.Contains(fixture.Requests, r => r.Path == "/range/" + prefix && r.Padded);
        Assert.All(fixture.Requests, r => Assert.Equal("/range/".Length + 5, r.Path.Length));

        // A password change goes through the same check.
        var userId = (await ApiAssert.OkAsync(await CreateAsync(client, tenant, "changer@example.com", "a rare passphrase 8 owls"), 201))["data"]!["id"]!.GetValue<string>();
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/password", new { password = BreachedPasswordFixture.Breached }), 400, "validation_error");
    }

    [Fact]
    public async Task BreachDetection_SwitchedOffByTheTenant_AcceptsIt()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { passwordPolicy = new { breachDetection = false } }));

        await ApiAssert.OkAsync(await CreateAsync(client, tenant, "optout@example.com", BreachedPasswordFixture.Breached), 201);
    }

    [Fact]
    public async Task BreachService_NotAnswering_DoesNotBlockPasswords()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        fixture.Status = StatusCodes.Status503ServiceUnavailable;
        try
        {
            await ApiAssert.OkAsync(await CreateAsync(client, tenant, "unchecked@example.com", BreachedPasswordFixture.Breached), 201);
        }
        finally
        {
            fixture.Status = StatusCodes.Status200OK;
        }
    }
}
