using Xunit;
using Xunit.Abstractions;

namespace LumoAuth.Testing;

/// <summary>
/// A test class (or collection definition) whose tests take long: <see cref="LongestFirst"/> starts it early. The figure is
/// roughly the seconds its tests took together in a run on two cores, used only to order.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RunsLongAttribute(int seconds) : Attribute
{
    public int Seconds { get; } = seconds;
}

/// <summary>
/// Starts the collections marked <see cref="RunsLongAttribute"/> first, longest first, then the rest in xUnit's order. xUnit
/// runs two collections at a time on two cores; a long class that happened to start last used to run alone at the end.
/// </summary>
public sealed class LongestFirst : ITestCollectionOrderer
{
    public const string TypeName = "LumoAuth.Testing.LongestFirst";
    public const string AssemblyName = "LumoAuth.Testing";

    private const string PerClassPrefix = "Test collection for ";

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.Select((collection, index) => (collection, index))
            .OrderByDescending(c => Seconds(c.collection))
            .ThenBy(c => c.index)
            .Select(c => c.collection);

    private static int Seconds(ITestCollection collection)
    {
        // A collection of its own per class has no definition; its display name names the class.
        var type = collection.CollectionDefinition
            ?? (collection.DisplayName.StartsWith(PerClassPrefix, StringComparison.Ordinal)
                ? collection.TestAssembly.Assembly.GetType(collection.DisplayName[PerClassPrefix.Length..])
                : null);
        var mark = type?.GetCustomAttributes(typeof(RunsLongAttribute).AssemblyQualifiedName).FirstOrDefault();
        return mark?.GetConstructorArguments().OfType<int>().FirstOrDefault() ?? 0;
    }
}
