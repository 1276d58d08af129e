using LumoAuth.Authorization.Engine.Conditions;
using LumoAuth.Authorization.Engine.Model;

namespace LumoAuth.Authorization.Engine.Tests.Conditions;

public sealed class CelConditionEvaluatorTests
{
    private static readonly CelConditionEvaluator Evaluator = new();

    private static ConditionDefinition Condition(string expression, params (string Name, ConditionParameterKind Kind)[] parameters) =>
        new("c", parameters.ToDictionary(p => p.Name, p => new ConditionParameterType(p.Kind)), expression);

    private static Dictionary<string, object?> Context(params (string Key, object? Value)[] values) =>
        values.ToDictionary(v => v.Key, v => v.Value);

    [Fact]
    public void Evaluate_StoredContextWinsOverRequestContext()
    {
        var condition = Condition("x < 100", ("x", ConditionParameterKind.Int));

        var result = Evaluator.Evaluate(condition, Context(("x", 5L)), Context(("x", 500L)));

        Assert.Equal(ConditionResult.Met, result);
    }

    [Fact]
    public void Evaluate_MissingParameter_IsAnErrorEvenWhenTheExpressionCouldShortCircuit()
    {
        var condition = Condition("x < 100 || y < 50", ("x", ConditionParameterKind.Int), ("y", ConditionParameterKind.Int));

        var result = Evaluator.Evaluate(condition, null, Context(("x", 10L)));

        Assert.True(result.IsError);
        Assert.Contains("missing parameter 'y'", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_NonBoolResult_IsAnError()
    {
        var result = Evaluator.Evaluate(Condition("x + 1", ("x", ConditionParameterKind.Int)), null, Context(("x", 1L)));

        Assert.True(result.IsError);
    }

    [Fact]
    public void Evaluate_MissingMapKey_IsAnErrorNotAPlaceholder()
    {
        var condition = new ConditionDefinition(
            "c",
            new Dictionary<string, ConditionParameterType> { ["m"] = new(ConditionParameterKind.Map, new(ConditionParameterKind.String)) },
            "m.missing");

        var result = Evaluator.Evaluate(condition, null, Context(("m", new Dictionary<string, object?> { ["other"] = "v" })));

        Assert.True(result.IsError);
    }

    [Theory]
    [InlineData("192.168.0.1", true)]
    [InlineData("192.168.1.1", false)]
    [InlineData("::ffff:192.168.0.9", true)]
    public void Evaluate_IpAddressInCidr(string address, bool expected)
    {
        var condition = new ConditionDefinition(
            "c",
            new Dictionary<string, ConditionParameterType> { ["ip"] = new(ConditionParameterKind.IpAddress), ["cidr"] = new(ConditionParameterKind.String) },
            "ip.in_cidr(cidr)");

        var result = Evaluator.Evaluate(condition, Context(("cidr", "192.168.0.0/24")), Context(("ip", address)));

        Assert.Equal(new ConditionResult(expected, null), result);
    }

    [Fact]
    public void Evaluate_IpAddressFunctionOnLiteral()
    {
        var result = Evaluator.Evaluate(Condition("ipaddress(\"10.1.2.3\").in_cidr(\"10.0.0.0/8\") && x", ("x", ConditionParameterKind.Bool)), null, Context(("x", true)));

        Assert.Equal(ConditionResult.Met, result);
    }

    [Theory]
    [InlineData("not an ip")]
    [InlineData("10.0.0.0/8")]
    public void Evaluate_MalformedIpAddress_IsAnError(string address)
    {
        var result = Evaluator.Evaluate(Condition("ip.in_cidr(\"10.0.0.0/8\")", ("ip", ConditionParameterKind.IpAddress)), null, Context(("ip", address)));

        Assert.True(result.IsError);
    }

    [Theory]
    [InlineData("10", true)]
    [InlineData(10.0, true)]
    [InlineData(10.5, false)]
    [InlineData("ten", false)]
    public void Evaluate_IntParameter_ConvertsIntegralValuesOnly(object value, bool converts)
    {
        var result = Evaluator.Evaluate(Condition("x == 10", ("x", ConditionParameterKind.Int)), null, Context(("x", value)));

        Assert.Equal(!converts, result.IsError);
    }

    [Theory]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NaN)]
    [InlineData("1.8e+309")]
    public void Evaluate_NonFiniteDouble_IsAnError(object value)
    {
        var result = Evaluator.Evaluate(Condition("x > 0.0", ("x", ConditionParameterKind.Double)), null, Context(("x", value)));

        Assert.True(result.IsError);
    }

    [Fact]
    public void Evaluate_TimestampAndDurationFromText()
    {
        var condition = Condition(
            "now < grant_time + grant_duration",
            ("now", ConditionParameterKind.Timestamp),
            ("grant_time", ConditionParameterKind.Timestamp),
            ("grant_duration", ConditionParameterKind.Duration));

        var inside = Evaluator.Evaluate(condition, Context(("grant_time", "2024-01-01T00:00:00Z"), ("grant_duration", "1h30m")), Context(("now", "2024-01-01T01:00:00Z")));
        var outside = Evaluator.Evaluate(condition, Context(("grant_time", "2024-01-01T00:00:00Z"), ("grant_duration", "1h30m")), Context(("now", "2024-01-01T02:00:00Z")));

        Assert.Equal(ConditionResult.Met, inside);
        Assert.Equal(ConditionResult.NotMet, outside);
    }

