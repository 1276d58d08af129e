using LumoAuth.Authorization.Engine.Model;

namespace LumoAuth.Authorization.Engine.Checking;

/// <summary>
/// Validates what a caller sends against the model. Stored tuples that no longer fit are ignored during
/// resolution, but a request that names unknown types or relations, or contextual tuples that don't fit,
/// is answered with an error rather than a misleading "denied".
/// </summary>
internal static class RequestValidator
{
    public static CheckError? ObjectRelation(AuthorizationModel model, string objectType, string relation)
    {
        if (!model.TryGetType(objectType, out var type))
        {
            return Invalid($"type '{objectType}' is not defined in the model");
        }

        return type.HasRelation(relation) ? null : Invalid($"relation '{objectType}#{relation}' is not defined in the model");
    }

    public static CheckError? Subject(AuthorizationModel model, SubjectRef subject)
    {
        if (!model.TryGetType(subject.Type, out var type))
        {
            return Invalid($"subject type '{subject.Type}' is not defined in the model");
        }

        return subject.Relation is null || type.HasRelation(subject.Relation)
            ? null
            : Invalid($"relation '{subject.Type}#{subject.Relation}' is not defined in the model");
    }

    public static CheckError? Filter(AuthorizationModel model, UserFilter filter)
    {
        if (!model.TryGetType(filter.Type, out var type))
        {
            return Invalid($"filter type '{filter.Type}' is not defined in the model");
        }

        return filter.Relation is null || type.HasRelation(filter.Relation)
            ? null
            : Invalid($"filter relation '{filter}' is not defined in the model");
    }

    public static CheckError? ContextualTuples(AuthorizationModel model, IReadOnlyList<RelationshipTuple> tuples)
    {
        foreach (var tuple in tuples)
        {
            if (!model.TryGetRelation(tuple.Object.Type, tuple.Relation, out var relation))
            {
                return new CheckError(CheckErrorCode.InvalidContextualTuple, $"contextual tuple {tuple}: relation '{tuple.Object.Type}#{tuple.Relation}' is not defined");
            }

            if (tuple.Object.Id == SubjectRef.WildcardId)
            {
                return new CheckError(CheckErrorCode.InvalidContextualTuple, $"contextual tuple {tuple}: the object may not be a wildcard");
            }

            if (!relation.Allows(tuple.Subject, tuple.Condition?.Name))
            {
                return new CheckError(CheckErrorCode.InvalidContextualTuple, $"contextual tuple {tuple}: '{tuple.Object.Type}#{tuple.Relation}' does not allow this subject (allowed: {string.Join(", ", relation.DirectSubjects)})");
            }
        }

        return null;
    }

    private static CheckError Invalid(string message) => new(CheckErrorCode.InvalidRequest, message);
}
