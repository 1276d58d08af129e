using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Engine.Abac;
using LumoAuth.Contracts.Authorization;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Authorization.Features.Abac;

/// <summary>AZ-11…20: attribute definitions and policies (both documented policy forms), and the policy test.</summary>
public static class AbacAdminEndpoints
{
    private static readonly string[] Categories = ["subject", "resource", "environment"];
    private static readonly string[] DataTypes = ["string", "number", "boolean", "array", "datetime"];

    public static IEndpointRouteBuilder MapAbacAdminEndpoints(this IEndpointRouteBuilder app)
    {
        foreach (var prefix in new[] { "/t/{tenantSlug}/api/v1/admin/abac", "/t/{tenantSlug}/api/v1/abac" })
        {
            // The docs also show the admin operations under /abac (C-31); both paths reach the same handlers.
            var suffix = prefix.EndsWith("/admin/abac", StringComparison.Ordinal) ? string.Empty : "Alias";
            var group = app.MapGroup(prefix).RequireAuthorization(Policies.TenantAdmin).WithTags("ABAC administration");
            group.MapGet("/attributes", ListAttributes).WithName("ListAbacAttributes" + suffix);
            group.MapPost("/attributes", CreateAttribute).WithName("CreateAbacAttribute" + suffix);
            group.MapGet("/attributes/{attributeId:guid}", GetAttribute).WithName("GetAbacAttribute" + suffix);
            group.MapPut("/attributes/{attributeId:guid}", UpdateAttribute).WithName("UpdateAbacAttribute" + suffix);
            group.MapDelete("/attributes/{attributeId:guid}", DeleteAttribute).WithName("DeleteAbacAttribute" + suffix);
            group.MapGet("/policies", ListPolicies).WithName("ListAbacPolicies" + suffix);
            group.MapPost("/policies", CreatePolicy).WithName("CreateAbacPolicy" + suffix);
            group.MapGet("/policies/{policyId:guid}", GetPolicy).WithName("GetAbacPolicy" + suffix);
            group.MapPut("/policies/{policyId:guid}", UpdatePolicy).WithName("UpdateAbacPolicy" + suffix);
            group.MapDelete("/policies/{policyId:guid}", DeletePolicy).WithName("DeleteAbacPolicy" + suffix);
            group.MapPost("/policies/{policyId:guid}/test", TestPolicy).WithName("TestAbacPolicy" + suffix);
            group.MapGet("/settings", AbacSettingsEndpoints.Get).WithName("GetAbacSettings" + suffix);
            group.MapPut("/settings", AbacSettingsEndpoints.Put).WithName("PutAbacSettings" + suffix);
        }

        return app;
    }

