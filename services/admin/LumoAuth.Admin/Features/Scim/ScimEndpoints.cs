using System.Security.Claims;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

using LumoAuth.ServiceDefaults.Errors;

namespace LumoAuth.Admin.Features.Scim;

/// <summary>
/// SCIM 2.0 (ADM-71…92) at <c>/scim/v2</c> and the <c>/scim2.0</c> alias. Errors, including 401/403, use the
/// RFC 7644 error schema, which is why these routes authenticate in an endpoint filter rather than through
/// the REST authorization policy (whose challenges answer with the REST envelope).
/// </summary>
public static class ScimEndpoints
{
    public const string MediaType = "application/scim+json";

    public static IEndpointRouteBuilder MapScimEndpoints(this IEndpointRouteBuilder app)
    {
        foreach (var (prefix, name) in new[] { ("/t/{tenantSlug}/api/v1/scim/v2", "ScimV2"), ("/t/{tenantSlug}/api/v1/scim2.0", "Scim20") })
        {
            // Discovery is public per scim/discovery.md: it describes capabilities, not tenant data.
            var discovery = app.MapGroup(prefix).AllowAnonymous().WithTags("SCIM");
            discovery.MapGet("/ServiceProviderConfig", (HttpContext http, CancellationToken _) => Run(http, _ => Task.FromResult(new ScimResult(200, ScimSchemas.ServiceProviderConfig(Base(http)))))).WithName(name + "ServiceProviderConfig");
            discovery.MapGet("/ResourceTypes", (HttpContext http, CancellationToken _) => Run(http, _ => Task.FromResult(new ScimResult(200, ListOf(["User", "Group"], t => ScimSchemas.ResourceType(t, Base(http))))))).WithName(name + "ResourceTypes");
            discovery.MapGet("/ResourceTypes/{resourceType}", (HttpContext http, string resourceType) => Run(http, _ => Task.FromResult(
                resourceType is "User" or "Group" ? new ScimResult(200, ScimSchemas.ResourceType(resourceType, Base(http))) : throw ScimException.NotFound("Resource type")))).WithName(name + "ResourceType");
            discovery.MapGet("/Schemas", (HttpContext http, ScimService scim) => Run(http, async ct => new ScimResult(200, ListOf(await SchemasAsync(http, scim, ct), s => s)))).WithName(name + "Schemas");
            discovery.MapGet("/Schemas/{schemaUrn}", (HttpContext http, ScimService scim, string schemaUrn) => Run(http, async ct => new ScimResult(200,
                (await SchemasAsync(http, scim, ct)).FirstOrDefault(s => s["id"]!.GetValue<string>() == schemaUrn) ?? throw ScimException.NotFound("Schema")))).WithName(name + "Schema");

            var api = app.MapGroup(prefix).AddEndpointFilter<ScimAuthFilter>().WithTags("SCIM");
            api.MapGet("/Users", (HttpContext http, ScimService scim) => Run(http, ct => List(http, scim, ["User"], QueryOf(http), ct))).WithName(name + "ListUsers");
            api.MapPost("/Users", (HttpContext http, ScimService scim) => Run(http, async ct => await scim.CreateUserAsync(await BodyAsync(http), ct), scim)).WithName(name + "CreateUser");
            api.MapPost("/Users/.search", (HttpContext http, ScimService scim) => Run(http, async ct => await List(http, scim, ["User"], SearchOf(await BodyAsync(http)), ct))).WithName(name + "SearchUsers").WithMetadata(ScimRoute.Search);
            api.MapGet("/Users/{userId}", (HttpContext http, ScimService scim, string userId) => Run(http, ct => scim.GetUserAsync(userId, ct), scim)).WithName(name + "GetUser");
            api.MapPut("/Users/{userId}", (HttpContext http, ScimService scim, string userId) => Run(http, async ct => await scim.ReplaceUserAsync(userId, await BodyAsync(http), IfMatch(http), ct), scim)).WithName(name + "ReplaceUser");
            api.MapPatch("/Users/{userId}", (HttpContext http, ScimService scim, string userId) => Run(http, async ct => await scim.PatchUserAsync(userId, await BodyAsync(http), IfMatch(http), ct), scim)).WithName(name + "PatchUser");
            api.MapDelete("/Users/{userId}", (HttpContext http, ScimService scim, string userId, bool? isSoftDeleted) => Run(http, ct => scim.DeleteUserAsync(userId, isSoftDeleted == true, IfMatch(http), ct), scim)).WithName(name + "DeleteUser");
            api.MapGet("/Groups", (HttpContext http, ScimService scim) => Run(http, ct => List(http, scim, ["Group"], QueryOf(http), ct))).WithName(name + "ListGroups");
            api.MapPost("/Groups", (HttpContext http, ScimService scim) => Run(http, async ct => await scim.CreateGroupAsync(await BodyAsync(http), ct), scim)).WithName(name + "CreateGroup");
            api.MapPost("/Groups/.search", (HttpContext http, ScimService scim) => Run(http, async ct => await List(http, scim, ["Group"], SearchOf(await BodyAsync(http)), ct))).WithName(name + "SearchGroups").WithMetadata(ScimRoute.Search);
            api.MapGet("/Groups/{groupId}", (HttpContext http, ScimService scim, string groupId) => Run(http, ct => scim.GetGroupAsync(groupId, ct, ScimService.ShowsMembers(http.Request.Query["attributes"], http.Request.Query["excludedAttributes"])), scim)).WithName(name + "GetGroup");
            api.MapPut("/Groups/{groupId}", (HttpContext http, ScimService scim, string groupId) => Run(http, async ct => await scim.ReplaceGroupAsync(groupId, await BodyAsync(http), IfMatch(http), ct), scim)).WithName(name + "ReplaceGroup");
            api.MapPatch("/Groups/{groupId}", (HttpContext http, ScimService scim, string groupId) => Run(http, async ct => await scim.PatchGroupAsync(groupId, await BodyAsync(http), IfMatch(http), ct, RepresentationAsked(http)), scim)).WithName(name + "PatchGroup");
            api.MapDelete("/Groups/{groupId}", (HttpContext http, ScimService scim, string groupId, bool? isSoftDeleted) => Run(http, ct => scim.DeleteGroupAsync(groupId, isSoftDeleted == true, IfMatch(http), ct), scim)).WithName(name + "DeleteGroup");
            api.MapPost("/.search", (HttpContext http, ScimService scim) => Run(http, async ct => await List(http, scim, ["User", "Group"], SearchOf(await BodyAsync(http)), ct))).WithName(name + "Search").WithMetadata(ScimRoute.Search);
            api.MapPost("/Bulk", (HttpContext http, ScimService scim) => Run(http, async ct => await ScimBulk.ExecuteAsync(scim, await BulkBodyAsync(http), ct), scim)).WithName(name + "Bulk");
            // Only these two routes are /Me (ScimRoute.Me): a user id or group id that happens to read "Me" is not.
            api.MapGet("/Me", (HttpContext http, ScimService scim) => Run(http, ct => scim.GetUserAsync(MeId(http), ct), scim)).WithName(name + "GetMe").WithMetadata(ScimRoute.Me);
            api.MapPatch("/Me", (HttpContext http, ScimService scim) => Run(http, async ct => await scim.PatchMeAsync(MeId(http), await BodyAsync(http), IfMatch(http), ct), scim)).WithName(name + "PatchMe").WithMetadata(ScimRoute.Me);
        }

        return app;
    }

