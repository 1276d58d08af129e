using System.Text.Json;
using System.Text.Json.Serialization;
using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Internal;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Settings;

/// <summary>
/// A tenant's settings (ADM-53). Stored as one JSON document on the tenant; every property has a default,
/// so a document written by an older version (or <c>{}</c>) reads as the defaults plus what was set.
/// </summary>
public sealed class TenantSettings
{
    public PasswordPolicy PasswordPolicy { get; set; } = new();

    public MfaPolicy MfaPolicy { get; set; } = new();

    public SessionPolicy SessionPolicy { get; set; } = new();

    public LoginPolicy LoginPolicy { get; set; } = new();

    public PasskeyPolicy PasskeyPolicy { get; set; } = new();

    public Branding Branding { get; set; } = new();

    public ClientRegistrationPolicy ClientRegistration { get; set; } = new();

    public AuditPolicy AuditPolicy { get; set; } = new();

    public AdaptiveAuthPolicy AdaptiveAuth { get; set; } = new();

    public LocalizationPolicy Localization { get; set; } = new();

    public TermsOfServicePolicy TermsOfService { get; set; } = new();

    public UserProfilePolicy UserProfile { get; set; } = new();

    /// <summary>Users may add passkeys: passkeys are on and registration is allowed.</summary>
    [JsonIgnore]
    public bool PasskeysMayRegister => LoginPolicy.PasskeysEnabled && PasskeyPolicy.AllowRegistration;

    /// <summary>Users may sign in with their passkeys: passkeys are on and their sign-in is allowed.</summary>
    [JsonIgnore]
    public bool PasskeysMaySignIn => LoginPolicy.PasskeysEnabled && PasskeyPolicy.AllowLogin;

    /// <summary>A passkey counts as a user's second factor: it may sign in, and the MFA policy allows <c>webauthn</c>.</summary>
    [JsonIgnore]
    public bool PasskeysAreASecondFactor => PasskeysMaySignIn && MfaPolicy.AllowedMethods.Contains("webauthn");

    public static TenantSettings Parse(string json) =>
        JsonSerializer.Deserialize<TenantSettings>(json, SettingsJson.Options) ?? new TenantSettings();

    public string ToJson() => JsonSerializer.Serialize(this, SettingsJson.Options);

    /// <summary>The settings of the current request's tenant (the query filter is not involved: tenants are not tenant-owned rows).</summary>
    public static async Task<TenantSettings> LoadAsync(AdminDbContext db, Guid tenantId, CancellationToken cancellationToken)
    {
        var json = await db.Tenants.AsNoTracking().Where(t => t.Id == tenantId).Select(t => t.Settings).FirstOrDefaultAsync(cancellationToken);
        return json is null ? new TenantSettings() : Parse(json);
    }
}

public sealed class PasswordPolicy
{
    public const int AbsoluteMaxLength = 256;

    public int MinLength { get; set; } = 8;

    public bool RequireUppercase { get; set; }

    public bool RequireLowercase { get; set; }

    public bool RequireNumbers { get; set; }

    public bool RequireSymbols { get; set; }

    /// <summary>How many previous passwords may not be used again (0 disables the check).</summary>
    public int PreventReuse { get; set; }

    /// <summary>Refuse passwords known from data breaches (where the deployment has a breach service configured).</summary>
    public bool BreachDetection { get; set; } = true;

    /// <summary>What the password lacks, one message per unmet rule (empty when it complies).</summary>
    public IReadOnlyList<string> Check(string password)
    {
        var problems = new List<string>();
        if (password.Length < MinLength)
        {
            problems.Add($"must be at least {MinLength} characters");
        }

        // PBKDF2's cost grows with the input: an absurd password is refused before it is hashed.
        if (password.Length > AbsoluteMaxLength)
        {
            problems.Add($"must be at most {AbsoluteMaxLength} characters");
        }

        if (RequireUppercase && !password.Any(char.IsUpper))
        {
            problems.Add("must contain an uppercase letter");
        }

        if (RequireLowercase && !password.Any(char.IsLower))
        {
            problems.Add("must contain a lowercase letter");
        }

        if (RequireNumbers && !password.Any(char.IsDigit))
        {
            problems.Add("must contain a number");
        }

        if (RequireSymbols && password.All(char.IsLetterOrDigit))
        {
            problems.Add("must contain a symbol");
        }

        return problems;
    }
}

public sealed class MfaPolicy
{
    /// <summary>Every user must have a second factor (a TOTP app or a passkey); one without is made to enrol at sign-in.</summary>
    public bool Required { get; set; }