    public static async Task<IResult> ListAttributes(AuthorizationDbContext db, string? category, int? page, int? limit, CancellationToken cancellationToken)
    {
        var query = db.AbacAttributes.AsNoTracking();
        if (category is not null)
        {
            query = query.Where(a => a.Category == NormalizeCategory(category));
        }

        var paging = PageRequest.From(page, limit);
        var total = await query.LongCountAsync(cancellationToken);
        var rows = await query.OrderBy(a => a.Key).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<AttributeResponse>([.. rows.Select(AttributeResponse.From)], PageMeta.For(paging, total)));
    }

    public static async Task<IResult> CreateAttribute(AttributeRequest request, AuthorizationDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        var category = NormalizeCategory(request.Category ?? request.AttributeType);
        var allowed = request.AllowedValues ?? request.ValidationRules?.Enum;
        var problems = new RequestValidator()
            .Required("name", request.Name)
            .Required("key", request.Key ?? request.Name, 100)
            .Check(category is not null && Categories.Contains(category), "category", "must be subject, resource or environment")
            .Check(request.DataType is not null && DataTypes.Contains(request.DataType), "dataType", "must be string, number, boolean, array or datetime")
            .Optional("description", request.Description, 1000)
            .AllowedValues(allowed);
        if (!problems.IsValid)
        {
            return problems.ToResult();
        }

        var attribute = new AbacAttribute
        {
            Id = Guid.NewGuid(), TenantId = tenant.TenantId, Key = (request.Key ?? request.Name)!.Trim(), Name = request.Name!.Trim(),
            Category = category!, DataType = request.DataType!, Description = request.Description,
            AllowedValues = allowed?.GetRawText(), CreatedAt = DateTimeOffset.UtcNow,
        };
        db.AbacAttributes.Add(attribute);
        db.AddEvent(new AbacAttributeChanged(attribute.Id, attribute.Key, ConfigurationChanges.Created) { TenantId = tenant.TenantId });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException exception) when (LumoAuth.Messaging.Data.DbErrors.IsUniqueViolation(exception))
        {
            return ApiErrors.Duplicate($"An attribute with key '{attribute.Key}' already exists");
        }

        return TypedResults.Created($"/t/{tenant.Slug}/api/v1/admin/abac/attributes/{attribute.Id}", new DataResponse<AttributeResponse>(AttributeResponse.From(attribute), "Attribute created"));
    }

    public static async Task<IResult> GetAttribute(Guid attributeId, AuthorizationDbContext db, CancellationToken cancellationToken)
    {
        var attribute = await db.AbacAttributes.AsNoTracking().FirstOrDefaultAsync(a => a.Id == attributeId, cancellationToken);
        return attribute is null ? ApiErrors.NotFound("Attribute") : TypedResults.Ok(new DataResponse<AttributeResponse>(AttributeResponse.From(attribute)));
    }

    public static async Task<IResult> UpdateAttribute(Guid attributeId, AttributeRequest request, AuthorizationDbContext db, CancellationToken cancellationToken)
    {
        var attribute = await db.AbacAttributes.FirstOrDefaultAsync(a => a.Id == attributeId, cancellationToken);
        if (attribute is null)
        {
            return ApiErrors.NotFound("Attribute");
        }

        var category = NormalizeCategory(request.Category ?? request.AttributeType);
        var allowed = request.AllowedValues ?? request.ValidationRules?.Enum;
        var problems = new RequestValidator()
            .Optional("name", request.Name)
            .Check(request.Key is null || request.Key == attribute.Key, "key", "cannot be changed")
            .Check(category is null || Categories.Contains(category), "category", "must be subject, resource or environment")
            .Check(request.DataType is null || DataTypes.Contains(request.DataType), "dataType", "must be string, number, boolean, array or datetime")
            .Optional("description", request.Description, 1000)
            .AllowedValues(allowed);
        if (!problems.IsValid)
        {
            return problems.ToResult();
        }

        attribute.Name = request.Name?.Trim() ?? attribute.Name;
        attribute.Category = category ?? attribute.Category;
        attribute.DataType = request.DataType ?? attribute.DataType;
        attribute.Description = request.Description ?? attribute.Description;
        attribute.AllowedValues = allowed?.GetRawText() ?? attribute.AllowedValues;
        db.AddEvent(new AbacAttributeChanged(attribute.Id, attribute.Key, ConfigurationChanges.Updated) { TenantId = attribute.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(new DataResponse<AttributeResponse>(AttributeResponse.From(attribute), "Attribute updated"));
    }

    /// <summary>Deleting a definition leaves policies alone: conditions on an attribute nobody sets simply do not hold.</summary>
    public static async Task<IResult> DeleteAttribute(Guid attributeId, AuthorizationDbContext db, CancellationToken cancellationToken)
    {
        var attribute = await db.AbacAttributes.FirstOrDefaultAsync(a => a.Id == attributeId, cancellationToken);
        if (attribute is null)
        {
            return ApiErrors.NotFound("Attribute");
        }

        db.AbacAttributes.Remove(attribute);
        db.AddEvent(new AbacAttributeChanged(attribute.Id, attribute.Key, ConfigurationChanges.Deleted) { TenantId = attribute.TenantId });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            // Deleted by a parallel request first.
            return ApiErrors.NotFound("Attribute");
        }

        return TypedResults.Ok(new DataResponse<object>(new { id = attributeId }, "Attribute deleted"));
    }

    public static async Task<IResult> ListPolicies(AuthorizationDbContext db, bool? isActive, int? page, int? limit, CancellationToken cancellationToken)
    {
        var query = db.AbacPolicies.AsNoTracking();
        if (isActive is { } active)
        {
            query = query.Where(p => p.IsActive == active);
        }

        var paging = PageRequest.From(page, limit);
        var total = await query.LongCountAsync(cancellationToken);
        var rows = await query.OrderByDescending(p => p.Priority).ThenBy(p => p.Name).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<PolicyResponse>([.. rows.Select(PolicyResponse.From)], PageMeta.For(paging, total)));
    }

    public static async Task<IResult> CreatePolicy(PolicyRequest request, AuthorizationDbContext db, TenantContext tenant, AbacPolicyCache cache, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var row = new AbacPolicyRow { Id = Guid.NewGuid(), TenantId = tenant.TenantId, IsActive = true, Priority = 100, CreatedAt = now, UpdatedAt = now };
        if (Apply(request, row, creating: true) is { } problem)
        {
            return problem;
        }

        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            db.AbacPolicies.Add(row);
            var revision = await AbacPolicyCache.RecordChangeAsync(db, tenant.TenantId, row.Id, "created", cancellationToken);
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await cache.AfterWriteAsync(tenant.TenantId, revision, cancellationToken);
        }

        return TypedResults.Created($"/t/{tenant.Slug}/api/v1/admin/abac/policies/{row.Id}", new DataResponse<PolicyResponse>(PolicyResponse.From(row), "Policy created"));
    }

    public static async Task<IResult> GetPolicy(Guid policyId, AuthorizationDbContext db, CancellationToken cancellationToken)
    {
        var row = await db.AbacPolicies.AsNoTracking().FirstOrDefaultAsync(p => p.Id == policyId, cancellationToken);
        return row is null ? ApiErrors.NotFound("Policy") : TypedResults.Ok(new DataResponse<PolicyResponse>(PolicyResponse.From(row)));
    }

    public static async Task<IResult> UpdatePolicy(Guid policyId, PolicyRequest request, AuthorizationDbContext db, TenantContext tenant, AbacPolicyCache cache, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // The revision lock comes first, so concurrent updates of one policy apply one after the other.
        var revision = await AbacPolicyCache.RecordChangeAsync(db, tenant.TenantId, policyId, "updated", cancellationToken);
        var row = await db.AbacPolicies.FirstOrDefaultAsync(p => p.Id == policyId, cancellationToken);
        if (row is null)
        {
            return ApiErrors.NotFound("Policy");
        }

        if (Apply(request, row, creating: false) is { } problem)
        {
            return problem;
        }

        row.UpdatedAt = DateTimeOffset.UtcNow;
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await cache.AfterWriteAsync(tenant.TenantId, revision, cancellationToken);
        return TypedResults.Ok(new DataResponse<PolicyResponse>(PolicyResponse.From(row), "Policy updated"));
    }

    public static async Task<IResult> DeletePolicy(Guid policyId, AuthorizationDbContext db, TenantContext tenant, AbacPolicyCache cache, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var revision = await AbacPolicyCache.RecordChangeAsync(db, tenant.TenantId, policyId, "deleted", cancellationToken);
        if (await db.AbacPolicies.Where(p => p.Id == policyId).ExecuteDeleteAsync(cancellationToken) == 0)
        {
            return ApiErrors.NotFound("Policy");
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await cache.AfterWriteAsync(tenant.TenantId, revision, cancellationToken);
        return TypedResults.Ok(new DataResponse<object>(new { id = policyId }, "Policy deleted"));
    }

    /// <summary>AZ-20: evaluates one policy (active or not) against a sample request; nothing is stored or decided for real.</summary>
    public static async Task<IResult> TestPolicy(Guid policyId, AbacCheckRequest request, AuthorizationDbContext db, TenantContext tenant, AbacRequests requests, System.Security.Claims.ClaimsPrincipal caller, HttpContext http, CancellationToken cancellationToken)
    {
        var row = await db.AbacPolicies.AsNoTracking().FirstOrDefaultAsync(p => p.Id == policyId, cancellationToken);
        if (row is null)
        {
            return ApiErrors.NotFound("Policy");
        }

        var policy = PolicyRows.ToPolicy(row) with { IsActive = true };
        var (built, error) = await requests.BuildAsync(request, caller, tenant.TenantId, http.Connection.RemoteIpAddress?.ToString(), new AbacPolicySet([policy]), cancellationToken);
        if (built is null)
        {
            return error!;
        }

        var applies = AbacEvaluator.Evaluate([policy with { Conditions = null }], built.Request).MatchedPolicies.Count > 0;
        var holds = AbacEvaluator.ConditionsHold(policy, built.Request);
        var matched = applies && holds;
        return TypedResults.Ok(new DataResponse<PolicyTestResponse>(new PolicyTestResponse(
            matched, applies, holds, row.Effect,
            matched ? (policy.Effect == PolicyEffect.Allow ? "allow" : "deny") : "not_applicable",
            matched ? $"Policy '{row.Name}' matches: it would {row.Effect}" : !applies ? $"Policy '{row.Name}' does not target '{built.Request.Action}' on '{built.Request.ResourceType}'" : $"Policy '{row.Name}' targets the request but its conditions do not hold")));
    }

    private static IResult? Apply(PolicyRequest request, AbacPolicyRow row, bool creating)
    {
        var problems = new RequestValidator();
        if (creating || request.Name is not null)
        {
            problems.Required("name", request.Name);
        }

        problems.Optional("description", request.Description, 1000);
        var effect = request.Effect?.ToLowerInvariant();
        if (creating || effect is not null)
        {
            problems.Check(effect is "allow" or "deny", "effect", "must be allow or deny");
        }

        problems.Check(request.Priority is null or >= 0 and <= 1000, "priority", "must be between 0 and 1000");
        var resources = request.Target?.Resources ?? (request.ResourceType is null ? null : [request.ResourceType]);
        var actions = request.Target?.Actions ?? (request.Action is null ? null : [request.Action]);
        problems.Check(resources is null || (resources.Count <= 50 && resources.All(r => !string.IsNullOrWhiteSpace(r) && r.Length <= 100)), "target.resources", "must be at most 50 non-empty names");
        problems.Check(actions is null || (actions.Count <= 50 && actions.All(a => !string.IsNullOrWhiteSpace(a) && a.Length <= 100)), "target.actions", "must be at most 50 non-empty names");

        string? conditions = null;
        if (request.Conditions is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } json)
        {
            var errors = new List<string>();
            var node = ConditionJson.Parse(json, errors);
            errors.ForEach(e => problems.Add("conditions", e));
            conditions = node is null ? null : ConditionJson.ToJson(node).ToJsonString();
        }
        else if (creating)
        {
            problems.Add("conditions", "is required (use {\"all\": []} for a policy that always matches its targets)");
        }

        if (!problems.IsValid)
        {
            return problems.ToResult();
        }

        row.Name = request.Name?.Trim() ?? row.Name;
        row.Description = request.Description ?? row.Description;
        row.Effect = effect ?? row.Effect;
        row.Priority = request.Priority ?? row.Priority;
        row.IsActive = request.IsActive ?? row.IsActive;
        row.Resources = resources is null ? row.Resources : JsonSerializer.Serialize(resources.Select(r => r.Trim()));
        row.Actions = actions is null ? row.Actions : JsonSerializer.Serialize(actions.Select(a => a.Trim()));
        row.Conditions = conditions ?? row.Conditions;
        return null;
    }

    private static string? NormalizeCategory(string? category) => category?.ToLowerInvariant() switch
    {
        "user" => "subject",
        var other => other,
    };

    /// <summary>An attribute's <c>allowedValues</c>: an array whose numbers a double holds (later writes are compared against it).</summary>
    private static RequestValidator AllowedValues(this RequestValidator validator, JsonElement? allowed) => validator
        .Check(allowed is null || allowed.Value.ValueKind == JsonValueKind.Array, "allowedValues", "must be an array")
        .Check(allowed is null || LumoAuth.Authorization.Engine.Conditions.ContextValues.HasOnlyFiniteNumbers(allowed.Value), "allowedValues", "numbers must be within the range of a double");
}

