using LumoAuth.Contracts.Internal;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.Localization;

namespace LumoAuth.Token.Features.Login;

/// <summary>
/// What a person must give before approving a device's code or a CIBA request, which issue tokens without the
/// authorization endpoint's own pages: the tenant's current terms (<see cref="PendingTerms"/>) and the required attributes
/// they have not given (<see cref="PendingProfile"/>). The approval form carries both; nothing is recorded while anything
/// on it is wrong.
/// </summary>
public sealed class ApprovalSteps(PendingTerms terms, PendingProfile profile, UserDirectory users)
{
    /// <summary>What is pending before an application asking for <paramref name="scopes"/> gets tokens.</summary>
    public Task<Pending> PendingAsync(Guid tenantId, Guid userId, IReadOnlyCollection<string> scopes, CancellationToken cancellationToken) =>
        PendingAsync(users.ReadOnce(tenantId, userId, cancellationToken), scopes, cancellationToken);

    /// <summary>One read of the user's profile for the requests of one page (<see cref="PendingAsync(UserDirectory.ProfileRead, IReadOnlyCollection{string}, CancellationToken)"/>).</summary>
    public UserDirectory.ProfileRead ReadOnce(Guid tenantId, Guid userId, CancellationToken cancellationToken) => users.ReadOnce(tenantId, userId, cancellationToken);

    /// <summary>As above, from a read of the profile that several requests of one page share.</summary>
    public async Task<Pending> PendingAsync(UserDirectory.ProfileRead user, IReadOnlyCollection<string> scopes, CancellationToken cancellationToken) =>
        new(await terms.ForAsync(user, cancellationToken), await profile.MissingAsync(user, scopes, cancellationToken));

    /// <summary>The form's inputs for what is pending, showing what was just posted.</summary>
    /// <param name="idSuffix">Tells apart the inputs of several forms on one page.</param>
    public static string Fields(PageText t, Pending pending, IFormCollection? posted, string idSuffix = "") =>
        (pending.Missing is null ? string.Empty : PendingProfile.Inputs(t, pending.Missing, posted, idSuffix)) +
        (pending.Terms is null ? string.Empty : PendingTerms.Checkbox(t, pending.Terms));

    /// <summary>
    /// Records what the approval gave: the box is checked first (here), then the values (kept by admin), then the acceptance.
    /// Null when all is recorded; otherwise the problem in the person's words.
    /// </summary>
    public async Task<string?> RecordAsync(PageText t, Guid tenantId, Guid userId, Pending pending, IFormCollection form, CancellationToken cancellationToken)
    {
        if (pending.Terms is not null && PendingTerms.Unticked(t, pending.Terms, form) is { } unticked)
        {
            return unticked;
        }

        if (pending.Missing is not null && await profile.SaveAsync(t, tenantId, userId, pending.Missing, form, cancellationToken) is { } problems)
        {
            return string.Join(' ', problems);
        }

        return pending.Terms is null ? null : await terms.AcceptAsync(t, tenantId, userId, pending.Terms, form, cancellationToken);
    }

    public sealed record Pending(TermsOfService? Terms, MissingAttributes? Missing);
}
