using System.Text.Json.Nodes;
using LumoAuth.Admin.Features.Scim;

namespace LumoAuth.Admin.Tests;

/// <summary>Conformance-style checks of the SCIM filter grammar (RFC 7644 §3.4.2.2) and PATCH (§3.5.2), on plain JSON.</summary>
public sealed class ScimFilterAndPatchTests
{
    private static JsonObject Alice() => JsonNode.Parse("""
        {
          "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
          "id": "2819c223", "userName": "Alice@Example.com", "title": "Engineer", "active": true,
          "name": { "givenName": "Alice", "familyName": "Smith" },
          "emails": [ { "value": "alice@example.com", "type": "work", "primary": true }, { "value": "al@home.example.org", "type": "home" } ],
          "meta": { "created": "2024-01-15T10:30:00Z", "lastModified": "2024-06-01T00:00:00Z" },
          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "R&D", "employeeNumber": "42" },
          "urn:ietf:params:scim:schemas:extension:lumoauth:1.0:SoftDelete": { "isSoftDeleted": false }
        }
        """)!.AsObject();

    [Theory]
    [InlineData("userName eq \"alice@example.com\"", true)] // case-insensitive
    [InlineData("userName ne \"bob@example.com\"", true)]
    [InlineData("userName co \"@EXAMPLE\"", true)]
    [InlineData("userName sw \"ali\"", true)]
    [InlineData("userName ew \".com\"", true)]
    [InlineData("userName ew \".org\"", false)]
    [InlineData("title pr", true)]
    [InlineData("nickName pr", false)]
    [InlineData("name.familyName eq \"Smith\"", true)]
    [InlineData("name.familyName sw \"Sm\" and active eq true", true)]
    [InlineData("active eq false or title eq \"Engineer\"", true)]
    [InlineData("active eq false or title eq \"Manager\"", false)]
    [InlineData("not (active eq false)", true)]
    [InlineData("not(title eq \"Engineer\")", false)]
    [InlineData("title eq \"Manager\" or (active eq true and name.givenName eq \"Alice\")", true)]
    [InlineData("title eq \"Engineer\" or title eq \"Manager\" and active eq false", true)] // and binds tighter than or
    [InlineData("(title eq \"Engineer\" or title eq \"Manager\") and active eq false", false)]
    [InlineData("emails[type eq \"work\" and value co \"example.com\"]", true)]
    [InlineData("emails[type eq \"home\" and value co \"example.com\"]", false)]
    [InlineData("emails.value eq \"al@home.example.org\"", true)]
    [InlineData("emails co \"home\"", true)] // a complex multi-valued attribute compares its "value"
    [InlineData("meta.lastModified gt \"2024-05-01T00:00:00Z\"", true)]
    [InlineData("meta.created ge \"2024-01-15T10:30:00Z\"", true)]
    [InlineData("meta.created lt \"2024-01-01T00:00:00Z\"", false)]
    [InlineData("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"R&D\"", true)]
    [InlineData("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber le \"50\"", true)]
    [InlineData("department eq \"r&d\"", true)] // unqualified extension attribute
    [InlineData("isSoftDeleted eq true", false)]
    [InlineData("title eq null", false)]
    [InlineData("nickName eq null", true)]
    [InlineData("USERNAME EQ \"alice@example.com\" AND TITLE PR", true)] // operators and names are case-insensitive
    [InlineData("userName eq \"with \\\"quotes\\\"\"", false)]
    public void Filter_MatchesAsTheGrammarSays(string filter, bool expected) =>
        Assert.Equal(expected, ScimFilter.Parse(filter).Matches(Alice()));

