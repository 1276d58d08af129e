using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using LumoAuth.Authorization.Consistency;
using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Engine.Abac;
using LumoAuth.Authorization.Engine.Conditions;
using LumoAuth.Authorization.Features.Rbac;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Authorization.Features.Abac;

/// <summary>AZ-06…10: ABAC checks in both documented shapes (C-31), batches, and the stored subject/resource attributes.</summary>
public static class AbacCheckEndpoints
{
    public const int MaxBatch = 100;

    public static IEndpointRouteBuilder MapAbacCheckEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/abac").WithTags("ABAC");
        group.MapPost("/check", Check).WithName("AbacCheck").RequireAuthorization(Policies.TenantCaller);
        group.MapPost("/check/batch", CheckBatch).WithName("AbacCheckBatch").RequireAuthorization(Policies.TenantCaller);
        group.MapPost("/check-bulk", CheckBulk).WithName("AbacCheckBulk").RequireAuthorization(Policies.TenantCaller);
        group.MapGet("/my-attributes", MyAttributes).WithName("AbacMyAttributes").RequireAuthorization(Policies.TenantCaller);
        group.MapPut("/resources/{resourceType}/{resourceId}/attributes", PutResourceAttributes).WithName("PutResourceAttributes").RequireAuthorization(Policies.TenantAdmin);
        group.MapPut("/users/{userId}/attributes/{attributeSlug}", PutUserAttribute).WithName("PutUserAttribute").RequireAuthorization(Policies.TenantAdmin);
        return app;
    }

    public static async Task<IResult> Check(AbacCheckRequest request, [AsParameters] AbacCheckServices services, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var policies = await services.PoliciesAsync(cancellationToken);
        var (built, error) = await services.BuildAsync(request, policies, cancellationToken);
        if (built is null)
        {
            return error!;
        }

        var decision = AbacEvaluator.Evaluate(policies.Policies, built.Request, policies.Combining);
        return built.IsShapeA
            ? TypedResults.Ok(ShapeA(decision, started))
            : TypedResults.Ok(ShapeB(decision, built));
    }

    public static async Task<IResult> CheckBatch(AbacBatchRequest request, [AsParameters] AbacCheckServices services, CancellationToken cancellationToken)
    {
        var checks = request.Checks ?? request.Requests;
        if (checks is not { Count: > 0 and <= MaxBatch })
        {
            return ApiErrors.Validation("checks", $"must hold between 1 and {MaxBatch} checks");
        }

        var policies = await services.PoliciesAsync(cancellationToken);
        var results = new List<object>();
        foreach (var check in checks)
        {
            var started = Stopwatch.GetTimestamp();
            var (built, error) = check is null ? (null, ApiErrors.Validation("checks", "must not hold null entries")) : await services.BuildAsync(check, policies, cancellationToken);
            if (built is null)
            {
                return error!;
            }

            var decision = AbacEvaluator.Evaluate(policies.Policies, built.Request, policies.Combining);
            results.Add(built.IsShapeA ? ShapeA(decision, started) : ShapeB(decision, built));
        }

        return TypedResults.Ok(new { results });
    }

    public static Task<IResult> CheckBulk(AbacBatchRequest request, [AsParameters] AbacCheckServices services, CancellationToken cancellationToken) =>
        CheckBatch(request, services, cancellationToken);

    /// <summary>
    /// AZ-09: the attributes policies see for the caller (or, for an admin credential, <c>?subject=</c>): stored
    /// traits, the custom attributes and profile facts admin holds for a user, roles, groups and permissions.
    /// </summary>
    public static async Task<IResult> MyAttributes(string? subject, ClaimsPrincipal caller, AuthorizationDbContext db, TenantContext tenant, SubjectAttributes subjects, CancellationToken cancellationToken)
    {
        if (!AuthzEndpoints.TrySubject(caller, subject, out var who, out var error))
        {
            return error!;
        }

        var stored = await AbacRequests.LoadAsync(db, tenant.TenantId, AbacRequests.SubjectEntityPrefix + who.Type, who.Id, cancellationToken);
        var (attributes, problem) = await subjects.BuildAsync(tenant.TenantId, who, stored, new Dictionary<string, object?>(), keysRead: null, cancellationToken);
        return attributes is null ? problem! : TypedResults.Ok(attributes);
    }

    public static async Task<IResult> PutResourceAttributes(string resourceType, string resourceId, JsonElement body, AuthorizationDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (resourceType.Length > 64 || resourceId.Length > 256 || resourceType.StartsWith(AbacRequests.SubjectEntityPrefix, StringComparison.Ordinal))
        {
            return ApiErrors.Validation("resourceType", "must be a resource type of at most 64 characters (not starting with 'subject:')");
        }

        if (body.ValueKind != JsonValueKind.Object)
        {
            return ApiErrors.Validation("attributes", "must be a JSON object");
        }

        var keys = body.EnumerateObject().Select(p => p.Name).ToList();
        var definitions = await db.AbacAttributes.AsNoTracking().Where(a => a.Category == "resource" && keys.Contains(a.Key)).ToListAsync(cancellationToken);
        foreach (var definition in definitions)
        {
            if (AttributeRules.Problem(definition, body.GetProperty(definition.Key)) is { } problem)
            {
                return ApiErrors.Validation(definition.Key, problem);
            }
        }

        var merged = await AbacRequests.StoreAttributesAsync(db, tenant.TenantId, resourceType, resourceId, ContextValues.FromJson(body), cancellationToken);
        return TypedResults.Ok(new DataResponse<object>(new { resourceType, resourceId, attributes = merged }, "Attributes saved"));
    }

    public static async Task<IResult> PutUserAttribute(string userId, string attributeSlug, AttributeValueRequest request, AuthorizationDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (userId.Length > 256 || attributeSlug.Length > 100 || !RbacCatalog.IsSlug(attributeSlug))
        {
            return ApiErrors.Validation("attributeSlug", "must be a slug of at most 100 characters");
        }

        if (request.Value is null || request.Value.Value.ValueKind == JsonValueKind.Undefined)
        {
            return ApiErrors.Validation("value", "is required");
        }

        var definition = await db.AbacAttributes.AsNoTracking().FirstOrDefaultAsync(a => a.Key == attributeSlug && a.Category == "subject", cancellationToken);
        if (definition is not null && AttributeRules.Problem(definition, request.Value.Value) is { } problem)
        {
            return ApiErrors.Validation("value", problem);
        }

        var value = ContextValues.Normalize(request.Value.Value);

        var merged = await AbacRequests.StoreAttributesAsync(db, tenant.TenantId, AbacRequests.SubjectEntityPrefix + RbacModel.User, userId, new Dictionary<string, object?> { [attributeSlug] = value }, cancellationToken);
        return TypedResults.Ok(new DataResponse<object>(new { userId, attributes = merged }, "Attribute saved"));
    }

    private static ShapeAResponse ShapeA(AbacDecision decision, long started) => new(
        decision.Allowed ? "allow" : "deny",
        decision.Reason,
        [.. decision.MatchedPolicies.Select(p => new ShapeAPolicy(p.Id, p.Name, Effect(p)))],
        Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 3));

    private static ShapeBResponse ShapeB(AbacDecision decision, BuiltRequest built) => new(
        decision.Allowed,
        decision.Reason,
        [.. decision.MatchedPolicies.Select(p => new ShapeBPolicy(p.Id, p.Name, Effect(p), p.Priority))],
        new EvaluationContext(built.Request.Subject, built.Request.Resource, built.Request.Environment));

    private static string Effect(AbacPolicy policy) => policy.Effect == PolicyEffect.Allow ? "allow" : "deny";
}

