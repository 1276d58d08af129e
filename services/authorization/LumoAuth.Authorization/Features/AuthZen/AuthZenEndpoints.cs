using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using LumoAuth.Authorization.Consistency;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Engine.Checking;
using LumoAuth.Authorization.Engine.Conditions;
using LumoAuth.Authorization.Features.Relationships;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.Extensions.Options;

namespace LumoAuth.Authorization.Features.AuthZen;

/// <summary>
/// The AuthZEN Authorization API 1.0 over the tenant's relationship graph: an evaluation asks whether
/// <c>subject</c> (type, id) may do <c>action.name</c> on <c>resource</c> (type, id), which is the Zanzibar check
/// <c>resource.type:resource.id#action.name@subject.type:subject.id</c>; <c>context</c> (and the properties)
/// feed the tuples' conditions. The searches are list-subjects, list-objects and a check per relation.
/// </summary>
public static class AuthZenEndpoints
{
    public const int MaxEvaluations = 100;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static IEndpointRouteBuilder MapAuthZenEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/access/v1").RequireAuthorization(Policies.TenantCaller).WithTags("AuthZEN");
        group.MapPost("/evaluation", Evaluate).WithName("AuthZenEvaluation");
        group.MapPost("/evaluations", EvaluateMany).WithName("AuthZenEvaluations");
        // Who may do what, across the tenant: the same read scope as list-subjects and list-objects, which these run.
        group.MapPost("/search/subject", SearchSubjects).WithName("AuthZenSearchSubject").RequireAuthorization(Policies.RelationshipQueries);
        group.MapPost("/search/resource", SearchResources).WithName("AuthZenSearchResource").RequireAuthorization(Policies.RelationshipQueries);
        group.MapPost("/search/action", SearchActions).WithName("AuthZenSearchAction");

