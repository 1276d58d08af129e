using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using LumoAuth.Agents.Data;
using LumoAuth.Contracts.Agents;
using LumoAuth.Messaging.Outbox;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Agents.Features.AAuth;

/// <summary>
/// The AAuth authorization server (AG-14…16): resources get resource tokens that name them, agents trade them for auth
/// tokens bound to the key they sign with — at once for resources of the <c>none</c> and <c>authenticated</c> levels,
/// after a person's consent (on the token service's page) for <c>authorized</c> and <c>user</c>. Every call is signed
/// (RFC 9421, <see cref="AAuthCallers"/>). Tokens are signed by the token service with the tenant's keys.
/// </summary>
public static class AAuthEndpoints
{
    public const string ResourceTokenPath = "/aauth/resource/token";
    public const string AgentTokenPath = "/aauth/agent/token";
    public const int AuthTokenLifetime = 3600;
    public const int MaxResourceTokenLifetime = 300;
    public static readonly TimeSpan ConsentWindow = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan RefreshLifetime = TimeSpan.FromDays(30);

    /// <summary>However often it is refreshed, a grant ends this long after it was made: a person's consent is not for ever.</summary>
    public static readonly TimeSpan MaxGrantLifetime = TimeSpan.FromDays(90);

    /// <summary>How recent a sign-in the <c>user</c> level takes as "present".</summary>
    public static readonly TimeSpan PresenceWindow = TimeSpan.FromMinutes(5);

    /// <summary>The longest an agent token may live.</summary>
    public static readonly TimeSpan MaxAgentTokenLifetime = TimeSpan.FromHours(24);

    private const int MaxScopeLength = 2000;

    private const int MaxBodyBytes = 64 * 1024;
    private static readonly string[] RequestTypes = ["auth", "code", "refresh", "exchange"];
    private static readonly string[] SignatureHeaders = [MessageSignature.AgentAuthHeader, MessageSignature.SignatureInputHeader];
    private static readonly string[] DigestAlgorithms = ["sha-256", "sha-512"];
    private static readonly string[] ConfirmationMethods = ["jkt", "jwk"];
    private const string RequestIdPrefix = "aar_";
    private static readonly JsonWebTokenHandler Tokens = new() { MapInboundClaims = false };

    public static IEndpointRouteBuilder MapAAuthEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/t/{tenantSlug}/api/v1").AllowAnonymous().WithTags("AAuth");
        api.MapPost(ResourceTokenPath, ResourceTokenAsync).WithName("AAuthResourceToken");
        api.MapPost(AgentTokenPath, AgentTokenAsync).WithName("AAuthAgentToken");
        api.MapGet("/.well-known/aauth-issuer", Metadata).WithName("AAuthIssuerMetadata");
        app.MapGet("/t/{tenantSlug}/.well-known/aauth-issuer", Metadata).AllowAnonymous().WithTags("AAuth").WithName("AAuthIssuerMetadataAtTenantRoot");

