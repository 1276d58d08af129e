using LumoAuth.ServiceDefaults.Localization;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>A tenant's wording laid over our catalogue, and the language tags people and applications send.</summary>
public sealed class TextCatalogueTests
{
    [Theory]
    [InlineData("Hello {0},", "Hallo {0},", true)]
    [InlineData("{0} of {1}", "{1} von {0}", true)]
    [InlineData("Sign in", "Anmelden", true)]
    [InlineData("PATCH admin/webhooks/{id}", "PATCH admin/webhooks/{id} bitte", true)]
    [InlineData("Hello {0},", "Hallo,", false)]
    [InlineData("Hello {0},", "Hallo {0} {0},", false)]
    [InlineData("Hello {0},", "Hallo {name},", false)]
    [InlineData("Sign in", "Anmelden {", false)]
    [InlineData("Sign in", "Anmelden }", false)]
    [InlineData("Sign in", "Anmelden {0}", false)]
    public void AText_MustKeepItsSentencesBraces(string english, string text, bool keeps) =>
        Assert.Equal(keeps, TextCatalogue.KeepsPlaceholdersOf(english, text));

    [Fact]
    public void Overrides_ReplaceOnlyTheSentencesTheyName_AndNeverOneThatWouldBreakFormatting()
    {
        var catalogue = new Dictionary<string, string> { ["Sign in"] = "Anmelden", ["Hello {0},"] = "Hallo {0}," };
        var merged = TextCatalogue.WithOverrides(catalogue, new Dictionary<string, string>
        {
            ["Sign in"] = "Bei Acme anmelden", ["Hello {0},"] = "Servus {name}", ["Not ours"] = "Egal",
        });

        Assert.Equal("Bei Acme anmelden", merged["Sign in"]);
        Assert.Equal("Hallo {0},", merged["Hello {0},"]);
        Assert.Equal("Anmelden", catalogue["Sign in"]);
        Assert.Same(catalogue, TextCatalogue.WithOverrides(catalogue, null));
        Assert.Equal("Hallo Lena,", new Translation("de", merged).Format("Hello {0},", "Lena"));
    }

    [Theory]
    [InlineData("de", true)]
    [InlineData("de-AT", true)]
    [InlineData("zh-Hant-TW", true)]
    [InlineData("sr-Latn-RS-x-private", true)]
    [InlineData("d", false)]
    [InlineData("deutsch", false)]
    [InlineData("de_DE", false)]
    [InlineData("de-", false)]
    [InlineData("de--AT", false)]
    [InlineData("<b>", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void LanguageTags_AreWellFormedBcp47(string? tag, bool wellFormed) => Assert.Equal(wellFormed, LanguageTags.IsWellFormed(tag));

    [Theory]
    [InlineData("de-CH", "de")]
    [InlineData("DE", "de")]
    [InlineData("fr_CA", "fr")]
    [InlineData("it", null)]
    [InlineData(null, null)]
    public void ATag_MatchesAnOfferedLanguage_ByItsPrimaryLanguage(string? tag, string? expected) =>
        Assert.Equal(expected, LanguageTags.Match(tag, ["en", "de", "fr"]));

    [Fact]
    public void UiLocales_GiveTheFirstOfferedTag() =>
        Assert.Equal("fr", LanguageTags.FirstOffered("tlh it fr-CA de", ["en", "de", "fr"]));
}
