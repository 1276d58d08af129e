using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using LumoAuth.Contracts.Authorization;
using LumoAuth.Contracts.Federation;
using LumoAuth.Federation.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Federation.Features.Providers;

/// <summary>
/// The tenant's social and OpenID Connect sign-in providers in the Tenant Admin API (FED-14…17). Reads for any tenant
/// administrator; writes need a credential that writes everything, since a provider decides who may sign in as whom
/// (<c>autoLinkUsers</c> lets its verified addresses into existing accounts).
/// </summary>
public static partial class ProviderEndpoints
{
    public static IEndpointRouteBuilder MapProviderEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/t/{tenantSlug}/api/v1/admin/social-providers").RequireAuthorization(Policies.TenantAdmin).WithTags("Social providers");
        admin.MapGet("/", List).WithName("ListSocialProviders");
        admin.MapGet("/{providerId:guid}", Get).WithName("GetSocialProvider");
        var writes = admin.WritesNeedingFullAccess("Adding and changing sign-in providers");
        writes.MapPost("/", Create).WithName("CreateSocialProvider");
        writes.MapPut("/{providerId:guid}", Update).WithName("UpdateSocialProvider");
        writes.MapPatch("/{providerId:guid}", Update).WithName("PatchSocialProvider");
        writes.MapDelete("/{providerId:guid}", Delete).WithName("DeleteSocialProvider");
        return app;
    }

    public static async Task<IResult> List(FederationDbContext db, IOptions<LumoAuthOptions> lumo, TenantContext tenant, int? page, int? limit, CancellationToken cancellationToken)
    {
        var paging = PageRequest.From(page, limit);
        var query = db.IdentityProviders.AsNoTracking().Where(p => ProviderTypes.All.Contains(p.Type));
        var total = await query.LongCountAsync(cancellationToken);
        var providers = await query.OrderBy(p => p.CreatedAt).ThenBy(p => p.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<ProviderResponse>([.. providers.Select(p => ProviderResponse.From(p, lumo.Value, tenant))], PageMeta.For(paging, total)));
    }

    public static async Task<IResult> Get(Guid providerId, FederationDbContext db, IOptions<LumoAuthOptions> lumo, TenantContext tenant, CancellationToken cancellationToken) =>
        await db.IdentityProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == providerId && ProviderTypes.All.Contains(p.Type), cancellationToken) is { } provider
            ? TypedResults.Ok(new DataResponse<ProviderResponse>(ProviderResponse.From(provider, lumo.Value, tenant)))
            : ApiErrors.NotFound("Social provider");

    public static async Task<IResult> Create(
        ProviderRequest request, FederationDbContext db, TenantContext tenant, ProviderSecrets secrets, IOptions<FederationOptions> options, IOptions<LumoAuthOptions> lumo,
        CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Required("type", request.Type, 32).Required("clientId", request.ClientId, 500);
        if (request.Type == ProviderTypes.Apple)
        {
            // Apple's client secret is made for each exchange from the key these name.
            validation.Required("teamId", request.TeamId, 10).Required("keyId", request.KeyId, 10).Required("privateKey", request.PrivateKey, 2000);
        }
        else
        {
            validation.Required("clientSecret", request.ClientSecret, 2000);
        }

        if (request.Type is { } named && ProviderTypes.NotOffered.TryGetValue(named, out var why))
        {
            validation.Add("type", why);
        }
        else
        {
            validation.Check(request.Type is null || ProviderTypes.All.Contains(request.Type), "type", $"must be one of {string.Join(", ", ProviderTypes.All)}");
        }

        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var now = DateTimeOffset.UtcNow;
        var provider = new IdentityProvider
        {
            Id = Guid.CreateVersion7(), TenantId = tenant.TenantId, Type = request.Type!, Name = ProviderTypes.DefaultName(request.Type!),
            Scopes = [.. ProviderTypes.DefaultScopes(request.Type!)], CreatedAt = now, UpdatedAt = now,
        };
        if (Apply(request, provider, secrets, options.Value) is { } invalid)
        {
            return invalid;
        }

        db.IdentityProviders.Add(provider);
        db.AddEvent(ProviderEvents.Changed(provider, ConfigurationChanges.Created));
        return await db.SaveOrDuplicateAsync($"A provider named '{provider.Name}' exists already", cancellationToken) ?? TypedResults.Created(
            $"/t/{tenant.Slug}/api/v1/admin/social-providers/{provider.Id}",
            new DataResponse<ProviderResponse>(ProviderResponse.From(provider, lumo.Value, tenant), "Provider added. Register its callbackUrl as the redirect URI at the provider."));
    }

    /// <summary>Changes the fields the body names (PUT and PATCH alike); the type stays, the secret changes only when sent.</summary>
    public static async Task<IResult> Update(
        Guid providerId, ProviderRequest request, FederationDbContext db, TenantContext tenant, ProviderSecrets secrets, IOptions<FederationOptions> options,
        IOptions<LumoAuthOptions> lumo, CancellationToken cancellationToken)
    {
        var provider = await db.IdentityProviders.FirstOrDefaultAsync(p => p.Id == providerId && ProviderTypes.All.Contains(p.Type), cancellationToken);
        if (provider is null)
        {
            return ApiErrors.NotFound("Social provider");
        }

        if (request.Type is not null && request.Type != provider.Type)
        {
            return ApiErrors.Validation("type", "is chosen when the provider is added; add another provider for another type");
        }

        var (issuerBefore, clientBefore) = (provider.IssuerUrl, provider.ClientId);
        if (Apply(request, provider, secrets, options.Value) is { } invalid)
        {
            return invalid;
        }

        provider.UpdatedAt = DateTimeOffset.UtcNow;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (provider.IssuerUrl != issuerBefore || provider.ClientId != clientBefore)
        {
            // Another issuer's (or client's) subjects are other people: a link made for the old one must not sign anyone in.
            await db.ExternalIdentities.Where(i => i.ProviderId == provider.Id).ExecuteDeleteAsync(cancellationToken);
        }

        db.AddEvent(ProviderEvents.Changed(provider, ConfigurationChanges.Updated));
        if (await db.SaveOrDuplicateAsync($"A provider named '{provider.Name}' exists already", cancellationToken) is { } conflict)
        {
            return conflict;
        }

        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new DataResponse<ProviderResponse>(ProviderResponse.From(provider, lumo.Value, tenant), "Provider updated"));
    }

    /// <summary>Removes the provider and every account linked through it: those users sign in some other way from now on.</summary>
    public static async Task<IResult> Delete(Guid providerId, FederationDbContext db, CancellationToken cancellationToken) =>
        await db.DeleteProviderAsync(providerId, ProviderTypes.All, cancellationToken) ? TypedResults.NoContent() : ApiErrors.NotFound("Social provider");

    /// <summary>Checks the request's fields and applies them; the 400 when something is wrong.</summary>
    private static IResult? Apply(ProviderRequest request, IdentityProvider provider, ProviderSecrets secrets, FederationOptions options)
    {
        var validation = new RequestValidator()
            .Optional("name", request.Name, IdentityProvider.NameLength)
            .Optional("clientId", request.ClientId, 500)
            .Optional("clientSecret", request.ClientSecret, 2000);
        validation.Check(request.Name is null || request.Name.Trim().Length > 0, "name", "must not be blank");
        validation.Check(request.ClientId is null || request.ClientId.Trim().Length > 0, "clientId", "must not be blank");
        validation.Check(request.ClientSecret is null || request.ClientSecret.Length > 0, "clientSecret", "must not be empty");
        if (provider.Type == ProviderTypes.Apple)
        {
            validation.Check(request.ClientSecret is null, "clientSecret", "is not set for type apple: each one is signed with privateKey");
            validation.Check(request.TeamId is null || AppleId().IsMatch(request.TeamId), "teamId", "must be the 10-character Apple developer team id");
            validation.Check(request.KeyId is null || AppleId().IsMatch(request.KeyId), "keyId", "must be the 10-character id of the Sign in with Apple key");
            if (request.PrivateKey is not null && AppleClientSecret.KeyProblem(request.PrivateKey) is { } keyProblem)
            {
                validation.Add("privateKey", keyProblem);
            }
        }
        else
        {
            foreach (var (field, value) in new[] { ("teamId", request.TeamId), ("keyId", request.KeyId), ("privateKey", request.PrivateKey) })
            {
                validation.Check(value is null, field, "is only for type apple");
            }
        }
        if (request.Scopes is { } scopes)
        {
            validation.Check(scopes.Count is > 0 and <= IdentityProvider.MaxScopes && scopes.All(s => s is not null && ScopeToken().IsMatch(s)),
                "scopes", $"must be 1 to {IdentityProvider.MaxScopes} scope names (RFC 6749 scope tokens)");
        }

        // As given: an issuer is compared exactly (Auth0's, say, ends in a slash). Microsoft names directories in lower case.
        var issuer = provider.Type == ProviderTypes.Microsoft ? request.IssuerUrl?.ToLowerInvariant() : request.IssuerUrl;
        switch (provider.Type)
        {
            case ProviderTypes.Oidc:
                validation.Check(issuer is not null || provider.IssuerUrl is not null, "issuerUrl", "is required for type oidc: the provider's OpenID Connect issuer");
                break;
            case ProviderTypes.Microsoft:
                // A tenant may pin one directory by its id (the issuer its tokens name) instead of any work or school account.
                validation.Check(issuer is null || MicrosoftIssuer().IsMatch(issuer),
                    "issuerUrl", "must be https://login.microsoftonline.com/{common, organizations or the directory's id}/v2.0");
                break;
            default:
                validation.Check(issuer is null, "issuerUrl", $"is fixed for type {provider.Type}");
                break;
        }

        if (issuer is not null && OpenIdProviders.UrlProblem(issuer, options.AllowPrivateTargets) is { } problem)
        {
            validation.Add("issuerUrl", problem);
        }

        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        provider.Name = request.Name?.Trim() ?? provider.Name;
        provider.ClientId = request.ClientId?.Trim() ?? provider.ClientId;
        if ((request.ClientSecret ?? request.PrivateKey) is { } secret)
        {
            provider.ProtectedClientSecret = secrets.Protect(secret);
        }

        if (provider.Type == ProviderTypes.Apple)
        {
            provider.Apple = new AppleSettings { TeamId = request.TeamId ?? provider.Apple?.TeamId ?? string.Empty, KeyId = request.KeyId ?? provider.Apple?.KeyId ?? string.Empty };
        }

        provider.IssuerUrl = issuer ?? provider.IssuerUrl ?? ProviderTypes.DefaultIssuer(provider.Type, options);
        if (request.Scopes is { } wanted)
        {
            var distinct = wanted.Distinct(StringComparer.Ordinal).ToList();
            // An OpenID Connect sign-in is asked for with openid, or the provider sends no ID token to verify.
            if (ProviderTypes.IsOpenIdConnect(provider.Type) && !distinct.Contains("openid"))
            {
                distinct.Insert(0, "openid");
            }

            provider.Scopes = distinct;
        }

        provider.IsEnabled = request.IsEnabled ?? provider.IsEnabled;
        provider.AllowSignup = request.AllowSignup ?? provider.AllowSignup;
        provider.AutoLinkUsers = request.AutoLinkUsers ?? provider.AutoLinkUsers;
        provider.AllowTokenExchange = request.AllowTokenExchange ?? provider.AllowTokenExchange;
        return null;
    }

    [GeneratedRegex(@"^[\x21\x23-\x5B\x5D-\x7E]{1,100}$")]
    private static partial Regex ScopeToken();

    [GeneratedRegex("^[A-Z0-9]{10}$")]
    private static partial Regex AppleId();

    [GeneratedRegex("^https://login\\.microsoftonline\\.com/(common|organizations|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})/v2\\.0$")]
    private static partial Regex MicrosoftIssuer();
}

