using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;
using LumoAuth.Token.Features.Localization;

namespace LumoAuth.Token.Tests;

/// <summary>The hosted pages' translations against the token service's code (<see cref="CatalogueCheck"/>).</summary>
public sealed class PageCatalogueTests
{
    private static readonly CatalogueCheck Check = new(Path.Combine("services", "token", "LumoAuth.Token"), PageCatalogue.Texts);

    [Fact]
    public void EverySentenceOfThePages_IsTranslatedInEveryLanguage()
    {
        var keys = Check.KeysInCode();
        Assert.True(keys.Count > 100, $"only {keys.Count} sentences found: is the key pattern still the one the code uses?");
        // Admin offers tenants the languages of its own list: the two must name the same.
        Assert.Equal(HostedPageLanguages.All.Order(StringComparer.Ordinal), PageCatalogue.Languages.Order(StringComparer.Ordinal));
        var missing = Check.Untranslated();
        Assert.True(missing.Count == 0, "Not translated:\n" + string.Join('\n', missing));
    }

    [Fact]
    public void EveryTranslation_BelongsToASentenceOfThePages_AndKeepsItsPlaceholders()
    {
        var problems = Check.WrongTranslations();
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Fact]
    public void Keys_AreLiterals_SoTheCatalogueCanFindThem()
    {
        var computed = Check.ComputedKeys();
        Assert.True(computed.Count == 0, "Interpolated or verbatim keys:\n" + string.Join('\n', computed));
    }
}
