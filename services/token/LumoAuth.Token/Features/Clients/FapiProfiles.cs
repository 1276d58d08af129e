namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// A client's FAPI 2.0 profile (the portal's "FAPI 2.0" tab; <c>fapiProfile</c> in the Admin API). The Security Profile
/// ("baseline") holds a client to PAR, PKCE with S256, DPoP-bound tokens, <c>private_key_jwt</c>, 60-second codes and
/// access tokens of ten minutes at most. "Advanced" (FAPI 2.0 Message Signing) adds signed requests (every authorization
/// request a request object, RFC 9101) and signed authorization responses (JARM) to all of that.
/// </summary>
public static class FapiProfiles
{
    public const string Disabled = "disabled";
    public const string Baseline = "fapi2_baseline";
    public const string Advanced = "fapi2_advanced";

    public static readonly IReadOnlySet<string> Supported = new HashSet<string>(StringComparer.Ordinal) { Disabled, Baseline, Advanced };

    public const int DefaultAccessTokenLifetime = 300;
    public const int MaxAccessTokenLifetime = 600;

    /// <summary>FAPI 2.0 Security Profile §5.3.2.1: authorization codes live at most 60 seconds.</summary>
    public static readonly TimeSpan AuthorizationCodeLifetime = TimeSpan.FromSeconds(60);

    /// <summary>Where the profile is kept among the application's properties.</summary>
    public const string Property = "fapi_profile";
}