    /// <summary>The public SCIM base of this request (behind the gateway the Host header is not the public one).</summary>
    private static string Base(HttpContext http)
    {
        var path = http.Request.Path.Value!;
        var marker = path.Contains("/scim2.0", StringComparison.Ordinal) ? "/scim2.0" : "/scim/v2";
        var publicBase = http.RequestServices.GetRequiredService<IOptions<LumoAuth.ServiceDefaults.LumoAuthOptions>>().Value.PublicBaseUrl.TrimEnd('/');
        return publicBase + path[..(path.IndexOf(marker, StringComparison.Ordinal) + marker.Length)];
    }

    private static async Task<ScimResult> List(HttpContext http, ScimService scim, string[] types, ScimQuery query, CancellationToken cancellationToken)
    {
        scim.BaseUrl = Base(http);
        return new ScimResult(200, await scim.ListAsync(types, query, cancellationToken));
    }

    private static ScimQuery QueryOf(HttpContext http)
    {
        var q = http.Request.Query;
        return new ScimQuery(q["filter"], Int(q["startIndex"]), Int(q["count"]), q["sortBy"], q["sortOrder"], q["attributes"], q["excludedAttributes"]);

        static int? Int(string? value) => value is null ? null
            : int.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : throw ScimException.InvalidValue($"'{value}' is not an integer");
    }