        app.MapGet(InternalRoutes.AAuthRequests + "/{requestId}", ConsentViewAsync).RequireAuthorization(Policies.Internal).WithName("InternalAAuthRequest").WithTags("Internal");
        app.MapPost(InternalRoutes.AAuthRequests + "/{requestId}/decision", DecideAsync).RequireAuthorization(Policies.Internal).WithName("InternalAAuthDecision").WithTags("Internal");
        return app;
    }

    public sealed record ResourceTokenRequest(
        [property: JsonPropertyName("resource_identifier")] string? ResourceIdentifier,
        [property: JsonPropertyName("audience")] string? Audience,
        [property: JsonPropertyName("lifetime")] int? Lifetime);

    public sealed record AgentTokenRequest(
        [property: JsonPropertyName("request_type")] string? RequestType,
        [property: JsonPropertyName("agent_token")] string? AgentToken,
        [property: JsonPropertyName("resource_token")] string? ResourceToken,
        [property: JsonPropertyName("scope")] string? Scope,
        [property: JsonPropertyName("redirect_uri")] string? RedirectUri,
        [property: JsonPropertyName("state")] string? State,
        [property: JsonPropertyName("code")] string? Code,
        [property: JsonPropertyName("request_token")] string? RequestToken,
        [property: JsonPropertyName("refresh_token")] string? RefreshToken,
        [property: JsonPropertyName("subject_token")] string? SubjectToken);

    public sealed record TokenAnswer(
        [property: JsonPropertyName("access_token")] string AccessToken,
        [property: JsonPropertyName("token_type")] string TokenType,
        [property: JsonPropertyName("expires_in")] int ExpiresIn,
        [property: JsonPropertyName("scope")] string Scope,
        [property: JsonPropertyName("refresh_token"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? RefreshToken);

    public sealed record AuthorizationRequired(
        [property: JsonPropertyName("error")] string Error,
        [property: JsonPropertyName("error_description")] string Description,
        [property: JsonPropertyName("authorization_required")] bool Required,
        [property: JsonPropertyName("auth_url")] string AuthUrl,
        [property: JsonPropertyName("request_token")] string RequestToken,
        [property: JsonPropertyName("expires_in")] int ExpiresIn);

    public sealed record Services(
        AgentsDbContext Db, TenantContext Tenant, AAuthCallers Callers, JwksCache Jwks, IHttpClientFactory Http, IOptions<LumoAuthOptions> Lumo, TimeProvider Time);

    /// <summary>
    /// AG-15. The resource names itself (<c>Authorization: Bearer &lt;identifier&gt;</c>, as the docs write it, and
    /// <c>resource_identifier</c>) and — beyond the docs, since a name proves nothing — signs the request with a key of its
    /// registered set; the token is bound to that key.
    /// </summary>
    public static async Task<IResult> ResourceTokenAsync(HttpContext http, [AsParameters] Services services)
    {
        var tenant = services.Tenant.Tenant!;
        if (await ReadBodyAsync(http) is not { } body)
        {
            return Error(StatusCodes.Status413PayloadTooLarge, ErrorCodes.InvalidRequest, $"The body must be JSON of at most {MaxBodyBytes / 1024} KB.");
        }

        if (Parse<ResourceTokenRequest>(body) is not { } request || request.ResourceIdentifier is not { Length: > 0 and <= 500 } identifier)
        {
            return Error(StatusCodes.Status400BadRequest, ErrorCodes.InvalidRequest, "Send JSON with resource_identifier, audience and, optionally, lifetime.");
        }

        var issuers = services.Lumo.Value.IssuersOf(tenant);
        if (request.Audience is not { } audience || !issuers.Contains(audience.TrimEnd('/')))
        {
            return Error(StatusCodes.Status400BadRequest, ErrorCodes.InvalidRequest, "The audience must be this tenant's API base URL (" + issuers[0] + ").");
        }

        if (request.Lifetime is { } asked && asked is < 1 or > MaxResourceTokenLifetime)
        {
            return Error(StatusCodes.Status400BadRequest, ErrorCodes.InvalidRequest, $"The lifetime must be 1 to {MaxResourceTokenLifetime} seconds.");
        }

        var named = BearerValue(http.Request);
        if (named is not null && named != identifier)
        {
            return Error(StatusCodes.Status401Unauthorized, "invalid_resource", "The Authorization header names another resource than resource_identifier.");
        }

        var resource = await services.Db.AAuthResources.AsNoTracking().FirstOrDefaultAsync(r => r.Identifier == identifier, http.RequestAborted);
        if (resource is null)
        {
            return Error(StatusCodes.Status401Unauthorized, "invalid_resource", "No resource with this identifier is registered in this tenant.");
        }

        var (caller, problem) = await SignedByAsync(http, services, body, resource);
        if (caller is null)
        {
            return Error(StatusCodes.Status401Unauthorized, "invalid_signature", problem!);
        }

        var issued = await SignAsync(services, new AAuthTokenRequest(
            tenant.Id, tenant.Slug, AAuthTokenRequest.ResourceType, resource.Identifier, audience.TrimEnd('/'), caller.Thumbprint,
            request.Lifetime ?? MaxResourceTokenLifetime, NewTokenId()) { AuthLevel = resource.AuthLevel }, http.RequestAborted);
        return TypedResults.Ok(new Dictionary<string, object>
        {
            ["resource_token"] = issued.Token,
            ["token_type"] = AAuthTokenRequest.ResourceType,
            ["expires_in"] = (int)Math.Max(0, (issued.ExpiresAt - services.Time.GetUtcNow()).TotalSeconds),
        });
    }

    /// <summary>AG-14: the agent's four requests, each signed by the agent (or its delegate).</summary>
    public static async Task<IResult> AgentTokenAsync(HttpContext http, [AsParameters] Services services)
    {
        if (await ReadBodyAsync(http) is not { } body)
        {
            return Error(StatusCodes.Status413PayloadTooLarge, ErrorCodes.InvalidRequest, $"The body must be JSON of at most {MaxBodyBytes / 1024} KB.");
        }

        if (Parse<AgentTokenRequest>(body) is not { } request)
        {
            return Error(StatusCodes.Status400BadRequest, ErrorCodes.InvalidRequest, "The body must be a JSON object.");
        }

        var required = request.RequestType switch
        {
            "auth" => Missing(("resource_token", request.ResourceToken), ("scope", request.Scope)),
            "code" => Missing(("code", request.Code), ("request_token", request.RequestToken)),
            "refresh" => Missing(("refresh_token", request.RefreshToken)),
            "exchange" => Missing(("subject_token", request.SubjectToken), ("resource_token", request.ResourceToken)),
            _ => "request_type must be auth, code, refresh or exchange.",
        };
        if (required is not null)
        {
            return Error(StatusCodes.Status400BadRequest, ErrorCodes.InvalidRequest, required);
        }

        var identified = await IdentifyAgentAsync(http, services, body, request.AgentToken);
        if (identified.Failure is { } failure)
        {
            return failure;
        }

        var (agent, caller, actor) = (identified.Agent!, identified.Caller!, identified.Actor);
        return request.RequestType switch
        {
            "auth" => await AuthAsync(http, services, agent, caller, actor, request),
            "code" => await CodeAsync(http, services, agent, caller, request),
            "refresh" => await RefreshAsync(http, services, agent, caller, request),
            _ => await ExchangeAsync(http, services, agent, caller, request),
        };
    }

    /// <summary>Who asks: the agent, the key that signed, and the delegate (an agent token's subject other than the agent).</summary>
    private sealed record Identified(AAuthAgent? Agent, SignedCaller? Caller, string? Actor, IResult? Failure);

    /// <summary>
    /// Who signed: the agent an agent token names (its issuer; the token's <c>cnf</c> names the delegate key that must
    /// sign), else the agent the signature's <c>keyid</c> names (<c>https://agent.example#key-1</c>), signing with a key
    /// of its registered set.
    /// </summary>
    private static async Task<Identified> IdentifyAgentAsync(HttpContext http, Services services, byte[] body, string? agentToken)
    {
        var tenant = services.Tenant.Tenant!;
        var (signature, problem) = services.Callers.Read(http.Request, body);
        if (signature is null)
        {
            return new(null, null, null, Error(StatusCodes.Status401Unauthorized, "invalid_signature", problem!));
        }

        JsonWebToken? token = null;
        if (agentToken is not null && (token = ReadJwt(agentToken)) is null)
        {
            return new(null, null, null, Error(StatusCodes.Status400BadRequest, ErrorCodes.InvalidToken, "The agent_token is not a JWT."));
        }

        var identifier = token?.Issuer ?? AAuthCallers.PartyOf(signature.KeyId);
        if (identifier is null)
        {
            return new(null, null, null, Error(StatusCodes.Status400BadRequest, ErrorCodes.InvalidRequest, "Name the agent: send an agent_token, or a signature keyid of the form https://agent.example#key-1."));
        }

        var agent = await services.Db.AAuthAgents.AsNoTracking().FirstOrDefaultAsync(a => a.Identifier == identifier && a.IsActive, http.RequestAborted);
        if (agent is null)
        {
            return new(null, null, null, Error(StatusCodes.Status404NotFound, "agent_not_found", "No active agent with this identifier is registered in this tenant (identifiers match exactly)."));
        }

        IEnumerable<JsonWebKey> candidates;
        string? actor = null;
        if (token is not null)
        {
            var checkedToken = await AgentTokenKeyAsync(services, tenant, agent, token, http.RequestAborted);
            if (checkedToken.Problem is { } tokenProblem)
            {
                return new(null, null, null, Error(StatusCodes.Status400BadRequest, ErrorCodes.InvalidToken, tokenProblem));
            }

            candidates = checkedToken.Keys!;
            actor = token.Subject == agent.Identifier ? null : token.Subject;
        }
        else
        {
            candidates = await KeysAsync(services, agent.Jwks, agent.JwksUri, AAuthCallers.AgentMetadataUrl(agent.Identifier), signature.KeyId, http.RequestAborted);
        }

        var (caller, failed) = services.Callers.Verify(http.Request, tenant, signature, candidates);
        if (caller is null)
        {
            return new(null, null, null, Error(StatusCodes.Status401Unauthorized, "invalid_signature", failed!));
        }

        return await services.Callers.IsFirstUseAsync(tenant.Id, caller)
            ? new(agent, caller, actor, null)
            : new(null, null, null, Error(StatusCodes.Status401Unauthorized, "invalid_signature", "This signature has been used already."));
    }

    /// <summary>
    /// An agent token (<c>agent+jwt</c>) the agent signed with a key of its set, for this tenant, unexpired, naming the key
    /// that must sign the request: <c>cnf.jwk</c> (a delegate's, which needs delegation enabled unless it is the agent's
    /// own) or <c>cnf.jkt</c> (a key of the agent's set).
    /// </summary>
    private static async Task<(IReadOnlyList<JsonWebKey>? Keys, string? Problem)> AgentTokenKeyAsync(
        Services services, TenantInfo tenant, AAuthAgent agent, JsonWebToken token, CancellationToken cancellationToken)
    {
        if (token.Typ != "agent+jwt")
        {
            return (null, "The agent_token must be of type agent+jwt.");
        }

        var agentKeys = await KeysAsync(services, agent.Jwks, agent.JwksUri, AAuthCallers.AgentMetadataUrl(agent.Identifier), token.Kid is { } kid ? "#" + kid : null, cancellationToken);
        if (!VerifiesJws(token, agentKeys))
        {
            return (null, "The agent_token's signature does not verify with the agent's keys.");
        }

        var now = services.Time.GetUtcNow().ToUnixTimeSeconds();
        var issuers = services.Lumo.Value.IssuersOf(tenant);
        if (!token.TryGetPayloadValue<long>("exp", out var exp) || !token.TryGetPayloadValue<long>("iat", out var iat) || exp <= now - 30)
        {
            return (null, "The agent_token has expired (or lacks exp or iat).");
        }

        // A delegate cannot be withdrawn but by rotating the agent's keys: its tokens must be short-lived. (Bounds against
        // now, not a difference of two claims, which an absurd iat could overflow.)
        var longest = (long)MaxAgentTokenLifetime.TotalSeconds;
        if (iat > now + 60 || iat < now - longest - 60 || exp <= iat || exp > iat + longest
            || (token.TryGetPayloadValue<long>("nbf", out var nbf) && nbf > now + 30))
        {
            return (null, $"The agent_token must be issued now, valid now, and live at most {MaxAgentTokenLifetime.TotalHours:0} hours.");
        }

        if (!token.Audiences.Any(a => issuers.Contains(a.TrimEnd('/'))))
        {
            return (null, "The agent_token is not for this tenant: its aud must name " + issuers[0] + ".");
        }

        if (token.Subject is not { Length: > 0 and <= 500 })
        {
            return (null, "The agent_token must name its subject (at most 500 characters).");
        }

        if (!token.TryGetPayloadValue<JsonElement>("cnf", out var cnf) || cnf.ValueKind != JsonValueKind.Object)
        {
            return (null, "The agent_token must name the key that signs (cnf.jwk or cnf.jkt).");
        }

        string? jkt = cnf.TryGetProperty("jkt", out var thumb) && thumb.ValueKind == JsonValueKind.String ? thumb.GetString() : null;
        if (cnf.TryGetProperty("jwk", out var jwkElement) && jwkElement.ValueKind == JsonValueKind.Object)
        {
            JsonWebKey delegateKey;
            try
            {
                delegateKey = new JsonWebKey(jwkElement.GetRawText());
            }
            catch (Exception exception) when (exception is ArgumentException or JsonException)
            {
                return (null, "The agent_token's cnf.jwk is not a JWK.");
            }

            if (!SigningKeys.IsUsablePublicKey(delegateKey) || (jkt is not null && jkt != SigningKeys.Thumbprint(delegateKey)))
            {
                return (null, "The agent_token's cnf.jwk must be a public signing key (matching cnf.jkt when both are given).");
            }

            var own = agentKeys.Any(k => SigningKeys.Thumbprint(k) == SigningKeys.Thumbprint(delegateKey));
            return own || agent.DelegationEnabled ? ([delegateKey], null) : (null, "Delegation is not enabled for this agent.");
        }

        var named = agentKeys.Where(k => SigningKeys.Thumbprint(k) == jkt).ToList();
        return named.Count > 0 ? (named, null) : (null, "The agent_token's cnf.jkt names no key of the agent (send the delegate's key as cnf.jwk).");
    }

    private static async Task<IResult> AuthAsync(HttpContext http, Services services, AAuthAgent agent, SignedCaller caller, string? actor, AgentTokenRequest request)
    {
        var tenant = services.Tenant.Tenant!;
        if (request.Scope!.Length > MaxScopeLength)
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_scope", $"The scope must be at most {MaxScopeLength} characters.");
        }

        var (resource, resourceProblem) = await ResourceOfAsync(services, tenant, request.ResourceToken!, http.RequestAborted);
        if (resource is null)
        {
            return Error(StatusCodes.Status400BadRequest, ErrorCodes.InvalidToken, resourceProblem!);
        }

        var scope = Grantable(request.Scope!, agent.AllowedScopes, resource.SupportedScopes);
        if (scope.Length == 0)
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_scope", "None of the scopes asked for is both allowed to the agent and supported by the resource.");
        }

        var now = services.Time.GetUtcNow();
        var grant = new AAuthGrant
        {
            Id = Guid.CreateVersion7(), TenantId = tenant.Id, AgentId = agent.Id, ResourceId = resource.Id, Scope = scope, AuthLevel = resource.AuthLevel,
            KeyThumbprint = caller.Thumbprint, Actor = actor, CreatedAt = now, UpdatedAt = now,
        };
        if (!AAuthLevels.NeedsConsent(resource.AuthLevel))
        {
            // Signed first: a grant is kept only for a token the agent got.
            var refresh = NewSecret("aauth_refresh_");
            (grant.State, grant.RefreshTokenHash, grant.RefreshExpiresAt) = (AAuthGrantStates.Active, Hash(refresh), now + RefreshLifetime);
            var issued = await SignAsync(services, agent, resource, grant, scope, http.RequestAborted);
            services.Db.AAuthGrants.Add(grant);
            services.Db.AddEvent(Issued(grant, agent, resource, "auth", issued, scope));
            await services.Db.SaveChangesAsync(http.RequestAborted);
            return Answer(issued, scope, refresh);
        }

        if (!agent.UserAuthorizationEnabled)
        {
            return Error(StatusCodes.Status403Forbidden, "unauthorized_client", "This resource needs a person's consent, and user authorization is not enabled for this agent.");
        }

        var redirect = request.RedirectUri ?? (agent.RedirectUris.Count == 1 ? agent.RedirectUris[0] : null);
        if (redirect is null || !agent.RedirectUris.Contains(redirect, StringComparer.Ordinal))
        {
            return Error(StatusCodes.Status400BadRequest, ErrorCodes.InvalidRequest, "The redirect_uri must be one the agent registered (it may be left out when there is one).");
        }

        if (request.State is { Length: > 500 })
        {
            return Error(StatusCodes.Status400BadRequest, ErrorCodes.InvalidRequest, "The state must be at most 500 characters.");
        }

        var requestToken = NewSecret("aauth_req_");
        (grant.State, grant.RequestTokenHash, grant.RedirectUri, grant.ClientState, grant.PendingUntil) =
            (AAuthGrantStates.Pending, Hash(requestToken), redirect, request.State, now + ConsentWindow);
        services.Db.AAuthGrants.Add(grant);
        await services.Db.SaveChangesAsync(http.RequestAborted);
        var authUrl = $"{services.Lumo.Value.PublicBaseUrl.TrimEnd('/')}/t/{tenant.Slug}/aauth/authorize?request={RequestIdPrefix}{grant.Id:N}";
        return TypedResults.Json(
            new AuthorizationRequired("authorization_required", "This resource needs a person's consent: send them to auth_url, then exchange the code with request_token.",
                true, authUrl, requestToken, (int)ConsentWindow.TotalSeconds),
            statusCode: StatusCodes.Status401Unauthorized);
    }

    private static async Task<IResult> CodeAsync(HttpContext http, Services services, AAuthAgent agent, SignedCaller caller, AgentTokenRequest request)
    {
        var now = services.Time.GetUtcNow();
        var requestHash = Hash(request.RequestToken!);
        var grant = await services.Db.AAuthGrants.AsNoTracking().FirstOrDefaultAsync(g => g.RequestTokenHash == requestHash, http.RequestAborted);
        if (grant is null || grant.AgentId != agent.Id || grant.KeyThumbprint != caller.Thumbprint)
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_grant", "The request_token is unknown, or was given to another agent or key.");
        }

        switch (grant.State)
        {
            case AAuthGrantStates.Pending when grant.PendingUntil > now:
                return Error(StatusCodes.Status400BadRequest, "authorization_pending", "The person has not answered yet.");
            case AAuthGrantStates.Denied:
                return Error(StatusCodes.Status400BadRequest, "access_denied", "The person denied the request.");
            case AAuthGrantStates.Approved when grant.PendingUntil > now && grant.CodeHash is { } codeHash
                                                && CryptographicOperations.FixedTimeEquals(codeHash, Hash(request.Code!)):
                break;
            case AAuthGrantStates.Active:
                // A code presented twice: the grant's refresh token goes too (RFC 9700 §4.5 on code replay).
                await RevokeAsync(services, grant, "code_reused", now, http.RequestAborted);
                return Error(StatusCodes.Status400BadRequest, "invalid_grant", "The code has been used already; the grant is revoked.");
            default:
                return Error(StatusCodes.Status400BadRequest, "invalid_grant", "The code is wrong or has expired.");
        }

        var resource = await services.Db.AAuthResources.AsNoTracking().FirstOrDefaultAsync(r => r.Id == grant.ResourceId, http.RequestAborted);
        if (resource is null)
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_grant", "The resource is no longer registered.");
        }

        // The user level wants the person present for each grant: no refresh token outlives the consent.
        var refresh = grant.AuthLevel == AAuthLevels.User ? null : NewSecret("aauth_refresh_");
        byte[]? refreshHash = refresh is null ? null : Hash(refresh);
        // Signed first, then kept: exactly one exchange of the code wins (the state moves from approved to active once),
        // and its audit event commits with it.
        var issued = await SignAsync(services, agent, resource, grant, grant.Scope, http.RequestAborted);
        await using var transaction = await services.Db.Database.BeginTransactionAsync(http.RequestAborted);
        var claimed = await services.Db.AAuthGrants.Where(g => g.Id == grant.Id && g.State == AAuthGrantStates.Approved).ExecuteUpdateAsync(s => s
            .SetProperty(g => g.State, AAuthGrantStates.Active)
            .SetProperty(g => g.CodeHash, (byte[]?)null)
            .SetProperty(g => g.RefreshTokenHash, refreshHash)
            .SetProperty(g => g.RefreshExpiresAt, refresh is null ? null : now + RefreshLifetime)
            .SetProperty(g => g.UpdatedAt, now), http.RequestAborted);
        if (claimed != 1)
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_grant", "The code has been used already.");
        }

        services.Db.AddEvent(Issued(grant, agent, resource, "code", issued, grant.Scope));
        await services.Db.SaveChangesAsync(http.RequestAborted);
        await transaction.CommitAsync(http.RequestAborted);
        return Answer(issued, grant.Scope, refresh);
    }

    private static async Task<IResult> RefreshAsync(HttpContext http, Services services, AAuthAgent agent, SignedCaller caller, AgentTokenRequest request)
    {
        var now = services.Time.GetUtcNow();
        var presented = Hash(request.RefreshToken!);
        var grant = await services.Db.AAuthGrants.AsNoTracking().FirstOrDefaultAsync(g => g.RefreshTokenHash == presented, http.RequestAborted);
        if (grant is null)
        {
            // A replaced token presented again: someone holds a copy. The whole grant goes.
            var copied = await services.Db.AAuthGrants.AsNoTracking()
                .FirstOrDefaultAsync(g => g.PreviousRefreshTokenHash == presented && g.State == AAuthGrantStates.Active, http.RequestAborted);
            // Only the agent it was given to can end it so: the token is bound to that agent's key, and another agent's copy is
            // no more than an unknown token.
            var revoked = copied is not null && copied.AgentId == agent.Id && await RevokeAsync(services, copied, "refresh_token_reused", now, http.RequestAborted);
            return Error(StatusCodes.Status400BadRequest, "invalid_grant", revoked ? "The refresh token has been used already; the grant is revoked." : "The refresh token is unknown.");
        }

        if (grant.AgentId != agent.Id || grant.KeyThumbprint != caller.Thumbprint)
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_grant", "The refresh token was given to another agent or key.");
        }

        if (grant.State != AAuthGrantStates.Active || grant.RefreshExpiresAt <= now || grant.CreatedAt + MaxGrantLifetime <= now)
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_grant", "The refresh token has expired or been revoked.");
        }

        var resource = await services.Db.AAuthResources.AsNoTracking().FirstOrDefaultAsync(r => r.Id == grant.ResourceId, http.RequestAborted);
        if (resource is null)
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_grant", "The resource is no longer registered.");
        }

        // The rules of today: a resource that now needs consent takes a grant only a person gave, while the agent may still
        // ask people; the user level never refreshes (the person is present for each grant).
        if ((AAuthLevels.NeedsConsent(resource.AuthLevel) && (grant.UserId is null || !agent.UserAuthorizationEnabled)) || resource.AuthLevel == AAuthLevels.User)
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_grant", "This grant no longer meets the resource's level: ask again with request_type auth.");
        }

        // What the grant holds, still allowed today, narrowed to what is asked.
        var held = Grantable(grant.Scope, agent.AllowedScopes, resource.SupportedScopes);
        var scope = request.Scope is null ? held : Grantable(request.Scope[..Math.Min(request.Scope.Length, MaxScopeLength)], held.Split(' '), held.Split(' '));
        if (scope.Length == 0 || (request.Scope is not null && request.Scope.Split(' ', StringSplitOptions.RemoveEmptyEntries).Except(held.Split(' ')).Any()))
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_scope", "A refresh may only keep or narrow the scopes granted.");
        }

        var refresh = NewSecret("aauth_refresh_");
        var refreshHash = Hash(refresh);
        var issued = await SignAsync(services, agent, resource, grant, scope, http.RequestAborted);
        await using var transaction = await services.Db.Database.BeginTransactionAsync(http.RequestAborted);
        var rotated = await services.Db.AAuthGrants.Where(g => g.Id == grant.Id && g.RefreshTokenHash == presented).ExecuteUpdateAsync(s => s
            .SetProperty(g => g.RefreshTokenHash, refreshHash)
            .SetProperty(g => g.PreviousRefreshTokenHash, presented)
            .SetProperty(g => g.RefreshExpiresAt, now + RefreshLifetime)
            .SetProperty(g => g.UpdatedAt, now), http.RequestAborted);
        if (rotated != 1)
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_grant", "The refresh token has been used already.");
        }

        services.Db.AddEvent(Issued(grant, agent, resource, "refresh", issued, scope));
        await services.Db.SaveChangesAsync(http.RequestAborted);
        await transaction.CommitAsync(http.RequestAborted);
        return Answer(issued, scope, refresh);
    }

    /// <summary>
    /// An auth token of this tenant for one resource, traded for one for another resource: by the agent it was issued to,
    /// signing with the key it is bound to, for an agent with token exchange enabled; never to more scopes, never beyond
    /// the first token's expiry (so a chain of exchanges cannot outlive a revoked grant), and only into resources that
    /// need no person's consent — a person's consent names one resource, so a token they gave is not carried to another
    /// (ask with request_type auth). No refresh token: the first token's grant stays the one that lasts.
    /// </summary>
    private static async Task<IResult> ExchangeAsync(HttpContext http, Services services, AAuthAgent agent, SignedCaller caller, AgentTokenRequest request)
    {
        var tenant = services.Tenant.Tenant!;
        if (!agent.TokenExchangeEnabled)
        {
            return Error(StatusCodes.Status403Forbidden, "unauthorized_client", "Token exchange is not enabled for this agent.");
        }

        var subjectToken = await ValidateOursAsync(services, tenant, request.SubjectToken!, AAuthTokenRequest.AuthType, audience: null, http.RequestAborted);
        if (subjectToken is null)
        {
            return Error(StatusCodes.Status400BadRequest, ErrorCodes.InvalidToken, "The subject_token is not a valid, unexpired auth token of this tenant.");
        }

        if (ThumbprintOf(subjectToken) != caller.Thumbprint || !subjectToken.TryGetPayloadValue<string>("agent", out var issuedTo) || issuedTo != agent.Identifier)
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_grant", "The subject_token was issued to another agent, or is bound to another key than the one that signed this request.");
        }

        var (resource, resourceProblem) = await ResourceOfAsync(services, tenant, request.ResourceToken!, http.RequestAborted);
        if (resource is null)
        {
            return Error(StatusCodes.Status400BadRequest, ErrorCodes.InvalidToken, resourceProblem!);
        }

        if (AAuthLevels.NeedsConsent(resource.AuthLevel))
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_grant", "This resource needs a person's consent of its own: ask with request_type auth.");
        }

        var held = subjectToken.TryGetPayloadValue<string>("scope", out var subjectScope) ? subjectScope : string.Empty;
        var asked = request.Scope is { } narrowed ? narrowed[..Math.Min(narrowed.Length, MaxScopeLength)] : held;
        var scope = Grantable(asked, held.Split(' '), agent.AllowedScopes.Intersect(resource.SupportedScopes).ToList());
        if (scope.Length == 0)
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_scope", "No scope of the subject_token is both allowed to the agent and supported by the resource.");
        }

        var lifetime = (int)Math.Min(AuthTokenLifetime, (subjectToken.ValidTo - services.Time.GetUtcNow().UtcDateTime).TotalSeconds);
        if (lifetime < 1)
        {
            return Error(StatusCodes.Status400BadRequest, ErrorCodes.InvalidToken, "The subject_token is about to expire.");
        }

        var actor = subjectToken.TryGetPayloadValue<JsonElement>("act", out var act) && act.ValueKind == JsonValueKind.Object
            && act.TryGetProperty("sub", out var actorSubject) && actorSubject.ValueKind == JsonValueKind.String ? actorSubject.GetString() : null;
        var issued = await SignAsync(services, new AAuthTokenRequest(
            tenant.Id, tenant.Slug, AAuthTokenRequest.AuthType, agent.Identifier, resource.Identifier, caller.Thumbprint, lifetime, NewTokenId())
        {
            Agent = agent.Identifier, Scope = scope, AuthLevel = resource.AuthLevel, Actor = actor,
        }, http.RequestAborted);
        services.Db.AddEvent(Issued(null, agent, resource, "exchange", issued, scope));
        await services.Db.SaveChangesAsync(http.RequestAborted);
        return TypedResults.Ok(new TokenAnswer(issued.Token, "Bearer", lifetime, scope, null));
    }

    /// <summary>
    /// An auth token of a grant: its subject is the person who consented, else the agent itself; a delegate that asked is
    /// the token's actor (<c>act.sub</c>), never its subject.
    /// </summary>
    private static Task<AAuthTokenResponse> SignAsync(
        Services services, AAuthAgent agent, AAuthResource resource, AAuthGrant grant, string scope, CancellationToken cancellationToken)
    {
        var tenant = services.Tenant.Tenant!;
        return SignAsync(services, new AAuthTokenRequest(
            tenant.Id, tenant.Slug, AAuthTokenRequest.AuthType, SubjectOf(grant, agent), resource.Identifier, grant.KeyThumbprint,
            AuthTokenLifetime, NewTokenId())
        {
            Agent = agent.Identifier, Scope = scope, AuthLevel = grant.AuthLevel, Actor = grant.Actor,
        }, cancellationToken);
    }

    private static Ok<TokenAnswer> Answer(AAuthTokenResponse issued, string scope, string? refresh) =>
        TypedResults.Ok(new TokenAnswer(issued.Token, "Bearer", AuthTokenLifetime, scope, refresh));

    /// <summary>A grant's tokens name the person who consented, else the agent itself.</summary>
    private static string SubjectOf(AAuthGrant? grant, AAuthAgent agent) => grant?.UserId?.ToString() ?? agent.Identifier;

    private static AgentAuthTokenIssued Issued(AAuthGrant? grant, AAuthAgent agent, AAuthResource resource, string requestType, AAuthTokenResponse issued, string scope) =>
        new(grant?.Id, agent.Id, resource.Id, requestType, issued.TokenId, SubjectOf(grant, agent), scope, issued.ExpiresAt) { TenantId = agent.TenantId };

    /// <summary>Ends a grant someone holds a copy of (a code or refresh token presented again), with its audit event; whether this call ended it.</summary>
    private static async Task<bool> RevokeAsync(Services services, AAuthGrant grant, string reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var transaction = await services.Db.Database.BeginTransactionAsync(cancellationToken);
        var revoked = await services.Db.AAuthGrants.Where(g => g.Id == grant.Id && g.State != AAuthGrantStates.Revoked).ExecuteUpdateAsync(s => s
            .SetProperty(g => g.State, AAuthGrantStates.Revoked)
            .SetProperty(g => g.RefreshTokenHash, (byte[]?)null)
            .SetProperty(g => g.UpdatedAt, now), cancellationToken);
        if (revoked == 1)
        {
            services.Db.AddEvent(new AgentAuthGrantRevoked(grant.Id, grant.AgentId, reason) { TenantId = grant.TenantId });
            await services.Db.SaveChangesAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return revoked == 1;
    }

    /// <summary>AG-16: what agents and resources need to know of this authorization server.</summary>
    public static IResult Metadata(HttpContext http, TenantContext tenant, IOptions<LumoAuthOptions> lumo)
    {
        var issuer = lumo.Value.IssuerFor(http.Request, tenant.Tenant!);
        var root = issuer[..^"/api/v1".Length];
        http.Response.Headers.CacheControl = "public, max-age=3600";
        return TypedResults.Ok(new Dictionary<string, object>
        {
            ["issuer"] = issuer,
            ["jwks_uri"] = issuer + "/.well-known/jwks.json",
            ["agent_token_endpoint"] = issuer + AgentTokenPath,
            ["resource_token_endpoint"] = issuer + ResourceTokenPath,
            ["authorization_endpoint"] = root + "/aauth/authorize",
            ["request_types_supported"] = RequestTypes,
            ["token_types_supported"] = new[] { "agent+jwt", AAuthTokenRequest.ResourceType, AAuthTokenRequest.AuthType },
            ["auth_levels_supported"] = AAuthLevels.All,
            ["signature_algorithms_supported"] = SigningKeys.MessageAlgorithms,
            ["agent_token_signing_alg_values_supported"] = SigningKeys.TokenAlgorithms,
            ["signature_headers_supported"] = SignatureHeaders,
            ["content_digest_algorithms_supported"] = DigestAlgorithms,
            ["confirmation_methods_supported"] = ConfirmationMethods,
        });
    }

    /// <summary>The consent page's view of a request still waiting for a person.</summary>
    public static async Task<IResult> ConsentViewAsync(string requestId, Guid tenantId, AgentsDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        if (await PendingAsync(db, requestId, tenantId, time.GetUtcNow(), cancellationToken) is not { } grant)
        {
            return ApiErrors.NotFound("AAuth request");
        }

        var agent = await db.AAuthAgents.IgnoreQueryFilters().AsNoTracking().FirstOrDefaultAsync(a => a.Id == grant.AgentId && a.TenantId == tenantId, cancellationToken);
        var resource = await db.AAuthResources.IgnoreQueryFilters().AsNoTracking().FirstOrDefaultAsync(r => r.Id == grant.ResourceId && r.TenantId == tenantId, cancellationToken);
        return agent is null || resource is null
            ? ApiErrors.NotFound("AAuth request")
            : TypedResults.Ok(new AAuthConsentView(requestId, agent.Name, agent.Identifier, resource.Name, resource.Identifier,
                grant.Scope.Split(' ', StringSplitOptions.RemoveEmptyEntries), grant.AuthLevel, grant.PendingUntil!.Value) { RedirectUri = grant.RedirectUri });
    }

    /// <summary>
    /// A person's answer: an approval gives the agent a code (kept as its hash, usable within the consent window); a denial
    /// tells the agent so. Either way the browser goes back to the agent's redirect URI.
    /// </summary>
    public static async Task<IResult> DecideAsync(string requestId, AAuthDecision decision, AgentsDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (await PendingAsync(db, requestId, decision.TenantId, now, cancellationToken) is not { } grant)
        {
            return ApiErrors.NotFound("AAuth request");
        }

        if (decision.Approve && grant.AuthLevel == AAuthLevels.User && decision.AuthenticatedAt < now - PresenceWindow)
        {
            return ApiErrors.Create(StatusCodes.Status409Conflict, "login_required", "This resource needs the person present: sign in again.");
        }

        var code = decision.Approve ? NewSecret(string.Empty) : null;
        byte[]? codeHash = code is null ? null : Hash(code);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var decided = await db.AAuthGrants.IgnoreQueryFilters()
            .Where(g => g.Id == grant.Id && g.TenantId == decision.TenantId && g.State == AAuthGrantStates.Pending)
            .ExecuteUpdateAsync(s => s
                .SetProperty(g => g.State, decision.Approve ? AAuthGrantStates.Approved : AAuthGrantStates.Denied)
                .SetProperty(g => g.UserId, decision.UserId)
                .SetProperty(g => g.CodeHash, codeHash)
                .SetProperty(g => g.PendingUntil, now + ConsentWindow)
                .SetProperty(g => g.UpdatedAt, now), cancellationToken);
        if (decided != 1)
        {
            return ApiErrors.NotFound("AAuth request");
        }

        db.AddEvent(new AgentAuthConsentDecided(grant.Id, grant.AgentId, grant.ResourceId, decision.UserId, decision.Approve, grant.Scope, grant.AuthLevel) { TenantId = decision.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        var query = new Dictionary<string, string?> { [code is null ? "error" : "code"] = code ?? "access_denied", ["state"] = grant.ClientState };
        return TypedResults.Ok(new AAuthDecisionResult(Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString(grant.RedirectUri!, query.Where(p => p.Value is not null))));
    }

    private static async Task<AAuthGrant?> PendingAsync(AgentsDbContext db, string requestId, Guid tenantId, DateTimeOffset now, CancellationToken cancellationToken) =>
        requestId.StartsWith(RequestIdPrefix, StringComparison.Ordinal) && Guid.TryParseExact(requestId[RequestIdPrefix.Length..], "N", out var id)
            ? await db.AAuthGrants.IgnoreQueryFilters().AsNoTracking()
                .FirstOrDefaultAsync(g => g.Id == id && g.TenantId == tenantId && g.State == AAuthGrantStates.Pending && g.PendingUntil > now, cancellationToken)
            : null;

    /// <summary>The registered resource a resource token of this tenant names, or why there is none.</summary>
    private static async Task<(AAuthResource? Resource, string? Problem)> ResourceOfAsync(Services services, TenantInfo tenant, string resourceToken, CancellationToken cancellationToken)
    {
        var token = await ValidateOursAsync(services, tenant, resourceToken, AAuthTokenRequest.ResourceType, audience: services.Lumo.Value.IssuersOf(tenant), cancellationToken);
        if (token is null)
        {
            return (null, "The resource_token is not a valid, unexpired resource token of this tenant.");
        }

        var resource = await services.Db.AAuthResources.AsNoTracking().FirstOrDefaultAsync(r => r.Identifier == token.Subject, cancellationToken);
        return resource is null ? (null, "The resource_token names a resource that is no longer registered.") : (resource, null);
    }

    /// <summary>A token the token service signed for this tenant, of <paramref name="type"/>; null if not, expired, or of another tenant.</summary>
    private static async Task<JsonWebToken?> ValidateOursAsync(
        Services services, TenantInfo tenant, string token, string type, IReadOnlyList<string>? audience, CancellationToken cancellationToken)
    {
        if (token.Length > 16 * 1024 || !Tokens.CanReadToken(token))
        {
            return null;
        }

        var issuers = services.Lumo.Value.IssuersOf(tenant);
        async Task<TokenValidationResult> ValidateAsync(bool refresh) => await Tokens.ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuers = issuers,
            ValidAudiences = audience,
            ValidateAudience = audience is not null,
            IssuerSigningKeys = await services.Jwks.GetKeysAsync(tenant, refresh, cancellationToken),
            ValidTypes = [type],
            ClockSkew = TimeSpan.FromSeconds(30),
            RequireExpirationTime = true,
            RequireSignedTokens = true,
        });
        var result = await ValidateAsync(false);
        if (result.Exception is SecurityTokenSignatureKeyNotFoundException)
        {
            result = await ValidateAsync(true);
        }

        return result.IsValid && result.SecurityToken is JsonWebToken valid
               && valid.TryGetPayloadValue<string>(LumoClaims.TenantId, out var tenantId) && tenantId == tenant.Id.ToString()
            ? valid
            : null;
    }

    /// <summary>A JWT's parts, or null for anything that is not one (IdentityModel throws on some malformed input that passes CanReadToken).</summary>
    private static JsonWebToken? ReadJwt(string token)
    {
        if (token.Length > 16 * 1024 || !Tokens.CanReadToken(token))
        {
            return null;
        }

        try
        {
            return new JsonWebToken(token);
        }
        catch (Exception exception) when (exception is ArgumentException or SecurityTokenMalformedException)
        {
            return null;
        }
    }

    private static string? ThumbprintOf(JsonWebToken token) =>
        token.TryGetPayloadValue<JsonElement>("cnf", out var cnf) && cnf.ValueKind == JsonValueKind.Object && cnf.TryGetProperty("jkt", out var jkt) ? jkt.GetString() : null;

    private static async Task<(SignedCaller? Caller, string? Problem)> SignedByAsync(HttpContext http, Services services, byte[] body, AAuthResource resource)
    {
        var (signature, problem) = services.Callers.Read(http.Request, body);
        if (signature is null)
        {
            return (null, problem);
        }

        // Nothing short-lived rides in a resource's body, so its signature must sign its own time: RFC 9421's headers, not Agent-Auth.
        if (!signature.ParametersSigned)
        {
            return (null, "A resource signs with Signature-Input and Signature (RFC 9421), whose parameters are signed.");
        }

        var keys = await KeysAsync(services, resource.Jwks, resource.JwksUri, AAuthCallers.ResourceMetadataUrl(resource.Identifier), signature.KeyId, http.RequestAborted);
        var (caller, failed) = services.Callers.Verify(http.Request, services.Tenant.Tenant!, signature, keys);
        if (caller is null)
        {
            return (null, failed);
        }

        return await services.Callers.IsFirstUseAsync(services.Tenant.TenantId, caller) ? (caller, null) : (null, "This signature has been used already.");
    }

    /// <summary>A party's keys; fetched again once when a key id is named that the cached set lacks (a rotation).</summary>
    private static async Task<IReadOnlyList<JsonWebKey>> KeysAsync(
        Services services, string? jwks, string? jwksUri, string metadataUrl, string? keyId, CancellationToken cancellationToken)
    {
        var keys = await services.Callers.KeysOfAsync(jwks, jwksUri, metadataUrl, refetch: false, cancellationToken);
        var kid = keyId?.IndexOf('#') is { } hash and >= 0 ? keyId[(hash + 1)..] : null;
        return jwks is null && kid is { Length: > 0 } && keys.All(k => k.Kid != kid)
            ? await services.Callers.KeysOfAsync(jwks, jwksUri, metadataUrl, refetch: true, cancellationToken)
            : keys;
    }

    private static bool VerifiesJws(JsonWebToken token, IReadOnlyList<JsonWebKey> keys)
    {
        if (!SigningKeys.TokenAlgorithms.Contains(token.Alg))
        {
            return false;
        }

        var signed = Encoding.ASCII.GetBytes(token.EncodedHeader + "." + token.EncodedPayload);
        byte[] signature;
        try
        {
            signature = Base64UrlEncoder.DecodeBytes(token.EncodedSignature);
        }
        catch (FormatException)
        {
            return false;
        }

        // One key tried where a kid names it or the set has only one: never every key of a set for one token.
        var candidates = token.Kid is null ? keys : keys.Where(k => k.Kid == token.Kid || (k.Kid is null && keys.Count == 1)).ToList();
        return candidates.Count == 1 && SigningKeys.Verify(candidates[0], token.Alg, signed, signature);
    }

    /// <summary>The scopes asked for that both lists allow, space-separated, in the order asked.</summary>
    private static string Grantable(string asked, IEnumerable<string> allowed, IEnumerable<string> supported)
    {
        var a = allowed.ToHashSet(StringComparer.Ordinal);
        var s = supported.ToHashSet(StringComparer.Ordinal);
        return string.Join(' ', asked.Split(' ', StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).Where(x => a.Contains(x) && s.Contains(x)));
    }

    private static async Task<AAuthTokenResponse> SignAsync(Services services, AAuthTokenRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await services.Http.CreateClient(InternalClients.Token).PostAsJsonAsync(InternalRoutes.AAuthTokens, request, cancellationToken);
            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<AAuthTokenResponse>(cancellationToken)
                ?? throw new DependencyUnavailableException("The token service answered no token.");
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("An AAuth token cannot be signed: the token service cannot be reached.", exception);
        }
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpContext http)
    {
        if (http.Request.ContentLength > MaxBodyBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static T? Parse<T>(byte[] body) where T : class
    {
        try
        {
            return body.Length == 0 ? null : JsonSerializer.Deserialize<T>(body);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Missing(params (string Name, string? Value)[] fields) =>
        fields.Where(f => string.IsNullOrWhiteSpace(f.Value)).Select(f => f.Name).ToList() is { Count: > 0 } missing
            ? "Missing: " + string.Join(", ", missing) + "."
            : null;

    private static string? BearerValue(HttpRequest request) =>
        request.Headers.Authorization.ToString() is { } header && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;

    private static IResult Error(int status, string code, string description) => ApiErrors.Create(status, code, description);

    private static string NewSecret(string prefix) => prefix + Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));

    private static string NewTokenId() => Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(18));

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));
}