/// <summary>What every ABAC check needs, bound in one go.</summary>
public sealed record AbacCheckServices(AuthorizationDbContext Db, TenantContext Tenant, AbacRequests Requests, AbacPolicyCache PolicyCache, ClaimsPrincipal Caller, HttpContext Http)
{
    public Task<(BuiltRequest? Built, IResult? Error)> BuildAsync(AbacCheckRequest request, AbacPolicySet policies, CancellationToken cancellationToken) =>
        Requests.BuildAsync(request, Caller, Tenant.TenantId, Http.Connection.RemoteIpAddress?.ToString(), policies, cancellationToken);

    public ValueTask<AbacPolicySet> PoliciesAsync(CancellationToken cancellationToken) =>
        PolicyCache.GetAsync(Db, Tenant.TenantId, cancellationToken);
}

public sealed record BuiltRequest(AbacRequest Request, bool IsShapeA);

/// <summary>
/// Turns either check shape into an <see cref="AbacRequest"/>: the subject as <see cref="SubjectAttributes"/> sees it,
/// the resource's stored attributes under the request's own (which win), and the computed environment
/// (time, hour, dayOfWeek 1 = Monday, isWeekend, ip). What stands in for a fact the check establishes itself (the time,
/// the address, the resource's attributes, who the subject is and what it holds) is taken only from an admin credential
/// (<see cref="AuthzEndpoints.IsAdminCredential"/>, the test <see cref="AuthzEndpoints.TrySubject"/> applies); anyone
/// else who sends it is refused with 403 <c>permission_denied</c>, as when naming another subject.
/// </summary>
public sealed class AbacRequests(AuthorizationDbContext db, SubjectAttributes subjects, TimeProvider time)
{
    /// <summary>Subject attributes are stored per subject type (<c>subject:user</c>, <c>subject:agent</c>), apart from resources.</summary>
    public const string SubjectEntityPrefix = "subject:";

