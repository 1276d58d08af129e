using System.Text.Json;
using LumoAuth.Authorization.Consistency;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Engine.Conditions;
using LumoAuth.ServiceDefaults.Errors;

namespace LumoAuth.Authorization.Features.Relationships;

/// <summary>Turns request fields into the engine's types, or into the documented error they earn.</summary>
public static class ZanzibarInput
{
    public const int MaxBatch = 100;

    public static ObjectRef ToObject(EntityRef entity) => new(entity.Type, entity.Id);

    public static SubjectRef ToSubject(EntityRef entity) => new(entity.Type, entity.Id, entity.Relation.Length == 0 ? null : entity.Relation);

    /// <summary>A tuple to write or check, with its optional condition.</summary>
    public static bool TryTuple(RelationshipRequest? request, out RelationshipTuple tuple, out ApiError? error)
    {
        tuple = null!;
        if (request is null)
        {
            error = new ApiError("A tuple is missing", 400, RelationshipRequest.MissingFields);
            return false;
        }

        if (!request.TryNormalize(out var relationship, out error))
        {
            return false;
        }

        TupleCondition? condition = null;
        if (request.Condition is { } requested)
        {
            if (!RelationshipNotation.IsName(requested.Name))
            {
                error = Invalid("condition.name", "must be a lowercase name");
                return false;
            }

            if (!TryContext(requested.Context, "condition.context", out var context, out error))
            {
                return false;
            }

            condition = new TupleCondition(requested.Name!, context);
        }

        tuple = new RelationshipTuple(ToObject(relationship.Object), relationship.Relation, ToSubject(relationship.Subject), condition);
        return true;
    }

    public static bool TryContext(JsonElement? value, string field, out IReadOnlyDictionary<string, object?>? context, out ApiError? error)
    {
        context = null;
        error = null;
        if (value is null || value.Value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return true;
        }

        if (value.Value.ValueKind != JsonValueKind.Object)
        {
            error = Invalid(field, "must be a JSON object");
            return false;
        }

        context = ContextValues.FromJson(value.Value);
        return true;
    }

    public static bool TryContextualTuples(IReadOnlyList<RelationshipRequest>? requests, out List<RelationshipTuple> tuples, out ApiError? error)
    {
        tuples = [];
        error = null;
        if (requests is null)
        {
            return true;
        }

        if (requests.Count > MaxBatch)
        {
            error = Invalid("contextual_tuples", $"at most {MaxBatch} are allowed");
            return false;
        }

        foreach (var request in requests)
        {
            if (!TryTuple(request, out var tuple, out error))
            {
                return false;
            }

            tuples.Add(tuple);
        }

        return true;
    }

    /// <summary>
    /// <c>consistency</c>: <c>minimize_latency</c> (default), <c>at_least_as_fresh</c> (with <c>consistency_token</c>)
    /// or <c>fully_consistent</c>; a token alone means <c>at_least_as_fresh</c>.
    /// </summary>
    public static bool TryConsistency(string? mode, string? token, out ConsistencyRequirement requirement, out ApiError? error)
    {
        requirement = ConsistencyRequirement.Default;
        error = null;
        long revision = 0;
        string? store = null;
        if (token is not null && !ConsistencyToken.TryParse(token, out store, out revision))
        {
            error = Invalid("consistency_token", "is not a consistency token issued by this service");
            return false;
        }

        switch (mode ?? (token is null ? "minimize_latency" : "at_least_as_fresh"))
        {
            case "minimize_latency":
                return true;
            case "fully_consistent":
                requirement = new ConsistencyRequirement(ConsistencyMode.FullyConsistent);
                return true;
            case "at_least_as_fresh" when token is not null:
                requirement = new ConsistencyRequirement(ConsistencyMode.AtLeastAsFresh, revision, store);
                return true;
            case "at_least_as_fresh":
                error = Invalid("consistency_token", "is required with at_least_as_fresh");
                return false;
            default:
                error = Invalid("consistency", "must be minimize_latency, at_least_as_fresh or fully_consistent");
                return false;
        }
    }

    public static ApiError Invalid(string field, string problem) =>
        new($"Validation failed: {field} {problem}", 400, ErrorCodes.ValidationError, new Dictionary<string, string[]> { [field] = [problem] });
}
