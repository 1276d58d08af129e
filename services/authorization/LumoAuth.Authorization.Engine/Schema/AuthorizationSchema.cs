using LumoAuth.Authorization.Engine.Model;

namespace LumoAuth.Authorization.Engine.Schema;

/// <summary>
/// Compiles a schema into an <see cref="AuthorizationModel"/>. Both languages (the OpenFGA DSL and the
/// product's YAML namespace forms) produce the same model and go through the same validation.
/// Problems are reported as a <see cref="SchemaException"/> listing each error with its line and column.
/// </summary>
public static class AuthorizationSchema
{
    /// <summary>Parses the OpenFGA DSL, schema 1.1, including <c>condition</c> blocks.</summary>
    public static AuthorizationModel ParseDsl(string text) => ModelValidator.Build(DslParser.Parse(text), text);

    /// <summary>Parses the product's YAML forms: <c>namespace: name</c> blocks (Form 1) or a <c>namespaces:</c> map (Form 2).</summary>
    public static AuthorizationModel ParseYaml(string text) => ModelValidator.Build(YamlSchemaParser.Parse(text), text);

    /// <summary>Parses either language, telling them apart by the DSL's leading <c>model</c> keyword.</summary>
    public static AuthorizationModel Parse(string text) => IsDsl(text) ? ParseDsl(text) : ParseYaml(text);

    public static bool TryParse(string text, out AuthorizationModel? model, out IReadOnlyList<SchemaError> errors)
    {
        try
        {
            model = Parse(text);
            errors = [];
            return true;
        }
        catch (SchemaException exception)
        {
            model = null;
            errors = exception.Errors;
            return false;
        }
    }

    /// <summary>Whether <see cref="Parse"/> reads <paramref name="text"/> as the DSL (its first meaningful line is <c>model</c>) rather than YAML.</summary>
    public static bool IsDsl(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            var trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
            {
                continue;
            }

            return trimmed == "model" || trimmed.StartsWith("model ", StringComparison.Ordinal);
        }

        return false;
    }
}
