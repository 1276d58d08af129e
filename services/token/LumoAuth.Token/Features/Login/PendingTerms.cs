using LumoAuth.Contracts.Internal;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.AccountPages;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Localization;

namespace LumoAuth.Token.Features.Login;

/// <summary>
/// The tenant's terms of service where a signed-in person gives an application tokens without the authorization endpoint,
/// which asks on a page of its own: a device's code and a CIBA request. While the person has not accepted the current
/// version, the approval form carries a box to tick, and an approval records the acceptance before anything is issued.
/// </summary>
public sealed class PendingTerms(HostedPageSettingsCache hostedPages, AccountLinkClient links)
{
    public const string Field = "accept_terms";

    /// <summary>The terms the user has still to accept, or null (none set, already accepted, or admin out: the approval then fails on its own).</summary>
    public async Task<TermsOfService?> ForAsync(UserDirectory.ProfileRead user, CancellationToken cancellationToken) =>
        (await UnacceptedAsync(user, cancellationToken))?.Terms;

    /// <summary>As <see cref="ForAsync"/>, and whether the user had accepted an older version (so the page can say they changed).</summary>
    public async Task<(TermsOfService Terms, bool Changed)?> UnacceptedAsync(UserDirectory.ProfileRead user, CancellationToken cancellationToken)
    {
        if ((await hostedPages.GetAsync(user.TenantId, cancellationToken))?.Terms is not { } terms)
        {
            return null;
        }

        var profile = await user.GetAsync();
        return profile is null || profile.TermsAcceptedVersion == terms.Version ? null : (terms, profile.TermsAcceptedVersion is not null);
    }

    /// <summary>The box to tick, naming the version shown: accepting it accepts that version, never a newer one.</summary>
    public static string Checkbox(PageText t, TermsOfService terms) =>
        $"<label><input type=\"checkbox\" name=\"{Field}\" value=\"{HostedPage.Encode(terms.Version)}\" required> " +
        $"{t.Html("I accept the {0}.", t.Link("terms of service", terms.Url, "rel=\"noopener noreferrer\" target=\"_blank\""))}</label>";

    /// <summary>What is wrong with the box as posted (left unticked, ticked for another version), or null; records nothing.</summary>
    public static string? Unticked(PageText t, TermsOfService terms, IFormCollection form) =>
        form[Field].ToString() switch
        {
            { Length: 0 } => t["Accept the terms of service to go on."],
            var ticked when ticked != terms.Version => t["The terms have changed since you last accepted them."],
            _ => null,
        };

    /// <summary>
    /// Records the acceptance the form ticked. Null when done; otherwise the problem in the person's words (the box left
    /// unticked, the terms changed since the page was shown, admin out).
    /// </summary>
    public async Task<string?> AcceptAsync(PageText t, Guid tenantId, Guid userId, TermsOfService terms, IFormCollection form, CancellationToken cancellationToken)
    {
        if (Unticked(t, terms, form) is { } problem)
        {
            return problem;
        }

        return (await links.AcceptTermsAsync(tenantId, userId, terms.Version, cancellationToken)).Outcome switch
        {
            LinkOutcome.Done => null,
            LinkOutcome.Unavailable => t.Format("{0} is unavailable right now. Try again in a moment.", t["Sign-in"]),
            _ => t["The terms have changed since you last accepted them."],
        };
    }
}
