using LumoAuth.Authorization.Engine.Model;

namespace LumoAuth.Authorization.Engine.Schema;

internal sealed record RelationDraft(string Name, SourcePosition Position, Rewrite Rewrite);

internal sealed record TypeDraft(string Name, SourcePosition Position, List<RelationDraft> Relations);

internal sealed record ConditionDraft(ConditionDefinition Definition, SourcePosition Position, SourcePosition ExpressionPosition);

/// <summary>
/// What a schema language compiles to before validation: the model's pieces plus where each came from,
/// so the shared validator can point at the offending text whatever the source language was.
/// </summary>
internal sealed class ModelDraft
{
    private readonly Dictionary<object, SourcePosition> _positions = new(ReferenceEqualityComparer.Instance);

    public List<TypeDraft> Types { get; } = [];

    public List<ConditionDraft> Conditions { get; } = [];

    public T At<T>(T node, SourcePosition position)
        where T : notnull
    {
        _positions[node] = position;
        return node;
    }

    public SourcePosition PositionOf(object node, SourcePosition fallback) =>
        _positions.TryGetValue(node, out var position) ? position : fallback;
}
