using System.Text.Json.Nodes;

namespace LumoAuth.Admin.Features.Scim;

/// <summary>Schema URNs and the discovery documents (ServiceProviderConfig, ResourceTypes, Schemas).</summary>
public static class ScimSchemas
{
    public const string User = "urn:ietf:params:scim:schemas:core:2.0:User";
    public const string Group = "urn:ietf:params:scim:schemas:core:2.0:Group";
    public const string Enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    public const string SoftDelete = "urn:ietf:params:scim:schemas:extension:lumoauth:1.0:SoftDelete";
    public const string Password = "urn:ietf:params:scim:schemas:extension:lumoauth:1.0:Password";
    public const string Profile = "urn:ietf:params:scim:schemas:extension:lumoauth:1.0:Profile";
    public const string ListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
    public const string Error = LumoAuth.ServiceDefaults.Errors.ScimErrorBody.Schema;
    public const string PatchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    public const string BulkRequest = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
    public const string BulkResponse = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
    public const string SearchRequest = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
    public const string ServiceProviderConfigSchema = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
    public const string ResourceTypeSchema = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
    public const string SchemaSchema = "urn:ietf:params:scim:schemas:core:2.0:Schema";
    public const int MaxBulkOperations = 1000;
    public const int MaxBulkPayload = 1_048_576;
    public const int MaxResults = 200;

    public static JsonObject ServiceProviderConfig(string baseUrl) => new()
    {
        ["schemas"] = new JsonArray(ServiceProviderConfigSchema),
        ["documentationUri"] = "https://app.lumoauth.dev/docs/scim",
        ["patch"] = new JsonObject { ["supported"] = true },
        ["bulk"] = new JsonObject { ["supported"] = true, ["maxOperations"] = MaxBulkOperations, ["maxPayloadSize"] = MaxBulkPayload },
        ["filter"] = new JsonObject { ["supported"] = true, ["maxResults"] = MaxResults },
        ["changePassword"] = new JsonObject { ["supported"] = true },
        ["sort"] = new JsonObject { ["supported"] = true },
        ["etag"] = new JsonObject { ["supported"] = true },
        ["authenticationSchemes"] = new JsonArray(
            new JsonObject
            {
                ["type"] = "oauthbearertoken", ["name"] = "OAuth Bearer Token", ["primary"] = true,
                ["description"] = "A bearer access token with an admin scope, or a tenant API key (Authorization: Bearer lmk_…)",
            },
            new JsonObject { ["type"] = "httpbasic", ["name"] = "HTTP Basic", ["description"] = "A user's email and password (admins only, except /Me), under the sign-in rules: not where the tenant uses sign-in links only, and failed attempts count towards the address's sign-in throttle (429 with Retry-After)" }),
        ["meta"] = new JsonObject { ["resourceType"] = "ServiceProviderConfig", ["location"] = baseUrl + "/ServiceProviderConfig" },
    };

    public static JsonObject ResourceType(string id, string baseUrl) => id == "User"
        ? new JsonObject
        {
            ["schemas"] = new JsonArray(ResourceTypeSchema), ["id"] = "User", ["name"] = "User", ["endpoint"] = "/Users",
            ["description"] = "User resource", ["schema"] = User,
            ["schemaExtensions"] = new JsonArray(
                new JsonObject { ["schema"] = Enterprise, ["required"] = false },
                new JsonObject { ["schema"] = SoftDelete, ["required"] = false },
                new JsonObject { ["schema"] = Password, ["required"] = false },
                new JsonObject { ["schema"] = Profile, ["required"] = false }),
            ["meta"] = new JsonObject { ["resourceType"] = "ResourceType", ["location"] = baseUrl + "/ResourceTypes/User" },
        }
        : new JsonObject
        {
            ["schemas"] = new JsonArray(ResourceTypeSchema), ["id"] = "Group", ["name"] = "Group", ["endpoint"] = "/Groups",
            ["description"] = "Group resource", ["schema"] = Group,
            ["schemaExtensions"] = new JsonArray(new JsonObject { ["schema"] = SoftDelete, ["required"] = false }),
            ["meta"] = new JsonObject { ["resourceType"] = "ResourceType", ["location"] = baseUrl + "/ResourceTypes/Group" },
        };

