using LumoAuth.ServiceDefaults.Localization;

namespace LumoAuth.Token.Features.Localization;

/// <summary>
/// The translations of the hosted pages, built into the service: <c>Catalogue/{language}/{area}.json</c> (login, account,
/// consent…), read by <see cref="TextCatalogue"/>. English has no file: its sentences are the keys.
/// </summary>
public static class PageCatalogue
{
    public static TextCatalogue Texts { get; } = new(typeof(PageCatalogue).Assembly, "LumoAuth.Token.Features.Localization.Catalogue.");

    /// <summary>English first, then the languages that have a catalogue, in alphabetical order.</summary>
    public static IReadOnlyList<string> Languages => Texts.Languages;

    public static IReadOnlyDictionary<string, string> For(string language) => Texts.For(language);
}
