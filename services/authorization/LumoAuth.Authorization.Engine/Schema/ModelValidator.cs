using System.Security.Cryptography;
using System.Text;
using LumoAuth.Authorization.Engine.Conditions;
using LumoAuth.Authorization.Engine.Model;

namespace LumoAuth.Authorization.Engine.Schema;

/// <summary>
/// The checks every schema language shares: references resolve, type restrictions are usable,
/// and every relation can be satisfied by some tuple (no relation that only loops back on itself).
/// </summary>
internal static class ModelValidator
{
    /// <summary>
    /// Bounds on a model's size, so that validating it (and compiling it again wherever it is loaded) stays well under a
    /// second: some checks below settle one relation per pass. OpenFGA keeps models small as well (100 types by default).
    /// </summary>
    public const int MaxTypes = 256;

    public const int MaxRelations = 2_000;

    public const int MaxConditions = 256;

    public static AuthorizationModel Build(ModelDraft draft, string source)
    {
        var errors = Validate(draft);
        if (errors.Count > 0)
        {
            throw new SchemaException(errors);
        }

        var types = draft.Types
            .Select(t => new TypeDefinition(t.Name, t.Relations.Select(r => new RelationDefinition(r.Name, r.Rewrite)).ToList()))
            .ToList();
        return new AuthorizationModel(ContentId(source), types, draft.Conditions.Select(c => c.Definition).ToList());
    }

    public static List<SchemaError> Validate(ModelDraft draft)
    {
        var errors = new List<SchemaError>();
        var relationCount = draft.Types.Sum(t => t.Relations.Count);
        if (draft.Types.Count > MaxTypes || relationCount > MaxRelations || draft.Conditions.Count > MaxConditions)
        {
            errors.Add(new SchemaError(draft.Types.FirstOrDefault()?.Position ?? new SourcePosition(1, 1),
                $"the model is too large: at most {MaxTypes} types, {MaxRelations} relations and {MaxConditions} conditions " +
                $"(it has {draft.Types.Count}, {relationCount} and {draft.Conditions.Count})"));
            return errors;
        }

        var types = new Dictionary<string, TypeDraft>(StringComparer.Ordinal);
        foreach (var type in draft.Types)
        {
            if (!types.TryAdd(type.Name, type))
            {
                errors.Add(new SchemaError(type.Position, $"type '{type.Name}' is defined more than once"));
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var relation in type.Relations.Where(r => !names.Add(r.Name)))
            {
                errors.Add(new SchemaError(relation.Position, $"relation '{type.Name}#{relation.Name}' is defined more than once"));
            }
        }

        var conditions = new Dictionary<string, ConditionDraft>(StringComparer.Ordinal);
        foreach (var condition in draft.Conditions)
        {
            if (!conditions.TryAdd(condition.Definition.Name, condition))
            {
                errors.Add(new SchemaError(condition.Position, $"condition '{condition.Definition.Name}' is defined more than once"));
            }
            else if (CelConditionEvaluator.CompileError(condition.Definition) is { } compileError)
            {
                errors.Add(new SchemaError(condition.ExpressionPosition, $"condition '{condition.Definition.Name}': {compileError}"));
            }
        }

        if (errors.Count > 0)
        {
            return errors;
        }

        var context = new ValidationContext(draft, types, conditions, errors);
        foreach (var type in draft.Types)
        {
            foreach (var relation in type.Relations)
            {
                context.CheckReferences(type, relation, relation.Rewrite, relation.Position);
            }
        }

        if (errors.Count == 0)
        {
            errors.AddRange(TerminationAnalysis.FindRelationsThatNeverTerminate(draft, types));
        }

        return errors;
    }