/// <summary>Policy rows as the evaluator's policies.</summary>
public static class PolicyRows
{
    public static AbacPolicy ToPolicy(AbacPolicyRow row)
    {
        ConditionNode? conditions = null;
        if (row.Conditions is not null)
        {
            using var document = JsonDocument.Parse(row.Conditions);
            conditions = ConditionJson.Parse(document.RootElement, []);
        }

        return new AbacPolicy(
            row.Id.ToString(), row.Name, row.Effect == "deny" ? PolicyEffect.Deny : PolicyEffect.Allow, row.Priority,
            JsonSerializer.Deserialize<List<string>>(row.Resources) ?? [], JsonSerializer.Deserialize<List<string>>(row.Actions) ?? [], conditions, row.IsActive);
    }
}

public sealed record ValidationRulesRequest([property: JsonPropertyName("enum")] JsonElement? Enum);

/// <summary>Form A (<c>category</c>, <c>allowedValues</c>) or the abac.md variant (<c>attributeType</c>, <c>validationRules.enum</c>).</summary>
public sealed record AttributeRequest(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("key")] string? Key,
    [property: JsonPropertyName("category")] string? Category,
    [property: JsonPropertyName("attributeType")] string? AttributeType,
    [property: JsonPropertyName("dataType")] string? DataType,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("allowedValues")] JsonElement? AllowedValues,
    [property: JsonPropertyName("validationRules")] ValidationRulesRequest? ValidationRules);

