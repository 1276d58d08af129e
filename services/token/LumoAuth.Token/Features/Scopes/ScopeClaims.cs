using System.Text.Json;
using System.Text.Json.Serialization;
using LumoAuth.Contracts.Clients;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Caching;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.Token.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace LumoAuth.Token.Features.Scopes;

/// <summary>
/// A claim a custom scope puts in the tokens of the users who grant it: one of the user's custom attributes, one of their
/// SCIM enterprise attributes, or a fixed value (Keycloak's user-attribute and hardcoded-claim mappers on a client scope,
/// Okta's custom claims, what Auth0 tenants write Actions for). <see cref="Tokens"/> says where it goes.
/// </summary>
public sealed record ScopeClaim(
    string Name,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Attribute,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Enterprise,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? Value,
    IReadOnlyList<string> Tokens)
{
    public const string IdToken = "id_token";
    public const string AccessToken = "access_token";
    public const string UserInfo = "userinfo";

    public const int MaxPerScope = 20;
    public const int MaxValueLength = 2000;

    private static readonly string[] AllTokens = [IdToken, AccessToken, UserInfo];

    /// <summary>
    /// Names a scope may not set: the JWT's and OIDC's own claims (a scope must not be able to say who the user is, or
    /// that their address is verified), ours, and OpenIddict's private ones (<c>oi_…</c>).
    /// </summary>
    private static readonly HashSet<string> Reserved = new(StringComparer.Ordinal)
    {
        "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "c_hash", "s_hash", "sid",
        "scope", "client_id", "cnf", "act", "may_act", "typ", "token_type", "authorization_details", "events", "txn",
        "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile", "picture", "website",
        "email", "email_verified", "gender", "birthdate", "zoneinfo", "locale", "phone_number", "phone_number_verified", "address",
        "updated_at", "tenant", "tenant_id", "roles", "permissions", "groups", "agent_id", "agent_name", "api_key_id", "auth_method",
    };

    /// <summary>The value this claim has for the user, or null when the user has none (the claim is then left out).</summary>
    public JsonElement? ValueFor(UserProfile profile) =>
        Value ?? (Attribute is not null ? Member(profile.Attributes, Attribute) : Member(profile.Enterprise, Enterprise!));

    public IEnumerable<string> Destinations()
    {
        if (Tokens.Contains(IdToken))
        {
            yield return OpenIddict.Abstractions.OpenIddictConstants.Destinations.IdentityToken;
        }

        if (Tokens.Contains(AccessToken))
        {
            yield return OpenIddict.Abstractions.OpenIddictConstants.Destinations.AccessToken;
        }
    }

    /// <summary>The claims the request describes, or null with its problems added to <paramref name="validation"/>.</summary>
    public static List<ScopeClaim>? Read(IReadOnlyList<ScopeClaimRequest?> requests, RequestValidator validation)
    {
        if (requests.Count > MaxPerScope)
        {
            validation.Add("claims", $"a scope has at most {MaxPerScope} claims");
            return null;
        }

        var claims = new List<ScopeClaim>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < requests.Count; i++)
        {
            var field = $"claims[{i}]";
            if (requests[i] is not { } request)
            {
                validation.Add(field, "must be an object");
                continue;
            }

            var name = request.Name?.Trim();
            var sources = (request.Attribute is null ? 0 : 1) + (request.Enterprise is null ? 0 : 1) + (request.Value is null ? 0 : 1);
            var tokens = request.Tokens ?? AllTokens;
            var problem = string.IsNullOrEmpty(name) || name.Length > 200 || !name.All(c => c is > ' ' and < (char)127 and not '"' and not '\\')
                    ? "name must be 1 to 200 printable ASCII characters without spaces, quotes or backslashes"
                : Reserved.Contains(name) || name.StartsWith("oi_", StringComparison.Ordinal) ? $"'{name}' is a claim of the protocol's or ours, which a scope cannot set"
                : !names.Add(name) ? $"'{name}' is named twice"
                : sources != 1 ? "give exactly one of attribute, enterprise and value"
                : request.Attribute is { } attribute && !IsKey(attribute) ? "attribute must name a custom attribute (1 to 100 characters)"
                : request.Enterprise is { } enterprise && !IsKey(enterprise) ? "enterprise must name an enterprise attribute (1 to 100 characters)"
                : request.Value is { } value && value.GetRawText().Length > MaxValueLength ? $"value must be at most {MaxValueLength} characters of JSON"
                : tokens.Count == 0 || tokens.Any(t => !AllTokens.Contains(t)) ? $"tokens must name one or more of {string.Join(", ", AllTokens)}"
                : null;
            if (problem is not null)
            {
                validation.Add(field, problem);
                continue;
            }

            claims.Add(new ScopeClaim(name!, request.Attribute, request.Enterprise, request.Value?.Clone(), [.. tokens.Distinct()]));
        }

        return validation.IsValid ? claims : null;
    }

    public static string? Store(IReadOnlyList<ScopeClaim> claims) => claims.Count == 0 ? null : JsonSerializer.Serialize(claims, Json);

    public static IReadOnlyList<ScopeClaim> Load(string? stored) =>
        stored is null ? [] : JsonSerializer.Deserialize<List<ScopeClaim>>(stored, Json) ?? [];

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static bool IsKey(string key) => key.Length is >= 1 and <= 100;

    private static JsonElement? Member(JsonElement? source, string key) =>
        source is { ValueKind: JsonValueKind.Object } value && value.TryGetProperty(key, out var member) && member.ValueKind != JsonValueKind.Null ? member : null;
}

