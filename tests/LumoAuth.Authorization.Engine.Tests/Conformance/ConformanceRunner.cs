using LumoAuth.Authorization.Engine.Checking;
using LumoAuth.Authorization.Engine.Model;
using LumoAuth.Authorization.Engine.Schema;
using LumoAuth.Authorization.Engine.Storage;
using YamlDotNet.RepresentationModel;

namespace LumoAuth.Authorization.Engine.Tests.Conformance;

internal enum AssertionKind
{
    Check,
    ListObjects,
    ListUsers,
}

internal sealed record AssertionOutcome(AssertionKind Kind, int Stage, int Index, bool Passed, string Description);

/// <summary>
/// Runs every assertion of one conformance test: stages share one store (tuples accumulate, as in
/// OpenFGA's runner), each stage brings its own model. An expected errorCode must be met by an error of the matching kind.
/// </summary>
internal static class ConformanceRunner
{
    public static Task<List<AssertionOutcome>> RunAsync(ConformanceCase testCase) =>
        RunAsync(testCase, new InMemoryTupleStore());

    /// <summary>Runs the case against any store; the store must start empty (each case owns its own).</summary>
    public static async Task<List<AssertionOutcome>> RunAsync<TStore>(ConformanceCase testCase, TStore store)
        where TStore : ITupleReader, ITupleWriter
    {
        var engine = new AuthorizationEngine();
        var outcomes = new List<AssertionOutcome>();
        var stageNumber = 0;
        foreach (var stage in testCase.Test.GetList("stages").Cast<YamlMappingNode>())
        {
            stageNumber++;
            // Our own cases carry a product YAML schema under "schema"; OpenFGA's carry DSL under "model".
            var model = AuthorizationSchema.Parse(stage.GetString("model") ?? stage.GetString("schema")!);
            var tuples = stage.GetList("tuples").Cast<YamlMappingNode>().Select(ReadTuple).ToList();
            await store.WriteAsync(tuples, [], CancellationToken.None);

            var index = 0;
            foreach (var assertion in stage.GetList("checkAssertions").Cast<YamlMappingNode>())
            {
                outcomes.Add(await RunCheckAsync(engine, model, store, assertion, stageNumber, index++));
            }

            index = 0;
            foreach (var assertion in stage.GetList("listObjectsAssertions").Cast<YamlMappingNode>())
            {
                outcomes.Add(await RunListObjectsAsync(engine, model, store, assertion, stageNumber, index++));
            }

            index = 0;
            foreach (var assertion in stage.GetList("listUsersAssertions").Cast<YamlMappingNode>())
            {
                outcomes.Add(await RunListUsersAsync(engine, model, store, assertion, stageNumber, index++));
            }
        }

        return outcomes;
    }

    private static async Task<AssertionOutcome> RunCheckAsync(AuthorizationEngine engine, AuthorizationModel model, ITupleReader store, YamlMappingNode assertion, int stage, int index)
    {
        var tuple = (YamlMappingNode)assertion.Get("tuple")!;
        var description = $"check {tuple.GetString("object")}#{tuple.GetString("relation")}@{tuple.GetString("user")}";
        var expectedError = assertion.GetString("errorCode");
        var expected = string.Equals(assertion.GetString("expectation"), "true", StringComparison.OrdinalIgnoreCase);

        string actual;
        if (!ObjectRef.TryParse(tuple.GetString("object"), out var @object) || !SubjectRef.TryParse(tuple.GetString("user"), out var subject))
        {
            actual = "error (InvalidRequest: malformed request)";
        }
        else
        {
            var result = await engine.CheckAsync(model, store, new CheckQuery(@object, tuple.GetString("relation")!, subject)
            {
                ContextualTuples = ContextualTuples(assertion),
                Context = Context(assertion),
            });
            actual = result.Outcome == CheckOutcome.Error ? $"error ({result.Error!.Code}: {result.Error.Message})" : result.IsAllowed ? "true" : "false";
        }

        return Outcome(AssertionKind.Check, stage, index, description, expectedError, expected ? "true" : "false", actual);
    }

    private static async Task<AssertionOutcome> RunListObjectsAsync(AuthorizationEngine engine, AuthorizationModel model, ITupleReader store, YamlMappingNode assertion, int stage, int index)
    {
        var request = (YamlMappingNode)assertion.Get("request")!;
        var description = $"list-objects {request.GetString("type")}#{request.GetString("relation")}@{request.GetString("user")}";
        var expected = Sorted(assertion.GetList("expectation").Select(n => ((YamlScalarNode)n).Value!));

        string actual;
        if (!SubjectRef.TryParse(request.GetString("user"), out var subject))
        {
            actual = "error (InvalidRequest: malformed request)";
        }
        else
        {
            var result = await engine.ListObjectsAsync(model, store, new ListObjectsQuery(request.GetString("type")!, request.GetString("relation")!, subject)
            {
                ContextualTuples = ContextualTuples(assertion, request),
                Context = Context(assertion, request),
            });
            actual = result.Error is not null ? $"error ({result.Error.Code}: {result.Error.Message})" : Sorted(result.Objects.Select(o => o.ToString()));
        }

        return Outcome(AssertionKind.ListObjects, stage, index, description, assertion.GetString("errorCode"), expected, actual);
    }

