using System.Collections.Concurrent;
using LumoAuth.ServiceDefaults.Localization;

namespace LumoAuth.Admin.Features.Email;

/// <summary>
/// The words of the mails and texts we send, in one language: <c>Catalogue/{language}/{area}.json</c> beside this file,
/// English as the key (<see cref="TextCatalogue"/>). Keys are literals at the call on a <see cref="MailText"/> named
/// <c>t</c>, which is how the catalogue test finds them.
/// </summary>
public sealed class MailText : Translation
{
    public static TextCatalogue Catalogue { get; } = new(typeof(MailText).Assembly, "LumoAuth.Admin.Features.Email.Catalogue.");

    private static readonly ConcurrentDictionary<string, MailText> Texts = new(StringComparer.Ordinal);

    private MailText(string language, IReadOnlyDictionary<string, string> catalogue)
        : base(language, catalogue)
    {
    }

    /// <summary>One of <see cref="TextCatalogue.Languages"/> of <see cref="Catalogue"/>, with the tenant's own wording of some sentences.</summary>
    public static MailText For(string language, IReadOnlyDictionary<string, string>? overrides = null) =>
        overrides is { Count: > 0 }
            ? new MailText(language, TextCatalogue.WithOverrides(Catalogue.For(language), overrides))
            : Texts.GetOrAdd(language, static l => new MailText(l, Catalogue.For(l)));
}