    public static IReadOnlyList<JsonObject> All(string baseUrl) =>
    [
        Schema(User, "User", "User Account", baseUrl,
            Attr("userName", required: true, uniqueness: "server"),
            // What is stored, no more: formatted is the user's name, the value displayName also holds.
            Complex("name", false, Attr("formatted"), Attr("familyName"), Attr("givenName")),
            Attr("displayName"), Attr("title"), Attr("locale"), Attr("externalId", caseExact: true),
            Attr("active", type: "boolean"),
            Attr("password", mutability: "writeOnly", returned: "never"),
            KeptOnce(Complex("emails", true, Attr("value"), Attr("type", returned: "never"), Attr("primary", type: "boolean")), "address"),
            KeptOnce(Complex("phoneNumbers", true, Attr("value"), Attr("type", returned: "never"), Attr("primary", type: "boolean")), "number"),
            // RFC 7643 §4.1.2: changed through the Group resource; a PATCH of a user's groups is refused (mutability).
            With(Complex("groups", true, Attr("value", mutability: "readOnly"), Attr("display", mutability: "readOnly"), Attr("$ref", type: "reference", mutability: "readOnly")),
                "mutability", "readOnly")),
        Schema(Group, "Group", "Group", baseUrl,
            Attr("displayName", required: true, uniqueness: "server"), Attr("externalId", caseExact: true),
            Complex("members", true, Attr("value", mutability: "immutable"), Attr("display", mutability: "readOnly"), Attr("type", mutability: "immutable"), Attr("$ref", type: "reference", mutability: "immutable"))),
        Schema(Enterprise, "EnterpriseUser", "Enterprise User", baseUrl,
            Attr("employeeNumber"), Attr("costCenter"), Attr("organization"), Attr("division"), Attr("department"),
            // Only the manager's id is kept ($ref and displayName are neither stored nor returned).
            Complex("manager", false, Attr("value"))),
        Schema(SoftDelete, "SoftDelete", "Soft delete of users and groups: DELETE flags the resource (a user is also deactivated, a group loses its members); DELETE ?isSoftDeleted=true removes it", baseUrl,
            Attr("isSoftDeleted", type: "boolean", mutability: "readOnly"), Attr("deletedAt", type: "dateTime", mutability: "readOnly")),
        Schema(Password, "Password", "Password management: set 'password' (checked against the tenant's policy)", baseUrl,
            Attr("passwordChangedAt", type: "dateTime", mutability: "readOnly")),
        // Discovery is public, so a tenant's own attribute names are listed only to callers that may read its users (ScimEndpoints).
        Schema(Profile, "Profile", "The tenant's declared profile attributes (settings userProfile.attributes) under their names: a string, "
            + "a whole number for an integer attribute, a list of them for a multi-valued one; each held to its declaration. Sent, the object "
            + "replaces every declared attribute (one left out is removed); left out of a PUT, they stay as they are. Read-only on /Me.", baseUrl),
    ];

    /// <summary>A declared attribute as the Profile extension's schema lists it: its label as description, a choice's values as canonical values.</summary>
    public static JsonObject Declared(Features.Settings.ProfileAttribute attribute)
    {
        var json = Attr(attribute.Name, type: attribute.Type == LumoAuth.Contracts.Internal.ProfileAttributeTypes.Integer ? "integer" : "string", caseExact: true);
        json["multiValued"] = attribute.MultiValued;
        json["description"] = attribute.Label;
        if (attribute.Options is { } options)
        {
            json["canonicalValues"] = new JsonArray([.. options.Select(o => (JsonNode)JsonValue.Create(o.Value))]);
        }

        return json;
    }

    private static JsonObject Schema(string id, string name, string description, string baseUrl, params JsonObject[] attributes) => new()
    {
        ["schemas"] = new JsonArray(SchemaSchema), ["id"] = id, ["name"] = name, ["description"] = description,
        ["attributes"] = new JsonArray(attributes.Cast<JsonNode>().ToArray()),
        ["meta"] = new JsonObject { ["resourceType"] = "Schema", ["location"] = baseUrl + "/Schemas/" + id },
    };

    private static JsonObject Attr(
        string name, string type = "string", bool required = false, string mutability = "readWrite", string returned = "default",
        string uniqueness = "none", bool caseExact = false) => new()
    {
        ["name"] = name, ["type"] = type, ["multiValued"] = false, ["required"] = required, ["caseExact"] = caseExact,
        ["mutability"] = mutability, ["returned"] = returned, ["uniqueness"] = uniqueness,
    };

    private static JsonObject With(JsonObject attribute, string characteristic, string value)
    {
        attribute[characteristic] = value;
        return attribute;
    }

    /// <summary>A user keeps one e-mail address and one phone number, not their types: said where clients look it up.</summary>
    private static JsonObject KeptOnce(JsonObject attribute, string what) => With(attribute, "description",
        $"One {what} is kept: the one marked primary (else the first). Its type is not stored and never returned; a PATCH value filter on type alone (such as [type eq \"mobile\"]) selects the kept {what}, whatever type it names.");

    private static JsonObject Complex(string name, bool multiValued, params JsonObject[] subAttributes) => new()
    {
        ["name"] = name, ["type"] = "complex", ["multiValued"] = multiValued, ["required"] = false, ["mutability"] = "readWrite",
        ["returned"] = "default", ["subAttributes"] = new JsonArray(subAttributes.Cast<JsonNode>().ToArray()),
    };
}
