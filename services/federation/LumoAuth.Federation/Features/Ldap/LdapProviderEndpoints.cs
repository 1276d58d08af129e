using System.Net;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using LumoAuth.Contracts.Authorization;
using LumoAuth.Contracts.Federation;
using LumoAuth.Federation.Data;
using LumoAuth.Federation.Features.Providers;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Federation.Features.Ldap;

/// <summary>
/// The tenant's LDAP directories (the docs' portal page "LDAP / Active Directory") in the Tenant Admin API:
/// <c>/admin/ldap-providers</c>. Kept with the other identity providers (links, the login page's buttons, data exports
/// work alike). Writes need a credential that writes everything: a directory decides who signs in and, through its group
/// mappings, which roles they hold. The service account's password is stored encrypted and never shown again.
/// </summary>
public static partial class LdapProviderEndpoints
{
    private const int MaxDefaultRoles = 20;
    private const int MaxGroupMappings = 100;

    /// <summary>Roles the group mappings may name in all: each sign-in replaces the user's roles among them.</summary>
    private const int MaxMappedRoles = 100;
    private const int DnLength = 1000;

    public static IEndpointRouteBuilder MapLdapProviderEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/t/{tenantSlug}/api/v1/admin/ldap-providers").RequireAuthorization(Policies.TenantAdmin).WithTags("LDAP providers");
        admin.MapGet("/", List).WithName("ListLdapProviders");
        admin.MapGet("/{providerId:guid}", Get).WithName("GetLdapProvider");
        var writes = admin.WritesNeedingFullAccess("Adding and changing LDAP directories");
        writes.MapPost("/", Create).WithName("CreateLdapProvider");
        writes.MapPut("/{providerId:guid}", Update).WithName("UpdateLdapProvider");
        writes.MapPatch("/{providerId:guid}", Update).WithName("PatchLdapProvider");
        writes.MapDelete("/{providerId:guid}", Delete).WithName("DeleteLdapProvider");
        // Connects with the stored service account, so it is a write's privilege too.
        writes.MapPost("/{providerId:guid}/test", TestAsync).WithName("TestLdapProvider");
        // Makes and links users: a write's privilege.
        writes.MapPost("/{providerId:guid}/sync", SyncAsync).WithName("SyncLdapProvider");
        return app;
    }

    public sealed record WriteServices(FederationDbContext Db, TenantContext Tenant, ProviderSecrets Secrets, IOptions<FederationOptions> Options);

    public static async Task<IResult> List(FederationDbContext db, TenantContext tenant, int? page, int? limit, CancellationToken cancellationToken)
    {
        var paging = PageRequest.From(page, limit);
        var query = db.IdentityProviders.AsNoTracking().Where(p => p.Type == ProviderTypes.Ldap);
        var total = await query.LongCountAsync(cancellationToken);
        var providers = await query.OrderBy(p => p.CreatedAt).ThenBy(p => p.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<LdapProviderResponse>([.. providers.Select(p => LdapProviderResponse.From(p, tenant.Slug))], PageMeta.For(paging, total)));
    }

    public static async Task<IResult> Get(Guid providerId, FederationDbContext db, TenantContext tenant, CancellationToken cancellationToken) =>
        await db.IdentityProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == providerId && p.Type == ProviderTypes.Ldap, cancellationToken) is { } provider
            ? TypedResults.Ok(new DataResponse<LdapProviderResponse>(LdapProviderResponse.From(provider, tenant.Slug)))
            : ApiErrors.NotFound("LDAP provider");

    public static async Task<IResult> Create(LdapProviderRequest request, [AsParameters] WriteServices services, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator()
            .Required("name", request.Name, IdentityProvider.NameLength)
            .Required("host", request.Host, 253)
            .Required("baseDn", request.BaseDn, DnLength);
        validation.Check(request.Type is null or ProviderTypes.Ldap, "type", "must be ldap (SAML IdPs are added at /admin/identity-providers, social and OpenID Connect providers at /admin/social-providers)");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var now = DateTimeOffset.UtcNow;
        var settings = new LdapSettings();
        var provider = new IdentityProvider
        {
            Id = Guid.CreateVersion7(), TenantId = services.Tenant.TenantId, Type = ProviderTypes.Ldap, Ldap = settings, CreatedAt = now, UpdatedAt = now,
        };
        // The usual port of the way it connects, unless one is named.
        settings.Port = request.Port ?? ((request.UseTls ?? true) ? 636 : 389);
        if (Apply(request, provider, services) is { } invalid)
        {
            return invalid;
        }

        services.Db.IdentityProviders.Add(provider);
        services.Db.AddEvent(ProviderEvents.Changed(provider, ConfigurationChanges.Created));
        return await services.Db.SaveOrDuplicateAsync($"A provider named '{provider.Name}' exists already", cancellationToken) ?? TypedResults.Created(
            $"/t/{services.Tenant.Slug}/api/v1/admin/ldap-providers/{provider.Id}",
            new DataResponse<LdapProviderResponse>(LdapProviderResponse.From(provider, services.Tenant.Slug), "LDAP directory added"));
    }

    public static async Task<IResult> Update(Guid providerId, LdapProviderRequest request, [AsParameters] WriteServices services, CancellationToken cancellationToken)
    {
        var db = services.Db;
        var provider = await db.IdentityProviders.FirstOrDefaultAsync(p => p.Id == providerId && p.Type == ProviderTypes.Ldap, cancellationToken);
        if (provider?.Ldap is not { } settings)
        {
            return ApiErrors.NotFound("LDAP provider");
        }

        if (request.Type is not (null or ProviderTypes.Ldap))
        {
            return ApiErrors.Validation("type", "is chosen when the provider is added");
        }

        var directoryBefore = (settings.Host.ToLowerInvariant(), LdapSignInEndpoints.NormalizeDn(settings.BaseDn), settings.IdAttribute.ToLowerInvariant());
        if (Apply(request, provider, services) is { } invalid)
        {
            return invalid;
        }

        provider.UpdatedAt = DateTimeOffset.UtcNow;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if ((settings.Host.ToLowerInvariant(), LdapSignInEndpoints.NormalizeDn(settings.BaseDn), settings.IdAttribute.ToLowerInvariant()) != directoryBefore)
        {
            // Another directory (or another id) names other people: a link made before must not sign anyone in.
            await db.ExternalIdentities.Where(i => i.ProviderId == provider.Id).ExecuteDeleteAsync(cancellationToken);
        }

        db.AddEvent(ProviderEvents.Changed(provider, ConfigurationChanges.Updated));
        if (await db.SaveOrDuplicateAsync($"A provider named '{provider.Name}' exists already", cancellationToken) is { } conflict)
        {
            return conflict;
        }

        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new DataResponse<LdapProviderResponse>(LdapProviderResponse.From(provider, services.Tenant.Slug), "LDAP directory updated"));
    }

    /// <summary>
    /// Tries the directory as sign-ins will (the host, TLS, the service account, the base DN) and says what failed, which a
    /// sign-in only logs: <c>{ok, problem}</c>.
    /// </summary>
    public static async Task<IResult> TestAsync(Guid providerId, FederationDbContext db, LdapDirectory directory, ProviderSecrets secrets, CancellationToken cancellationToken)
    {
        if (await db.IdentityProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == providerId && p.Type == ProviderTypes.Ldap, cancellationToken) is not { Ldap: { } settings })
        {
            return ApiErrors.NotFound("LDAP provider");
        }

        var outcome = await directory.CheckAsync(settings, settings.ProtectedBindPassword is { } sealedPassword ? secrets.Reveal(sealedPassword) : null, cancellationToken);
        return TypedResults.Ok(new DataResponse<LdapTestResponse>(new LdapTestResponse(outcome.Verdict == LdapVerdict.Success, outcome.Problem)));
    }

    /// <summary>
    /// Imports the directory's people now (<see cref="LdapSync"/>) and answers what it did; the same summary is kept as the
    /// provider's <c>lastSync</c>. A directory that cannot be read is a summary with its <c>problem</c>, as the test's.
    /// </summary>
    public static async Task<IResult> SyncAsync(Guid providerId, bool? changesOnly, FederationDbContext db, TenantContext tenant, LdapSync sync, CancellationToken cancellationToken)
    {
        if (await db.IdentityProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == providerId && p.Type == ProviderTypes.Ldap, cancellationToken) is not { Ldap: not null } provider)
        {
            return ApiErrors.NotFound("LDAP provider");
        }

        if (!provider.IsEnabled)
        {
            return ApiErrors.Create(StatusCodes.Status409Conflict, "provider_disabled", "A disabled directory is not imported");
        }

        return await sync.RunAsync(db, tenant, provider, cancellationToken, changesOnly == true) is { } summary
            ? TypedResults.Ok(new DataResponse<LdapSyncResponse>(LdapSyncResponse.From(summary)))
            : ApiErrors.Create(StatusCodes.Status409Conflict, "sync_in_progress", "The directory is being imported already; its summary will be the provider's lastSync");
    }

    /// <summary>The shortest and longest schedule of imports: a directory is not read more than every quarter hour.</summary>
    private const int MinSyncMinutes = 15;

    /// <summary>Changes only are cheap to read (the directory's index on <c>modifyTimestamp</c> answers): every 5 minutes at most.</summary>
    private const int MinChangedSyncMinutes = 5;
    private const int MaxSyncMinutes = 7 * 24 * 60;

    /// <summary>Removes the directory and every account linked through it (their users stay).</summary>
    public static async Task<IResult> Delete(Guid providerId, FederationDbContext db, CancellationToken cancellationToken) =>
        await db.DeleteProviderAsync(providerId, [ProviderTypes.Ldap], cancellationToken) ? TypedResults.NoContent() : ApiErrors.NotFound("LDAP provider");

    private static IResult? Apply(LdapProviderRequest request, IdentityProvider provider, WriteServices services)
    {
        var settings = provider.Ldap!;
        var deployment = services.Options.Value;
        var validation = new RequestValidator()
            .Optional("name", request.Name, IdentityProvider.NameLength)
            .Optional("host", request.Host, 253)
            .Optional("baseDn", request.BaseDn, DnLength)
            .Optional("bindDn", request.BindDn, DnLength)
            .Optional("bindPassword", request.BindPassword, 1000)
            .Optional("userFilter", request.UserFilter, 1000);
        validation.Check(request.Name is null || request.Name.Trim().Length > 0, "name", "must not be blank");
        var host = request.Host?.Trim() ?? settings.Host;
        if (request.Host is not null && HostProblem(host, deployment) is { } hostProblem)
        {
            validation.Add("host", hostProblem);
        }

        validation.Check(request.Port is null or (>= 1 and <= 65535), "port", "must be from 1 to 65535");
        validation.Check(request.BaseDn is null || IsDn(request.BaseDn), "baseDn", "must be a distinguished name (dc=example,dc=org)");
        validation.Check(request.BindDn is null or "" || IsDn(request.BindDn), "bindDn", "must be a distinguished name, or empty for an anonymous search");
        validation.Check(request.UserFilter is null || LdapDirectory.IsUsableFilter(request.UserFilter), "userFilter",
            "must be a parenthesised LDAP filter naming {username}, e.g. (uid={username}) or (sAMAccountName={username})");
        var useTls = request.UseTls ?? settings.UseTls;
        var startTls = request.StartTls ?? settings.StartTls;
        validation.Check(!(useTls && startTls), "startTls", "upgrades a plain connection: with useTls (LDAPS) it does not apply");
        validation.Check(useTls || startTls || deployment.Ldap.AllowUnencrypted, "useTls",
            "must be true, or startTls: passwords must not cross the network in the clear (the deployment may allow it with Federation:Ldap:AllowUnencrypted)");
        CheckAttribute(validation, "idAttribute", request.IdAttribute, required: true);
        CheckAttribute(validation, "usernameAttribute", request.UsernameAttribute, required: false);
        CheckAttribute(validation, "emailAttribute", request.EmailAttribute, required: false);
        CheckAttribute(validation, "nameAttribute", request.NameAttribute, required: false);
        CheckAttribute(validation, "givenNameAttribute", request.GivenNameAttribute, required: false);
        CheckAttribute(validation, "familyNameAttribute", request.FamilyNameAttribute, required: false);
        CheckAttribute(validation, "phoneAttribute", request.PhoneAttribute, required: false);
        CheckAttribute(validation, "groupsAttribute", request.GroupsAttribute, required: false);
        validation.Check(request.DefaultRoles is null || (request.DefaultRoles.Count <= MaxDefaultRoles && request.DefaultRoles.All(r => r is { Length: > 0 and <= 100 })),
            "defaultRoles", $"must be at most {MaxDefaultRoles} role slugs, each 1 to 100 characters");
        validation.Check(request.GroupRoles is null || (request.GroupRoles.Count <= MaxGroupMappings && request.GroupRoles.All(g =>
                g is { Group: { } group, Roles: { } roles } && IsDn(group) && group.Length <= DnLength
                && roles.Count is > 0 and <= MaxDefaultRoles && roles.All(r => r is { Length: > 0 and <= 100 }))),
            "groupRoles", $"must be at most {MaxGroupMappings} mappings of a group's DN to 1 to {MaxDefaultRoles} role slugs");
        validation.Check(request.BindPassword is null or "" || (request.BindDn ?? settings.BindDn) is { Length: > 0 }, "bindPassword", "needs a bindDn");
        var bindDnAfter = request.BindDn is null ? settings.BindDn : request.BindDn.Trim() is { Length: > 0 } named ? named : null;
        var passwordAfter = request.BindPassword is null ? settings.ProtectedBindPassword is not null : request.BindPassword.Length > 0;
        validation.Check(bindDnAfter is null || passwordAfter, "bindPassword", "is needed with bindDn (a DN without a password binds unauthenticated, as anonymous)");
        // Who administers the tenant is the administrators' decision: no directory group or sign-in gives or takes it.
        validation.Check(request.DefaultRoles is null || !request.DefaultRoles.Any(AdminScopeHandler.IsPrivilegedRole), "defaultRoles",
            "must not name admin or tenant_admin: administrators give those");
        validation.Check(request.GroupRoles is null || !request.GroupRoles.Any(g => g.Roles?.Any(AdminScopeHandler.IsPrivilegedRole) == true), "groupRoles",
            "must not name admin or tenant_admin: administrators give those");
        validation.Check(request.GroupRoles is null || request.GroupRoles.SelectMany(g => g.Roles ?? []).Distinct(StringComparer.Ordinal).Count() <= MaxMappedRoles,
            "groupRoles", $"must name at most {MaxMappedRoles} roles in all");
        validation.Check(request.SyncIntervalMinutes is null or 0 or (>= MinSyncMinutes and <= MaxSyncMinutes), "syncIntervalMinutes",
            $"must be {MinSyncMinutes} to {MaxSyncMinutes} minutes, or 0 to import only when asked");
        validation.Check(request.ChangedSyncIntervalMinutes is null or 0 or (>= MinChangedSyncMinutes and <= MaxSyncMinutes), "changedSyncIntervalMinutes",
            $"must be {MinChangedSyncMinutes} to {MaxSyncMinutes} minutes, or 0 to read changes only when asked");
        var caCertificate = request.CaCertificate is { Length: > 0 } pem ? LdapTrustedCertificates.Normalize(pem) : null;
        validation.Check(request.CaCertificate is null or "" || caCertificate is not null, "caCertificate",
            $"must be PEM text of 1 to {LdapTrustedCertificates.MaxCertificates} X.509 certificates (no private key), at most {LdapTrustedCertificates.MaxLength} characters, or empty to remove");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        provider.Name = request.Name?.Trim() ?? provider.Name;
        settings.CaCertificate = request.CaCertificate is null ? settings.CaCertificate : caCertificate;
        settings.Host = host;
        settings.Port = request.Port ?? settings.Port;
        (settings.UseTls, settings.StartTls) = (useTls, startTls);
        settings.BaseDn = request.BaseDn?.Trim() ?? settings.BaseDn;
        if (request.BindDn is not null)
        {
            settings.BindDn = request.BindDn.Trim().Length == 0 ? null : request.BindDn.Trim();
        }

        if (request.BindPassword is not null || settings.BindDn is null)
        {
            // An empty password, or no service account, leaves none stored.
            settings.ProtectedBindPassword = request.BindPassword is { Length: > 0 } secret && settings.BindDn is not null ? services.Secrets.Protect(secret) : null;
        }

        settings.UserFilter = request.UserFilter ?? settings.UserFilter;
        settings.IdAttribute = request.IdAttribute ?? settings.IdAttribute;
        settings.UsernameAttribute = request.UsernameAttribute ?? settings.UsernameAttribute;
        settings.EmailAttribute = request.EmailAttribute ?? settings.EmailAttribute;
        settings.NameAttribute = request.NameAttribute ?? settings.NameAttribute;
        settings.GivenNameAttribute = request.GivenNameAttribute ?? settings.GivenNameAttribute;
        settings.FamilyNameAttribute = request.FamilyNameAttribute ?? settings.FamilyNameAttribute;
        settings.PhoneAttribute = request.PhoneAttribute ?? settings.PhoneAttribute;
        settings.GroupsAttribute = request.GroupsAttribute ?? settings.GroupsAttribute;
        settings.NestedGroups = request.NestedGroups ?? settings.NestedGroups;
        settings.PasswordWriteBack = request.PasswordWriteBack ?? settings.PasswordWriteBack;
        settings.TrustEmail = request.TrustEmail ?? settings.TrustEmail;
        settings.UpdateUserOnLogin = request.UpdateUserOnLogin ?? settings.UpdateUserOnLogin;
        settings.DefaultRoles = request.DefaultRoles is { } roles ? [.. roles.Distinct(StringComparer.Ordinal)] : settings.DefaultRoles;
        settings.GroupRoles = request.GroupRoles is { } mappings
            ? [.. mappings.Select(m => new LdapGroupRoles { Group = m.Group!.Trim(), Roles = [.. m.Roles!.Distinct(StringComparer.Ordinal)] })]
            : settings.GroupRoles;
        settings.SyncIntervalMinutes = request.SyncIntervalMinutes is { } minutes ? minutes == 0 ? null : minutes : settings.SyncIntervalMinutes;
        settings.ChangedSyncIntervalMinutes = request.ChangedSyncIntervalMinutes is { } changed
            ? changed == 0 ? null : changed
            : settings.ChangedSyncIntervalMinutes;
        provider.IsEnabled = request.IsEnabled ?? provider.IsEnabled;
        provider.AllowSignup = request.AllowSignup ?? provider.AllowSignup;
        provider.AutoLinkUsers = request.AutoLinkUsers ?? provider.AutoLinkUsers;
        return null;
    }

    /// <summary>
    /// A host name or address, nothing more (no scheme, port or path). An address this deployment never contacts is refused
    /// here already; a name is checked again on every sign-in, on what it resolves to then.
    /// </summary>
    private static string? HostProblem(string host, FederationOptions deployment)
    {
        if (host.Length == 0 || Uri.CheckHostName(host) is UriHostNameType.Unknown or UriHostNameType.Basic)
        {
            return "must be a host name or IP address, without scheme or port";
        }

        var allowPrivate = deployment.AllowPrivateTargets || deployment.Ldap.PrivateHosts.Contains(host, StringComparer.OrdinalIgnoreCase);
        return !allowPrivate && IPAddress.TryParse(host, out var address) && SsrfGuard.IsForbidden(address)
            ? "must be a public address (the deployment lists directories on private networks in Federation:Ldap:PrivateHosts)"
            : null;
    }

    private static void CheckAttribute(RequestValidator validation, string field, string? value, bool required)
    {
        if (value is not null && !(value.Length == 0 ? !required : AttributeName().IsMatch(value)))
        {
            validation.Add(field, required ? "must be an LDAP attribute name" : "must be an LDAP attribute name, or empty to leave it out");
        }
    }

    /// <summary>A DN in its usual form: <c>name=value</c> parts separated by commas.</summary>
    private static bool IsDn(string value) =>
        value.Trim().Length > 0 && !value.AsSpan().ContainsAnyInRange('\0', '\x1F') && value.Split(',').All(part => part.Contains('=', StringComparison.Ordinal));

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9-]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex AttributeName();
}