    private static ScimQuery SearchOf(JsonNode? body)
    {
        if (body is not JsonObject search)
        {
            throw ScimException.InvalidSyntax("a SearchRequest must be a JSON object");
        }

        string? Text(string name) => search[name] switch
        {
            null => null,
            JsonArray array => string.Join(',', array.Select(a => a is JsonValue v && ScimJson.Element(v).ValueKind == JsonValueKind.String
                ? v.GetValue<string>()
                : throw ScimException.InvalidValue($"'{name}' must list attribute names"))),
            JsonValue value when ScimJson.Element(value).ValueKind == JsonValueKind.String => value.GetValue<string>(),
            _ => throw ScimException.InvalidValue($"'{name}' has the wrong type"),
        };

        int? Number(string name) => search[name] switch
        {
            null => null,
            JsonValue value when ScimJson.Element(value) is { ValueKind: JsonValueKind.Number } e && e.TryGetInt32(out var n) => n,
            _ => throw ScimException.InvalidValue($"'{name}' must be an integer"),
        };

        return new ScimQuery(Text("filter"), Number("startIndex"), Number("count"), Text("sortBy"), Text("sortOrder"), Text("attributes"), Text("excludedAttributes"));
    }

    /// <summary>
    /// The schemas; for a caller whose credential may read the tenant's users (an API key or token, not Basic, which would
    /// count as a sign-in), the Profile extension lists the tenant's declared attributes, so a provisioning client that builds
    /// its mapping from discovery (Okta's schema import) finds them. Anyone else gets the extension without them.
    /// </summary>
    private static async Task<IReadOnlyList<JsonObject>> SchemasAsync(HttpContext http, ScimService scim, CancellationToken cancellationToken)
    {
        var schemas = ScimSchemas.All(Base(http));
        if (http.Request.Headers.Authorization.ToString().StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)
            || await http.AuthenticateAsync(AuthSchemes.Tenant) is not { Succeeded: true } result || !ScimAuthFilter.MayRead(result.Principal))
        {
            return schemas;
        }