    /// <summary>The environment a check computes; only an admin credential may set <c>time</c> and <c>ip</c>, and the rest follow <c>time</c>.</summary>
    private static readonly string[] ComputedEnvironment = ["time", "ip", "hour", "dayOfWeek", "isWeekend"];

    private static readonly string[] AdminOnlyProblem = ["only an admin credential may supply this"];

    public async Task<(BuiltRequest? Built, IResult? Error)> BuildAsync(AbacCheckRequest request, ClaimsPrincipal caller, Guid tenantId, string? remoteIp, AbacPolicySet policies, CancellationToken cancellationToken)
    {
        var isShapeA = request.Resource is { ValueKind: JsonValueKind.Object };
        var isAdmin = AuthzEndpoints.IsAdminCredential(caller);
        var adminOnly = new List<string>();
        var problems = new RequestValidator().Required("action", request.Action, 100);
        string? subjectId = null;
        string subjectType = RbacModel.User;
        Dictionary<string, object?> subjectAttributes = [];
        Dictionary<string, object?> resourceAttributes = [];
        string? resourceType;
        string? resourceId;

        if (isShapeA)
        {
            var resource = request.Resource!.Value;
            resourceType = resource.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            resourceId = resource.TryGetProperty("id", out var i) && i.ValueKind is JsonValueKind.String or JsonValueKind.Number ? i.ToString() : null;
            if (resource.TryGetProperty("attributes", out var ra) && ra.ValueKind == JsonValueKind.Object)
            {
                resourceAttributes = (Dictionary<string, object?>)ContextValues.FromJson(ra);
                Supplied(adminOnly, "resource.attributes", resourceAttributes, emptyAttributesSayNothing: true);
            }

            if (request.Subject is not { ValueKind: JsonValueKind.Object } subject)
            {
                problems.Add("subject", "is required: {id, type?, attributes?}");
            }
            else
            {
                subjectId = subject.TryGetProperty("id", out var si) && si.ValueKind is JsonValueKind.String or JsonValueKind.Number ? si.ToString() : null;
                var namedType = subject.TryGetProperty("type", out var st) && st.ValueKind == JsonValueKind.String ? st.GetString()! : null;
                subjectType = namedType ?? RbacModel.User;
                problems.Check(!string.IsNullOrWhiteSpace(subjectId) && subjectId.Length <= 256, "subject.id", "is required");
                if (subject.TryGetProperty("attributes", out var sa) && sa.ValueKind == JsonValueKind.Object)
                {
                    subjectAttributes = (Dictionary<string, object?>)ContextValues.FromJson(sa);
                    Supplied(adminOnly, "subject.attributes", subjectAttributes, emptyAttributesSayNothing: true);
                }

                if (!isAdmin && !string.IsNullOrWhiteSpace(subjectId))
                {
                    // As in shape B, anyone but an admin checks for itself: the id (and the type, when given) must be its own.
                    if (!AuthzEndpoints.TrySubject(caller, null, out var self, out var selfError))
                    {
                        return (null, selfError);
                    }

                    if (self.Id != subjectId || (namedType is not null && namedType != self.Type))
                    {
                        adminOnly.Add("subject");
                    }

                    subjectType = self.Type;
                }
            }
        }
        else
        {
            resourceType = request.ResourceType;
            resourceId = request.ResourceId;
            // Shape B checks for the caller's own subject unless an admin credential names one.
            var named = request.Subject is { ValueKind: JsonValueKind.String } s ? s.GetString() : null;
            if (!AuthzEndpoints.TrySubject(caller, named, out var who, out var subjectError))
            {
                return (null, subjectError);
            }

            subjectId = who.Id;
            subjectType = who.Type;
        }

        problems.Check(!string.IsNullOrWhiteSpace(resourceType) && resourceType.Length <= 64, isShapeA ? "resource.type" : "resourceType", "is required");
        problems.Check(resourceId is null || resourceId.Length <= 256, "resourceId", "must be at most 256 characters");
        IReadOnlyDictionary<string, object?>? context = null;
        if (request.Context is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } c)
        {
            problems.Check(c.ValueKind == JsonValueKind.Object, "context", "must be a JSON object");
            context = c.ValueKind == JsonValueKind.Object ? ContextValues.FromJson(c) : null;
            Supplied(adminOnly, "context.ip", context?.GetValueOrDefault("ip"));
            Supplied(adminOnly, "context.resource", context?.GetValueOrDefault("resource"), emptyAttributesSayNothing: true);
        }