public sealed record AttributeResponse(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("category")] string Category,
    [property: JsonPropertyName("dataType")] string DataType,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("allowedValues")] JsonNode? AllowedValues)
{
    public static AttributeResponse From(AbacAttribute a) =>
        new(a.Id, a.Name, a.Key, a.Category, a.DataType, a.Description, a.AllowedValues is null ? null : JsonNode.Parse(a.AllowedValues));
}

public sealed record PolicyTarget(
    [property: JsonPropertyName("resources")] IReadOnlyList<string>? Resources,
    [property: JsonPropertyName("actions")] IReadOnlyList<string>? Actions);

/// <summary>Form A (<c>target</c>, <c>conditions:{all|any|none}</c>) or form B (<c>resourceType</c>, <c>action</c>, <c>conditions:{operator, conditions}</c>).</summary>
public sealed record PolicyRequest(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("effect")] string? Effect,
    [property: JsonPropertyName("priority")] int? Priority,
    [property: JsonPropertyName("isActive")] bool? IsActive,
    [property: JsonPropertyName("target")] PolicyTarget? Target,
    [property: JsonPropertyName("resourceType")] string? ResourceType,
    [property: JsonPropertyName("action")] string? Action,
    [property: JsonPropertyName("conditions")] JsonElement? Conditions);