        var profile = schemas.First(s => s["id"]!.GetValue<string>() == ScimSchemas.Profile);
        profile["attributes"] = new JsonArray([.. (await scim.DeclaredAsync(cancellationToken)).Select(a => (JsonNode)ScimSchemas.Declared(a))]);
        return schemas;
    }

    private static JsonObject ListOf<T>(IReadOnlyList<T> items, Func<T, JsonObject> map)
    {
        var resources = new JsonArray(items.Select(i => (JsonNode)map(i)).ToArray());
        return new JsonObject
        {
            ["schemas"] = new JsonArray(ScimSchemas.ListResponse), ["totalResults"] = resources.Count, ["startIndex"] = 1,
            ["itemsPerPage"] = resources.Count, ["Resources"] = resources,
        };
    }

    private static string? IfMatch(HttpContext http) => http.Request.Headers.IfMatch.ToString() is { Length: > 0 } value ? value : null;

    /// <summary>
    /// /Me is the user who signed this very request in with their password (HTTP Basic): it can change the password and
    /// the sign-in names, so an access token, which any application the user signed in to holds, is not enough. An API
    /// key or client has no user behind it (RFC 7644 §3.11: 501).
    /// </summary>
    private static string MeId(HttpContext http)
    {
        var sub = http.User.FindFirst(LumoClaims.ApiKeyId) is null ? http.User.FindFirst(LumoClaims.Subject)?.Value : null;
        if (sub is null || !Guid.TryParse(sub, out _))
        {
            throw new ScimException(501, null, "/Me needs a user's credentials; this caller is not a user");
        }

        // The identity's type, which only the filter's Basic sign-in sets (a token's claims could name any method).
        return http.User.Identity?.AuthenticationType == ScimAuthFilter.BasicAuthentication
            ? sub
            : throw new ScimException(403, null, "/Me takes the user's own email and password (HTTP Basic), not an access token");
    }

    /// <summary>A Bulk request's body, held to the maxPayloadSize the service configuration advertises (413 beyond it).</summary>
    private static Task<JsonNode?> BulkBodyAsync(HttpContext http)
    {
        if (http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit
            && (limit.MaxRequestBodySize is null || limit.MaxRequestBodySize > ScimSchemas.MaxBulkPayload))
        {
            limit.MaxRequestBodySize = ScimSchemas.MaxBulkPayload;
        }

        return http.Request.ContentLength > ScimSchemas.MaxBulkPayload
            ? throw new BadHttpRequestException($"A bulk request is at most {ScimSchemas.MaxBulkPayload} bytes", StatusCodes.Status413PayloadTooLarge)
            : BodyAsync(http);
    }

    public static async Task<JsonNode?> BodyAsync(HttpContext http)
    {
        try
        {
            return await JsonNode.ParseAsync(http.Request.Body, documentOptions: new JsonDocumentOptions { MaxDepth = 32, AllowDuplicateProperties = false }, cancellationToken: http.RequestAborted);
        }
        catch (JsonException)
        {
            throw ScimException.InvalidSyntax("the body is not valid JSON");
        }
    }

    private static async Task<IResult> Run(HttpContext http, Func<CancellationToken, Task<ScimResult>> action, ScimService? scim = null)
    {
        if (scim is not null)
        {
            scim.BaseUrl = Base(http);
        }

        try
        {
            var result = await action(http.RequestAborted);
            if (HttpMethods.IsGet(http.Request.Method) && result.Version is not null && http.Request.Headers.IfNoneMatch.ToString() == result.Version)
            {
                return new ScimJsonResult(304, null, null, result.Version);
            }

            return new ScimJsonResult(result.Status, Projected(http, result.Body), result.Status == 201 ? result.Location : null, result.Version);
        }
        catch (ScimException ex)
        {
            return Error(ex.Status, ex.ScimType, ex.Message);
        }
    }

    /// <summary>
    /// RFC 7644 §3.9: <c>attributes</c> and <c>excludedAttributes</c> shape every answer that returns a resource (a read,
    /// and what a create, replace or patch returns), not only lists, which project their resources themselves.
    /// </summary>
    private static JsonNode? Projected(HttpContext http, JsonNode? body)
    {
        var query = http.Request.Query;
        return body is JsonObject resource && resource["meta"]?["resourceType"] is JsonValue type && type.TryGetValue<string>(out var kind)
            && kind is "User" or "Group" && RepresentationAsked(http)
            ? ScimService.Project(resource, query["attributes"], query["excludedAttributes"])
            : body;
    }

    private static bool RepresentationAsked(HttpContext http) =>
        http.Request.Query.ContainsKey("attributes") || http.Request.Query.ContainsKey("excludedAttributes");

    public static IResult Error(int status, string? scimType, string detail) => new ScimJsonResult(status, ErrorBody(status, scimType, detail), null, null);

    public static JsonObject ErrorBody(int status, string? scimType, string detail) => ScimErrorBody.Create(status, scimType, detail);

    private sealed class ScimJsonResult(int status, JsonNode? body, string? location, string? etag) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.StatusCode = status;
            if (location is not null)
            {
                response.Headers.Location = location;
            }

            if (etag is not null)
            {
                response.Headers.ETag = etag;
            }

            if (body is not null)
            {
                response.ContentType = MediaType;
                await response.WriteAsync(body.ToJsonString(), Encoding.UTF8, httpContext.RequestAborted);
            }
        }
    }
}

/// <summary>
/// Authenticates a SCIM call: a tenant API key (as <c>Bearer lmk_…</c> like SCIM clients send it, or
/// <c>X-API-Key</c>), an admin bearer token, or HTTP Basic with a user's email and password. Everything but
/// /Me needs an admin credential; reads need a reading scope, writes a writing one.
/// </summary>
public sealed class ScimAuthFilter(TenantContext tenant, IServiceProvider services) : IEndpointFilter
{
    /// <summary>The authentication type of a principal built here from a user's Basic credentials.</summary>
    public const string BasicAuthentication = "ScimBasic";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var (principal, isAdminUser, refusal) = await AuthenticateAsync(http);
        if (refusal is not null)
        {
            return refusal;
        }

