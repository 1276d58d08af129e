using System.Text.Json;
using System.Text.Json.Serialization;
using LumoAuth.Agents.Data;
using LumoAuth.Contracts.Agents;
using LumoAuth.Messaging.Outbox;
using LumoAuth.Messaging.Data;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Agents.Features.AAuth;

/// <summary>
/// Registering AAuth agents and resources (the docs' portal forms; "or via the API", which is this, under the Admin API).
/// Both are known by an https identifier matched exactly, and prove themselves with keys given inline (<c>jwks</c>),
/// published at a <c>jwksUri</c>, or — neither given — named by their own metadata (<c>{identifier}/.well-known/aauth-agent</c>
/// or <c>aauth-resource</c>). Deleting either revokes the grants that name it.
/// </summary>
public static class AAuthRegistrationEndpoints
{
    private const int MaxList = 100;
    private const int MaxJwksBytes = 16 * 1024;

    public static IEndpointRouteBuilder MapAAuthRegistrationEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/t/{tenantSlug}/api/v1/admin/aauth").RequireAuthorization(Policies.TenantAdmin).WithTags("AAuth registrations");
        admin.MapGet("/agents", ListAgents).WithName("ListAAuthAgents");
        admin.MapGet("/agents/{id:guid}", GetAgent).WithName("GetAAuthAgent");
        admin.MapGet("/resources", ListResources).WithName("ListAAuthResources");
        admin.MapGet("/resources/{id:guid}", GetResource).WithName("GetAAuthResource");
        // Who may get tokens for what, on whose word: a credential that writes everything.
        var writes = admin.WritesNeedingFullAccess("Registering AAuth agents and resources");
        writes.MapPost("/agents", CreateAgent).WithName("CreateAAuthAgent");
        writes.MapMethods("/agents/{id:guid}", [HttpMethods.Put, HttpMethods.Patch], UpdateAgent).WithName("UpdateAAuthAgent");
        writes.MapDelete("/agents/{id:guid}", DeleteAgent).WithName("DeleteAAuthAgent");
        writes.MapPost("/resources", CreateResource).WithName("CreateAAuthResource");
        writes.MapMethods("/resources/{id:guid}", [HttpMethods.Put, HttpMethods.Patch], UpdateResource).WithName("UpdateAAuthResource");
        writes.MapDelete("/resources/{id:guid}", DeleteResource).WithName("DeleteAAuthResource");
        return app;
    }

    public sealed record AgentRequest(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("identifier")] string? Identifier,
        [property: JsonPropertyName("description")] string? Description,
        [property: JsonPropertyName("jwks")] JsonElement? Jwks,
        [property: JsonPropertyName("jwksUri")] string? JwksUri,
        [property: JsonPropertyName("redirectUris")] List<string>? RedirectUris,
        [property: JsonPropertyName("allowedScopes")] List<string>? AllowedScopes,
        [property: JsonPropertyName("userAuthorizationEnabled")] bool? UserAuthorizationEnabled,
        [property: JsonPropertyName("delegationEnabled")] bool? DelegationEnabled,
        [property: JsonPropertyName("tokenExchangeEnabled")] bool? TokenExchangeEnabled,
        [property: JsonPropertyName("isActive")] bool? IsActive);

    public sealed record ResourceRequest(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("identifier")] string? Identifier,
        [property: JsonPropertyName("description")] string? Description,
        [property: JsonPropertyName("jwks")] JsonElement? Jwks,
        [property: JsonPropertyName("jwksUri")] string? JwksUri,
        [property: JsonPropertyName("supportedScopes")] List<string>? SupportedScopes,
        [property: JsonPropertyName("authLevel")] string? AuthLevel,
        [property: JsonPropertyName("defaultAuthLevel")] string? DefaultAuthLevel);

    public sealed record AgentView(
        Guid Id, string Name, string Identifier, string? Description, JsonElement? Jwks, string? JwksUri, IReadOnlyList<string> RedirectUris,
        IReadOnlyList<string> AllowedScopes, bool UserAuthorizationEnabled, bool DelegationEnabled, bool TokenExchangeEnabled, bool IsActive,
        DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
    {
        public static AgentView From(AAuthAgent a) => new(a.Id, a.Name, a.Identifier, a.Description, ParseJwks(a.Jwks), a.JwksUri, a.RedirectUris, a.AllowedScopes,
            a.UserAuthorizationEnabled, a.DelegationEnabled, a.TokenExchangeEnabled, a.IsActive, a.CreatedAt, a.UpdatedAt);
    }

    public sealed record ResourceView(
        Guid Id, string Name, string Identifier, string? Description, JsonElement? Jwks, string? JwksUri, IReadOnlyList<string> SupportedScopes,
        string AuthLevel, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
    {
        public static ResourceView From(AAuthResource r) =>
            new(r.Id, r.Name, r.Identifier, r.Description, ParseJwks(r.Jwks), r.JwksUri, r.SupportedScopes, r.AuthLevel, r.CreatedAt, r.UpdatedAt);
    }

    public static async Task<IResult> ListAgents(AgentsDbContext db, int? page, int? limit, CancellationToken cancellationToken)
    {
        var paging = PageRequest.From(page, limit);
        var total = await db.AAuthAgents.LongCountAsync(cancellationToken);
        var rows = await db.AAuthAgents.AsNoTracking().OrderBy(a => a.CreatedAt).ThenBy(a => a.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<AgentView>([.. rows.Select(AgentView.From)], PageMeta.For(paging, total)));
    }

    public static async Task<IResult> GetAgent(Guid id, AgentsDbContext db, CancellationToken cancellationToken) =>
        await db.AAuthAgents.AsNoTracking().FirstOrDefaultAsync(a => a.Id == id, cancellationToken) is { } agent
            ? TypedResults.Ok(new DataResponse<AgentView>(AgentView.From(agent)))
            : ApiErrors.NotFound("AAuth agent");

    public static async Task<IResult> ListResources(AgentsDbContext db, int? page, int? limit, CancellationToken cancellationToken)
    {
        var paging = PageRequest.From(page, limit);
        var total = await db.AAuthResources.LongCountAsync(cancellationToken);
        var rows = await db.AAuthResources.AsNoTracking().OrderBy(r => r.CreatedAt).ThenBy(r => r.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<ResourceView>([.. rows.Select(ResourceView.From)], PageMeta.For(paging, total)));
    }

    public static async Task<IResult> GetResource(Guid id, AgentsDbContext db, CancellationToken cancellationToken) =>
        await db.AAuthResources.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, cancellationToken) is { } resource
            ? TypedResults.Ok(new DataResponse<ResourceView>(ResourceView.From(resource)))
            : ApiErrors.NotFound("AAuth resource");

    public static async Task<IResult> CreateAgent(AgentRequest request, AgentsDbContext db, TenantContext tenant, IOptions<AAuthOptions> options, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var agent = new AAuthAgent { Id = Guid.CreateVersion7(), TenantId = tenant.TenantId, CreatedAt = now, UpdatedAt = now };
        if (ApplyAgent(request, agent, creating: true, options.Value) is { } invalid)
        {
            return invalid;
        }

        db.AAuthAgents.Add(agent);
        db.AddEvent(Changed(agent, "created"));
        return await SaveAsync(db, $"An AAuth agent with the identifier '{agent.Identifier}' exists already", cancellationToken)
            ?? TypedResults.Created($"/t/{tenant.Slug}/api/v1/admin/aauth/agents/{agent.Id}", new DataResponse<AgentView>(AgentView.From(agent), "AAuth agent registered"));
    }

    public static async Task<IResult> UpdateAgent(Guid id, AgentRequest request, AgentsDbContext db, IOptions<AAuthOptions> options, CancellationToken cancellationToken)
    {
        if (await db.AAuthAgents.FirstOrDefaultAsync(a => a.Id == id, cancellationToken) is not { } agent)
        {
            return ApiErrors.NotFound("AAuth agent");
        }

        var identifier = agent.Identifier;
        if (ApplyAgent(request, agent, creating: false, options.Value) is { } invalid)
        {
            return invalid;
        }

        agent.UpdatedAt = DateTimeOffset.UtcNow;
        db.AddEvent(Changed(agent, "updated"));
        // Another identifier or a deactivation ends what the agent holds: grants name the agent, not its old name.
        var revoke = agent.Identifier != identifier || !agent.IsActive;
        return await SaveAsync(db, $"An AAuth agent with the identifier '{agent.Identifier}' exists already", cancellationToken, revoke ? g => g.AgentId == id : null)
            ?? TypedResults.Ok(new DataResponse<AgentView>(AgentView.From(agent), "AAuth agent updated"));
    }

    public static async Task<IResult> DeleteAgent(Guid id, AgentsDbContext db, CancellationToken cancellationToken) =>
        await db.AAuthAgents.FirstOrDefaultAsync(a => a.Id == id, cancellationToken) is { } agent
            ? await RemoveAsync(db, agent, Changed(agent, "deleted"), g => g.AgentId == id, cancellationToken)
            : ApiErrors.NotFound("AAuth agent");

    public static async Task<IResult> CreateResource(ResourceRequest request, AgentsDbContext db, TenantContext tenant, IOptions<AAuthOptions> options, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var resource = new AAuthResource { Id = Guid.CreateVersion7(), TenantId = tenant.TenantId, CreatedAt = now, UpdatedAt = now };
        if (ApplyResource(request, resource, creating: true, options.Value) is { } invalid)
        {
            return invalid;
        }

        db.AAuthResources.Add(resource);
        db.AddEvent(Changed(resource, "created"));
        return await SaveAsync(db, $"An AAuth resource with the identifier '{resource.Identifier}' exists already", cancellationToken)
            ?? TypedResults.Created($"/t/{tenant.Slug}/api/v1/admin/aauth/resources/{resource.Id}", new DataResponse<ResourceView>(ResourceView.From(resource), "AAuth resource registered"));
    }

    public static async Task<IResult> UpdateResource(Guid id, ResourceRequest request, AgentsDbContext db, IOptions<AAuthOptions> options, CancellationToken cancellationToken)
    {
        if (await db.AAuthResources.FirstOrDefaultAsync(r => r.Id == id, cancellationToken) is not { } resource)
        {
            return ApiErrors.NotFound("AAuth resource");
        }

        var identifier = resource.Identifier;
        if (ApplyResource(request, resource, creating: false, options.Value) is { } invalid)
        {
            return invalid;
        }

        resource.UpdatedAt = DateTimeOffset.UtcNow;
        db.AddEvent(Changed(resource, "updated"));
        var revoke = resource.Identifier != identifier;
        return await SaveAsync(db, $"An AAuth resource with the identifier '{resource.Identifier}' exists already", cancellationToken, revoke ? g => g.ResourceId == id : null)
            ?? TypedResults.Ok(new DataResponse<ResourceView>(ResourceView.From(resource), "AAuth resource updated"));
    }

    public static async Task<IResult> DeleteResource(Guid id, AgentsDbContext db, CancellationToken cancellationToken) =>
        await db.AAuthResources.FirstOrDefaultAsync(r => r.Id == id, cancellationToken) is { } resource
            ? await RemoveAsync(db, resource, Changed(resource, "deleted"), g => g.ResourceId == id, cancellationToken)
            : ApiErrors.NotFound("AAuth resource");

    /// <summary>Removes a registration, with its audit event and the revocation of the grants naming it, in one transaction.</summary>
    private static async Task<IResult> RemoveAsync(
        AgentsDbContext db, object registration, AgentAuthRegistrationChanged removed, System.Linq.Expressions.Expression<Func<AAuthGrant, bool>> grants, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        db.Remove(registration);
        db.AddEvent(removed);
        await db.SaveChangesAsync(cancellationToken);
        await RevokeGrantsAsync(db, grants, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    private static AgentAuthRegistrationChanged Changed(AAuthAgent agent, string change) => new(agent.Id, "agent", agent.Identifier, change) { TenantId = agent.TenantId };

    private static AgentAuthRegistrationChanged Changed(AAuthResource resource, string change) => new(resource.Id, "resource", resource.Identifier, change) { TenantId = resource.TenantId };

    /// <summary>Ends grants: their refresh tokens and codes stop working (auth tokens already issued run out within the hour).</summary>
    private static Task<int> RevokeGrantsAsync(AgentsDbContext db, System.Linq.Expressions.Expression<Func<AAuthGrant, bool>> which, CancellationToken cancellationToken) =>
        db.AAuthGrants.Where(which).Where(g => g.State != AAuthGrantStates.Revoked).ExecuteUpdateAsync(s => s
            .SetProperty(g => g.State, AAuthGrantStates.Revoked)
            .SetProperty(g => g.RefreshTokenHash, (byte[]?)null)
            .SetProperty(g => g.CodeHash, (byte[]?)null)
            .SetProperty(g => g.UpdatedAt, DateTimeOffset.UtcNow), cancellationToken);

    /// <summary>Saves the change and its event, and revokes <paramref name="revokeGrants"/> when given, in one transaction.</summary>
    private static async Task<IResult?> SaveAsync(
        AgentsDbContext db, string duplicate, CancellationToken cancellationToken, System.Linq.Expressions.Expression<Func<AAuthGrant, bool>>? revokeGrants = null)
    {
        try
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            await db.SaveChangesAsync(cancellationToken);
            if (revokeGrants is not null)
            {
                await RevokeGrantsAsync(db, revokeGrants, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            return null;
        }
        catch (DbUpdateException exception) when (exception.IsUniqueViolation())
        {
            return ApiErrors.Duplicate(duplicate);
        }
    }

    private static IResult? ApplyAgent(AgentRequest request, AAuthAgent agent, bool creating, AAuthOptions options)
    {
        var validation = Common(request.Name, request.Identifier, request.Description, request.Jwks, request.JwksUri, creating, options, out var jwks);
        validation.Check(request.RedirectUris is null || (request.RedirectUris.Count <= MaxList && request.RedirectUris.All(u => RedirectProblem(u, options) is null)),
            "redirectUris", $"must be at most {MaxList} absolute https URLs (http only on loopback) without fragment");
        CheckScopes(validation, "allowedScopes", request.AllowedScopes);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        agent.Name = request.Name?.Trim() ?? agent.Name;
        agent.Identifier = request.Identifier ?? agent.Identifier;
        agent.Description = request.Description ?? agent.Description;
        (agent.Jwks, agent.JwksUri) = request.Jwks is not null ? (jwks, null) : request.JwksUri is not null ? (null, request.JwksUri) : (agent.Jwks, agent.JwksUri);
        agent.RedirectUris = request.RedirectUris ?? agent.RedirectUris;
        agent.AllowedScopes = request.AllowedScopes?.Distinct(StringComparer.Ordinal).ToList() ?? agent.AllowedScopes;
        agent.UserAuthorizationEnabled = request.UserAuthorizationEnabled ?? agent.UserAuthorizationEnabled;
        agent.DelegationEnabled = request.DelegationEnabled ?? agent.DelegationEnabled;
        agent.TokenExchangeEnabled = request.TokenExchangeEnabled ?? agent.TokenExchangeEnabled;
        agent.IsActive = request.IsActive ?? agent.IsActive;
        return null;
    }

    private static IResult? ApplyResource(ResourceRequest request, AAuthResource resource, bool creating, AAuthOptions options)
    {
        var validation = Common(request.Name, request.Identifier, request.Description, request.Jwks, request.JwksUri, creating, options, out var jwks);
        CheckScopes(validation, "supportedScopes", request.SupportedScopes);
        var level = request.AuthLevel ?? request.DefaultAuthLevel;
        validation.Check(level is null || AAuthLevels.All.Contains(level), "authLevel", $"must be one of {string.Join(", ", AAuthLevels.All)}");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        resource.Name = request.Name?.Trim() ?? resource.Name;
        resource.Identifier = request.Identifier ?? resource.Identifier;
        resource.Description = request.Description ?? resource.Description;
        (resource.Jwks, resource.JwksUri) = request.Jwks is not null ? (jwks, null) : request.JwksUri is not null ? (null, request.JwksUri) : (resource.Jwks, resource.JwksUri);
        resource.SupportedScopes = request.SupportedScopes?.Distinct(StringComparer.Ordinal).ToList() ?? resource.SupportedScopes;
        resource.AuthLevel = level ?? resource.AuthLevel;
        return null;
    }

    private static RequestValidator Common(
        string? name, string? identifier, string? description, JsonElement? jwks, string? jwksUri, bool creating, AAuthOptions options, out string? jwksJson)
    {
        var validation = creating ? new RequestValidator().Required("name", name) : new RequestValidator().Optional("name", name);
        validation.Check(name is null || name.Trim().Length > 0, "name", "must not be blank");
        validation.Optional("description", description, 1000);
        if (creating || identifier is not null)
        {
            validation.Check(IdentifierProblem(identifier, options) is null, "identifier", IdentifierProblem(identifier, options) ?? string.Empty);
        }

        validation.Check(jwks is null || jwksUri is null, "jwksUri", "give the keys inline (jwks) or by URL (jwksUri), not both");
        // Without keys, the identifier is where its metadata is fetched from: it must be a URL we may fetch.
        if (creating && jwks is null && jwksUri is null && identifier is not null && IdentifierProblem(identifier, options) is null
            && OpenIdProviders.UrlProblem(identifier, options.AllowPrivateTargets) is { } fetchProblem)
        {
            validation.Add("identifier", fetchProblem + " (an agent or resource registered without keys is fetched there)");
        }
        jwksJson = null;
        if (jwks is { } set)
        {
            (jwksJson, var problem) = ReadJwks(set);
            validation.Check(problem is null, "jwks", problem ?? string.Empty);
        }

        if (jwksUri is not null && OpenIdProviders.UrlProblem(jwksUri, options.AllowPrivateTargets) is { } uriProblem)
        {
            validation.Add("jwksUri", uriProblem);
        }

        return validation;
    }

    /// <summary>An identifier is an https URL (http only on loopback, for development), without query or fragment: requests name it exactly.</summary>
    private static string? IdentifierProblem(string? identifier, AAuthOptions options) =>
        identifier is not { Length: > 0 and <= 500 } || !Uri.TryCreate(identifier, UriKind.Absolute, out var uri)
        || !(uri.Scheme == Uri.UriSchemeHttps || (options.AllowPrivateTargets && uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback))
        || uri.Query.Length > 0 || uri.Fragment.Length > 0 || identifier.Contains('#') || identifier.Any(char.IsWhiteSpace)
            ? "must be an https URL of at most 500 characters, without query or fragment"
            : null;

    private static string? RedirectProblem(string? uri, AAuthOptions options) =>
        uri is { Length: > 0 and <= 2000 } && Uri.TryCreate(uri, UriKind.Absolute, out var parsed) && !uri.Contains('#')
        && (parsed.Scheme == Uri.UriSchemeHttps || (parsed.Scheme == Uri.UriSchemeHttp && parsed.IsLoopback))
            ? null
            : "invalid";

    private static void CheckScopes(RequestValidator validation, string field, List<string>? scopes) =>
        validation.Check(scopes is null || (scopes.Count <= MaxList && scopes.All(s => s is { Length: > 0 and <= 200 } && !s.Any(char.IsWhiteSpace))),
            field, $"must be at most {MaxList} scope names without spaces");

    /// <summary>A JWKS of public signing keys we can verify with: no private parts, no symmetric keys, ids unique.</summary>
    private static (string? Json, string? Problem) ReadJwks(JsonElement set)
    {
        var json = set.GetRawText();
        if (json.Length > MaxJwksBytes || set.ValueKind != JsonValueKind.Object)
        {
            return (null, $"must be a JWKS object of at most {MaxJwksBytes / 1024} KB");
        }

        try
        {
            var keys = new JsonWebKeySet(json).Keys;
            if (keys.Count is 0 or > 20)
            {
                return (null, "must hold 1 to 20 keys");
            }

            if (!keys.All(SigningKeys.IsUsablePublicKey))
            {
                return (null, "must hold public signing keys only: Ed25519 (OKP), EC P-256 or P-384, RSA of 2048 bits or more; never private parts");
            }

            return keys.Where(k => k.Kid is not null).GroupBy(k => k.Kid).Any(g => g.Count() > 1) ? (null, "key ids must be unique") : (json, null);
        }
        catch (ArgumentException)
        {
            return (null, "is not a JWKS document");
        }
    }

    private static JsonElement? ParseJwks(string? json)
    {
        if (json is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