/// <summary>Keeps providers' client secrets encrypted at rest; only the sign-in's code exchange reads one back.</summary>
public sealed class ProviderSecrets(IDataProtectionProvider dataProtection)
{
    private readonly IDataProtector _protector = dataProtection.CreateProtector("LumoAuth.Federation.ProviderSecret.v1");

    public string Protect(string secret) => _protector.Protect(secret);

    public string Reveal(string protectedSecret) => _protector.Unprotect(protectedSecret);
}

public sealed record ProviderRequest(
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("clientId")] string? ClientId,
    [property: JsonPropertyName("clientSecret")] string? ClientSecret,
    [property: JsonPropertyName("name")] string? Name = null,
    [property: JsonPropertyName("allowSignup")] bool? AllowSignup = null,
    [property: JsonPropertyName("autoLinkUsers")] bool? AutoLinkUsers = null,
    [property: JsonPropertyName("scopes")] IReadOnlyList<string>? Scopes = null,
    [property: JsonPropertyName("issuerUrl")] string? IssuerUrl = null,
    [property: JsonPropertyName("isEnabled")] bool? IsEnabled = null,
    [property: JsonPropertyName("allowTokenExchange")] bool? AllowTokenExchange = null,
    [property: JsonPropertyName("teamId")] string? TeamId = null,
    [property: JsonPropertyName("keyId")] string? KeyId = null,
    [property: JsonPropertyName("privateKey")] string? PrivateKey = null)
{
    public override string ToString() => $"ProviderRequest {{ Type = {Type}, ClientId = {ClientId}, Name = {Name} }}"; // never the secret or key
}