        if (principal is null)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer realm=\"scim\"";
            return ScimEndpoints.Error(401, null, "Authentication required: an admin API key or bearer token, or Basic credentials");
        }

        http.User = principal;
        // What the route is comes from the endpoint matched, never from how its path ends: /Users/Me and /Groups/Me
        // are a user and a group handler, and PUT /Users/.search is a replace.
        var route = http.GetEndpoint()?.Metadata.GetMetadata<ScimRoute>();
        var isMe = route == ScimRoute.Me;
        var reading = HttpMethods.IsGet(http.Request.Method) || route == ScimRoute.Search;
        var allowed = isMe || isAdminUser || (reading ? MayRead(principal) : AdminScopeHandler.ScopesOf(principal).Any(s => s is "admin" or "admin:write" or "admin.write"));
        return allowed ? await next(context) : ScimEndpoints.Error(403, null, "The credential lacks the admin scope this operation needs");
    }

    /// <summary>Whether a credential's scopes let it read the tenant's users and groups.</summary>
    public static bool MayRead(ClaimsPrincipal? principal) =>
        principal is not null && AdminScopeHandler.ScopesOf(principal).Any(s => s is "admin" or "admin:write" or "admin.write" or "admin:read" or "admin.read");

    /// <summary>Who the caller is; or, for a password the tenant does not take or an address that must wait, the answer.</summary>
    private async Task<(ClaimsPrincipal? Principal, bool IsAdminUser, IResult? Refusal)> AuthenticateAsync(HttpContext http)
    {
        // An API key (X-API-Key, or Bearer lmk_… as SCIM clients send it) and bearer tokens go through the tenant scheme.
        var authorization = http.Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return await BasicAsync(http, authorization["Basic ".Length..].Trim());
        }

        var result = await http.AuthenticateAsync(AuthSchemes.Tenant);
        return (result.Succeeded ? result.Principal : null, false, null);
    }

    /// <summary>
    /// Basic credentials are a password sign-in, under the hosted login's rules: refused where the tenant takes no passwords
    /// (magicLinkOnly), counted in the per-address failed sign-in throttle it shares with the hosted login (429 while the
    /// address must wait), and checked by the password login (lockout, blocked users). The address is the forwarded client's.
    /// </summary>
    private async Task<(ClaimsPrincipal? Principal, bool IsAdminUser, IResult? Refusal)> BasicAsync(HttpContext http, string encoded)
    {
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
        }
        catch (FormatException)
        {
            return (null, false, null);
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return (null, false, null);
        }

        var settings = await TenantSettings.LoadAsync(services.GetRequiredService<AdminDbContext>(), tenant.TenantId, http.RequestAborted);
        if (settings.LoginPolicy.MagicLinkOnly)
        {
            return (null, false, ScimEndpoints.Error(403, null, "This tenant takes no passwords (sign-in links only): use an API key or a bearer token"));
        }

        var throttle = services.GetRequiredService<FailedSignInThrottle>();
        var address = http.Connection.RemoteIpAddress?.ToString();
        if (await throttle.WaitAsync(tenant.TenantId, address) is { } wait)
        {
            var seconds = (int)Math.Ceiling(wait.TotalSeconds);
            http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return (null, false, ScimEndpoints.Error(429, null, $"Too many failed sign-ins from this address; retry in {seconds} seconds"));
        }

        var authenticator = services.GetRequiredService<Authenticator>();
        var outcome = await authenticator.AuthenticateAsync(
            new AuthenticateRequest(tenant.TenantId, decoded[..colon], decoded[(colon + 1)..], null, address),
            http.RequestAborted);
        if (outcome.Outcome is AuthenticationOutcomes.InvalidCredentials or AuthenticationOutcomes.MfaInvalid or AuthenticationOutcomes.Locked)
        {
            // What the hosted login counts, so the two paths agree on the address's count.
            await throttle.RecordFailureAsync(tenant.TenantId, address);
        }

        if (outcome.Outcome != AuthenticationOutcomes.Success || outcome.UserId is not { } userId)
        {
            return (null, false, null);
        }

        var scim = services.GetRequiredService<ScimService>();
        var user = await scim.FindUserByIdAsync(userId, http.RequestAborted);
        var identity = new ClaimsIdentity(
            [new Claim(LumoClaims.Subject, userId.ToString()), new Claim(LumoClaims.TenantId, tenant.TenantId.ToString()), new Claim(LumoClaims.AuthMethod, "basic")],
            BasicAuthentication, LumoClaims.Subject, "role");
        return (new ClaimsPrincipal(identity), user?.IsAdmin == true, null);
    }
}

/// <summary>Endpoint metadata naming the SCIM routes the auth filter treats apart: the two /Me routes, and the searches (reads sent as POST).</summary>
public sealed class ScimRoute
{
    public static readonly ScimRoute Me = new();

    public static readonly ScimRoute Search = new();

    private ScimRoute()
    {
    }
}
