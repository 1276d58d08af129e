namespace LumoAuth.Authorization.Engine.Schema;

/// <summary>A position in schema source text; both numbers start at 1.</summary>
public readonly record struct SourcePosition(int Line, int Column)
{
    public override string ToString() => $"{Line}:{Column}";
}

/// <summary>One problem found in a schema, with the place it was found.</summary>
public sealed record SchemaError(int Line, int Column, string Message)
{
    /// <summary>How deep parentheses (DSL) or collections (YAML) may nest: parsing recurses once per level.</summary>
    public const int MaxNesting = 64;

    public SchemaError(SourcePosition position, string message)
        : this(position.Line, position.Column, message)
    {
    }

    public override string ToString() => $"{Line}:{Column}: {Message}";
}

/// <summary>Thrown when a schema does not parse or does not validate; <see cref="Errors"/> lists every problem found.</summary>
public sealed class SchemaException : Exception
{
    public SchemaException()
        : this([])
    {
    }

    public SchemaException(string message)
        : this([new SchemaError(1, 1, message)])
    {
    }

    public SchemaException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [new SchemaError(1, 1, message)];
    }

    public SchemaException(IReadOnlyList<SchemaError> errors)
        : base(errors.Count == 0 ? "The schema is invalid." : string.Join(Environment.NewLine, errors))
    {
        Errors = errors;
    }

    public IReadOnlyList<SchemaError> Errors { get; }
}
