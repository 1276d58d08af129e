namespace LumoAuth.Authorization.Engine.Tests.Conformance;

/// <summary>Our own cases for the product's two YAML schema forms, run by the conformance runner.</summary>
public sealed class ProductYamlFormTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var testCase in ConformanceFile.ProductCases)
        {
            data.Add(testCase.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task YamlSchemaForm(string name)
    {
        var outcomes = await ConformanceRunner.RunAsync(ConformanceFile.Find(ConformanceFile.ProductYamlForms, name));

        Assert.NotEmpty(outcomes);
        var failures = outcomes.Where(o => !o.Passed).Select(o => o.Description).ToList();
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }
}
