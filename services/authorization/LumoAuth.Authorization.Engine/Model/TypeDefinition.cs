namespace LumoAuth.Authorization.Engine.Model;

/// <summary>An object type and its relations, in declaration order.</summary>
public sealed class TypeDefinition(string name, IReadOnlyList<RelationDefinition> relations)
{
    private readonly Dictionary<string, RelationDefinition> _byName = relations.ToDictionary(r => r.Name, StringComparer.Ordinal);

    public string Name { get; } = name;

    public IReadOnlyList<RelationDefinition> Relations { get; } = relations;

    public bool TryGetRelation(string relation, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out RelationDefinition? definition) =>
        _byName.TryGetValue(relation, out definition);

    public bool HasRelation(string relation) => _byName.ContainsKey(relation);
}