    private static async Task<AssertionOutcome> RunListUsersAsync(AuthorizationEngine engine, AuthorizationModel model, ITupleReader store, YamlMappingNode assertion, int stage, int index)
    {
        var request = (YamlMappingNode)assertion.Get("request")!;
        var filters = request.GetList("filters").Select(n => UserFilter.Parse(((YamlScalarNode)n).Value!)).ToList();
        var description = $"list-users {request.GetString("object")}#{request.GetString("relation")} filters [{string.Join(", ", filters)}]";
        var expected = Sorted(assertion.GetList("expectation").Select(n => ((YamlScalarNode)n).Value!));

        string actual;
        if (!ObjectRef.TryParse(request.GetString("object"), out var @object) || request.GetString("relation") is not { } relation)
        {
            actual = "error (InvalidRequest: malformed request)";
        }
        else
        {
            var result = await engine.ListUsersAsync(model, store, new ListUsersQuery(@object, relation, filters)
            {
                ContextualTuples = ContextualTuples(assertion, request),
                Context = Context(assertion, request),
            });
            actual = result.Error is not null ? $"error ({result.Error.Code}: {result.Error.Message})" : Sorted(result.Users.Select(u => u.ToString()));
        }

        return Outcome(AssertionKind.ListUsers, stage, index, description, assertion.GetString("errorCode"), expected, actual);
    }

    private static AssertionOutcome Outcome(AssertionKind kind, int stage, int index, string description, string? expectedError, string expected, string actual)
    {
        var passed = expectedError is not null ? MatchesError(expectedError, actual) : actual == expected;
        var want = expectedError is not null ? $"error {expectedError}" : expected;
        return new AssertionOutcome(kind, stage, index, passed, $"stage {stage} {kind} #{index}: {description}: expected {want}, got {actual}");
    }

    /// <summary>
    /// OpenFGA's numeric codes name a kind of failure, which maps to one or two of ours (its validation error also covers
    /// conditions that cannot be evaluated); our own cases may name a <see cref="CheckErrorCode"/> in snake_case instead.
    /// </summary>
    private static bool MatchesError(string expectedError, string actual)
    {
        CheckErrorCode[] accepted = expectedError switch
        {
            "2000" => [CheckErrorCode.InvalidRequest, CheckErrorCode.ConditionFailed], // validation_error
            "2002" => [CheckErrorCode.ResolutionTooComplex], // authorization_model_resolution_too_complex
            "2021" or "2022" => [CheckErrorCode.InvalidRequest], // type or relation not in the model
            "2027" => [CheckErrorCode.InvalidContextualTuple], // a contextual tuple the model does not allow
            _ when Enum.TryParse<CheckErrorCode>(expectedError.Replace("_", string.Empty, StringComparison.Ordinal), ignoreCase: true, out var ours) => [ours],
            _ => throw new InvalidOperationException($"Unknown expected error code {expectedError}: map it here"),
        };
        return accepted.Any(code => actual.StartsWith($"error ({code}:", StringComparison.Ordinal));
    }

    private static string Sorted(IEnumerable<string> values) => $"[{string.Join(", ", values.Order(StringComparer.Ordinal))}]";

    private static RelationshipTuple ReadTuple(YamlMappingNode node)
    {
        TupleCondition? condition = null;
        if (node.Get("condition") is YamlMappingNode conditionNode)
        {
            condition = new TupleCondition(
                conditionNode.GetString("name")!,
                conditionNode.Get("context") is YamlMappingNode context ? YamlValues.ToContext(context) : null);
        }

        return RelationshipTuple.Parse(node.GetString("object")!, node.GetString("relation")!, node.GetString("user")!, condition);
    }

    private static List<RelationshipTuple> ContextualTuples(YamlMappingNode assertion, YamlMappingNode? request = null) =>
        [.. assertion.GetList("contextualTuples").Concat(request?.GetList("contextualTuples") ?? []).Cast<YamlMappingNode>().Select(ReadTuple)];

    private static Dictionary<string, object?>? Context(YamlMappingNode assertion, YamlMappingNode? request = null) =>
        (assertion.Get("context") ?? request?.Get("context")) is YamlMappingNode context ? YamlValues.ToContext(context) : null;
}