/// <summary>A provider as the Admin API shows it: never its secret; with the redirect URI to register at the provider.</summary>
public sealed record ProviderResponse(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("clientId")] string ClientId,
    [property: JsonPropertyName("isEnabled")] bool IsEnabled,
    [property: JsonPropertyName("allowSignup")] bool AllowSignup,
    [property: JsonPropertyName("autoLinkUsers")] bool AutoLinkUsers,
    [property: JsonPropertyName("allowTokenExchange")] bool AllowTokenExchange,
    [property: JsonPropertyName("scopes")] IReadOnlyList<string> Scopes,
    [property: JsonPropertyName("issuerUrl")] string? IssuerUrl,
    [property: JsonPropertyName("callbackUrl")] string CallbackUrl,
    [property: JsonPropertyName("createdAt")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("updatedAt")] DateTimeOffset UpdatedAt)
{
    /// <summary>Where Apple posts its server-to-server notifications (type <c>apple</c> only): register it at Apple.</summary>
    [JsonPropertyName("notificationUrl")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? NotificationUrl { get; init; }

    /// <summary>The redirect URIs to register as well for sign-ins that begin on the tenant's verified custom domains.</summary>
    [JsonPropertyName("customDomainCallbackUrls")]
    public IReadOnlyList<string> CustomDomainCallbackUrls { get; init; } = [];

    /// <summary>Apple's team id (type <c>apple</c> only).</summary>
    [JsonPropertyName("teamId")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TeamId { get; init; }

    /// <summary>The Sign in with Apple key's id (type <c>apple</c> only; the key itself is never shown).</summary>
    [JsonPropertyName("keyId")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? KeyId { get; init; }

    public static ProviderResponse From(IdentityProvider p, LumoAuthOptions options, TenantContext tenant)
    {
        var slug = tenant.Slug;
        return new(
            p.Id, p.Type, p.Name, p.ClientId, p.IsEnabled, p.AllowSignup, p.AutoLinkUsers, p.AllowTokenExchange, p.Scopes, p.IssuerUrl,
            Login.SocialLoginEndpoints.CallbackUrl(options, slug, p.Id), p.CreatedAt, p.UpdatedAt)
        {
            CustomDomainCallbackUrls = [.. (tenant.Tenant?.Domains ?? []).Select(domain => Login.SocialLoginEndpoints.CallbackUrl(options, slug, p.Id, domain))],
            TeamId = p.Apple?.TeamId, KeyId = p.Apple?.KeyId,
            NotificationUrl = p.Type == ProviderTypes.Apple ? $"{options.PublicBaseUrl.TrimEnd('/')}/t/{slug}/auth/social/{p.Id}/notifications" : null,
        };
    }
}