        // Public metadata, as the spec requires: it names endpoints and nothing about the tenant's data.
        app.MapGet("/t/{tenantSlug}/api/v1/.well-known/authzen-configuration", Configuration).AllowAnonymous().WithName("AuthZenConfiguration").WithTags("AuthZEN");
        return app;
    }

    public static IResult Configuration(HttpRequest request, TenantContext tenant, IOptions<LumoAuthOptions> options)
    {
        var pdp = options.Value.IssuerFor(request, tenant.Tenant!);
        return TypedResults.Ok(new AuthZenConfiguration(
            pdp, $"{pdp}/access/v1/evaluation", $"{pdp}/access/v1/evaluations",
            $"{pdp}/access/v1/search/subject", $"{pdp}/access/v1/search/resource", $"{pdp}/access/v1/search/action"));
    }

    public static async Task<IResult> Evaluate(EvaluationRequest request, ZanzibarReads reads, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (Validate(request.Subject, request.Action, request.Resource, request.Context) is { } problem)
        {
            return problem;
        }

        var (scope, error) = await reads.OpenAsync(tenant.TenantId, ConsistencyRequirement.Default, cancellationToken);
        if (scope is null)
        {
            return new ApiErrorResult(error!);
        }

        return TypedResults.Ok(await DecideAsync(scope, request.Subject!, request.Action!, request.Resource!, request.Context, cancellationToken));
    }

    public static async Task<IResult> EvaluateMany(EvaluationsRequest request, ZanzibarReads reads, TenantContext tenant, CancellationToken cancellationToken)
    {
        // Without an evaluations array (or with an empty one) the request is a single evaluation and is answered as one
        // (AuthZEN 1.0 §Access Evaluations Request): a top-level decision, which such a PEP reads.
        if (request.Evaluations is not { Count: > 0 } items)
        {
            return await Evaluate(new EvaluationRequest(request.Subject, request.Action, request.Resource, request.Context), reads, tenant, cancellationToken);
        }

        var semantic = request.Options?.EvaluationsSemantic ?? "execute_all";
        if (semantic is not ("execute_all" or "deny_on_first_deny" or "permit_on_first_permit"))
        {
            return ApiErrors.Validation("options.evaluations_semantic", "must be execute_all, deny_on_first_deny or permit_on_first_permit");
        }

        if (items.Count > MaxEvaluations)
        {
            return ApiErrors.Validation("evaluations", $"at most {MaxEvaluations} evaluations per request");
        }

        var resolved = new List<(AuthZenEntity Subject, AuthZenAction Action, AuthZenEntity Resource, JsonElement? Context)>();
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i] is not { } item)
            {
                return ApiErrors.Validation($"evaluations[{i}]", "must be an object");
            }

            var (subject, action, resource, context) = (item.Subject ?? request.Subject, item.Action ?? request.Action, item.Resource ?? request.Resource, item.Context ?? request.Context);
            if (Validate(subject, action, resource, context, $"evaluations[{i}].") is { } problem)
            {
                return problem;
            }

            resolved.Add((subject!, action!, resource!, context));
        }

        var (scope, error) = await reads.OpenAsync(tenant.TenantId, ConsistencyRequirement.Default, cancellationToken);
        if (scope is null)
        {
            return new ApiErrorResult(error!);
        }

        var decisions = new List<Decision>();
        foreach (var (subject, action, resource, context) in resolved)
        {
            var decision = await DecideAsync(scope, subject, action, resource, context, cancellationToken);
            decisions.Add(decision);
            if ((semantic == "deny_on_first_deny" && !decision.Allowed) || (semantic == "permit_on_first_permit" && decision.Allowed))
            {
                break;
            }
        }

        return TypedResults.Ok(new EvaluationsResponse(decisions));
    }

    public static async Task<IResult> SearchSubjects(SearchRequest request, ZanzibarReads reads, TenantContext tenant, CancellationToken cancellationToken)
    {
        var problems = new RequestValidator()
            .Check(RelationshipNotation.IsName(request.Subject?.Type), "subject.type", "is required")
            .Check(RelationshipNotation.IsName(request.Action?.Name), "action.name", "is required")
            .Check(RelationshipNotation.IsName(request.Resource?.Type) && RelationshipNotation.IsId(request.Resource?.Id) && request.Resource?.Id != "*", "resource", "needs a type and an id");
        if (!problems.IsValid)
        {
            return problems.ToResult();
        }

        if (!TryContext(request.Context, out var context, out var inputError) || !TryPageToken(request.Page, out var after, out inputError))
        {
            return inputError!;
        }

        var (scope, error) = await reads.OpenAsync(tenant.TenantId, ConsistencyRequirement.Default, cancellationToken);
        if (scope is null)
        {
            return new ApiErrorResult(error!);
        }

        var result = await scope.View.Engine.ListUsersAsync(
            scope.Model.Model, scope.View.Reader,
            new ListUsersQuery(new ObjectRef(request.Resource!.Type!, request.Resource.Id!), request.Action!.Name!, [new UserFilter(request.Subject!.Type!)]) { Context = context },
            cancellationToken);
        if (result.Error is { } failure)
        {
            return Failed(failure, new SearchResponse<AuthZenEntity>([], PageInfo.Last));
        }

        var (page, next) = Page(result.Users.Where(u => !u.IsWildcard).Select(u => u.Id), request.Page, after);
        return TypedResults.Ok(new SearchResponse<AuthZenEntity>([.. page.Select(id => new AuthZenEntity(request.Subject.Type, id, null))], new PageInfo(next))
        {
            Context = SearchContext.For(result.IsComplete),
        });
    }

    public static async Task<IResult> SearchResources(SearchRequest request, ZanzibarReads reads, TenantContext tenant, CancellationToken cancellationToken)
    {
        var problems = new RequestValidator()
            .Check(RelationshipNotation.IsName(request.Subject?.Type) && RelationshipNotation.IsId(request.Subject?.Id), "subject", "needs a type and an id")
            .Check(RelationshipNotation.IsName(request.Action?.Name), "action.name", "is required")
            .Check(RelationshipNotation.IsName(request.Resource?.Type), "resource.type", "is required");
        if (!problems.IsValid)
        {
            return problems.ToResult();
        }

        if (!TryContext(request.Context, out var context, out var inputError) || !TryPageToken(request.Page, out var after, out inputError))
        {
            return inputError!;
        }

        var (scope, error) = await reads.OpenAsync(tenant.TenantId, ConsistencyRequirement.Default, cancellationToken);
        if (scope is null)
        {
            return new ApiErrorResult(error!);
        }

        var result = await scope.View.Engine.ListObjectsAsync(
            scope.Model.Model, scope.View.Reader,
            new ListObjectsQuery(request.Resource!.Type!, request.Action!.Name!, new SubjectRef(request.Subject!.Type!, request.Subject.Id!)) { Context = context },
            cancellationToken);
        if (result.Error is { } failure)
        {
            return Failed(failure, new SearchResponse<AuthZenEntity>([], PageInfo.Last));
        }

        var (page, next) = Page(result.Objects.Select(o => o.Id), request.Page, after);
        return TypedResults.Ok(new SearchResponse<AuthZenEntity>([.. page.Select(id => new AuthZenEntity(request.Resource.Type, id, null))], new PageInfo(next))
        {
            Context = SearchContext.For(result.IsComplete),
        });
    }

    public static async Task<IResult> SearchActions(SearchRequest request, ZanzibarReads reads, TenantContext tenant, CancellationToken cancellationToken)
    {
        var problems = new RequestValidator()
            .Check(RelationshipNotation.IsName(request.Subject?.Type) && RelationshipNotation.IsId(request.Subject?.Id), "subject", "needs a type and an id")
            .Check(RelationshipNotation.IsName(request.Resource?.Type) && RelationshipNotation.IsId(request.Resource?.Id) && request.Resource?.Id != "*", "resource", "needs a type and an id");
        if (!problems.IsValid)
        {
            return problems.ToResult();
        }

        if (!TryContext(request.Context, out var context, out var inputError) || !TryPageToken(request.Page, out var after, out inputError))
        {
            return inputError!;
        }

        var (scope, error) = await reads.OpenAsync(tenant.TenantId, ConsistencyRequirement.Default, cancellationToken);
        if (scope is null)
        {
            return new ApiErrorResult(error!);
        }

        var actions = new List<string>();
        if (scope.Model.Model.TryGetType(request.Resource!.Type!, out var type))
        {
            var subject = new SubjectRef(request.Subject!.Type!, request.Subject.Id!);
            var queries = type.Relations.Select(r => new CheckQuery(new ObjectRef(type.Name, request.Resource.Id!), r.Name, subject) { Context = context }).ToList();
            var results = await scope.View.Engine.BatchCheckAsync(scope.Model.Model, scope.View.Reader, queries, cancellationToken);
            actions.AddRange(queries.Zip(results).Where(p => p.Second.IsAllowed).Select(p => p.First.Relation));
        }

        var (page, next) = Page(actions, request.Page, after);
        return TypedResults.Ok(new SearchResponse<AuthZenAction>([.. page.Select(a => new AuthZenAction(a, null))], new PageInfo(next)));
    }

    private static async Task<Decision> DecideAsync(ReadScope scope, AuthZenEntity subject, AuthZenAction action, AuthZenEntity resource, JsonElement? context, CancellationToken cancellationToken)
    {
        TryContext(context, out var values, out _);
        var query = new CheckQuery(new ObjectRef(resource.Type!, resource.Id!), action.Name!, new SubjectRef(subject.Type!, subject.Id!)) { Context = values };
        var result = await scope.View.Engine.CheckAsync(scope.Model.Model, scope.View.Reader, query, cancellationToken);
        var reason = result.Outcome switch
        {
            CheckOutcome.Allowed => new DecisionContext(null, [.. result.Path.Select(t => t.Key.ToString())], scope.ConsistencyToken),
            CheckOutcome.Error => new DecisionContext(EngineErrors.Reason(result.Error!.Code), null, scope.ConsistencyToken),
            _ => new DecisionContext(null, null, scope.ConsistencyToken),
        };
        return new Decision(result.IsAllowed, reason);
    }

    /// <summary>An unknown type or relation is "no", as the spec wants a decision; only a malformed request is a 400.</summary>
    private static IResult Failed<T>(CheckError failure, T empty) =>
        failure.Code == CheckErrorCode.InvalidRequest ? TypedResults.Ok(empty) : new ApiErrorResult(EngineErrors.ToApiError(failure));

    private static IResult? Validate(AuthZenEntity? subject, AuthZenAction? action, AuthZenEntity? resource, JsonElement? context, string prefix = "")
    {
        var problems = new RequestValidator()
            .Check(RelationshipNotation.IsName(subject?.Type) && RelationshipNotation.IsId(subject?.Id), prefix + "subject", "needs a type and an id")
            .Check(RelationshipNotation.IsName(action?.Name), prefix + "action.name", "is required")
            .Check(RelationshipNotation.IsName(resource?.Type) && RelationshipNotation.IsId(resource?.Id) && resource?.Id != "*", prefix + "resource", "needs a type and an id");
        if (!problems.IsValid)
        {
            return problems.ToResult();
        }

        return TryContext(context, out _, out var error) ? null : error;
    }

    private static bool TryContext(JsonElement? context, out IReadOnlyDictionary<string, object?>? values, out IResult? error)
    {
        values = null;
        error = null;
        if (context is null || context.Value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return true;
        }

        if (context.Value.ValueKind != JsonValueKind.Object)
        {
            error = ApiErrors.Validation("context", "must be a JSON object");
            return false;
        }

        values = ContextValues.FromJson(context.Value);
        return true;
    }

    /// <summary>A page token is one this service handed out; anything else is refused, so a PEP never silently starts over.</summary>
    private static bool TryPageToken(PageRequestBody? page, out string? after, out IResult? error)
    {
        after = null;
        error = null;
        if (page?.Token is not { Length: > 0 } token)
        {
            return true;
        }

        try
        {
            after = StrictUtf8.GetString(Convert.FromBase64String(token));
            return true;
        }
        catch (Exception exception) when (exception is FormatException or DecoderFallbackException)
        {
            error = ApiErrors.Validation("page.token", "is not a token this service issued");
            return false;
        }
    }

    /// <summary>One page in ordinal order after <paramref name="after"/>; the last page's next token is "" (AuthZEN 1.0 §Paginated Responses).</summary>
    private static (List<string> Page, string Next) Page(IEnumerable<string> all, PageRequestBody? page, string? after)
    {
        var limit = Math.Clamp(page?.Limit ?? 100, 1, 1_000);
        var ordered = all.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Where(v => after is null || string.CompareOrdinal(v, after) > 0).ToList();
        var items = ordered.Take(limit).ToList();
        return (items, ordered.Count > limit ? Convert.ToBase64String(Encoding.UTF8.GetBytes(items[^1])) : string.Empty);
    }
}