        Dictionary<string, object?> environment = [];
        if (request.Environment is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } e)
        {
            problems.Check(e.ValueKind == JsonValueKind.Object, "environment", "must be a JSON object");
            environment = e.ValueKind == JsonValueKind.Object ? (Dictionary<string, object?>)ContextValues.FromJson(e) : [];
            foreach (var key in ComputedEnvironment)
            {
                Supplied(adminOnly, "environment." + key, environment.GetValueOrDefault(key));
            }
        }

        // Refused before anything else is looked at, as TrySubject refuses another subject.
        if (!isAdmin && adminOnly.Count > 0)
        {
            return (null, ApiErrors.Create(StatusCodes.Status403Forbidden, ErrorCodes.PermissionDenied,
                $"Only an admin credential may supply {string.Join(", ", adminOnly)}: a check establishes these itself",
                adminOnly.ToDictionary(field => field, _ => AdminOnlyProblem)));
        }

        DateTimeOffset? given = null;
        if (environment.GetValueOrDefault("time") is { } timeValue)
        {
            if (timeValue is string text && IsoInstants.TryParse(text, out var at))
            {
                given = at;
            }
            else
            {
                problems.Add("environment.time", "must be an ISO 8601 date and time");
            }
        }

        if (!problems.IsValid)
        {
            return (null, problems.ToResult());
        }

        var storedSubject = await LoadAsync(db, tenantId, SubjectEntityPrefix + subjectType, subjectId!, cancellationToken);
        var (subjectView, subjectProblem) = await subjects.BuildAsync(tenantId, new Engine.SubjectRef(subjectType, subjectId!), storedSubject, subjectAttributes, policies.SubjectKeysFor(resourceType!, request.Action!), cancellationToken);
        if (subjectView is null)
        {
            return (null, subjectProblem);
        }

        var storedResource = resourceId is null ? [] : await LoadAsync(db, tenantId, resourceType!, resourceId, cancellationToken);
        var resourceView = Merge(storedResource, resourceAttributes);
        if (context?.GetValueOrDefault("resource") is IReadOnlyDictionary<string, object?> fromContext)
        {
            foreach (var (key, value) in fromContext)
            {
                resourceView[key] = value;
            }
        }

        resourceView["type"] = resourceType;
        if (resourceId is not null)
        {
            resourceView["id"] = resourceId;
        }

        // Hour, day and weekend are always computed, from the admin's time or the moment of the check, over anything the
        // request said: they cannot contradict environment.time, which is written back as that instant in UTC.
        var now = (given ?? time.GetUtcNow()).ToUniversalTime();
        environment["time"] = now.ToString("O", CultureInfo.InvariantCulture);
        environment["hour"] = (long)now.Hour;
        var day = now.DayOfWeek == DayOfWeek.Sunday ? 7L : (long)now.DayOfWeek;
        environment["dayOfWeek"] = day;
        environment["isWeekend"] = day >= 6;
        // An admin's environment.ip, then an admin's context.ip, then the address the request came from.
        if (((isAdmin ? environment.GetValueOrDefault("ip") ?? context?.GetValueOrDefault("ip") : null) ?? remoteIp) is { } ip)
        {
            environment["ip"] = ip;
        }
        else
        {
            environment.Remove("ip");
        }

        return (new BuiltRequest(new AbacRequest(request.Action!, resourceType!, subjectView, resourceView, environment, context), isShapeA), null);
    }

    /// <summary>
    /// Notes <paramref name="field"/> as supplied when it is there with any value but null. An empty set of attributes
    /// changes nothing and is let through (a client library may always send one); any other value counts, an empty object
    /// included, since as an address or a time it would stand in for the real one.
    /// </summary>
    private static void Supplied(List<string> fields, string field, object? value, bool emptyAttributesSayNothing = false)
    {
        if (value is not null && !(emptyAttributesSayNothing && value is IReadOnlyDictionary<string, object?> { Count: 0 }))
        {
            fields.Add(field);
        }
    }

    /// <summary>
    /// Merges <paramref name="attributes"/> into the entity's stored ones (a key given replaces the stored one) in one upsert,
    /// so concurrent writers neither collide on the first row nor lose each other's keys; the merged set is returned.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, object?>> StoreAttributesAsync(AuthorizationDbContext db, Guid tenantId, string entityType, string entityId, IReadOnlyDictionary<string, object?> attributes, CancellationToken cancellationToken)
    {
        var given = JsonSerializer.Serialize(attributes);
        var now = DateTimeOffset.UtcNow;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var merged = (await db.Database.SqlQuery<string>($"""
            INSERT INTO abac_entity_attributes ("TenantId", "EntityType", "EntityId", "Attributes", "UpdatedAt")
            VALUES ({tenantId}, {entityType}, {entityId}, {given}::jsonb, {now})
            ON CONFLICT ("TenantId", "EntityType", "EntityId") DO UPDATE
            SET "Attributes" = abac_entity_attributes."Attributes" || EXCLUDED."Attributes", "UpdatedAt" = EXCLUDED."UpdatedAt"
            RETURNING "Attributes"::text AS "Value"
            """).ToListAsync(cancellationToken)).Single();
        if (merged.Length > 64_000)
        {
            throw new BadHttpRequestException("Attributes too large", StatusCodes.Status413PayloadTooLarge);
        }

        await transaction.CommitAsync(cancellationToken);
        return Parse(merged);
    }

    private static Dictionary<string, object?> Merge(Dictionary<string, object?> stored, Dictionary<string, object?> given)
    {
        foreach (var (key, value) in given)
        {
            stored[key] = value;
        }

        return stored;
    }

    public static async Task<Dictionary<string, object?>> LoadAsync(AuthorizationDbContext db, Guid tenantId, string entityType, string entityId, CancellationToken cancellationToken)
    {
        var json = await db.AbacEntityAttributes.IgnoreQueryFilters().AsNoTracking()
            .Where(a => a.TenantId == tenantId && a.EntityType == entityType && a.EntityId == entityId)
            .Select(a => a.Attributes).FirstOrDefaultAsync(cancellationToken);
        return json is null ? [] : Parse(json);
    }

    private static Dictionary<string, object?> Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return (Dictionary<string, object?>)ContextValues.FromJson(document.RootElement);
    }
}

