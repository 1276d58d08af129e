using System.Security.Cryptography;
using System.Text;
using LumoAuth.Authorization.Engine.Model;

namespace LumoAuth.Authorization.Engine.Schema;

/// <summary>The shape of a stored tuple: which subject kind was written for which relation of which type.</summary>
public readonly record struct TupleShape(string ObjectType, string Relation, string SubjectType, string? SubjectRelation, bool IsWildcard)
{
    public static TupleShape Of(RelationshipTuple tuple) =>
        new(tuple.Object.Type, tuple.Relation, tuple.Subject.Type, tuple.Subject.Relation, tuple.Subject.IsWildcard);
}

/// <summary>
/// The model used before a tenant writes a schema: every relation that has tuples is directly assignable
/// to exactly the subject kinds written for it (plain, wildcard or userset), with no rewrites and no
/// conditions. Checks then follow direct tuples, public wildcards and userset membership, nothing more.
/// </summary>
public static class PermissiveModel
{
    public static AuthorizationModel FromShapes(IEnumerable<TupleShape> shapes)
    {
        var relations = new SortedDictionary<string, SortedDictionary<string, SortedSet<string>>>(StringComparer.Ordinal);
        var allowed = new Dictionary<(string Type, string Relation), List<AllowedSubject>>();

        foreach (var shape in shapes.Distinct())
        {
            Relation(shape.ObjectType, shape.Relation);
            Relation(shape.SubjectType, shape.SubjectRelation);
            var subject = new AllowedSubject(shape.SubjectType, shape.SubjectRelation, shape.IsWildcard);
            if (relations[shape.ObjectType][shape.Relation].Add(subject.ToString()))
            {
                if (!allowed.TryGetValue((shape.ObjectType, shape.Relation), out var list))
                {
                    allowed[(shape.ObjectType, shape.Relation)] = list = [];
                }

                list.Add(subject);
            }
        }

        var types = relations
            .Select(type => new TypeDefinition(
                type.Key,
                type.Value.Select(relation => new RelationDefinition(
                    relation.Key,
                    new DirectRewrite(allowed.GetValueOrDefault((type.Key, relation.Key)) ?? []))).ToList()))
            .ToList();

        var description = new StringBuilder("permissive");
        foreach (var (type, byRelation) in relations)
        {
            foreach (var (relation, subjects) in byRelation)
            {
                description.Append('\n').Append(type).Append('#').Append(relation).Append(':').AppendJoin(',', subjects);
            }
        }

        var id = "permissive-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(description.ToString())).AsSpan(0, 12));
        return new AuthorizationModel(id, types, []);

        void Relation(string type, string? relation)
        {
            if (!relations.TryGetValue(type, out var byRelation))
            {
                relations[type] = byRelation = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
            }

            if (relation is not null && !byRelation.ContainsKey(relation))
            {
                byRelation[relation] = new SortedSet<string>(StringComparer.Ordinal);
            }
        }
    }
}