public sealed record AuthZenEntity(
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("properties")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    JsonElement? Properties);

public sealed record AuthZenAction(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("properties")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    JsonElement? Properties);

public sealed record EvaluationRequest(
    [property: JsonPropertyName("subject")] AuthZenEntity? Subject,
    [property: JsonPropertyName("action")] AuthZenAction? Action,
    [property: JsonPropertyName("resource")] AuthZenEntity? Resource,
    [property: JsonPropertyName("context")] JsonElement? Context);

public sealed record EvaluationItem(
    [property: JsonPropertyName("subject")] AuthZenEntity? Subject,
    [property: JsonPropertyName("action")] AuthZenAction? Action,
    [property: JsonPropertyName("resource")] AuthZenEntity? Resource,
    [property: JsonPropertyName("context")] JsonElement? Context);

public sealed record EvaluationsOptions([property: JsonPropertyName("evaluations_semantic")] string? EvaluationsSemantic);

public sealed record EvaluationsRequest(
    [property: JsonPropertyName("subject")] AuthZenEntity? Subject,
    [property: JsonPropertyName("action")] AuthZenAction? Action,
    [property: JsonPropertyName("resource")] AuthZenEntity? Resource,
    [property: JsonPropertyName("context")] JsonElement? Context,
    [property: JsonPropertyName("evaluations")] IReadOnlyList<EvaluationItem>? Evaluations,
    [property: JsonPropertyName("options")] EvaluationsOptions? Options);