    private static string ContentId(string source)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(source));
        return Convert.ToHexStringLower(hash.AsSpan(0, 12));
    }

    private sealed class ValidationContext(
        ModelDraft draft,
        Dictionary<string, TypeDraft> types,
        Dictionary<string, ConditionDraft> conditions,
        List<SchemaError> errors)
    {
        public void CheckReferences(TypeDraft type, RelationDraft relation, Rewrite rewrite, SourcePosition fallback)
        {
            var position = draft.PositionOf(rewrite, fallback);
            switch (rewrite)
            {
                case DirectRewrite direct:
                    foreach (var allowed in direct.AllowedSubjects)
                    {
                        CheckAllowedSubject(allowed, draft.PositionOf(allowed, position));
                    }

                    break;
                case ComputedUsersetRewrite computed when !HasRelation(type.Name, computed.Relation):
                    errors.Add(new SchemaError(position, $"relation '{computed.Relation}' is not defined on type '{type.Name}' (referenced by '{type.Name}#{relation.Name}')"));
                    break;
                case TupleToUsersetRewrite ttu:
                    CheckTupleToUserset(type, relation, ttu, position);
                    break;
                case UnionRewrite union:
                    union.Children.ToList().ForEach(child => CheckReferences(type, relation, child, position));
                    break;
                case IntersectionRewrite intersection:
                    intersection.Children.ToList().ForEach(child => CheckReferences(type, relation, child, position));
                    break;
                case ExclusionRewrite exclusion:
                    CheckReferences(type, relation, exclusion.Base, position);
                    CheckReferences(type, relation, exclusion.Subtract, position);
                    break;
            }
        }

        private void CheckAllowedSubject(AllowedSubject allowed, SourcePosition position)
        {
            if (!types.ContainsKey(allowed.Type))
            {
                errors.Add(new SchemaError(position, $"invalid type restriction '{allowed}': type '{allowed.Type}' is not defined"));
            }
            else if (allowed.Relation is not null && !HasRelation(allowed.Type, allowed.Relation))
            {
                errors.Add(new SchemaError(position, $"invalid type restriction '{allowed}': relation '{allowed.Relation}' is not defined on type '{allowed.Type}'"));
            }

            if (allowed.Condition is not null && !conditions.ContainsKey(allowed.Condition))
            {
                errors.Add(new SchemaError(position, $"invalid type restriction '{allowed}': condition '{allowed.Condition}' is not defined"));
            }
        }

        private void CheckTupleToUserset(TypeDraft type, RelationDraft relation, TupleToUsersetRewrite ttu, SourcePosition position)
        {
            var tupleset = type.Relations.FirstOrDefault(r => r.Name == ttu.TuplesetRelation);
            if (tupleset is null)
            {
                errors.Add(new SchemaError(position, $"relation '{ttu.TuplesetRelation}' is not defined on type '{type.Name}' (referenced by '{type.Name}#{relation.Name}')"));
                return;
            }

            // Only a plain list of types can be followed: a userset or a computed tupleset has no object to jump to.
            if (tupleset.Rewrite is not DirectRewrite direct || direct.AllowedSubjects.Any(s => s.Relation is not null))
            {
                errors.Add(new SchemaError(position, $"'{ttu.ComputedRelation} from {ttu.TuplesetRelation}': the tupleset relation '{type.Name}#{ttu.TuplesetRelation}' must be a direct type restriction without usersets"));
                return;
            }

            var parentTypes = direct.AllowedSubjects.Where(s => !s.IsWildcard).Select(s => s.Type).Distinct().ToList();
            if (!parentTypes.Any(parent => HasRelation(parent, ttu.ComputedRelation)))
            {
                errors.Add(new SchemaError(position, $"'{ttu.ComputedRelation} from {ttu.TuplesetRelation}': relation '{ttu.ComputedRelation}' is not defined on any type allowed by '{type.Name}#{ttu.TuplesetRelation}' ({string.Join(", ", parentTypes)})"));
            }
        }

        private bool HasRelation(string type, string relation) =>
            types.TryGetValue(type, out var definition) && definition.Relations.Any(r => r.Name == relation);
    }
}