    [Fact]
    public void Evaluate_OversizedList_IsAnError()
    {
        var condition = new ConditionDefinition(
            "c",
            new Dictionary<string, ConditionParameterType> { ["l"] = new(ConditionParameterKind.List, new(ConditionParameterKind.Int)) },
            "l.exists(e, e == 1)");

        var result = Evaluator.Evaluate(condition, null, Context(("l", Enumerable.Range(0, 5_000).Select(i => (object?)(long)i).ToList())));

        Assert.True(result.IsError);
    }

    [Fact]
    public void Evaluate_JsonContext_IsNormalised()
    {
        using var json = System.Text.Json.JsonDocument.Parse("""{"x": 10, "tags": ["a", "b"]}""");
        var condition = new ConditionDefinition(
            "c",
            new Dictionary<string, ConditionParameterType>
            {
                ["x"] = new(ConditionParameterKind.Int),
                ["tags"] = new(ConditionParameterKind.List, new(ConditionParameterKind.String)),
            },
            "x == 10 && 'b' in tags");

        var result = Evaluator.Evaluate(condition, null, ContextValues.FromJson(json.RootElement));

        Assert.Equal(ConditionResult.Met, result);
    }
    [Theory]
    [InlineData("s.matches(p)", "invoice-2024-001", "^invoice-[0-9]{4}-", true)]
    [InlineData("matches(s, p)", "invoice-2024-001", "[0-9]{3}$", true)]
    [InlineData("s.matches(p)", "receipt-1", "^invoice", false)]
    [InlineData("s.matches(p)", "INVOICE", "invoice", false)]
    public void Matches_BothForms_FindAMatchAnywhereUnlessAnchored(string expression, string text, string pattern, bool met)
    {
        var condition = Condition(expression, ("s", ConditionParameterKind.String), ("p", ConditionParameterKind.String));

        var result = Evaluator.Evaluate(condition, null, Context(("s", text), ("p", pattern)));

        Assert.Equal(met ? ConditionResult.Met : ConditionResult.NotMet, result);
    }

    /// <summary>
    /// A caller chooses the context: a pattern that makes a backtracking engine run for minutes (here ~50 s with the
    /// package's own matches) is answered in linear time.
    /// </summary>
    [Fact]
    public void Matches_CatastrophicPattern_IsAnsweredAtOnce()
    {
        var condition = Condition("s.matches(p)", ("s", ConditionParameterKind.String), ("p", ConditionParameterKind.String));

        var result = Evaluator.Evaluate(condition, null, Context(("s", new string('a', 5_000) + "!"), ("p", "^(a+)+$")));

        Assert.Equal(ConditionResult.NotMet, result);
    }

    [Theory]
    [InlineData("(unclosed")]
    [InlineData("(a)\\1")]
    public void Matches_UnsupportedOrBrokenPattern_IsAnError(string pattern)
    {
        var condition = Condition("s.matches(p)", ("s", ConditionParameterKind.String), ("p", ConditionParameterKind.String));

        var result = Evaluator.Evaluate(condition, null, Context(("s", "aa"), ("p", pattern)));

        Assert.True(result.IsError);
        Assert.Contains("matches", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Matches_OverlongPattern_IsAnError()
    {
        var condition = Condition("s.matches(p)", ("s", ConditionParameterKind.String), ("p", ConditionParameterKind.String));

        var result = Evaluator.Evaluate(condition, null, Context(("s", "a"), ("p", new string('a', ConditionPatterns.MaxPatternLength + 1))));

        Assert.True(result.IsError);
    }

    /// <summary>
    /// The package parses and evaluates by recursion with no limit: an expression deep or long enough would overflow the
    /// stack, which ends the process. Such expressions are refused before they reach it, also behind a raw string's
    /// backslash, which escapes nothing.
    /// </summary>
    [Theory]
    [InlineData(2_000, 0, "nests brackets more than")]
    [InlineData(40, 0, "nests brackets more than")]
    [InlineData(0, 300, "more than 256 operators")]
    public void DeepOrLongExpression_IsRefusedBeforeItIsParsed(int nesting, int terms, string because)
    {
        var expression = nesting > 0
            ? new string('(', nesting) + "x" + new string(')', nesting) + " == 1"
            : string.Join(" + ", Enumerable.Repeat("x", terms)) + " > 0";
        var condition = Condition(expression, ("x", ConditionParameterKind.Int));

        Assert.Contains(because, CelConditionEvaluator.CompileError(condition), StringComparison.Ordinal);
        var result = Evaluator.Evaluate(condition, null, Context(("x", 1L)));
        Assert.True(result.IsError);
    }

    [Fact]
    public void NestingHiddenBehindARawStringsBackslash_IsCounted()
    {
        var expression = "r'\\' + " + new string('(', 500) + "'a'" + new string(')', 500) + " == 'x'";

        Assert.Contains("nests brackets more than", CelConditionEvaluator.CompileError(Condition(expression)), StringComparison.Ordinal);
    }

    [Fact]
    public void BracketsAndOperatorsInsideStrings_DoNotCount()
    {
        var expression = "x == '" + new string('(', 500) + "' || x == \"" + string.Concat(Enumerable.Repeat("+-", 300)) + "\"";

        Assert.Null(CelConditionEvaluator.CompileError(Condition(expression, ("x", ConditionParameterKind.String))));
    }
}