public sealed record DecisionContext(
    [property: JsonPropertyName("error")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    string? Error,
    [property: JsonPropertyName("path")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    IReadOnlyList<string>? Path,
    [property: JsonPropertyName("consistency_token")] string ConsistencyToken);

public sealed record Decision(
    [property: JsonPropertyName("decision")] bool Allowed,
    [property: JsonPropertyName("context")] DecisionContext Context);

public sealed record EvaluationsResponse([property: JsonPropertyName("evaluations")] IReadOnlyList<Decision> Evaluations);

public sealed record PageRequestBody(
    [property: JsonPropertyName("token")] string? Token,
    [property: JsonPropertyName("limit")] int? Limit);

public sealed record SearchRequest(
    [property: JsonPropertyName("subject")] AuthZenEntity? Subject,
    [property: JsonPropertyName("action")] AuthZenAction? Action,
    [property: JsonPropertyName("resource")] AuthZenEntity? Resource,
    [property: JsonPropertyName("context")] JsonElement? Context,
    [property: JsonPropertyName("page")] PageRequestBody? Page);

public sealed record PageInfo([property: JsonPropertyName("next_token")] string NextToken)
{
    public static PageInfo Last { get; } = new(string.Empty);
}

/// <summary>
/// A search's own context: present only when the engine's list limits cut the search short, on every page of it, so a
/// PEP that pages to the end can tell the result set is correct but partial.
/// </summary>
public sealed record SearchContext(
    [property: JsonPropertyName("complete")] bool Complete,
    [property: JsonPropertyName("reason")] string Reason)
{
    private static readonly SearchContext Truncated = new(false, "the search reached the service's list limit; more may be permitted than listed");

    public static SearchContext? For(bool isComplete) => isComplete ? null : Truncated;
}

public sealed record SearchResponse<T>(
    [property: JsonPropertyName("results")] IReadOnlyList<T> Results,
    [property: JsonPropertyName("page")] PageInfo Page)
{
    [JsonPropertyName("context")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public SearchContext? Context { get; init; }
}

public sealed record AuthZenConfiguration(
    [property: JsonPropertyName("policy_decision_point")] string PolicyDecisionPoint,
    [property: JsonPropertyName("access_evaluation_endpoint")] string AccessEvaluationEndpoint,
    [property: JsonPropertyName("access_evaluations_endpoint")] string AccessEvaluationsEndpoint,
    [property: JsonPropertyName("search_subject_endpoint")] string SearchSubjectEndpoint,
    [property: JsonPropertyName("search_resource_endpoint")] string SearchResourceEndpoint,
    [property: JsonPropertyName("search_action_endpoint")] string SearchActionEndpoint);
