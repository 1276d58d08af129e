using System.Text.Json;
using LumoAuth.Authorization.Engine.Abac;

namespace LumoAuth.Authorization.Engine.Tests.Abac;

public sealed class AbacEvaluatorTests
{
    private static readonly AbacRequest Request = new(
        "edit",
        "document",
        new Dictionary<string, object?> { ["id"] = "u1", ["department"] = "eng", ["roles"] = new List<object?> { "editor", "viewer" }, ["level"] = 3L, ["email"] = "ann@example.com" },
        new Dictionary<string, object?> { ["id"] = "d1", ["owner_id"] = "u1", ["amount"] = 250.5, ["tags"] = new List<object?> { "a", "b" }, ["meta"] = new Dictionary<string, object?> { ["region"] = "eu" }, ["due"] = "2030-01-01T00:00:00Z" },
        new Dictionary<string, object?> { ["hour"] = 10L, ["isWeekend"] = false });

    [Theory]
    [InlineData("subject.department", "equals", "\"eng\"", true)]
    [InlineData("user.department", "eq", "\"eng\"", true)]
    [InlineData("subject.department", "==", "\"ops\"", false)]
    [InlineData("subject.department", "not_equals", "\"ops\"", true)]
    [InlineData("subject.department", "ne", "\"eng\"", false)]
    [InlineData("subject.department", "!=", "\"ops\"", true)]
    [InlineData("subject.department", "in", "[\"eng\",\"ops\"]", true)]
    [InlineData("subject.roles", "in", "[\"admin\",\"editor\"]", true)]
    [InlineData("subject.department", "not_in", "[\"eng\"]", false)]
    [InlineData("subject.department", "nin", "[\"ops\"]", true)]
    [InlineData("subject.roles", "contains", "\"editor\"", true)]
    [InlineData("subject.email", "contains", "\"@example.com\"", true)]
    [InlineData("resource.tags", "not_contains", "\"c\"", true)]
    [InlineData("resource.amount", "greater_than", "100", true)]
    [InlineData("resource.amount", "gt", "300", false)]
    [InlineData("resource.amount", ">", "250", true)]
    [InlineData("subject.level", "gte", "3", true)]
    [InlineData("subject.level", ">=", "4", false)]
    [InlineData("subject.level", "greater_than_or_equal", "3.0", true)]
    [InlineData("environment.hour", "less_than", "17", true)]
    [InlineData("env.hour", "lt", "9", false)]
    [InlineData("env.hour", "<", "11", true)]
    [InlineData("env.hour", "lte", "10", true)]
    [InlineData("env.hour", "<=", "9", false)]
    [InlineData("env.hour", "less_than_or_equal", "10", true)]
    [InlineData("subject.email", "matches", "\"^[a-z]+@example\\\\.com$\"", true)]
    [InlineData("subject.email", "regex", "\"^bob\"", false)]
    [InlineData("resource.owner_id", "exists", "null", true)]
    [InlineData("resource.missing", "exists", "null", false)]
    [InlineData("resource.missing", "not_exists", "null", true)]
    [InlineData("resource.missing", "not_equals", "\"x\"", false)]
    [InlineData("subject.id", "equals", "\"$resource.owner_id\"", true)]
    [InlineData("subject.id", "equals", "\"$resource.missing\"", false)]
    [InlineData("resource.meta.region", "equals", "\"eu\"", true)]
    [InlineData("resource.due", "greater_than", "\"2029-12-31T00:00:00Z\"", true)]
    [InlineData("action", "in", "[\"edit\",\"delete\"]", true)]
    public void Operators_AndAliases(string attribute, string op, string valueJson, bool expected)
    {
        var json = $$"""{"all":[{"attribute":"{{attribute}}","operator":"{{op}}","value":{{valueJson}}}]}""";
        Assert.Equal(expected, AbacEvaluator.Holds(Parse(json), Request));
    }

