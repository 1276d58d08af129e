using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Tenants;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Localization;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Profiles;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Settings;

/// <summary>Tenant settings (ADM-53/54, C-23: PUT with nested camelCase, partial; PATCH is an alias) and info (ADM-55).</summary>
public static partial class SettingsEndpoints
{
    private static readonly string[] MfaMethods = ["totp", "sms", "email", "webauthn"];

    public static IEndpointRouteBuilder MapSettingsEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin")
            .RequireAuthorization(Policies.TenantAdmin)
            .WithTags("Settings");
        group.MapGet("/settings", GetSettings).WithName("GetTenantSettings");
        group.MapPut("/settings", UpdateSettings).WithName("UpdateTenantSettings");
        group.MapPatch("/settings", UpdateSettings).WithName("PatchTenantSettings");
        group.MapGet("/info", GetInfo).WithName("GetTenantInfo");
        return app;
    }

    public static async Task<IResult> GetSettings(HttpResponse response, AdminDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        var row = await db.Tenants.AsNoTracking().Where(t => t.Id == tenant.TenantId)
            .Select(t => new { t.Settings, t.Version }).FirstAsync(cancellationToken);
        response.Headers.ETag = SettingsETag.Format(row.Version);
        return TypedResults.Ok(new DataResponse<TenantSettings>(WithDefaults(TenantSettings.Parse(row.Settings), tenant)));
    }

    /// <summary>
    /// Applies only the fields sent. With <c>If-Match</c> the update applies only to the version the caller
    /// read (412 otherwise); without it the last writer wins. Either way the write is conditional on the
    /// row version read here, so a concurrent update is never silently overwritten: with a precondition it
    /// fails, without one the fields are re-applied to the newer settings.
    /// </summary>
    public static async Task<IResult> UpdateSettings(
        [FromBody] JsonElement json, HttpRequest request, HttpResponse response, AdminDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (!SettingsETag.TryParseIfMatch(request.Headers.IfMatch, out var precondition))
        {
            return ApiErrors.Validation("If-Match", "must be a list of quoted entity tags or *");
        }

        if (json.ValueKind != JsonValueKind.Object)
        {
            return ApiErrors.BadRequest(ErrorCodes.InvalidRequest, "The body must be a JSON object of settings sections");
        }

        // Bound as an element, not a JsonObject: the serializer then refuses a repeated name with a 400, where binding a
        // JsonObject fails with an ArgumentException (a 500).
        var body = JsonObject.Create(json)!;

        for (var attempt = 1; ; attempt++)
        {
            db.ChangeTracker.Clear();
            var row = await db.Tenants.FirstAsync(t => t.Id == tenant.TenantId, cancellationToken);
            if (precondition is not null && !precondition.Matches(row.Version))
            {
                return PreconditionFailed();
            }

            var settings = TenantSettings.Parse(row.Settings);
            var (sections, error) = Apply(body, settings);
            if (error is not null)
            {
                return error;
            }

            if (sections.Count > 0)
            {
                row.Settings = settings.ToJson();
                row.UpdatedAt = DateTimeOffset.UtcNow;
                db.AddEvent(new TenantSettingsChanged(row.Id, row.Slug, sections) { TenantId = row.Id });
                try
                {
                    await db.SaveChangesAsync(cancellationToken);
                }
                catch (DbUpdateConcurrencyException) when (precondition is null && attempt < MaxUnconditionalAttempts)
                {
                    continue;
                }
                catch (DbUpdateConcurrencyException) when (precondition is not null)
                {
                    return PreconditionFailed();
                }
                catch (DbUpdateConcurrencyException)
                {
                    return ApiErrors.Create(StatusCodes.Status409Conflict, ErrorCodes.InvalidRequest, "The settings keep changing concurrently; retry");
                }
            }

            response.Headers.ETag = SettingsETag.Format(row.Version);
            return TypedResults.Ok(new DataResponse<TenantSettings>(WithDefaults(settings, tenant), "Settings updated"));
        }
    }

    private const int MaxUnconditionalAttempts = 5;

    private static IResult PreconditionFailed() => ApiErrors.Create(StatusCodes.Status412PreconditionFailed, ErrorCodes.PreconditionFailed,
        "The settings changed since they were read; GET them again and retry with the new ETag");

    /// <summary>Validates the body and applies its fields to <paramref name="settings"/>; returns the sections it touched.</summary>
    private static (List<string> Sections, IResult? Error) Apply(JsonObject body, TenantSettings settings)
    {
        var validation = new RequestValidator();
        var sections = new List<string>();
        foreach (var (name, node) in body)
        {
            if (node is not JsonObject section)
            {
                validation.Add(name, node is null ? "must not be null" : "must be an object");
                continue;
            }

            var reader = new FieldReader(section, name, validation);
            switch (name)
            {
                case "passwordPolicy":
                    var p = settings.PasswordPolicy;
                    reader.Int("minLength", 8, PasswordPolicy.AbsoluteMaxLength, v => p.MinLength = v);
                    reader.Bool("requireUppercase", v => p.RequireUppercase = v);
                    reader.Bool("requireLowercase", v => p.RequireLowercase = v);
                    reader.Bool("requireNumbers", v => p.RequireNumbers = v);
                    reader.Bool("requireSymbols", v => p.RequireSymbols = v);
                    reader.Int("preventReuse", 0, 24, v => p.PreventReuse = v);
                    reader.Bool("breachDetection", v => p.BreachDetection = v);
                    break;
                case "mfaPolicy":
                    var m = settings.MfaPolicy;
                    reader.Bool("required", v =>
                    {
                        m.RequiredSince = v ? (m.Required ? m.RequiredSince : DateTimeOffset.UtcNow) : null;
                        m.Required = v;
                    });
                    reader.ServerSet("requiredSince");
                    reader.StringList("allowedMethods", MfaMethods, v => m.AllowedMethods = v);
                    reader.Int("gracePeriodDays", 0, 30, v => m.GracePeriodDays = v);
                    reader.Int("rememberDeviceDays", 0, 90, v => m.RememberDeviceDays = v);
                    break;
                case "sessionPolicy":
                    var s = settings.SessionPolicy;
                    reader.Int("maxAge", 300, 31_536_000, v => s.MaxAge = v);
                    reader.Int("idleTimeout", 60, 31_536_000, v => s.IdleTimeout = v);
                    reader.Bool("singleSession", v => s.SingleSession = v);
                    reader.Int("maxSessions", 0, 100, v => s.MaxSessions = v);
                    break;
                case "loginPolicy":
                    var l = settings.LoginPolicy;
                    reader.Int("maxFailedAttempts", 1, 100, v => l.MaxFailedAttempts = v);
                    reader.Int("lockoutDuration", 60, 86_400, v => l.LockoutDuration = v);
                    reader.Bool("registrationEnabled", v => l.RegistrationEnabled = v);
                    reader.Bool("emailVerificationRequired", v => l.EmailVerificationRequired = v);
                    reader.Int("invitationExpiryDays", 1, 30, v => l.InvitationExpiryDays = v);
                    reader.Bool("magicLinkEnabled", v => l.MagicLinkEnabled = v);
                    reader.Bool("magicLinkOnly", v => l.MagicLinkOnly = v);
                    reader.Int("magicLinkExpiryMinutes", 5, 60, v => l.MagicLinkExpiryMinutes = v);
                    reader.Bool("emailFirstLogin", v => l.EmailFirstLogin = v);
                    reader.Bool("passkeysEnabled", v => l.PasskeysEnabled = v);
                    break;
                case "passkeyPolicy":
                    var k = settings.PasskeyPolicy;
                    reader.Bool("allowRegistration", v => k.AllowRegistration = v);
                    reader.Bool("allowLogin", v => k.AllowLogin = v);
                    reader.Bool("requireUserVerification", v => k.RequireUserVerification = v);
                    reader.Text("attestationPreference", 20, nullable: false, v => k.AttestationPreference = v!,
                        v => OneOf(v, PasskeyPolicy.AttestationPreferences));
                    // WebAuthn calls a roaming authenticator "cross-platform"; both words are taken.
                    reader.Text("authenticatorTypes", 20, nullable: false, v => k.AuthenticatorTypes = v == "cross-platform" ? "roaming" : v!,
                        v => v == "cross-platform" ? null : OneOf(v, PasskeyPolicy.AuthenticatorKinds));
                    break;
                case "branding":
                    var b = settings.Branding;
                    reader.Text("displayName", 100, nullable: true, v => b.DisplayName = v, _ => null);
                    reader.Text("logoUrl", 2048, nullable: true, v => b.LogoUrl = v,
                        v => Uri.TryCreate(v, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps ? null : "must be an absolute https URL");
                    reader.Text("primaryColor", 7, nullable: false, v => b.PrimaryColor = v!,
                        v => HexColor().IsMatch(v) ? null : "must be a hex colour like #635bff");
                    reader.Text("supportEmail", 320, nullable: true, v => b.SupportEmail = v,
                        v => RequestValidator.IsEmail(v) ? null : "must be a valid email address");
                    break;
                case "clientRegistration":
                    reader.Bool("dynamicRegistrationEnabled", v => settings.ClientRegistration.DynamicRegistrationEnabled = v);
                    reader.Bool("clientIdMetadataDocumentsEnabled", v => settings.ClientRegistration.ClientIdMetadataDocumentsEnabled = v);
                    break;
                case "adaptiveAuth":
                    var a = settings.AdaptiveAuth;
                    reader.Bool("enabled", v => a.Enabled = v);
                    reader.Int("lowRiskThreshold", 0, 100, v => a.LowRiskThreshold = v);
                    reader.Int("highRiskThreshold", 0, 100, v => a.HighRiskThreshold = v);
                    reader.TextList("trustedIpRanges", 100,
                        v => System.Net.IPNetwork.TryParse(v, out _) ? null : $"'{v}' is not a network in CIDR notation (e.g. 203.0.113.0/24)",
                        v => a.TrustedIpRanges = v);
                    break;
                case "auditPolicy":
                    reader.Int("retentionDays", 1, 3_650, v => settings.AuditPolicy.RetentionDays = v);
                    break;
                case "localization":
                    var language = settings.Localization;
                    reader.StringList("languages", HostedPageLanguages.All, v => language.Languages = v);
                    reader.Text("defaultLanguage", 8, nullable: false, v => language.DefaultLanguage = v!, v => OneOf(v, HostedPageLanguages.All));
                    reader.TextOverrides("texts", HostedPageLanguages.All, LocalizationPolicy.MaxTexts, LocalizationPolicy.MaxTextLength, v => language.Texts = v);
                    break;
                case "termsOfService":
                    var terms = settings.TermsOfService;
                    reader.Text("url", 2048, nullable: true, v => terms.Url = v,
                        v => Uri.TryCreate(v, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps && uri.UserInfo.Length == 0 ? null : "must be an absolute https URL");
                    reader.Text("version", 50, nullable: true, v => terms.Version = v, _ => null);
                    break;
                case "userProfile":
                    reader.ProfileAttributes("attributes", v => settings.UserProfile.Attributes = v);
                    reader.ProfileAttributeGroups("groups", v => settings.UserProfile.Groups = v);
                    break;
                default:
                    validation.Add(name, "is not a settings section (passwordPolicy, mfaPolicy, sessionPolicy, loginPolicy, passkeyPolicy, branding, clientRegistration, adaptiveAuth, auditPolicy, localization, termsOfService, userProfile)");
                    continue;
            }

            reader.RejectUnknown();
            sections.Add(name);
        }

        validation.Check(settings.SessionPolicy.IdleTimeout <= settings.SessionPolicy.MaxAge, "sessionPolicy.idleTimeout", "must not exceed sessionPolicy.maxAge");
        validation.Check(settings.AdaptiveAuth.LowRiskThreshold < settings.AdaptiveAuth.HighRiskThreshold, "adaptiveAuth.lowRiskThreshold",
            "must be below adaptiveAuth.highRiskThreshold");
        // Sign-in makes a user without a factor enrol TOTP (Authenticator), so requiring MFA without TOTP would lock every such
        // user out. Checked only when the section changes, so a tenant stored that way before can still edit the rest.
        validation.Check(!sections.Contains("mfaPolicy") || !settings.MfaPolicy.Required || settings.MfaPolicy.AllowedMethods.Contains("totp"),
            "mfaPolicy.allowedMethods", "must include totp while MFA is required");
        validation.Check((settings.TermsOfService.Url is null) == (settings.TermsOfService.Version is null), "termsOfService",
            "url and version go together: set both to ask users to accept the terms, or clear both");
        validation.Check(settings.Localization.Languages.Count > 0, "localization.languages", "must name at least one language");
        validation.Check(settings.Localization.Languages.Count == 0 || settings.Localization.Languages.Contains(settings.Localization.DefaultLanguage),
            "localization.defaultLanguage", "must be one of localization.languages");
        // A passkey signs in without a password: a key that did not verify its user would be one factor, something one has.
        validation.Check(settings.PasskeyPolicy.RequireUserVerification, "passkeyPolicy.requireUserVerification",
            "must be true: a passkey replaces the password, so the authenticator must verify its user");
        var profile = settings.UserProfile;
        for (var i = 0; i < profile.Attributes.Count; i++)
        {
            validation.Check(profile.Attributes[i].Group is not { } group || profile.Groups.Any(g => g.Name == group), $"userProfile.attributes[{i}].group",
                "must name one of userProfile.groups");
        }

        return validation.IsValid ? (sections, null) : (sections, validation.ToResult());
    }

    /// <summary>A scope name as RFC 6749 §3.3 spells one (printable ASCII without space, quote or backslash).</summary>
    private static string? ScopeNameProblem(string scope) =>
        scope.Length is >= 1 and <= 100 && scope.All(c => c is '!' or (>= '#' and <= '[') or (>= ']' and <= '~')) ? null : "must hold scope names";

    private static string? OneOf(string value, string[] allowed) =>
        allowed.Contains(value, StringComparer.Ordinal) ? null : $"must be one of {string.Join(", ", allowed)}";

    public static async Task<IResult> GetInfo(AdminDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        var row = await db.Tenants.AsNoTracking().FirstAsync(t => t.Id == tenant.TenantId, cancellationToken);
        var usage = new TenantUsage(
            await db.Users.LongCountAsync(cancellationToken),
            await db.Groups.LongCountAsync(g => g.SoftDeletedAt == null, cancellationToken),
            await db.ApiKeys.LongCountAsync(k => k.RevokedAt == null, cancellationToken));
        return TypedResults.Ok(new DataResponse<TenantInfoResponse>(
            new TenantInfoResponse(row.Id, row.Slug, row.Name, row.Status, row.Region, row.CreatedAt, usage)));
    }

    private static TenantSettings WithDefaults(TenantSettings settings, TenantContext tenant)
    {
        settings.Branding.DisplayName ??= tenant.Tenant!.Name;
        return settings;
    }

    [GeneratedRegex("^#[0-9a-fA-F]{6}$")]
    private static partial Regex HexColor();

    /// <summary>Reads typed fields of one section and reports problems as <c>section.field</c>.</summary>
    private sealed class FieldReader(JsonObject section, string prefix, RequestValidator validation)
    {
        private readonly HashSet<string> _known = new(StringComparer.Ordinal);

        public void Int(string name, int min, int max, Action<int> set) => Long(name, min, max, v => set((int)v));

        public void Long(string name, long min, long max, Action<long> set)
        {
            if (Take(name) is not { } node)
            {
                return;
            }

            if (node is JsonValue value && value.TryGetValue<JsonElement>(out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var number))
            {
                if (number < min || number > max)
                {
                    validation.Add(Path(name), $"must be between {min} and {max}");
                }
                else
                {
                    set(number);
                }
            }
            else
            {
                validation.Add(Path(name), "must be an integer");
            }
        }

        public void Bool(string name, Action<bool> set)
        {
            if (Take(name) is not { } node)
            {
                return;
            }

            if (node is JsonValue value && value.TryGetValue<JsonElement>(out var e) && e.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                set(e.GetBoolean());
            }
            else
            {
                validation.Add(Path(name), "must be true or false");
            }
        }

        public void Text(string name, int maxLength, bool nullable, Action<string?> set, Func<string, string?> check)
        {
            if (!section.ContainsKey(name))
            {
                return;
            }

            _known.Add(name);
            var node = section[name];
            if (node is null)
            {
                if (nullable)
                {
                    set(null);
                }
                else
                {
                    validation.Add(Path(name), "must not be null");
                }

                return;
            }

            if (node is not JsonValue value || !value.TryGetValue<JsonElement>(out var e) || e.ValueKind != JsonValueKind.String)
            {
                validation.Add(Path(name), "must be a string");
                return;
            }

            var text = e.GetString()!;
            var problem = text.Length > maxLength ? $"must be at most {maxLength} characters" : check(text);
            if (problem is null)
            {
                set(text);
            }
            else
            {
                validation.Add(Path(name), problem);
            }
        }

        public void StringList(string name, string[] allowed, Action<List<string>> set) =>
            TextList(name, allowed.Length, v => allowed.Contains(v) ? null : $"must contain only {string.Join(", ", allowed)}", set);

        /// <summary>An array of at most <paramref name="maxItems"/> distinct strings, each passing <paramref name="check"/> (null: fine).</summary>
        public void TextList(string name, int maxItems, Func<string, string?> check, Action<List<string>> set)
        {
            if (Take(name) is not { } node)
            {
                return;
            }

            if (node is not JsonArray array || array.Any(i => i is not JsonValue v || !v.TryGetValue<string>(out _)))
            {
                validation.Add(Path(name), "must be an array of strings");
                return;
            }

            var values = array.Select(i => i!.GetValue<string>()).Distinct().ToList();
            var problem = values.Count > maxItems ? $"must have at most {maxItems} items" : values.Select(check).FirstOrDefault(p => p is not null);
            if (problem is not null)
            {
                validation.Add(Path(name), problem);
            }
            else
            {
                set(values);
            }
        }

        /// <summary>
        /// An object from language to an object from English sentence to the tenant's wording, replaced whole. A wording must
        /// keep its sentence's placeholders (<c>{0}</c>) and braces; problems are reported per language.
        /// </summary>
        public void TextOverrides(string name, string[] languages, int maxPerLanguage, int maxLength, Action<Dictionary<string, Dictionary<string, string>>> set)
        {
            if (Take(name) is not { } node)
            {
                return;
            }

            if (node is not JsonObject byLanguage)
            {
                validation.Add(Path(name), "must be an object from language to an object of sentences");
                return;
            }

            var texts = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
            foreach (var (language, sentences) in byLanguage)
            {
                var path = $"{Path(name)}.{language}";
                if (!languages.Contains(language))
                {
                    validation.Add(path, $"is not one of {string.Join(", ", languages)}");
                }
                else if (sentences is not JsonObject entries || entries.Any(e => e.Value is not JsonValue v || !v.TryGetValue<string>(out _)))
                {
                    validation.Add(path, "must be an object from English sentence to text");
                }
                else if (entries.Count > maxPerLanguage)
                {
                    validation.Add(path, $"must have at most {maxPerLanguage} sentences");
                }
                else if (SentenceProblem(entries, maxLength) is { } problem)
                {
                    validation.Add(path, problem);
                }
                else if (entries.Count > 0)
                {
                    texts[language] = entries.ToDictionary(e => e.Key, e => e.Value!.GetValue<string>(), StringComparer.Ordinal);
                }
            }

            set(texts);
        }

        private static string? SentenceProblem(JsonObject entries, int maxLength)
        {
            foreach (var (english, node) in entries)
            {
                var text = node!.GetValue<string>();
                if (english.Length is 0 || english.Length > maxLength || text.Length is 0 || text.Length > maxLength)
                {
                    return $"'{Cut(english)}': sentences and texts must be 1 to {maxLength} characters";
                }

                if (!TextCatalogue.KeepsPlaceholdersOf(english, text))
                {
                    return $"'{Cut(english)}': the text must keep the sentence's placeholders ({{0}}, {{1}}…) and use no other braces";
                }
            }

            return null;
        }

        private static string Cut(string text) => text.Length <= 60 ? text : text[..60] + "…";

        /// <summary>The declared profile attributes: a list of objects, each read field by field, with unique names.</summary>
        public void ProfileAttributes(string name, Action<List<ProfileAttribute>> set) =>
            NamedObjects(name, UserProfilePolicy.MaxAttributes, "attributes", reader =>
            {
                var attribute = new ProfileAttribute();
                reader.Text("name", 50, nullable: false, v => attribute.Name = v!, NameProblem);
                reader.Text("label", 100, nullable: false, v => attribute.Label = v!.Trim(), NotBlank);
                reader.Bool("required", v => attribute.Required = v);
                reader.TextList("requiredScopes", ProfileAttribute.MaxRequiredScopes, ScopeNameProblem, v => attribute.RequiredScopes = v.Count == 0 ? null : v);
                reader.Bool("userEditable", v => attribute.UserEditable = v);
                reader.Bool("userVisible", v => attribute.UserVisible = v);
                reader.Bool("onRegistration", v => attribute.OnRegistration = v);
                reader.Int("maxLength", 1, 500, v => attribute.MaxLength = v);
                reader.Text("type", 20, nullable: false, v => attribute.Type = v!,
                    v => ProfileAttributeTypes.All.Contains(v) ? null : $"must be one of {string.Join(", ", ProfileAttributeTypes.All)}");
                reader.Long("min", -ProfileValues.MaxWholeNumber, ProfileValues.MaxWholeNumber, v => attribute.Min = v);
                reader.Long("max", -ProfileValues.MaxWholeNumber, ProfileValues.MaxWholeNumber, v => attribute.Max = v);
                reader.Options("options", v => attribute.Options = v);
                reader.Text("pattern", 200, nullable: true, v => attribute.Pattern = v, ProfileValues.PatternProblem);
                reader.Text("patternMessage", 200, nullable: true, v => attribute.PatternMessage = v?.Trim(), NotBlank);
                reader.Bool("multiValued", v => attribute.MultiValued = v);
                reader.Int("maxValues", 1, ProfileAttribute.MaxMaxValues, v => attribute.MaxValues = v);
                reader.Text("group", 50, nullable: true, v => attribute.Group = v, _ => null);
                reader.Text("hint", 200, nullable: true, v => attribute.Hint = v?.Trim(), NotBlank);
                return (attribute, attribute.Name, attribute.Label, attribute.Problem());
            }, set);

        /// <summary>The sections of the profile forms: a list of objects, each a distinct name and a label, perhaps a description.</summary>
        public void ProfileAttributeGroups(string name, Action<List<ProfileAttributeGroup>> set) =>
            NamedObjects(name, UserProfilePolicy.MaxGroups, "groups", reader =>
            {
                var group = new ProfileAttributeGroup();
                reader.Text("name", 50, nullable: false, v => group.Name = v!, NameProblem);
                reader.Text("label", 100, nullable: false, v => group.Label = v!.Trim(), NotBlank);
                reader.Text("description", 300, nullable: true, v => group.Description = v?.Trim(), NotBlank);
                return (group, group.Name, group.Label, null);
            }, set);

        private static string? NameProblem(string name) =>
            ProfileAttribute.IsName(name) ? null : "must start with a letter and hold only letters, digits and underscores (not 'address')";

        private static string? NotBlank(string text) => text.Trim().Length == 0 ? "must not be empty" : null;

        /// <summary>
        /// A list of at most <paramref name="max"/> objects, each read field by field by <paramref name="read"/>, which gives
        /// the item, its name and label (both needed) and what else is wrong with it; names must be distinct. Any problem
        /// fails the whole request, so a list with one is never kept.
        /// </summary>
        private void NamedObjects<T>(string name, int max, string what, Func<FieldReader, (T Item, string Name, string Label, string? Problem)> read, Action<List<T>> set)
        {
            if (Take(name) is not { } node)
            {
                return;
            }

            if (node is not JsonArray list || list.Count > max)
            {
                validation.Add(Path(name), $"must be a list of at most {max} {what}");
                return;
            }

            var items = new List<T>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < list.Count; i++)
            {
                var path = $"{Path(name)}[{i}]";
                if (list[i] is not JsonObject item)
                {
                    validation.Add(path, "must be an object");
                    continue;
                }

                var reader = new FieldReader(item, path, validation);
                var given = read(reader);
                reader.RejectUnknown();
                var problem = given.Name.Length == 0 || given.Label.Length == 0 ? "needs a name and a label"
                    : given.Problem ?? (names.Add(given.Name) ? null : $"'{given.Name}' is declared twice");
                if (problem is not null)
                {
                    validation.Add(path, problem);
                }

                items.Add(given.Item);
            }

            if (validation.IsValid)
            {
                set(items);
            }
        }

        /// <summary>A choice attribute's options: 1 to 50 objects, each a distinct <c>value</c> and its <c>label</c>.</summary>
        public void Options(string name, Action<List<ProfileAttributeOption>?> set)
        {
            if (!section.ContainsKey(name))
            {
                return;
            }

            _known.Add(name);
            if (section[name] is null)
            {
                set(null);
                return;
            }

            if (section[name] is not JsonArray list || list.Count is 0 or > ProfileAttribute.MaxOptions)
            {
                validation.Add(Path(name), $"must be a list of 1 to {ProfileAttribute.MaxOptions} options");
                return;
            }

            var options = new List<ProfileAttributeOption>();
            for (var i = 0; i < list.Count; i++)
            {
                string? value = null, label = null;
                var path = $"{Path(name)}[{i}]";
                if (list[i] is not JsonObject item)
                {
                    validation.Add(path, "must be an object");
                    continue;
                }

                var reader = new FieldReader(item, path, validation);
                reader.Text("value", 100, nullable: false, v => value = v, v => v.Trim().Length == v.Length && v.Length > 0 ? null : "must not be empty or begin or end with spaces");
                reader.Text("label", 100, nullable: false, v => label = v!.Trim(), NotBlank);
                reader.RejectUnknown();
                if (value is null || label is null)
                {
                    validation.Add(path, "needs a value and a label");
                }
                else if (options.Any(o => o.Value == value))
                {
                    validation.Add(path, $"'{value}' is offered twice");
                }
                else
                {
                    options.Add(new ProfileAttributeOption(value, label));
                }
            }

            if (options.Count == list.Count)
            {
                set(options);
            }
        }

        /// <summary>A field the server sets: accepted and ignored, so a settings object read with GET can be sent back.</summary>
        public void ServerSet(string name) => _known.Add(name);

        public void RejectUnknown()
        {
            foreach (var (name, _) in section.Where(p => !_known.Contains(p.Key)))
            {
                validation.Add(Path(name), "is not a known setting");
            }
        }

        private JsonNode? Take(string name)
        {
            if (!section.ContainsKey(name))
            {
                return null;
            }

            _known.Add(name);
            if (section[name] is null)
            {
                validation.Add(Path(name), "must not be null");
                return null;
            }

            return section[name];
        }

        private string Path(string name) => $"{prefix}.{name}";
    }
}

public sealed record TenantUsage(long Users, long Groups, long ActiveApiKeys);

public sealed record TenantInfoResponse(Guid Id, string Slug, string Name, string Status, string Region, DateTimeOffset CreatedAt, TenantUsage Usage);
