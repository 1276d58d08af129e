using LumoAuth.Token.Features.Localization;

namespace LumoAuth.Token.Features.Scopes;

/// <summary>A scope as the Admin API shows it. Built-in scopes have ids below 1000 and cannot be changed.</summary>
public sealed record ScopeResponse(int Id, string Name, string Description, bool IsDefault, bool IsSystem)
{
    /// <summary>What a custom scope puts in users' tokens; built-in scopes release their standard claims only.</summary>
    public IReadOnlyList<ScopeClaim> Claims { get; init; } = [];
}

/// <summary>The scopes every tenant has: the OpenID Connect scopes, the Admin API scopes and the relationship-store scopes.</summary>
public static class ScopeNames
{
    public const string OpenId = "openid";
    public const string Profile = "profile";
    public const string Email = "email";
    public const string Address = "address";
    public const string Phone = "phone";
    public const string OfflineAccess = "offline_access";
    public const string AdminRead = "admin.read";
    public const string AdminWrite = "admin.write";
    public const string ZanzibarRead = "zanzibar.read";
    public const string ZanzibarWrite = "zanzibar.write";

    public static readonly IReadOnlyList<ScopeResponse> BuiltIn =
    [
        .. new[] { OpenId, Profile, Email, Address, Phone, OfflineAccess, AdminRead, AdminWrite, ZanzibarRead, ZanzibarWrite }
            .Select((name, i) => new ScopeResponse(i + 1, name, ConsentText(PageText.English, name)!, false, true)),
    ];

    /// <summary>
    /// What a built-in scope lets an application do, as the consent page says it in <paramref name="t"/>'s language (the
    /// Admin API shows the English); null for any other scope, whose text is its tenant's.
    /// </summary>
    public static string? ConsentText(PageText t, string scope) => scope switch
    {
        OpenId => t["Sign you in with your account"],
        Profile => t["Read your name and basic profile"],
        Email => t["Read your email address"],
        Address => t["Read your postal address"],
        Phone => t["Read your phone number"],
        OfflineAccess => t["Stay signed in and act for you when you are away"],
        AdminRead => t["Read this organisation's administration data"],
        AdminWrite => t["Change this organisation's administration data"],
        ZanzibarRead => t["Read this organisation's relationship tuples"],
        ZanzibarWrite => t["Write and delete this organisation's relationship tuples"],
        _ => null,
    };

    public static bool IsBuiltIn(string name) => BuiltIn.Any(s => s.Name == name);

    /// <summary>
    /// Scopes that administer the tenant: the Admin API's (<c>admin</c>, <c>admin.read</c>, <c>admin:users</c>…) and the
    /// relationship store's (<c>zanzibar.read</c>, <c>zanzibar.write</c>). A client holds them only when an administrator
    /// allows it, and a user's token only when the user administers the tenant.
    /// </summary>
    public static bool IsPrivileged(string scope) =>
        scope == "admin" || scope.StartsWith("admin:", StringComparison.Ordinal) || scope.StartsWith("admin.", StringComparison.Ordinal)
        || scope.StartsWith("zanzibar:", StringComparison.Ordinal) || scope.StartsWith("zanzibar.", StringComparison.Ordinal);

    /// <summary>
    /// Marks an API (RFC 8707 resource) among the scopes of a remembered consent, so a new API asks again as a new scope
    /// does; no scope may be named with it.
    /// </summary>
    public const string ResourceConsentPrefix = "resource:";

    /// <summary>RFC 6749 §3.3: <c>scope-token = 1*( %x21 / %x23-5B / %x5D-7E )</c>, at most 200 characters, not <see cref="ResourceConsentPrefix"/>.</summary>
    public static bool IsValid(string? scope) =>
        !string.IsNullOrEmpty(scope) && scope.Length <= 200
        && scope.All(c => c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E))
        && !scope.StartsWith(ResourceConsentPrefix, StringComparison.Ordinal);
}