    [Fact]
    public void NestedGroups_InBothForms_AgreeWithEachOther()
    {
        var formA = Parse("""{"all":[{"attribute":"subject.department","operator":"equals","value":"eng"}],"any":[{"attribute":"env.hour","operator":"lt","value":9},{"attribute":"resource.amount","operator":"gt","value":100}],"none":[{"attribute":"env.isWeekend","operator":"equals","value":true}]}""");
        var formB = Parse("""{"operator":"AND","conditions":[{"subject":"user.department","operator":"equals","value":"eng"},{"operator":"OR","conditions":[{"subject":"environment.hour","operator":"lt","value":9},{"subject":"resource.amount","operator":"gt","value":100}]},{"operator":"NOT","conditions":[{"subject":"env.isWeekend","operator":"equals","value":true}]}]}""");
        Assert.True(AbacEvaluator.Holds(formA, Request));
        Assert.True(AbacEvaluator.Holds(formB, Request));
        Assert.Equal(ConditionJson.ToJson(Parse(ConditionJson.ToJson(formA).ToJsonString())).ToJsonString(), ConditionJson.ToJson(formA).ToJsonString());
    }

    [Theory]
    [InlineData("""{"all":[{"attribute":"subject.x","operator":"sounds_like","value":1}]}""")]
    [InlineData("""{"all":[{"attribute":"secret.x","operator":"equals","value":1}]}""")]
    [InlineData("""{"all":[{"attribute":"subject.x","operator":"in","value":"a"}]}""")]
    [InlineData("""{"all":[{"attribute":"subject.x","operator":"matches","value":"(unclosed"}]}""")]
    [InlineData("""{"all":[{"attribute":"subject.x","operator":"equals"}]}""")]
    [InlineData("""{"maybe":[]}""")]
    [InlineData("""{"operator":"XOR","conditions":[]}""")]
    [InlineData("42")]
    public void InvalidConditions_AreReported(string json)
    {
        var errors = new List<string>();
        using var document = JsonDocument.Parse(json);
        ConditionJson.Parse(document.RootElement, errors);
        Assert.NotEmpty(errors);
    }

    [Fact]
    public void TooDeep_IsReported()
    {
        var json = string.Concat(Enumerable.Repeat("""{"any":[""", 12)) + """{"attribute":"action","operator":"exists"}""" + string.Concat(Enumerable.Repeat("]}", 12));
        var errors = new List<string>();
        using var document = JsonDocument.Parse(json);
        ConditionJson.Parse(document.RootElement, errors);
        Assert.NotEmpty(errors);
    }

    [Fact]
    public void DenyOverrides_AnyNumberOfAllows_WhateverTheirPriority()
    {
        var always = Parse("""{"all":[{"attribute":"action","operator":"exists"}]}""");
        var allows = Enumerable.Range(0, 5).Select(i => new AbacPolicy($"a{i}", "Allow", PolicyEffect.Allow, 100 * (i + 2), ["document"], ["*"], always));
        var lowDeny = new AbacPolicy("d1", "Freeze", PolicyEffect.Deny, 10, ["*"], [], always);
        var higherDeny = new AbacPolicy("d2", "Legal hold", PolicyEffect.Deny, 50, ["document"], [], always);

        var denied = AbacEvaluator.Evaluate([.. allows, lowDeny, higherDeny], Request);
        Assert.False(denied.Allowed);
        // The highest-priority deny is the one named.
        Assert.Equal("d2", denied.DecidingPolicy!.Id);
        Assert.Equal(7, denied.MatchedPolicies.Count);

        var allowed = AbacEvaluator.Evaluate(allows, Request);
        Assert.True(allowed.Allowed);
        Assert.Equal("a4", allowed.DecidingPolicy!.Id);
    }

