using System.Text.Json.Nodes;
using Xunit;

namespace LumoAuth.Testing;

/// <summary>A tenant made for one test class: its slug, id and first admin API key.</summary>
public sealed record TestTenant(string Slug, Guid Id, string ApiKey)
{
    public string Api => $"/t/{Slug}/api/v1";
}

/// <summary>Assertions on the REST envelope: status and code, never English text.</summary>
public static class ApiAssert
{
    public static async Task<JsonObject> ErrorAsync(HttpResponseMessage response, int status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"Expected {status}, got {(int)response.StatusCode}: {body}");
        var json = JsonNode.Parse(body)!.AsObject();
        Assert.True(json["error"]!.GetValue<bool>());
        Assert.Equal(status, json["status"]!.GetValue<int>());
        Assert.Equal(code, json["code"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(json["message"]!.GetValue<string>()));
        return json;
    }

    public static async Task<JsonObject> OkAsync(HttpResponseMessage response, int status = 200)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"Expected {status}, got {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    public static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, TimeSpan? timeout = null)
        where T : class
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            if (await probe() is { } result)
            {
                return result;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The condition was not met in time.");
            }

            await Task.Delay(200);
        }
    }
}
