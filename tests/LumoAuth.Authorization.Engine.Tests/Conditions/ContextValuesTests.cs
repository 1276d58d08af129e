using System.Text.Json;
using LumoAuth.Authorization.Engine.Conditions;

namespace LumoAuth.Authorization.Engine.Tests.Conditions;

public sealed class ContextValuesTests
{
    [Fact]
    public void ARepeatedName_KeepsItsLastValue()
    {
        using var document = JsonDocument.Parse("""{"a":1,"a":2}""");

        Assert.Equal(2L, ContextValues.FromJson(document.RootElement)["a"]);
    }

    [Theory]
    [InlineData("""{"x":1e400}""")]
    [InlineData("""{"x":[-1e400]}""")]
    [InlineData("""{"x":{"y":1e309}}""")]
    public void ANumberBeyondADouble_IsRefusedAsUnreadableInput(string json)
    {
        using var document = JsonDocument.Parse(json);

        Assert.False(ContextValues.HasOnlyFiniteNumbers(document.RootElement));
        var refused = Assert.Throws<InvalidDataException>(() => ContextValues.FromJson(document.RootElement));
        Assert.Contains("out of range", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LargeButFiniteNumbers_AreKept()
    {
        using var document = JsonDocument.Parse("""{"x":1e300,"y":99999999999999999999}""");

        Assert.True(ContextValues.HasOnlyFiniteNumbers(document.RootElement));
        Assert.Equal(1e300, ContextValues.FromJson(document.RootElement)["x"]);
    }
}