/// <summary>One import of the directory's people, as the Admin API shows it (<see cref="LdapSyncSummary"/>).</summary>
public sealed record LdapSyncResponse(
    [property: JsonPropertyName("ok")] bool Ok,
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("found")] int Found,
    [property: JsonPropertyName("created")] int Created,
    [property: JsonPropertyName("linked")] int Linked,
    [property: JsonPropertyName("updated")] int Updated,
    [property: JsonPropertyName("skipped")] int Skipped,
    [property: JsonPropertyName("failed")] int Failed,
    [property: JsonPropertyName("vanished")] int Vanished,
    [property: JsonPropertyName("blocked")] int Blocked,
    [property: JsonPropertyName("unblocked")] int Unblocked,
    [property: JsonPropertyName("truncated")] bool Truncated,
    [property: JsonPropertyName("problem")] string? Problem,
    [property: JsonPropertyName("changesOnly")] bool ChangesOnly)
{
    public static LdapSyncResponse From(LdapSyncSummary s) =>
        new(s.Problem is null && s.Failed == 0, s.At, s.Found, s.Created, s.Linked, s.Updated, s.Skipped, s.Failed, s.Vanished, s.Blocked, s.Unblocked, s.Truncated,
            s.Problem, s.ChangesOnly);
}

public sealed record LdapTestResponse(
    [property: JsonPropertyName("ok")] bool Ok,
    [property: JsonPropertyName("problem")] string? Problem);

