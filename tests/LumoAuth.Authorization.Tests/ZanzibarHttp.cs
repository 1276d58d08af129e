using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;

namespace LumoAuth.Authorization.Tests;

/// <summary>Small helpers for the Zanzibar API in tests.</summary>
internal static class ZanzibarHttp
{
    public const string DocumentsSchema = """
        model
          schema 1.1
        type user
        type group
          relations
            define member: [user, group#member]
        type folder
          relations
            define owner: [user]
            define parent: [folder]
            define viewer: [user, group#member] or owner or viewer from parent
        type document
          relations
            define parent: [folder]
            define owner: [user]
            define editor: [user, group#member] or owner
            define viewer: [user, user:*, group#member] or editor or viewer from parent
        """;

    public static async Task<JsonObject> PutSchemaAsync(this HttpClient client, TestTenant tenant, string schema) =>
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/zanzibar/schema", new { schema }));

    public static async Task<JsonObject> WriteAsync(this HttpClient client, TestTenant tenant, string @object, string relation, string user) =>
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", new { @object, relation, user }));

    public static async Task<JsonObject> CheckAsync(this HttpClient client, TestTenant tenant, object body) =>
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", body));

    public static async Task<bool> AllowedAsync(this HttpClient client, TestTenant tenant, string @object, string relation, string user, string? token = null) =>
        (await client.CheckAsync(tenant, token is null ? new { @object, relation, user } : new { @object, relation, user, consistency_token = token }))["allowed"]!.GetValue<bool>();

    public static async Task<HttpResponseMessage> DeleteAsync(this HttpClient client, TestTenant tenant, string @object, string relation, string user)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, $"{tenant.Api}/zanzibar/tuples") { Content = JsonContent.Create(new { @object, relation, user }) };
        return await client.SendAsync(request);
    }

    public static string Token(this JsonObject written) => written["data"]!["consistency_token"]!.GetValue<string>();
}