/// <summary>A value stored for a defined attribute must be of its <c>dataType</c> and, when listed, one of its <c>allowedValues</c>; null clears it.</summary>
public static class AttributeRules
{
    public static string? Problem(AbacAttribute definition, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var fits = definition.DataType switch
        {
            "string" => value.ValueKind == JsonValueKind.String,
            "number" => value.ValueKind == JsonValueKind.Number,
            "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
            "array" => value.ValueKind == JsonValueKind.Array,
            "datetime" => value.ValueKind == JsonValueKind.String && IsoInstants.TryParse(value.GetString(), out _),
            _ => true,
        };
        if (!fits)
        {
            return definition.DataType == "datetime" ? "must be an ISO 8601 date and time" : $"must be of type {definition.DataType}";
        }

        if (definition.AllowedValues is { } allowedJson)
        {
            var given = JsonSerializer.Serialize(ContextValues.Normalize(value));
            using var allowed = JsonDocument.Parse(allowedJson);
            if (!allowed.RootElement.EnumerateArray().Any(a => JsonSerializer.Serialize(ContextValues.Normalize(a)) == given))
            {
                return $"must be one of {allowedJson}";
            }
        }

        return null;
    }
}

public sealed record AttributeValueRequest([property: JsonPropertyName("value")] JsonElement? Value);

