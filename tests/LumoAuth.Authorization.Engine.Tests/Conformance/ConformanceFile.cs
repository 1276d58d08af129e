using YamlDotNet.RepresentationModel;

namespace LumoAuth.Authorization.Engine.Tests.Conformance;

/// <summary>One test of an OpenFGA conformance file; names repeat in the files, so later ones get a #2 suffix.</summary>
internal sealed record ConformanceCase(string File, string Name, YamlMappingNode Test);

internal static class ConformanceFile
{
    public const string Consolidated = "consolidated_1_1_tests.yaml";
    public const string Abac = "abac_tests.yaml";
    public const string ProductYamlForms = "../Schemas/product_yaml_forms.yaml";

    private static readonly Lazy<IReadOnlyList<ConformanceCase>> AllCases = new(() => [.. Load(Consolidated), .. Load(Abac)]);

    private static readonly Lazy<IReadOnlyList<ConformanceCase>> OwnCases = new(() => Load(ProductYamlForms));

    /// <summary>Our own cases for the product's YAML schema forms, in the same format.</summary>
    public static IReadOnlyList<ConformanceCase> ProductCases => OwnCases.Value;

    public static IReadOnlyList<ConformanceCase> Cases => AllCases.Value;

    public static ConformanceCase Find(string file, string name) => Cases.Concat(ProductCases).Single(c => c.File == file && c.Name == name);

    private static List<ConformanceCase> Load(string file)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Conformance", file);
        var stream = new YamlStream();
        using (var reader = new StreamReader(path))
        {
            stream.Load(reader);
        }

        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        var cases = new List<ConformanceCase>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var test in root.GetList("tests").Cast<YamlMappingNode>())
        {
            var name = test.GetString("name")!;
            seen[name] = seen.GetValueOrDefault(name) + 1;
            cases.Add(new ConformanceCase(file, seen[name] == 1 ? name : $"{name}#{seen[name]}", test));
        }

        return cases;
    }
}
