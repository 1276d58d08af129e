using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Profiles;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.AccountPages;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Localization;

namespace LumoAuth.Token.Features.Login;

/// <summary>
/// The tenant's required declared attributes a signed-in person may fill in and has not: left empty because the account
/// came from an invitation, a social, SAML or LDAP sign-up or an administrator, or declared (or re-declared) after the
/// person signed up. Keycloak asks for them with its "verify profile" required action. The authorization endpoint asks on
/// a page of its own; the device and CIBA approval forms carry the inputs, as they carry the terms' box.
/// </summary>
public sealed class PendingProfile(HostedPageSettingsCache hostedPages, AccountLinkClient links)
{
    /// <summary>
    /// The attributes still to give for an application asking for <paramref name="scopes"/> (those always required, and those
    /// its scopes require), and the profile read; or null (nothing missing, or admin out: what is issued next fails on its own).
    /// </summary>
    public async Task<MissingAttributes?> MissingAsync(UserDirectory.ProfileRead user, IReadOnlyCollection<string> scopes, CancellationToken cancellationToken)
    {
        // Read the profile only for tenants that ask for something: most declare nothing, and this runs at every approval.
        var required = (await hostedPages.GetAsync(user.TenantId, cancellationToken))?.ProfileAttributes?
            .Where(a => a.UserEditable && a.RequiredFor(scopes)).Select(a => a with { Required = true }).ToList();
        if (required is not { Count: > 0 } || await user.GetAsync() is not { } profile)
        {
            return null;
        }

        // A value the declaration no longer takes (its type or pattern changed) is asked for again, as a missing one is.
        var missing = required.Where(a => ProfileValues.Check(a, ProfileAttributeFields.ValueIn(profile.Attributes, a.Name)).Problem is not null).ToList();
        return missing.Count == 0 ? null : new MissingAttributes(missing, profile);
    }

    /// <summary>The inputs, showing what was just posted, else the profile's value (one that no longer fits).</summary>
    /// <param name="idSuffix">Tells apart the inputs of several forms on one page.</param>
    public static string Inputs(PageText t, MissingAttributes missing, IFormCollection? posted, string idSuffix = "") =>
        ProfileAttributeFields.Inputs(t, missing.Attributes,
            name => (posted is null ? null : ProfileAttributeFields.Posted(posted, missing.Attributes.First(a => a.Name == name)))
                ?? ProfileAttributeFields.ValueIn(missing.Profile.Attributes, name),
            idSuffix);

    /// <summary>
    /// Keeps the values the form gave (admin checks them again). Null when kept; otherwise the problems in the person's
    /// words (a value that does not fit, a declaration changed meanwhile, admin out).
    /// </summary>
    public async Task<IReadOnlyList<string>?> SaveAsync(PageText t, Guid tenantId, Guid userId, MissingAttributes missing, IFormCollection form, CancellationToken cancellationToken)
    {
        var values = ProfileAttributeFields.Read(form, missing.Attributes);
        if (ProfileAttributeFields.Problems(t, missing.Attributes, values) is { Count: > 0 } problems)
        {
            return problems;
        }

        var saved = await links.UpdateProfileAsync(tenantId, userId, new SelfProfileUpdate(null, null, null) { Attributes = values }, cancellationToken);
        return saved.Outcome switch
        {
            LinkOutcome.Done => null,
            LinkOutcome.Invalid => [.. AccountPage.Describe(t, saved.Problems)],
            _ => [t.Format("{0} is unavailable right now. Try again in a moment.", t["Sign-in"])],
        };
    }
}

public sealed record MissingAttributes(IReadOnlyList<ProfileAttributeInfo> Attributes, UserProfile Profile);