/// <summary>Shape A (<c>subject</c>, <c>action</c>, <c>resource</c>, <c>environment</c>) or shape B (<c>resourceType</c>, <c>resourceId</c>, <c>action</c>, <c>context</c>).</summary>
public sealed record AbacCheckRequest(
    [property: JsonPropertyName("subject")] JsonElement? Subject,
    [property: JsonPropertyName("action")] string? Action,
    [property: JsonPropertyName("resource")] JsonElement? Resource,
    [property: JsonPropertyName("environment")] JsonElement? Environment,
    [property: JsonPropertyName("context")] JsonElement? Context,
    [property: JsonPropertyName("resourceType")] string? ResourceType,
    [property: JsonPropertyName("resourceId")] string? ResourceId);

public sealed record AbacBatchRequest(
    [property: JsonPropertyName("checks")] IReadOnlyList<AbacCheckRequest?>? Checks,
    [property: JsonPropertyName("requests")] IReadOnlyList<AbacCheckRequest?>? Requests);

public sealed record ShapeAPolicy(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("effect")] string Effect);

public sealed record ShapeAResponse(
    [property: JsonPropertyName("decision")] string Decision,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("policies")] IReadOnlyList<ShapeAPolicy> Policies,
    [property: JsonPropertyName("evaluationTime")] double EvaluationTime);

public sealed record ShapeBPolicy(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("effect")] string Effect,
    [property: JsonPropertyName("priority")] int Priority);

public sealed record EvaluationContext(
    [property: JsonPropertyName("user")] IReadOnlyDictionary<string, object?> User,
    [property: JsonPropertyName("resource")] IReadOnlyDictionary<string, object?> Resource,
    [property: JsonPropertyName("environment")] IReadOnlyDictionary<string, object?> Environment);

public sealed record ShapeBResponse(
    [property: JsonPropertyName("allowed")] bool Allowed,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("matchedPolicies")] IReadOnlyList<ShapeBPolicy> MatchedPolicies,
    [property: JsonPropertyName("evaluationContext")] EvaluationContext EvaluationContext);
