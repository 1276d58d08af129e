namespace LumoAuth.Contracts.Internal;

/// <summary>
/// <c>POST /internal/v1/users/register</c> (admin): self-registration from the token service's hosted page
/// (<c>prompt=create</c>). Admin applies the tenant's registration switch, password policy and email uniqueness.
/// Failures come back in the REST error envelope: <c>registration_disabled</c> 403, <c>validation_error</c> 400
/// (details per field), <c>duplicate_resource</c> 409. <see cref="Locale"/> is the language the page was read in, which
/// becomes the user's (their verification mail is written in it).
/// </summary>
public sealed record RegisterUserRequest(Guid TenantId, string? Email, string? Password, string? Name, string? Locale = null)
{
    /// <summary>The version of the tenant's terms of service the person accepted on the page (required while the tenant has terms).</summary>
    public string? AcceptedTerms { get; init; }

    /// <summary>Values for the tenant's declared attributes asked at registration, by name.</summary>
    public IReadOnlyDictionary<string, string>? Attributes { get; init; }
}

/// <summary><see cref="EmailVerificationRequired"/>: the tenant wants the address verified before the account is used.</summary>
public sealed record RegisteredUser(Guid UserId, string Email, string? Name, bool EmailVerificationRequired);

/// <summary>
/// <c>GET /internal/v1/tenants/{tenantId}/hosted-pages</c> (admin): what the hosted pages need of a tenant's
/// settings — its branding (raw, as the admin stored it; the token service sanitises before rendering), whether
/// users may register themselves, its session policy (seconds; defaults as admin's, for an older admin), and whether
/// applications may register themselves (RFC 7591) or be known by Client ID Metadata Documents (both off unless the
/// tenant switched them on), and how users may sign in
/// besides a password: e-mailed one-time links (or only those), the email-first flow (<c>check-email</c>), and passkeys;
/// and for how many days a browser may be trusted to skip the second step (0: never); and whether users may take
/// sign-in codes by e-mail as their second step (the tenant allows the method and its mail goes out), or by text message (the
/// tenant allows it and an SMS provider is set up); and how many
/// sessions a user may hold at once (0: any number; a new sign-in ends the oldest beyond it); and, with passkeys on, whether users
/// may add them and sign in with them (<c>passkeyPolicy</c>).
/// </summary>
public sealed record HostedPageSettings(
    bool RegistrationEnabled, string? DisplayName, string? LogoUrl, string? PrimaryColor,
    int SessionMaxAge = 86_400, int SessionIdleTimeout = 1_800, bool SingleSession = false, bool DynamicClientRegistration = false,
    bool MagicLinkEnabled = false, bool MagicLinkOnly = false, bool EmailFirstLogin = false, bool PasskeysEnabled = true,
    bool ClientIdMetadataDocuments = false, int RememberDeviceDays = 0, bool EmailMfaCodes = false, int MaxSessions = 0, bool SmsMfaCodes = false,
    bool PasskeyRegistration = true, bool PasskeyLogin = true, IReadOnlyList<string>? Languages = null, string? DefaultLanguage = null)
{
    /// <summary>The tenant's own wording of single sentences, by language and English sentence (admin's <c>localization.texts</c>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>? Texts { get; init; }

    /// <summary>The tenant's terms of service, which users must accept (this version) to register and to sign in; null when it has none.</summary>
    public TermsOfService? Terms { get; init; }

    /// <summary>The custom attributes the tenant declares for its users' registration and account pages (admin's <c>userProfile</c>).</summary>
    public IReadOnlyList<ProfileAttributeInfo>? ProfileAttributes { get; init; }
}