public sealed record LdapGroupRolesBody(
    [property: JsonPropertyName("group")] string? Group,
    [property: JsonPropertyName("roles")] IReadOnlyList<string>? Roles);

public sealed record LdapProviderRequest(
    [property: JsonPropertyName("type")] string? Type = null,
    [property: JsonPropertyName("name")] string? Name = null,
    [property: JsonPropertyName("host")] string? Host = null,
    [property: JsonPropertyName("port")] int? Port = null,
    [property: JsonPropertyName("useTls")] bool? UseTls = null,
    [property: JsonPropertyName("startTls")] bool? StartTls = null,
    [property: JsonPropertyName("baseDn")] string? BaseDn = null,
    [property: JsonPropertyName("bindDn")] string? BindDn = null,
    [property: JsonPropertyName("bindPassword")] string? BindPassword = null,
    [property: JsonPropertyName("userFilter")] string? UserFilter = null,
    [property: JsonPropertyName("idAttribute")] string? IdAttribute = null,
    [property: JsonPropertyName("usernameAttribute")] string? UsernameAttribute = null,
    [property: JsonPropertyName("emailAttribute")] string? EmailAttribute = null,
    [property: JsonPropertyName("nameAttribute")] string? NameAttribute = null,
    [property: JsonPropertyName("givenNameAttribute")] string? GivenNameAttribute = null,
    [property: JsonPropertyName("familyNameAttribute")] string? FamilyNameAttribute = null,
    [property: JsonPropertyName("phoneAttribute")] string? PhoneAttribute = null,
    [property: JsonPropertyName("groupsAttribute")] string? GroupsAttribute = null,
    [property: JsonPropertyName("trustEmail")] bool? TrustEmail = null,
    [property: JsonPropertyName("updateUserOnLogin")] bool? UpdateUserOnLogin = null,
    [property: JsonPropertyName("defaultRoles")] IReadOnlyList<string>? DefaultRoles = null,
    [property: JsonPropertyName("groupRoles")] IReadOnlyList<LdapGroupRolesBody>? GroupRoles = null,
    [property: JsonPropertyName("allowSignup")] bool? AllowSignup = null,
    [property: JsonPropertyName("autoLinkUsers")] bool? AutoLinkUsers = null,
    [property: JsonPropertyName("isEnabled")] bool? IsEnabled = null,
    [property: JsonPropertyName("nestedGroups")] bool? NestedGroups = null,
    [property: JsonPropertyName("syncIntervalMinutes")] int? SyncIntervalMinutes = null,
    [property: JsonPropertyName("caCertificate")] string? CaCertificate = null,
    [property: JsonPropertyName("changedSyncIntervalMinutes")] int? ChangedSyncIntervalMinutes = null,
    [property: JsonPropertyName("passwordWriteBack")] bool? PasswordWriteBack = null)
{
    public override string ToString() => $"LdapProviderRequest {{ Name = {Name}, Host = {Host} }}"; // never the bind password
}