public sealed record ScopeClaimRequest(string? Name, string? Attribute, string? Enterprise, JsonElement? Value, IReadOnlyList<string>? Tokens);

/// <summary>
/// Each tenant's scope claims, by scope name, for the tokens and userinfo answers that carry them. Kept five minutes and
/// dropped when a scope changes (here, and on other replicas through the scope events).
/// </summary>
public sealed class ScopeClaimsCache(IMemoryCache cache, TimeProvider time, IServiceScopeFactory scopes)
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    private readonly ReadThroughCache<IReadOnlyDictionary<string, IReadOnlyList<ScopeClaim>>> _claims = new(cache, time, _ => Lifetime);

    /// <summary>
    /// The claims the granted scopes release for the user, each with its value: in the scopes' name order, the first scope
    /// that gives a name a value wins it. Built-in scopes release none, and cost no lookup.
    /// </summary>
    public async ValueTask<IReadOnlyList<(ScopeClaim Claim, JsonElement Value)>> ReleasedAsync(
        Guid tenantId, IReadOnlyCollection<string> granted, UserProfile profile, CancellationToken cancellationToken)
    {
        var custom = granted.Where(s => !ScopeNames.IsBuiltIn(s)).Order(StringComparer.Ordinal).ToList();
        if (custom.Count == 0)
        {
            return [];
        }

        var byScope = await _claims.GetAsync($"scope-claims:{tenantId:N}", (scopes, tenantId), static state => LoadAsync(state), cancellationToken);
        var released = new List<(ScopeClaim, JsonElement)>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var scope in custom)
        {
            foreach (var claim in byScope.GetValueOrDefault(scope) ?? [])
            {
                if (!names.Contains(claim.Name) && claim.ValueFor(profile) is { } value)
                {
                    names.Add(claim.Name);
                    released.Add((claim, value));
                }
            }
        }

        return released;
    }

    public void Evict(Guid tenantId) => _claims.Remove($"scope-claims:{tenantId:N}");

    public void Clear() => _claims.Clear();

    private static async Task<IReadOnlyDictionary<string, IReadOnlyList<ScopeClaim>>> LoadAsync((IServiceScopeFactory Scopes, Guid TenantId) state)
    {
        await using var scope = state.Scopes.CreateAsyncScope();
        var rows = await scope.ServiceProvider.GetRequiredService<TokenDbContext>().Scopes.IgnoreQueryFilters().AsNoTracking()
            .Where(s => s.TenantId == state.TenantId && s.Claims != null)
            .Select(s => new { s.Name, s.Claims })
            .ToListAsync();
        return rows.ToDictionary(r => r.Name, r => ScopeClaim.Load(r.Claims), StringComparer.Ordinal);
    }
}

/// <summary>Drops a tenant's scope claims on this replica when one of its scopes changes.</summary>
public sealed class ScopeClaimsEvictionConsumer(ScopeClaimsCache cache) : IConsumer<ScopeCreated>, IConsumer<ScopeUpdated>, IConsumer<ScopeDeleted>
{
    public Task Consume(ConsumeContext<ScopeCreated> context) => Evict(context.Message.TenantId);

    public Task Consume(ConsumeContext<ScopeUpdated> context) => Evict(context.Message.TenantId);

    public Task Consume(ConsumeContext<ScopeDeleted> context) => Evict(context.Message.TenantId);

    private Task Evict(Guid? tenantId)
    {
        if (tenantId is { } id)
        {
            cache.Evict(id);
        }

        return Task.CompletedTask;
    }
}
