using LumoAuth.Authorization.Consistency;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Engine.Checking;
using LumoAuth.Authorization.Engine.Schema;
using LumoAuth.Authorization.Schemas;
using LumoAuth.ServiceDefaults.Errors;

namespace LumoAuth.Authorization.Features.Relationships;

/// <summary>Everything a read answers from: the tenant's model and a view of its tuples at a known revision.</summary>
public sealed record ReadScope(TenantModel Model, TupleView View, Guid Store)
{
    public string ConsistencyToken => Consistency.ConsistencyToken.For(Store, View.Revision);

    /// <summary>
    /// The model to evaluate against. Under the permissive default, contextual tuples may name shapes no stored
    /// tuple has yet, so their shapes join the model for this request.
    /// </summary>
    public Engine.Model.AuthorizationModel ModelWith(IReadOnlyList<RelationshipTuple> contextualTuples) =>
        Model.IsPermissive && contextualTuples.Count > 0
            ? PermissiveModel.FromShapes(Model.Model.Types
                .SelectMany(t => t.Relations.SelectMany(r => r.DirectSubjects.Select(s => new TupleShape(t.Name, r.Name, s.Type, s.Relation, s.IsWildcard))))
                .Concat(contextualTuples.Select(TupleShape.Of)))
            : Model.Model;
}

/// <summary>Opens a <see cref="ReadScope"/> for a tenant under the requested consistency.</summary>
public sealed class ZanzibarReads(TenantIndexes indexes, TenantModels models)
{
    public async ValueTask<(ReadScope? Scope, ApiError? Error)> OpenAsync(Guid tenantId, ConsistencyRequirement requirement, CancellationToken cancellationToken) =>
        await OpenAsync(tenantId, requirement, null, cancellationToken);

    /// <param name="fixedModel">A built-in model to use instead of the store's own schema (RBAC).</param>
    public async ValueTask<(ReadScope? Scope, ApiError? Error)> OpenAsync(Guid tenantId, ConsistencyRequirement requirement, TenantModel? fixedModel, CancellationToken cancellationToken)
    {
        if (requirement.Mode == ConsistencyMode.AtLeastAsFresh && requirement.Store is { } tag && tag != ConsistencyToken.Tag(tenantId))
        {
            return (null, ZanzibarInput.Invalid("consistency_token", "was issued for another store (relationships and RBAC count revisions apart) or another tenant"));
        }

        var view = await indexes.GetAsync(tenantId, requirement, cancellationToken);
        if (requirement.Mode == ConsistencyMode.AtLeastAsFresh && view.Revision < requirement.MinRevision)
        {
            return (null, ZanzibarInput.Invalid("consistency_token", "is ahead of this tenant's revision"));
        }

        var model = fixedModel ?? await models.GetAsync(tenantId, view.Revision, cancellationToken);
        return (new ReadScope(model, view, tenantId), null);
    }
}

/// <summary>The documented error for an engine failure: 400 <c>ZANZIBAR_CHECK_FAILED</c>, with the engine's reason.</summary>
public static class EngineErrors
{
    public static ApiError ToApiError(CheckError error) => new(
        error.Message,
        400,
        RelationshipRequest.InvalidFormat,
        new { reason = Reason(error.Code) });

    public static string Reason(CheckErrorCode code) => code switch
    {
        CheckErrorCode.InvalidRequest => "invalid_request",
        CheckErrorCode.InvalidContextualTuple => "invalid_contextual_tuple",
        CheckErrorCode.ResolutionTooComplex => "resolution_too_complex",
        CheckErrorCode.ConditionFailed => "condition_failed",
        _ => "check_failed",
    };
}