    public List<string> AllowedMethods { get; set; } = ["totp", "webauthn"];

    /// <summary>Days a user may still sign in without a second factor, counted from when the policy (or the account) began.</summary>
    public int GracePeriodDays { get; set; } = 7;

    /// <summary>
    /// "Remember device": after the TOTP step a user may trust the browser for this many days, and is not asked for a
    /// code from it meanwhile; 0 (the default) offers nothing.
    /// </summary>
    public int RememberDeviceDays { get; set; }

    /// <summary>When <see cref="Required"/> was last switched on (set by the server), where the grace period of existing users starts.</summary>
    public DateTimeOffset? RequiredSince { get; set; }

    /// <summary>From when a user without a second factor must enrol before signing in.</summary>
    public DateTimeOffset EnrolmentDueFor(DateTimeOffset userCreatedAt) =>
        (RequiredSince is { } since && since > userCreatedAt ? since : userCreatedAt).AddDays(GracePeriodDays);
}

public sealed class SessionPolicy
{
    /// <summary>Session lifetime in seconds.</summary>
    public int MaxAge { get; set; } = 86_400;

    /// <summary>Inactivity timeout in seconds.</summary>
    public int IdleTimeout { get; set; } = 1_800;

    public bool SingleSession { get; set; }

    /// <summary>How many sessions a user may hold at once; a new sign-in ends the oldest beyond it (0: no limit).</summary>
    public int MaxSessions { get; set; }
}

public sealed class LoginPolicy
{
    /// <summary>Consecutive failed logins that lock the account (C-40: 5).</summary>
    public int MaxFailedAttempts { get; set; } = 5;

    /// <summary>How long a lockout lasts, in seconds (C-40: 30 minutes).</summary>
    public int LockoutDuration { get; set; } = 1_800;

    public bool RegistrationEnabled { get; set; } = true;

    public bool EmailVerificationRequired { get; set; }

    /// <summary>How long an invitation stays valid, in days.</summary>
    public int InvitationExpiryDays { get; set; } = 7;

    /// <summary>Users may ask for a one-time sign-in link by e-mail instead of typing a password.</summary>
    public bool MagicLinkEnabled { get; set; }

    /// <summary>Sign-in links only: the login page shows no password field and refuses passwords (implies <see cref="MagicLinkEnabled"/>).</summary>
    public bool MagicLinkOnly { get; set; }

    /// <summary>How long a sign-in link works, in minutes (the docs' default: 15).</summary>
    public int MagicLinkExpiryMinutes { get; set; } = 15;

    /// <summary>
    /// The email-first flow: the login page asks for the address first, and <c>POST /t/{slug}/check-email</c> says whether
    /// an account has it. Off by default, since that answer tells anyone which addresses have accounts.
    /// </summary>
    public bool EmailFirstLogin { get; set; }

    /// <summary>Passkeys at all (buttons, script, endpoints); on by default. <see cref="PasskeyPolicy"/> refines what they may do.</summary>
    public bool PasskeysEnabled { get; set; } = true;
}

/// <summary>
/// The docs' passkey settings (Keycloak's "WebAuthn Passwordless Policy"): whether users may add passkeys and sign in with them,
/// what attestation the registration asks for and which kind of authenticator it asks for. User verification is always
/// required: a passkey signs in without a password, so without it the key alone (something one has) would open the account.
/// </summary>
public sealed class PasskeyPolicy
{
    public static readonly string[] AttestationPreferences = ["none", "indirect", "direct"];
    public static readonly string[] AuthenticatorKinds = ["both", "platform", "roaming"];

    /// <summary>Users may add passkeys on their account page ("Allow Passkey Registration").</summary>
    public bool AllowRegistration { get; set; } = true;

    /// <summary>Users may sign in with a passkey ("Allow Passkey Login"), and a passkey counts as a second factor.</summary>
    public bool AllowLogin { get; set; } = true;

    /// <summary>Always true (see the class); kept so the setting reads back as the docs name it.</summary>
    public bool RequireUserVerification { get; set; } = true;

    /// <summary>What the registration asks the authenticator to say about its make (<c>none</c>, <c>indirect</c>, <c>direct</c>).</summary>
    public string AttestationPreference { get; set; } = "none";

    /// <summary>
    /// Which authenticators registration asks for: <c>platform</c> (built into the device), <c>roaming</c> (security keys,
    /// phones over hybrid) or <c>both</c>.
    /// </summary>
    public string AuthenticatorTypes { get; set; } = "both";
}

