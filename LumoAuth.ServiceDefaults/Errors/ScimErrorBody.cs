using System.Globalization;
using System.Text.Json.Nodes;

namespace LumoAuth.ServiceDefaults.Errors;

/// <summary>
/// SCIM 2.0's error shape (RFC 7644 §3.12): written by the SCIM handlers and, for errors raised before one runs, by
/// <see cref="ErrorWriter"/> under the SCIM base paths.
/// </summary>
public static class ScimErrorBody
{
    public const string Schema = "urn:ietf:params:scim:api:messages:2.0:Error";

    public static JsonObject Create(int status, string? scimType, string detail)
    {
        var body = new JsonObject
        {
            ["schemas"] = new JsonArray(Schema),
            ["status"] = status.ToString(CultureInfo.InvariantCulture),
            ["detail"] = detail,
        };
        if (scimType is not null)
        {
            body["scimType"] = scimType;
        }

        return body;
    }
}