public sealed record PolicyResponse(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("effect")] string Effect,
    [property: JsonPropertyName("priority")] int Priority,
    [property: JsonPropertyName("conditions")] JsonNode? Conditions,
    [property: JsonPropertyName("target")] PolicyTarget Target,
    [property: JsonPropertyName("isActive")] bool IsActive,
    [property: JsonPropertyName("createdAt")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("updatedAt")] DateTimeOffset UpdatedAt)
{
    public static PolicyResponse From(AbacPolicyRow row) => new(
        row.Id, row.Name, row.Description, row.Effect, row.Priority,
        row.Conditions is null ? null : JsonNode.Parse(row.Conditions),
        new PolicyTarget(JsonSerializer.Deserialize<List<string>>(row.Resources), JsonSerializer.Deserialize<List<string>>(row.Actions)),
        row.IsActive, row.CreatedAt, row.UpdatedAt);
}

public sealed record PolicyTestResponse(
    [property: JsonPropertyName("matched")] bool Matched,
    [property: JsonPropertyName("targetsMatch")] bool TargetsMatch,
    [property: JsonPropertyName("conditionsHold")] bool ConditionsHold,
    [property: JsonPropertyName("effect")] string Effect,
    [property: JsonPropertyName("decision")] string Decision,
    [property: JsonPropertyName("reason")] string Reason);
