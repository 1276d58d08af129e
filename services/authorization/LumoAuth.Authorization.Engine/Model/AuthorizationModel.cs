using System.Diagnostics.CodeAnalysis;

namespace LumoAuth.Authorization.Engine.Model;

/// <summary>
/// A validated, immutable authorization model. Built only by the schema compilers
/// (<see cref="Schema.AuthorizationSchema"/>), so every reference in it resolves.
/// </summary>
public sealed class AuthorizationModel
{
    private readonly Dictionary<string, TypeDefinition> _types;
    private readonly Dictionary<string, ConditionDefinition> _conditions;
    private readonly Lazy<ReverseIndex> _reverse;
    private readonly Lazy<bool> _monotonic;

    internal AuthorizationModel(string id, IReadOnlyList<TypeDefinition> types, IReadOnlyList<ConditionDefinition> conditions)
    {
        Id = id;
        Types = types;
        _types = types.ToDictionary(t => t.Name, StringComparer.Ordinal);
        _conditions = conditions.ToDictionary(c => c.Name, StringComparer.Ordinal);
        Conditions = conditions;
        _reverse = new Lazy<ReverseIndex>(() => new ReverseIndex(this));
        _monotonic = new Lazy<bool>(() => conditions.Count == 0 && types.All(t => t.Relations.All(r => GrowsWithTuples(r.Rewrite))));
    }

    /// <summary>A content hash of the schema: equal sources give equal ids (cache keys use it).</summary>
    public string Id { get; }

    public IReadOnlyList<TypeDefinition> Types { get; }

    public IReadOnlyList<ConditionDefinition> Conditions { get; }

    public bool TryGetType(string type, [NotNullWhen(true)] out TypeDefinition? definition) =>
        _types.TryGetValue(type, out definition);

    public bool TryGetRelation(string type, string relation, [NotNullWhen(true)] out RelationDefinition? definition)
    {
        definition = null;
        return _types.TryGetValue(type, out var typeDefinition) && typeDefinition.TryGetRelation(relation, out definition);
    }

    public bool TryGetCondition(string name, [NotNullWhen(true)] out ConditionDefinition? definition) =>
        _conditions.TryGetValue(name, out definition);

    internal ReverseIndex Reverse => _reverse.Value;

    /// <summary>
    /// No conditions, intersections or exclusions anywhere: access then only ever grows with tuples, so
    /// reaching an object through unconditional tuples proves access (list-objects can skip confirming it).
    /// </summary>
    internal bool IsMonotonic => _monotonic.Value;

    private static bool GrowsWithTuples(Rewrite rewrite) => rewrite switch
    {
        UnionRewrite union => union.Children.All(GrowsWithTuples),
        IntersectionRewrite or ExclusionRewrite => false,
        _ => true,
    };
}