    /// <summary>RFC 7644 §3.4.2.2: a complex attribute is present when it holds a non-empty node (name has no "value").</summary>
    [Theory]
    [InlineData("name pr", true)]
    [InlineData("not (name pr)", false)]
    [InlineData("meta pr", true)]
    [InlineData("emails pr", true)]
    [InlineData("phoneNumbers pr", false)]
    public void Present_OnComplexAttributes_IsTheirNonEmptyNode(string filter, bool expected) =>
        Assert.Equal(expected, ScimFilter.Parse(filter).Matches(Alice()));

    [Fact]
    public void Present_OnAnEmptyComplexAttribute_IsFalse()
    {
        var user = Alice();
        user["name"] = new JsonObject { ["givenName"] = "", ["familyName"] = null };
        Assert.False(ScimFilter.Parse("name pr").Matches(user));
    }

    /// <summary>/Schemas says externalId is caseExact: every filter shape compares it so, not only the one pushed into SQL.</summary>
    [Theory]
    [InlineData("externalId eq \"AbC\"", true)]
    [InlineData("externalId eq \"abc\"", false)]
    [InlineData("externalId eq \"abc\" and active eq true", false)]
    [InlineData("not (externalId eq \"abc\")", true)]
    [InlineData("externalId sw \"ab\"", false)]
    [InlineData("externalId co \"bC\"", true)]
    [InlineData("userName eq \"ALICE@example.com\" and externalId ew \"C\"", true)]
    public void ExternalId_IsComparedCaseExactly_InEveryShape(string filter, bool expected)
    {
        var user = Alice();
        user["externalId"] = "AbC";
        Assert.Equal(expected, ScimFilter.Parse(filter).Matches(user));
    }

    [Fact]
    public void Patch_AddOfAPrimaryValue_TakesPrimaryFromTheOthers()
    {
        var user = Patch(Alice(), """[{"op":"add","path":"emails","value":[{"value":"alice@new.example.com","primary":true}]}]""");
        var primaries = user["emails"]!.AsArray().Where(e => e!["primary"]?.GetValue<bool>() == true).Select(e => e!["value"]!.GetValue<string>()).ToList();
        Assert.Equal(["alice@new.example.com"], primaries);
    }

    [Theory]
    [InlineData("userName")]
    [InlineData("userName eq")]
    [InlineData("userName eq alice")]
    [InlineData("userName xx \"a\"")]
    [InlineData("userName eq \"unterminated")]
    [InlineData("(userName eq \"a\"")]
    [InlineData("emails[type eq \"work\"")]
    [InlineData("userName eq \"a\" and")]
    [InlineData("not userName eq \"a\"")]
    [InlineData("userName eq \"a\" garbage")]
    [InlineData("active gt true")]
    public void Filter_Malformed_IsInvalidFilter(string filter)
    {
        var ex = Assert.Throws<ScimException>(() => ScimFilter.Parse(filter).Matches(Alice()));
        Assert.Equal(400, ex.Status);
        Assert.True(ex.ScimType is "invalidFilter" or "invalidPath", ex.ScimType);
    }

    [Fact]
    public void Filter_TooDeep_IsRefused() =>
        Assert.Throws<ScimException>(() => ScimFilter.Parse(string.Concat(Enumerable.Repeat("(", 50)) + "title pr" + new string(')', 50)));

    private static JsonObject Patch(JsonObject resource, string operations)
    {
        ScimPatch.Apply(resource, JsonNode.Parse($$"""{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":{{operations}}}"""));
        return resource;
    }

    [Fact]
    public void Patch_ReplaceSimpleAndSubAttributes()
    {
        var user = Patch(Alice(), """[{"op":"replace","path":"active","value":false},{"op":"Replace","path":"name.givenName","value":"Ally"}]""");
        Assert.False(user["active"]!.GetValue<bool>());
        Assert.Equal("Ally", user["name"]!["givenName"]!.GetValue<string>());
        Assert.Equal("Smith", user["name"]!["familyName"]!.GetValue<string>());
    }