/// <summary>
/// One declared profile attribute: its name among the user's custom attributes, its label, where it is asked, and what its
/// values may be (<see cref="ProfileAttributeTypes"/>; a whole number between <see cref="Min"/> and <see cref="Max"/>, one of
/// <see cref="Options"/>, a whole-value <see cref="Pattern"/> whose failure <see cref="PatternMessage"/> words).
/// </summary>
public sealed record ProfileAttributeInfo(string Name, string Label, bool Required, bool UserEditable, bool OnRegistration, int MaxLength)
{
    public string Type { get; init; } = ProfileAttributeTypes.Text;

    public long? Min { get; init; }

    public long? Max { get; init; }

    public IReadOnlyList<ProfileAttributeOption>? Options { get; init; }

    public string? Pattern { get; init; }

    public string? PatternMessage { get; init; }

    /// <summary>The user's own pages show it; off for attributes that are administrators' business only.</summary>
    public bool UserVisible { get; init; } = true;

    /// <summary>
    /// Holds a list of values (Keycloak's <c>multivalued</c>), each checked as a single value would be, at most
    /// <see cref="MaxValues"/>. Forms and the internal API carry them as text, one value per line; admin keeps a JSON array.
    /// </summary>
    public bool MultiValued { get; init; }

    /// <summary>The most values a multi-valued attribute holds.</summary>
    public int MaxValues { get; init; } = 1;

    /// <summary>
    /// Required only when an application asks for one of these scopes (then <see cref="Required"/> is false: registration and
    /// the account page take the attribute as optional, and completing a profile asks for it for such an application).
    /// </summary>
    public IReadOnlyList<string>? RequiredScopes { get; init; }

    /// <summary>A line of help the forms show under its input (Keycloak's helper text), in the tenant's words; or null.</summary>
    public string? Hint { get; init; }

    /// <summary>The section of the forms it is shown in, with the section's label and description, or null.</summary>
    public ProfileAttributeGroupInfo? Group { get; init; }

    /// <summary>Whether an application asking for <paramref name="scopes"/> needs a value of it.</summary>
    public bool RequiredFor(IEnumerable<string> scopes) => Required || (RequiredScopes is { } named && scopes.Any(named.Contains));
}

/// <summary>A section of the profile forms (Keycloak's attribute group): its attributes are shown together under its label.</summary>
public sealed record ProfileAttributeGroupInfo(string Name, string Label, string? Description);

/// <summary>A value a <c>choice</c> attribute may take, and how the pages word it (the tenant's texts word it per language).</summary>
public sealed record ProfileAttributeOption(string Value, string Label);

/// <summary>What a declared attribute holds: the page's input follows it, and values are checked against it.</summary>
public static class ProfileAttributeTypes
{
    public const string Text = "text";
    public const string Integer = "integer";
    public const string Date = "date";
    public const string Email = "email";
    public const string Url = "url";
    public const string Phone = "phone";
    public const string Choice = "choice";

    public static readonly IReadOnlyList<string> All = [Text, Integer, Date, Email, Url, Phone, Choice];
}

/// <summary>Where a tenant's terms of service are, and their current version (admin's <c>termsOfService</c> settings).</summary>
public sealed record TermsOfService(string Url, string Version);

/// <summary>
/// <c>POST /internal/v1/users/{userId}/terms?tenantId=</c> (admin): the signed-in user accepted this version of the tenant's
/// terms. A version that is no longer the tenant's is refused (409), so nobody is recorded as accepting terms they were not shown.
/// </summary>
public sealed record TermsAcceptance(string? Version)
{
    public static string Route(Guid userId, Guid tenantId) => $"{InternalRoutes.Prefix}/users/{userId}/terms?tenantId={tenantId}";
}

/// <summary>
/// The languages the hosted pages are written in (the token service's catalogues; its catalogue test keeps the two
/// lists equal). A tenant offers some or all of them (admin's <c>localization</c> settings).
/// </summary>
public static class HostedPageLanguages
{
    public const string English = "en";

    public static readonly string[] All = [English, "ar", "de", "es", "fr", "it", "nl", "pt"];
}

public static class HostedPageErrorCodes
{
    public const string RegistrationDisabled = "registration_disabled";
}