/// <summary>
/// Whether applications may register themselves at the token service's <c>connect/register</c> (RFC 7591) or introduce
/// themselves by a Client ID Metadata Document. The docs
/// require a tenant to switch it on; off by default, since anyone who can reach the endpoint could then add clients.
/// </summary>
public sealed class ClientRegistrationPolicy
{
    public bool DynamicRegistrationEnabled { get; set; }

    /// <summary>
    /// Whether a client_id may be the https URL of a Client ID Metadata Document that the token service fetches (MCP's
    /// way for a client to introduce itself). Off by default for the same reason as dynamic registration.
    /// </summary>
    public bool ClientIdMetadataDocumentsEnabled { get; set; }
}

/// <summary>
/// Risk-based sign-in (the docs' adaptive MFA): each password or link sign-in gets a score from 0 to 100; up to
/// <see cref="LowRiskThreshold"/> it needs no second step, up to <see cref="HighRiskThreshold"/> it does, above it is refused.
/// </summary>
public sealed class AdaptiveAuthPolicy
{
    public bool Enabled { get; set; }

    public int LowRiskThreshold { get; set; } = 30;

    public int HighRiskThreshold { get; set; } = 70;

    /// <summary>Networks (CIDR, e.g. <c>203.0.113.0/24</c>) whose sign-ins are low risk whatever else is seen.</summary>
    public List<string> TrustedIpRanges { get; set; } = [];
}

public sealed class AuditPolicy
{
    /// <summary>Days an audit entry is kept before it is deleted (the docs' default: 90).</summary>
    public int RetentionDays { get; set; } = 90;
}

public sealed class Branding
{
    /// <summary>Null means "the tenant's name".</summary>
    public string? DisplayName { get; set; }

    public string? LogoUrl { get; set; }

    public string PrimaryColor { get; set; } = "#635bff";

    public string? SupportEmail { get; set; }
}

/// <summary>The languages the tenant's hosted pages are offered in, and the one for a browser that asks for none of them.</summary>
/// <summary>
/// The tenant's terms of service (Keycloak's "Terms and Conditions" required action): while both are set, registration
/// asks for them to be accepted, and a signed-in user who has not accepted this <see cref="Version"/> is asked before any
/// application gets a code. A new version asks everyone again.
/// </summary>
/// <summary>
/// The custom attributes a tenant declares for its users (Keycloak's declarative user profile): asked for at
/// registration, shown and changed on the account page, kept among the user's custom attributes (ADM-14) under their names.
/// </summary>
public sealed class UserProfilePolicy
{
    public const int MaxAttributes = 20;

    public List<ProfileAttribute> Attributes { get; set; } = [];

    public const int MaxGroups = 10;

    /// <summary>Sections of the profile forms (Keycloak's attribute groups): each attribute may name one.</summary>
    public List<ProfileAttributeGroup> Groups { get; set; } = [];

    /// <summary>The pages' view of the declarations, each attribute with its group.</summary>
    public List<ProfileAttributeInfo> ToInfos() =>
        [.. Attributes.Select(a => a.ToInfo() with { Group = Groups.FirstOrDefault(g => g.Name == a.Group)?.ToInfo() })];
}

/// <summary>
/// A section of the profile forms: the attributes that name it are shown together under its label, with its description
/// (both the tenant's wording, worded per language through <c>localization.texts</c>).
/// </summary>
public sealed class ProfileAttributeGroup
{
    public string Name { get; set; } = string.Empty;

    public string Label { get; set; } = string.Empty;

    public string? Description { get; set; }

    public ProfileAttributeGroupInfo ToInfo() => new(Name, Label, Description);
}

public sealed class ProfileAttribute
{
    public string Name { get; set; } = string.Empty;

    /// <summary>What the pages call it, in the tenant's default wording; <c>localization.texts</c> words it per language.</summary>
    public string Label { get; set; } = string.Empty;

    /// <summary>Must have a value at registration (when asked there) and cannot be emptied by its user.</summary>
    public bool Required { get; set; }

    /// <summary>
    /// With <see cref="Required"/>: required only when an application asks for one of these scopes (Keycloak's required
    /// scopes), so a person is asked for it by the first application that needs it, not at registration.
    /// </summary>
    public List<string>? RequiredScopes { get; set; }

    public const int MaxRequiredScopes = 20;

    /// <summary>The user may change it on the account page; otherwise it is shown there, read-only (unless <see cref="UserVisible"/> is off).</summary>
    public bool UserEditable { get; set; } = true;

