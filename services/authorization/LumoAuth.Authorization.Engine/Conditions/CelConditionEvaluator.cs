using System.Collections.Concurrent;
using Cel;
using LumoAuth.Authorization.Engine.Model;

namespace LumoAuth.Authorization.Engine.Conditions;

/// <summary>
/// Evaluates conditions with the <c>Cel</c> package. Adds what Cel leaves to its caller: merged contexts
/// (stored wins), parameters converted to their declared types, an error for any missing parameter
/// (Cel only fails when it happens to reach the variable), an error for any non-bool result, and bounds
/// on expression and input size (Cel has no cost limit), and a linear-time <c>matches</c> (<see cref="ConditionPatterns"/>).
/// </summary>
public sealed class CelConditionEvaluator : IConditionEvaluator
{
    public const int MaxExpressionLength = 4_096;

    /// <summary>
    /// Brackets open at once, and operators in all: the package parses and evaluates by recursion without a limit of its
    /// own, and a stack overflow ends the process (every tenant's checks with it). Real conditions are far below both.
    /// </summary>
    public const int MaxNesting = 32;

    public const int MaxOperators = 256;

    /// <summary>Compiled expressions kept; past this the cache starts over (schema writes could otherwise grow it for good).</summary>
    private const int MaxCached = 10_000;

    private static readonly Lazy<CelConditionEvaluator> SharedInstance = new(() => new CelConditionEvaluator());

    private readonly CelEnvironment _environment;
    private readonly ConcurrentDictionary<string, Lazy<CompiledExpression>> _compiled = new(StringComparer.Ordinal);

    public CelConditionEvaluator()
    {
        _environment = new CelEnvironment(null, null);
        _environment.RegisterFunction("ipaddress", [typeof(string)], args =>
            args[0] is string text && IpAddressValue.TryParse(text, out var ip) ? ip : throw new FormatException($"'{args[0]}' is not an IP address."));
        _environment.RegisterFunction("in_cidr", [typeof(IpAddressValue), typeof(string)], args =>
            args[0] is IpAddressValue ip && args[1] is string cidr ? ip.InCidr(cidr) : throw new FormatException("in_cidr expects an ipaddress and a CIDR string."));
        // Replaces the package's own (backtracking, no timeout): both s.matches(p) and matches(s, p) come here.
        _environment.RegisterFunction("matches", [typeof(string), typeof(string)], args =>
            args[0] is string text && args[1] is string pattern ? ConditionPatterns.IsMatch(text, pattern) : throw new FormatException("matches expects two strings."));
    }

    /// <summary>One evaluator per process is enough: compiled expressions are cached and evaluation is thread-safe.</summary>
    public static CelConditionEvaluator Shared => SharedInstance.Value;

    /// <summary>Why the condition's expression does not compile, or null when it does.</summary>
    public static string? CompileError(ConditionDefinition condition) =>
        condition.Expression.Length > MaxExpressionLength
            ? $"the expression is longer than {MaxExpressionLength} characters"
            : Shared.Compile(condition.Expression).Error;

    public ConditionResult Evaluate(
        ConditionDefinition condition,
        IReadOnlyDictionary<string, object?>? storedContext,
        IReadOnlyDictionary<string, object?>? requestContext)
    {
        var compiled = Compile(condition.Expression);
        if (compiled.Program is null)
        {
            return ConditionResult.Failed($"condition '{condition.Name}' does not compile: {compiled.Error}");
        }

        var variables = new Dictionary<string, object?>(condition.Parameters.Count, StringComparer.Ordinal);
        foreach (var (name, type) in condition.Parameters)
        {
            // The stored context is written by an administrator with the tuple; a request must not override it.
            if (!TryGetValue(storedContext, name, out var raw) && !TryGetValue(requestContext, name, out raw))
            {
                return ConditionResult.Failed($"condition '{condition.Name}': missing parameter '{name}'");
            }

            if (!ParameterConverter.TryConvert(raw, type, out var converted, out var error))
            {
                return ConditionResult.Failed($"condition '{condition.Name}': parameter '{name}': {error}");
            }

            variables[name] = converted;
        }

        object? result;
        try
        {
            result = compiled.Program(variables);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            return ConditionResult.Failed($"condition '{condition.Name}' failed: {exception.Message}");
        }

        return result is bool met
            ? new ConditionResult(met, null)
            : ConditionResult.Failed($"condition '{condition.Name}' did not evaluate to a bool");
    }

    private static bool TryGetValue(IReadOnlyDictionary<string, object?>? context, string name, out object? value)
    {
        value = null;
        return context is not null && context.TryGetValue(name, out value);
    }

    private CompiledExpression Compile(string expression)
    {
        if (_compiled.Count >= MaxCached)
        {
            _compiled.Clear();
        }

        return _compiled.GetOrAdd(expression, text => new Lazy<CompiledExpression>(() =>
        {
            if (ShapeError(text) is { } tooDeep)
            {
                return new CompiledExpression(null, tooDeep);
            }

            try
            {
                return new CompiledExpression(_environment.Compile(text), null);
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                return new CompiledExpression(null, exception.Message);
            }
        })).Value;
    }

    private sealed record CompiledExpression(CelProgramDelegate? Program, string? Error);

    /// <summary>Why the expression is too deep or too long a chain to parse safely (outside string literals), or null.</summary>
    public static string? ShapeError(string expression)
    {
        var (depth, deepest, operators) = (0, 0, 0);
        char? quote = null;
        var raw = false;
        for (var i = 0; i < expression.Length; i++)
        {
            var c = expression[i];
            if (quote is { } open)
            {
                // A raw string (r'…') has no escapes: its backslash does not hide the closing quote.
                if (c == '\\' && !raw)
                {
                    i++;
                }
                else if (c == open)
                {
                    quote = null;
                }

                continue;
            }

            switch (c)
            {
                case '"' or '\'':
                    quote = c;
                    raw = i > 0 && expression[i - 1] is 'r' or 'R';
                    break;
                case '(' or '[' or '{':
                    deepest = Math.Max(deepest, ++depth);
                    operators++;
                    break;
                case ')' or ']' or '}':
                    depth--;
                    break;
                case '.' or ',' or '+' or '-' or '*' or '/' or '%' or '<' or '>' or '=' or '!' or '&' or '|' or '?' or ':':
                    operators++;
                    break;
            }
        }

        return deepest > MaxNesting ? $"the expression nests brackets more than {MaxNesting} deep"
            : operators > MaxOperators ? $"the expression has more than {MaxOperators} operators and brackets"
            : null;
    }
}