    [Fact]
    public void ByPriority_DenyWinsWithinAPriority_AndHigherPriorityDecides()
    {
        var always = Parse("""{"all":[{"attribute":"action","operator":"exists"}]}""");
        var allow = new AbacPolicy("p1", "Editors edit", PolicyEffect.Allow, 100, ["document"], ["edit"], always);
        var deny = new AbacPolicy("p2", "Freeze", PolicyEffect.Deny, 100, ["*"], [], always);
        var adminOverride = new AbacPolicy("p3", "Override", PolicyEffect.Allow, 900, ["document"], ["*"], always);
        var otherType = new AbacPolicy("p4", "Invoices", PolicyEffect.Allow, 1000, ["invoice"], ["edit"], always);
        var inactive = new AbacPolicy("p5", "Off", PolicyEffect.Allow, 1000, [], [], always, IsActive: false);

        var denied = AbacEvaluator.Evaluate([allow, deny, otherType, inactive], Request, CombiningAlgorithm.Priority);
        Assert.False(denied.Allowed);
        Assert.Equal("p2", denied.DecidingPolicy!.Id);
        Assert.Equal(["p2", "p1"], denied.MatchedPolicies.Select(p => p.Id));

        var overridden = AbacEvaluator.Evaluate([allow, deny, adminOverride], Request, CombiningAlgorithm.Priority);
        Assert.True(overridden.Allowed);
        Assert.Equal("p3", overridden.DecidingPolicy!.Id);
        // The same policies under deny-overrides: the freeze holds even against the override.
        Assert.Equal("p2", AbacEvaluator.Evaluate([allow, deny, adminOverride], Request).DecidingPolicy!.Id);

        var none = AbacEvaluator.Evaluate([otherType, inactive], Request);
        Assert.False(none.Allowed);
        Assert.Null(none.DecidingPolicy);
        Assert.Empty(none.MatchedPolicies);
    }

    [Theory]
    [InlineData("(unclosed")]
    [InlineData("^(a+)+$-and-then-some-more-text-to-make-it-longer-than-five-hundred")]
    public void AnUndecidablePattern_NeverGrants_EvenUnderNone_AndADenyWithItApplies(string referencedPattern)
    {
        // The pattern comes from the resource (a $reference), so no stored-policy check has seen it.
        var pattern = referencedPattern.Length > 20 ? string.Concat(Enumerable.Repeat(referencedPattern, 10)) : referencedPattern;
        var request = Request with { Resource = new Dictionary<string, object?>(Request.Resource) { ["blocked"] = pattern } };
        var unlessBlocked = Parse("""{"none":[{"attribute":"subject.email","operator":"matches","value":"$resource.blocked"}]}""");

        var allow = AbacEvaluator.Evaluate([new AbacPolicy("p1", "Unless blocked", PolicyEffect.Allow, 100, [], [], unlessBlocked)], request);
        Assert.False(allow.Allowed);
        Assert.Empty(allow.MatchedPolicies);

        var always = Parse("""{"all":[{"attribute":"action","operator":"exists"}]}""");
        var deny = AbacEvaluator.Evaluate(
            [new AbacPolicy("p1", "Allowed", PolicyEffect.Allow, 100, [], [], always), new AbacPolicy("p2", "Blocked", PolicyEffect.Deny, 100, [], [], unlessBlocked)],
            request);
        Assert.False(deny.Allowed);
        Assert.Equal("p2", deny.DecidingPolicy!.Id);
    }

    [Fact]
    public void SubjectKeysRead_NamesWhatConditionsReadOfTheSubject_AsPathsAndReferences()
    {
        var conditions = Parse("""
            {"all": [
              {"attribute": "user.groups", "operator": "contains", "value": "eng"},
              {"any": [{"attribute": "subject.address.city", "operator": "equals", "value": "$resource.city"}]},
              {"none": [{"attribute": "resource.owner", "operator": "equals", "value": "$subject.id"}]},
              {"attribute": "environment.hour", "operator": "lt", "value": 17}
            ]}
            """);
        var reading = new AbacPolicy("p1", "Reads", PolicyEffect.Allow, 100, ["document"], ["edit"], conditions);
        var other = new AbacPolicy("p2", "Other", PolicyEffect.Deny, 100, ["invoice"], ["pay"], Parse("""{"attribute": "user.mfaEnabled", "operator": "equals", "value": false}"""));

        Assert.Equal(["address", "address.city", "groups", "id"], AbacEvaluator.SubjectKeysRead([reading]).Order(StringComparer.Ordinal));
        Assert.True(AbacEvaluator.Applies(reading, "document", "edit"));
        Assert.False(AbacEvaluator.Applies(other, "document", "edit"));
        Assert.Empty(AbacEvaluator.SubjectKeysRead([new AbacPolicy("p3", "Always", PolicyEffect.Allow, 1, [], [], null)]));
    }

    private static ConditionNode Parse(string json)
    {
        var errors = new List<string>();
        using var document = JsonDocument.Parse(json);
        var node = ConditionJson.Parse(document.RootElement, errors);
        Assert.Empty(errors);
        return node!;
    }
}
