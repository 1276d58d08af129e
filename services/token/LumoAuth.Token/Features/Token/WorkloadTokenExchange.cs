using System.Buffers;
using System.Security.Claims;
using System.Text.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Protocol;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Token;

/// <summary>
/// Workload identity federation (the docs' <c>agents/workload-federation</c>): an agent running on Kubernetes, AWS,
/// Google Cloud, Azure or under any OpenID Connect issuer exchanges the token its platform gave it
/// (<c>subject_token_type=…:jwt</c>, <c>subject_issuer</c> naming the platform) for an access token of its OAuth client,
/// without a secret. The token must be signed by the issuer's keys, be current, name the audience the agent expects, and
/// carry the claims that pin the agent's workload (<see cref="WorkloadTrust"/>, from the agents service). The access
/// token is the client's own, as a client-credentials one (so the agent endpoints, delegation and introspection treat it
/// alike), with the agent's id and the workload's name, and lives no longer than the workload token. Requests of another
/// shape go on to OpenIddict, whose token exchange is delegation between our own tokens.
/// </summary>
public sealed partial class WorkloadTokenExchange(
    RequestDelegate next,
    AgentDirectory agents,
    OpenIdProviders issuers,
    ClientCache clients,
    TenantServerOptionsMonitor serverOptions,
    EventBatcher<TokenDbContext> batcher,
    TimeProvider time,
    ILogger<WorkloadTokenExchange> logger)
{
    public const string JwtTokenType = "urn:ietf:params:oauth:token-type:jwt";
    public const string SubjectIssuerParameter = "subject_issuer";
    public const string Failed = "workload_identity_failed";

    /// <summary>Platform tokens are a few kilobytes; anything far larger is not one.</summary>
    public const int MaxSubjectTokenLength = 16 * 1024;

    /// <summary>Claims that name the agent and the workload it proved to be, beside the client's.</summary>
    public const string WorkloadIdentityClaim = "workload_identity";

    private static readonly PathString TokenPath = new("/oauth/token");

    /// <summary>Parameters a workload exchange does not take: it is its own client authentication, names no actor, and issues for the tenant's API only.</summary>
    private static readonly (string Name, string Error, string Description)[] Refused =
    [
        (Parameters.ClientSecret, Errors.InvalidRequest, "A workload token stands for the client's authentication: send no client_secret."),
        (Parameters.ClientAssertion, Errors.InvalidRequest, "A workload token stands for the client's authentication: send no client_assertion."),
        (Parameters.ClientAssertionType, Errors.InvalidRequest, "A workload token stands for the client's authentication: send no client_assertion."),
        (Parameters.ActorToken, Errors.InvalidRequest, "A workload token is exchanged without an actor_token."),
        (Parameters.ActorTokenType, Errors.InvalidRequest, "A workload token is exchanged without an actor_token."),
        (Parameters.Resource, Errors.InvalidTarget, "A workload exchange issues tokens for the tenant's API only: send no resource."),
        (Parameters.Audience, Errors.InvalidTarget, "A workload exchange issues tokens for the tenant's API only: send no audience."),
    ];

    private static readonly JsonWebTokenHandler Handler = new() { MapInboundClaims = false };

    /// <summary>
    /// Per tenant and client address: a workload exchanges its token about once per token lifetime, so this is plenty
    /// for a cluster behind one address, and bounds what an anonymous caller makes this service ask the agents service.
    /// </summary>
    private readonly System.Threading.RateLimiting.PartitionedRateLimiter<string> _limiter =
        System.Threading.RateLimiting.PartitionedRateLimiter.Create<string, string>(key => System.Threading.RateLimiting.RateLimitPartition.GetFixedWindowLimiter(
            key, _ => new System.Threading.RateLimiting.FixedWindowRateLimiterOptions { PermitLimit = 300, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));

    public async Task InvokeAsync(HttpContext http, TenantContext tenantContext)
    {
        if (tenantContext.Tenant is not { } tenant
            || !HttpMethods.IsPost(http.Request.Method)
            || !http.Request.Path.Equals(TokenPath, StringComparison.Ordinal)
            || !http.Request.HasFormContentType)
        {
            await next(http);
            return;
        }

        IFormCollection form;
        try
        {
            form = await http.Request.ReadFormAsync(http.RequestAborted);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or BadHttpRequestException)
        {
            await next(http);
            return;
        }

        // A client that authenticates and names no platform meant a delegation with the wrong token type (OpenIddict's
        // answer, unsupported_token_type, is the one it needs); a client (it names itself, however it authenticates, mutual
        // TLS included) naming another subject_issuer means an outside provider's ID token, for ExternalSubjectExchange.
        var authenticates = http.Request.Headers.Authorization.Count > 0 || form.ContainsKey(Parameters.ClientSecret) || form.ContainsKey(Parameters.ClientAssertion);
        var subjectIssuer = form[SubjectIssuerParameter].ToString();
        var isPlatform = WorkloadProviders.All.Contains(subjectIssuer, StringComparer.Ordinal);
        if (form[Parameters.GrantType] != GrantTypes.TokenExchange || form[Parameters.SubjectTokenType] != JwtTokenType
            || (authenticates && subjectIssuer.Length == 0) || ((authenticates || form.ContainsKey(Parameters.ClientId)) && subjectIssuer.Length > 0 && !isPlatform))
        {
            await next(http);
            return;
        }

        IResult answer;
        try
        {
            answer = await ExchangeAsync(http, tenant, form);
        }
        catch (DependencyUnavailableException exception)
        {
            LogUnavailable(logger, tenant.Id, exception.Message);
            answer = ProtocolErrors.Json(Errors.TemporarilyUnavailable, "The agents cannot be looked up right now; try again.", StatusCodes.Status503ServiceUnavailable);
        }

        await answer.ExecuteAsync(http);
    }

    private async Task<IResult> ExchangeAsync(HttpContext http, TenantInfo tenant, IFormCollection form)
    {
        using var lease = _limiter.AttemptAcquire($"{tenant.Id:N}|{http.Connection.RemoteIpAddress}");
        if (!lease.IsAcquired)
        {
            http.Response.Headers.RetryAfter = "60";
            return ProtocolErrors.Json("rate_limit_exceeded", "Too many workload token exchanges from this address; try again in a minute.", StatusCodes.Status429TooManyRequests);
        }

        if (form.FirstOrDefault(f => f.Value.Count > 1) is { Key: { } repeated })
        {
            return ProtocolErrors.Json(Errors.InvalidRequest, $"The parameter '{repeated}' is repeated.");
        }

        if (http.Request.Headers.Authorization.Count > 0)
        {
            return ProtocolErrors.Json(Errors.InvalidRequest, "A workload token stands for the client's authentication: send no Authorization header.");
        }

        if (Refused.FirstOrDefault(r => form.ContainsKey(r.Name)) is { Name: not null } refused)
        {
            return ProtocolErrors.Json(refused.Error, refused.Description);
        }

        if (http.Request.Headers.ContainsKey(DPoPProofValidator.HeaderName))
        {
            return ProtocolErrors.Json(Errors.InvalidRequest, "DPoP-bound tokens are not issued for workload tokens: send no DPoP proof.");
        }

        if (form[Parameters.RequestedTokenType] is { Count: 1 } requestedType && requestedType != TokenTypeIdentifiers.AccessToken)
        {
            return ProtocolErrors.Json(Errors.InvalidRequest, "Only access tokens (urn:ietf:params:oauth:token-type:access_token) are issued for workload tokens.");
        }

        var provider = form[SubjectIssuerParameter].ToString();
        if (provider.Length == 0)
        {
            return ProtocolErrors.Json(Errors.InvalidRequest, "subject_issuer is required with a workload token: kubernetes, aws, gcp, azure or oidc.");
        }

        if (!WorkloadProviders.All.Contains(provider))
        {
            return ProtocolErrors.Json(Errors.InvalidRequest, $"subject_issuer must be one of {string.Join(", ", WorkloadProviders.All)}.");
        }

        var subjectToken = form[Parameters.SubjectToken].ToString();
        if (subjectToken.Length is 0 or > MaxSubjectTokenLength)
        {
            return ProtocolErrors.Json(Errors.InvalidRequest, $"subject_token is required: the platform's JWT, at most {MaxSubjectTokenLength} characters.");
        }

        JsonWebToken unverified;
        try
        {
            unverified = new JsonWebToken(subjectToken);
        }
        catch (ArgumentException)
        {
            return Refuse(tenant, provider, null, "not a JWT", "The subject token is not a signed JWT.");
        }

        if (!OpenIdProviders.AsymmetricAlgorithms.Contains(unverified.Alg))
        {
            return Refuse(tenant, provider, null, "not asymmetric", "The subject token is not signed with an asymmetric algorithm (RS, PS or ES).");
        }

        var issuer = unverified.Issuer;
        if (string.IsNullOrEmpty(issuer) || issuer.Length > 500)
        {
            return Refuse(tenant, provider, null, "no issuer", "The subject token names no issuer.");
        }

        var trusts = await agents.WorkloadTrustsAsync(tenant.Id, provider, issuer, http.RequestAborted);
        if (trusts.Count == 0)
        {
            return Refuse(tenant, provider, issuer, "no agent trusts the issuer", "No agent of this tenant answers to workload tokens of this issuer.");
        }

        var (verified, keySet, problem) = await VerifyAsync(subjectToken, issuer, unverified.Kid, trusts, http.RequestAborted);
        if (verified is null)
        {
            return problem == Unavailable
                ? ProtocolErrors.Json(Errors.TemporarilyUnavailable, "The issuer's signing keys cannot be fetched right now; try again.", StatusCodes.Status503ServiceUnavailable)
                : Refuse(tenant, provider, issuer, problem!, problem!);
        }

        // Only the trusts of the key set that verified the token: an agent naming a key set of its own cannot vouch for
        // tokens that claim another agent's workload.
        var matching = trusts.Where(t => t.JwksUri == keySet && Matches(verified, t)).Take(2).ToList();
        if (matching.Count != 1)
        {
            return Refuse(tenant, provider, issuer, "no agent matches the claims", "No agent of this tenant answers to this workload (its subject and audience).");
        }

        var trust = matching[0];
        if (!trust.IsActive || await clients.GetAsync(tenant, trust.ClientId, http.RequestAborted) is not { Application.IsActive: true } client)
        {
            return Refuse(tenant, provider, issuer, "agent disabled", "The agent of this workload is disabled.");
        }

        if (form[Parameters.ClientId] is { Count: 1 } namedClient && namedClient != trust.ClientId)
        {
            return ProtocolErrors.Json(Errors.InvalidRequest, "The workload token belongs to another client than the client_id named.");
        }

        if (client.Settings.DpopBoundAccessTokens)
        {
            return ProtocolErrors.Json(Errors.InvalidRequest, "The agent's client is held to DPoP-bound tokens, which workload tokens do not get.");
        }

        if (!client.Profile.TryGrant(form.ContainsKey(Parameters.Scope) ? form[Parameters.Scope].ToString() : null, out var scopes))
        {
            return ProtocolErrors.Json(Errors.InvalidScope, "The agent's client does not hold every scope asked for.");
        }

        var verdict = await AgentTokenGate.PassAsync(agents, tenant.Id, trust.ClientId, http);
        if (!verdict.Allowed)
        {
            return AgentTokenGate.Answer(verdict, http.Response);
        }

        await IssueAsync(http, tenant, trust, verdict.AgentName, client.Profile.AccessTokenLifetimeSeconds, scopes, verified.ValidTo);
        return Results.Empty;
    }

    private const string Unavailable = "keys unavailable";

    /// <summary>Checks the signature, issuer, lifetime and audience against the keys of each key set the trusts name.</summary>
    private async Task<(JsonWebToken? Token, string? KeySet, string? Problem)> VerifyAsync(
        string subjectToken, string issuer, string? kid, IReadOnlyList<WorkloadTrust> trusts, CancellationToken cancellationToken)
    {
        var parameters = new TokenValidationParameters
        {
            ValidIssuer = issuer,
            ValidAudiences = trusts.Select(t => t.Audience).Distinct(StringComparer.Ordinal).ToList(),
            ValidAlgorithms = OpenIdProviders.AsymmetricAlgorithms,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            // No ValidTypes: platforms write "JWT" or no typ at all.
            ClockSkew = TimeSpan.FromMinutes(1),
        };

        string? problem = null;
        foreach (var jwksUri in trusts.Select(t => t.JwksUri).Distinct(StringComparer.Ordinal))
        {
            var keys = await issuers.KeysForAsync(issuer, jwksUri, kid, cancellationToken);

            if (keys is null)
            {
                problem ??= Unavailable;
                continue;
            }

            parameters.IssuerSigningKeys = keys;
            var result = await Handler.ValidateTokenAsync(subjectToken, parameters);
            if (result.IsValid && result.SecurityToken is JsonWebToken token)
            {
                return (token, jwksUri, null);
            }

            problem = Describe(result.Exception);
        }

        return (null, null, problem);
    }

    private static string Describe(Exception? exception) => exception switch
    {
        SecurityTokenExpiredException => "The subject token has expired.",
        SecurityTokenNotYetValidException => "The subject token is not valid yet.",
        SecurityTokenNoExpirationException => "The subject token has no expiry: only bound, expiring platform tokens are taken.",
        SecurityTokenInvalidAudienceException => "The subject token's audience is not one an agent of this tenant expects.",
        SecurityTokenInvalidIssuerException => "The subject token's issuer does not match.",
        SecurityTokenInvalidAlgorithmException => "The subject token is not signed with an asymmetric algorithm (RS, PS or ES).",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "The subject token's signature does not verify with the issuer's keys.",
        _ => "The subject token cannot be verified.",
    };

    /// <summary>Whether the verified token is the trust's workload: its audience, and every pinned claim.</summary>
    private static bool Matches(JsonWebToken token, WorkloadTrust trust) =>
        token.Audiences.Contains(trust.Audience, StringComparer.Ordinal)
        && trust.Rules.All(rule => rule.Claims.Any(name => token.TryGetClaim(name, out var claim) && Holds(claim, rule.Value)));

    private static bool Holds(Claim claim, string value) =>
        string.Equals(claim.Value, value, claim.ValueType == ClaimValueTypes.Boolean ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    private async Task IssueAsync(HttpContext http, TenantInfo tenant, WorkloadTrust trust, string? agentName, int clientLifetime, string[] scopes, DateTime subjectExpiresAt)
    {
        var options = serverOptions.ForRequest(http);
        var issuer = options.Issuer!.AbsoluteUri;
        var now = time.GetUtcNow();
        // Never longer than the workload token it came from: a stolen platform token near its end buys no more.
        var remaining = (long)(new DateTimeOffset(subjectExpiresAt, TimeSpan.Zero) - now).TotalSeconds;
        var lifetime = Math.Clamp(remaining, 1, clientLifetime);
        var tokenId = TokenIds.New();
        var scope = string.Join(' ', scopes);

        var payload = new ArrayBufferWriter<byte>(640);
        using (var json = new Utf8JsonWriter(payload))
        {
            json.WriteStartObject();
            ClientCredentialsFastPath.WriteClientTokenClaims(json, issuer, issuer, now.ToUnixTimeSeconds(), lifetime, scope, tokenId, trust.ClientId, tenant);
            json.WriteString(LumoClaims.AgentId, trust.AgentId.ToString());
            if (agentName is not null)
            {
                json.WriteString(LumoClaims.AgentName, agentName);
            }

            json.WriteString(WorkloadIdentityClaim, trust.Identity);
            json.WriteEndObject();
        }

        var accessToken = ClientCredentialsFastPath.Sign(payload.WrittenSpan, options.SigningCredentials[0]);
        RecordAccessTokenIssued.Record(
            batcher, http, RecordAccessTokenIssued.DirectPath, trust.ClientId, GrantTypes.TokenExchange, trust.ClientId, tokenId, scopes, tenant.Id);
        LogExchanged(logger, tenant.Id, trust.AgentId, trust.Identity);
        await ClientCredentialsFastPath.WriteResponseAsync(http.Response, accessToken, lifetime, scope.Length > 0 ? scope : null, TokenTypeIdentifiers.AccessToken);
    }

    /// <summary>The documented 401 <c>workload_identity_failed</c>; the reason is logged with the tenant and issuer (never the token).</summary>
    private IResult Refuse(TenantInfo tenant, string provider, string? issuer, string reason, string description)
    {
        LogRefused(logger, tenant.Id, provider, issuer, reason);
        return ProtocolErrors.Json(Failed, description, StatusCodes.Status401Unauthorized);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Workload token refused for tenant {TenantId} ({Provider}, issuer {Issuer}): {Reason}")]
    private static partial void LogRefused(ILogger logger, Guid tenantId, string provider, string? issuer, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Workload token of {Workload} exchanged for agent {AgentId} of tenant {TenantId}")]
    private static partial void LogExchanged(ILogger logger, Guid tenantId, Guid agentId, string workload);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Workload exchange for tenant {TenantId} cannot look agents up: {Problem}")]
    private static partial void LogUnavailable(ILogger logger, Guid tenantId, string problem);
}