/// <summary>A directory as the Admin API shows it: never the service account's password, only whether one is kept.</summary>
public sealed record LdapProviderResponse(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("port")] int Port,
    [property: JsonPropertyName("useTls")] bool UseTls,
    [property: JsonPropertyName("startTls")] bool StartTls,
    [property: JsonPropertyName("baseDn")] string BaseDn,
    [property: JsonPropertyName("bindDn")] string? BindDn,
    [property: JsonPropertyName("hasBindPassword")] bool HasBindPassword,
    [property: JsonPropertyName("userFilter")] string UserFilter,
    [property: JsonPropertyName("idAttribute")] string IdAttribute,
    [property: JsonPropertyName("usernameAttribute")] string UsernameAttribute,
    [property: JsonPropertyName("emailAttribute")] string EmailAttribute,
    [property: JsonPropertyName("nameAttribute")] string NameAttribute,
    [property: JsonPropertyName("givenNameAttribute")] string GivenNameAttribute,
    [property: JsonPropertyName("familyNameAttribute")] string FamilyNameAttribute,
    [property: JsonPropertyName("phoneAttribute")] string PhoneAttribute,
    [property: JsonPropertyName("groupsAttribute")] string GroupsAttribute,
    [property: JsonPropertyName("nestedGroups")] bool NestedGroups,
    [property: JsonPropertyName("trustEmail")] bool TrustEmail,
    [property: JsonPropertyName("updateUserOnLogin")] bool UpdateUserOnLogin,
    [property: JsonPropertyName("defaultRoles")] IReadOnlyList<string> DefaultRoles,
    [property: JsonPropertyName("groupRoles")] IReadOnlyList<LdapGroupRolesBody> GroupRoles,
    [property: JsonPropertyName("allowSignup")] bool AllowSignup,
    [property: JsonPropertyName("autoLinkUsers")] bool AutoLinkUsers,
    [property: JsonPropertyName("isEnabled")] bool IsEnabled,
    [property: JsonPropertyName("loginUrl")] string LoginUrl,
    [property: JsonPropertyName("createdAt")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("updatedAt")] DateTimeOffset UpdatedAt)
{
    /// <summary>Minutes between scheduled imports of the directory's people; null: only when asked.</summary>
    [JsonPropertyName("syncIntervalMinutes")]
    public int? SyncIntervalMinutes { get; init; }

    /// <summary>Minutes between scheduled reads of the entries changed since; null: only when asked.</summary>
    [JsonPropertyName("changedSyncIntervalMinutes")]
    public int? ChangedSyncIntervalMinutes { get; init; }

    /// <summary>Whether new passwords of the people the directory made are written to it.</summary>
    [JsonPropertyName("passwordWriteBack")]
    public bool PasswordWriteBack { get; init; }

    /// <summary>When the directory was last imported whole.</summary>
    [JsonPropertyName("lastFullSyncAt")]
    public DateTimeOffset? LastFullSyncAt { get; init; }

    [JsonPropertyName("lastSync")]
    public LdapSyncResponse? LastSync { get; init; }

    /// <summary>The CA certificates (PEM) the directory's TLS certificate must chain to; null: the deployment's and the system's.</summary>
    [JsonPropertyName("caCertificate")]
    public string? CaCertificate { get; init; }

    public static LdapProviderResponse From(IdentityProvider provider, string slug)
    {
        var l = provider.Ldap!;
        return new LdapProviderResponse(
            provider.Id, provider.Type, provider.Name, l.Host, l.Port, l.UseTls, l.StartTls, l.BaseDn, l.BindDn, l.ProtectedBindPassword is not null, l.UserFilter,
            l.IdAttribute, l.UsernameAttribute, l.EmailAttribute, l.NameAttribute, l.GivenNameAttribute, l.FamilyNameAttribute, l.PhoneAttribute, l.GroupsAttribute,
            l.NestedGroups, l.TrustEmail, l.UpdateUserOnLogin, l.DefaultRoles, [.. l.GroupRoles.Select(g => new LdapGroupRolesBody(g.Group, g.Roles))], provider.AllowSignup,
            provider.AutoLinkUsers, provider.IsEnabled, new Contracts.Internal.LoginProvider(provider.Id, provider.Type, provider.Name).StartPath(slug),
            provider.CreatedAt, provider.UpdatedAt)
        {
            SyncIntervalMinutes = l.SyncIntervalMinutes, ChangedSyncIntervalMinutes = l.ChangedSyncIntervalMinutes, LastFullSyncAt = l.LastFullSyncAt,
            PasswordWriteBack = l.PasswordWriteBack,
            LastSync = l.LastSync is { } last ? LdapSyncResponse.From(last) : null, CaCertificate = l.CaCertificate,
        };
    }
}
