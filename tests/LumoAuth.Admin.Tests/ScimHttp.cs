using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LumoAuth.Testing;

namespace LumoAuth.Admin.Tests;

/// <summary>What the SCIM tests send and read: the tenant's API key as a bearer token (as SCIM clients send it), scim+json bodies, answers checked by status.</summary>
internal static class ScimHttp
{
    public const string UserSchema = "urn:ietf:params:scim:schemas:core:2.0:User";
    public const string GroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group";
    public const string Enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    public const string PatchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

    public static HttpClient ClientFor(AdminFactory factory, TestTenant tenant)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tenant.ApiKey);
        return client;
    }

    public static StringContent Json(object body) =>
        new(System.Text.Json.JsonSerializer.Serialize(body), Encoding.UTF8, "application/scim+json");

    /// <summary>A PatchOp body of these operations.</summary>
    public static StringContent PatchOf(params JsonObject[] operations) =>
        new(new JsonObject { ["schemas"] = new JsonArray(PatchOp), ["Operations"] = new JsonArray(operations) }.ToJsonString(), Encoding.UTF8, "application/scim+json");

    /// <summary>The answer's JSON (empty for an empty body) after asserting its status.</summary>
    public static async Task<JsonObject> ScimAsync(HttpResponseMessage response, int status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"Expected {status}, got {(int)response.StatusCode}: {body}");
        return body.Length == 0 ? [] : JsonNode.Parse(body)!.AsObject();
    }
}