    /// <summary>
    /// The account page shows it to its user (Keycloak's view permission for the user). Off: administrators' business only
    /// (a risk score, an internal grade), never on the user's pages; it can then be neither user-editable nor asked at registration.
    /// </summary>
    public bool UserVisible { get; set; } = true;

    public bool OnRegistration { get; set; }

    public int MaxLength { get; set; } = 200;

    public const int MaxOptions = 50;

    /// <summary>What it holds (<see cref="ProfileAttributeTypes"/>): the pages' input follows it and values are checked against it.</summary>
    public string Type { get; set; } = ProfileAttributeTypes.Text;

    /// <summary>The least and greatest whole number an <c>integer</c> attribute takes (either may be left out).</summary>
    public long? Min { get; set; }

    public long? Max { get; set; }

    /// <summary>The values a <c>choice</c> attribute takes, each with its label.</summary>
    public List<ProfileAttributeOption>? Options { get; set; }

    /// <summary>A regular expression the whole value must match (run without backtracking), and how the pages word a mismatch.</summary>
    public string? Pattern { get; set; }

    public string? PatternMessage { get; set; }

    /// <summary>A line of help the forms show under its input (Keycloak's helper text), worded per language like the label.</summary>
    public string? Hint { get; set; }

    /// <summary>The name of the <see cref="ProfileAttributeGroup"/> the pages show it in, or null.</summary>
    public string? Group { get; set; }

    /// <summary>Holds a list of values (Keycloak's <c>multivalued</c>), each held to the rest of the declaration.</summary>
    public bool MultiValued { get; set; }

    /// <summary>The most values a multi-valued attribute holds (<see cref="DefaultMaxValues"/> when left out).</summary>
    public int? MaxValues { get; set; }

    public const int DefaultMaxValues = 10;

    public const int MaxMaxValues = 50;

    /// <summary>What the pages and the checks of values see of it.</summary>
    public ProfileAttributeInfo ToInfo() => new(Name, Label, Required && RequiredScopes is null, UserEditable, OnRegistration, MaxLength)
    {
        RequiredScopes = RequiredScopes,
        Type = Type, Min = Min, Max = Max, Options = Options, Pattern = Pattern, PatternMessage = PatternMessage, UserVisible = UserVisible,
        MultiValued = MultiValued, MaxValues = MultiValued ? MaxValues ?? DefaultMaxValues : 1, Hint = Hint,
    };

    /// <summary>Why the declaration's parts do not fit together, or null.</summary>
    public string? Problem() =>
        (Min is not null || Max is not null) && Type != ProfileAttributeTypes.Integer ? "min and max belong to integer attributes only"
        : Min > Max ? "min must not be greater than max"
        : (Options is null) == (Type == ProfileAttributeTypes.Choice) ? "options are given for, and only for, a choice attribute"
        : PatternMessage is not null && Pattern is null ? "patternMessage needs a pattern"
        : RequiredScopes is not null && !(Required && UserEditable) ? "requiredScopes needs required true and userEditable true (the person is asked for it)"
        : MaxValues is not null && !MultiValued ? "maxValues belongs to multi-valued attributes only"
        : !UserVisible && (UserEditable || OnRegistration) ? "an attribute its user may not see (userVisible false) must have userEditable false and onRegistration false"
        : null;

    /// <summary>A name for a JSON member: a letter, then letters, digits or underscores; <c>address</c> is the OIDC address's.</summary>
    public static bool IsName(string name) =>
        name.Length is >= 1 and <= 50 && char.IsAsciiLetter(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') && name != "address";
}

public sealed class TermsOfServicePolicy
{
    public string? Url { get; set; }

    public string? Version { get; set; }

    public bool IsSet => Url is not null && Version is not null;
}

public sealed class LocalizationPolicy
{
    public List<string> Languages { get; set; } = [.. LumoAuth.Contracts.Internal.HostedPageLanguages.All];

    public string DefaultLanguage { get; set; } = LumoAuth.Contracts.Internal.HostedPageLanguages.English;

    /// <summary>
    /// The tenant's own wording of single sentences of its pages and mails, by language and English sentence (Keycloak's
    /// realm overrides): <c>{"de": {"Sign in": "Bei Acme anmelden"}}</c>. English may be reworded too.
    /// </summary>
    public Dictionary<string, Dictionary<string, string>> Texts { get; set; } = new(StringComparer.Ordinal);

    /// <summary>At most this many sentences per language, each at most <see cref="MaxTextLength"/> characters.</summary>
    public const int MaxTexts = 300;

    public const int MaxTextLength = 2000;
}

internal static class SettingsJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}
