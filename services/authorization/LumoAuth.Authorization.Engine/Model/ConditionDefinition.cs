namespace LumoAuth.Authorization.Engine.Model;

/// <summary>The CEL parameter types a condition may declare.</summary>
public enum ConditionParameterKind
{
    Any,
    Bool,
    String,
    Int,
    UInt,
    Double,
    Duration,
    Timestamp,
    IpAddress,
    List,
    Map,
}

/// <summary>A declared parameter type; <see cref="Element"/> is set for <c>list&lt;T&gt;</c> and <c>map&lt;T&gt;</c>.</summary>
public sealed record ConditionParameterType(ConditionParameterKind Kind, ConditionParameterType? Element = null)
{
    public override string ToString() => Kind switch
    {
        ConditionParameterKind.List => $"list<{Element}>",
        ConditionParameterKind.Map => $"map<{Element}>",
        ConditionParameterKind.IpAddress => "ipaddress",
        ConditionParameterKind.UInt => "uint",
        _ => Kind.ToString().ToLowerInvariant(),
    };
}

/// <summary><c>condition name(p: type, ...) { cel expression }</c>.</summary>
public sealed record ConditionDefinition(
    string Name,
    IReadOnlyDictionary<string, ConditionParameterType> Parameters,
    string Expression);
