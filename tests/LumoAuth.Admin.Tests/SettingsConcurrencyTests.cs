using System.Net;
using System.Net.Http.Json;
using LumoAuth.Testing;

namespace LumoAuth.Admin.Tests;

/// <summary>Settings ETags: <c>If-Match</c> makes an update conditional on the version the caller read.</summary>
public sealed class SettingsConcurrencyTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private static HttpRequestMessage Update(HttpMethod method, TestTenant tenant, object body, string? ifMatch)
    {
        var request = new HttpRequestMessage(method, $"{tenant.Api}/admin/settings") { Content = JsonContent.Create(body) };
        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        return request;
    }

    private static async Task<string> ETagOfAsync(HttpClient client, TestTenant tenant)
    {
        using var response = await client.GetAsync($"{tenant.Api}/admin/settings");
        await ApiAssert.OkAsync(response);
        return response.Headers.ETag!.ToString();
    }

    [Fact]
    public async Task Settings_MatchingIfMatch_Applies_AndAnswersANewETag()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var etag = await ETagOfAsync(client, tenant);
        Assert.False(string.IsNullOrEmpty(etag));
        Assert.Equal(etag, await ETagOfAsync(client, tenant));

        using var put = await client.SendAsync(Update(HttpMethod.Put, tenant, new { passwordPolicy = new { minLength = 12 } }, etag));
        var updated = await ApiAssert.OkAsync(put);
        Assert.Equal(12, updated["data"]!["passwordPolicy"]!["minLength"]!.GetValue<int>());
        var next = put.Headers.ETag!.ToString();
        Assert.NotEqual(etag, next);
        Assert.Equal(next, await ETagOfAsync(client, tenant));

        using var patch = await client.SendAsync(Update(HttpMethod.Patch, tenant, new { mfaPolicy = new { required = true } }, next));
        await ApiAssert.OkAsync(patch);
        Assert.NotEqual(next, patch.Headers.ETag!.ToString());

        using var any = await client.SendAsync(Update(HttpMethod.Patch, tenant, new { sessionPolicy = new { singleSession = true } }, "*"));
        Assert.True((await ApiAssert.OkAsync(any))["data"]!["sessionPolicy"]!["singleSession"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Settings_StaleOrWeakIfMatch_Is412_AndNothingChanges()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var stale = await ETagOfAsync(client, tenant);
        await ApiAssert.OkAsync(await client.SendAsync(Update(HttpMethod.Put, tenant, new { passwordPolicy = new { minLength = 10 } }, stale)));
        var current = await ETagOfAsync(client, tenant);

        foreach (var method in new[] { HttpMethod.Put, HttpMethod.Patch })
        {
            using var response = await client.SendAsync(Update(method, tenant, new { passwordPolicy = new { minLength = 30 } }, stale));
            await ApiAssert.ErrorAsync(response, 412, "precondition_failed");
        }

        await ApiAssert.ErrorAsync(await client.SendAsync(Update(HttpMethod.Put, tenant, new { passwordPolicy = new { minLength = 30 } }, "W/" + current)), 412, "precondition_failed");
        var settings = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/settings")))["data"]!;
        Assert.Equal(10, settings["passwordPolicy"]!["minLength"]!.GetValue<int>());
        Assert.Equal(current, await ETagOfAsync(client, tenant));
    }

    [Fact]
    public async Task Settings_MalformedIfMatch_IsAValidationError()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var error = await ApiAssert.ErrorAsync(
            await client.SendAsync(Update(HttpMethod.Put, tenant, new { passwordPolicy = new { minLength = 30 } }, "not-quoted")), 400, "validation_error");
        Assert.True(error["details"]!.AsObject().ContainsKey("If-Match"));
    }

    [Fact]
    public async Task Settings_ListedIfMatch_AppliesWhenAnyTagIsCurrent()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var current = await ETagOfAsync(client, tenant);
        await ApiAssert.OkAsync(await client.SendAsync(Update(HttpMethod.Put, tenant, new { passwordPolicy = new { minLength = 9 } }, $"\"1\", {current}")));
    }

    [Fact]
    public async Task Settings_ConcurrentUpdatesWithTheSameIfMatch_ExactlyOneWins()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var etag = await ETagOfAsync(client, tenant);
        var lengths = Enumerable.Range(10, 6).ToList();
        var responses = await Task.WhenAll(lengths.Select(length =>
            client.SendAsync(Update(HttpMethod.Patch, tenant, new { passwordPolicy = new { minLength = length } }, etag))));
        try
        {
            var winners = responses.Where(r => r.StatusCode == HttpStatusCode.OK).ToList();
            Assert.Single(winners);
            foreach (var loser in responses.Except(winners))
            {
                await ApiAssert.ErrorAsync(loser, 412, "precondition_failed");
            }

            var won = (await winners[0].Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>())!["data"]!["passwordPolicy"]!["minLength"]!.GetValue<int>();
            var stored = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/settings")))["data"]!;
            Assert.Equal(won, stored["passwordPolicy"]!["minLength"]!.GetValue<int>());
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    [Fact]
    public async Task Settings_WithoutIfMatch_LastWriterWins_AndConcurrentSectionsAreAllKept()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await client.SendAsync(Update(HttpMethod.Put, tenant, new { passwordPolicy = new { minLength = 11 } }, null)));
        await ApiAssert.OkAsync(await client.SendAsync(Update(HttpMethod.Put, tenant, new { passwordPolicy = new { minLength = 13 } }, null)));

        var updates = new object[]
        {
            new { passwordPolicy = new { requireSymbols = true } },
            new { mfaPolicy = new { required = true } },
            new { sessionPolicy = new { singleSession = true } },
            new { loginPolicy = new { maxFailedAttempts = 7 } },
        };
        var responses = await Task.WhenAll(updates.Select(body => client.SendAsync(Update(HttpMethod.Patch, tenant, body, null))));
        foreach (var response in responses)
        {
            await ApiAssert.OkAsync(response);
            response.Dispose();
        }

        var settings = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/settings")))["data"]!;
        Assert.Equal(13, settings["passwordPolicy"]!["minLength"]!.GetValue<int>());
        Assert.True(settings["passwordPolicy"]!["requireSymbols"]!.GetValue<bool>());
        Assert.True(settings["mfaPolicy"]!["required"]!.GetValue<bool>());
        Assert.True(settings["sessionPolicy"]!["singleSession"]!.GetValue<bool>());
        Assert.Equal(7, settings["loginPolicy"]!["maxFailedAttempts"]!.GetValue<int>());
    }
}