    [Fact]
    public void Patch_WithoutPath_MergesAttributes_IncludingDottedAndExtensionKeys()
    {
        var user = Patch(Alice(), """
            [{"op":"replace","value":{"title":"Lead","name.familyName":"Jones",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}}]
            """);
        Assert.Equal("Lead", user["title"]!.GetValue<string>());
        Assert.Equal("Jones", user["name"]!["familyName"]!.GetValue<string>());
        Assert.Equal("Sales", user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]!["department"]!.GetValue<string>());
        Assert.Equal("42", user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]!["employeeNumber"]!.GetValue<string>());
    }

    [Fact]
    public void Patch_AddAppendsToMultiValued_WithoutDuplicates()
    {
        var group = JsonNode.Parse("""{"displayName":"Eng","members":[{"value":"u1"}]}""")!.AsObject();
        Patch(group, """[{"op":"add","path":"members","value":[{"value":"u2"},{"value":"u1"}]}]""");
        Assert.Equal(["u1", "u2"], group["members"]!.AsArray().Select(m => m!["value"]!.GetValue<string>()).ToList());
    }

    [Fact]
    public void Patch_RemoveWithValueFilter_RemovesOnlyMatches()
    {
        var group = JsonNode.Parse("""{"displayName":"Eng","members":[{"value":"u1"},{"value":"u2"},{"value":"u3"}]}""")!.AsObject();
        Patch(group, """[{"op":"remove","path":"members[value eq \"u2\"]"}]""");
        Assert.Equal(["u1", "u3"], group["members"]!.AsArray().Select(m => m!["value"]!.GetValue<string>()).ToList());
        Patch(group, """[{"op":"remove","path":"members","value":[{"value":"u3"}]}]""");
        Assert.Equal(["u1"], group["members"]!.AsArray().Select(m => m!["value"]!.GetValue<string>()).ToList());
        Patch(group, """[{"op":"remove","path":"members"}]""");
        Assert.Null(group["members"]);
    }

    [Fact]
    public void Patch_ReplaceFilteredSubAttribute_AndNoTargetWhenNothingMatches()
    {
        var user = Patch(Alice(), """[{"op":"replace","path":"emails[type eq \"work\"].value","value":"alice@new.example.com"}]""");
        Assert.Equal("alice@new.example.com", user["emails"]![0]!["value"]!.GetValue<string>());
        Assert.Equal("al@home.example.org", user["emails"]![1]!["value"]!.GetValue<string>());
        var ex = Assert.Throws<ScimException>(() => Patch(Alice(), """[{"op":"replace","path":"emails[type eq \"fax\"].value","value":"x"}]"""));
        Assert.Equal("noTarget", ex.ScimType);
    }

    [Fact]
    public void Patch_ExtensionPath_AndRemoveOfAnAttribute()
    {
        var user = Patch(Alice(), """
            [{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter","value":"4130"},
             {"op":"remove","path":"title"}]
            """);
        Assert.Equal("4130", user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]!["costCenter"]!.GetValue<string>());
        Assert.Null(user["title"]);
    }

    [Theory]
    [InlineData("""[{"op":"remove"}]""", "noTarget")]
    [InlineData("""[{"op":"move","path":"title"}]""", "invalidSyntax")]
    [InlineData("""[{"op":"add","path":"title"}]""", "invalidValue")]
    [InlineData("""[{"op":"replace","path":"members[value eq","value":1}]""", "invalidPath")]
    [InlineData("""[{"op":"remove","path":"members[value zz \"x\"]"}]""", "invalidFilter")]
    [InlineData("""[{"op":"replace","path":"bad..path","value":1}]""", "invalidPath")]
    [InlineData("""[{"path":"title"}]""", "invalidSyntax")]
    public void Patch_BadOperations_AreRefusedWithTheirScimType(string operations, string scimType)
    {
        var ex = Assert.Throws<ScimException>(() => Patch(Alice(), operations));
        Assert.Equal(scimType, ex.ScimType);
    }
}
