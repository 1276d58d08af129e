using System.Buffers;
using System.Text;
using System.Text.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Protocol;
using Microsoft.IdentityModel.JsonWebTokens;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Jit;

/// <summary>
/// Signs the access tokens of approved JIT requests for the agents service, which judged them: RFC 9068 JWTs with the
/// tenant's key and issuer, so introspection and every service's bearer check take them like any other access token (and
/// honour their revocation by <c>jti</c>). The subject is the agent's task (the docs' "ephemeral persona"); the token
/// carries the request's <c>authorization_details</c> (RFC 9396), and no scope unless it came by token exchange (the
/// scope-based design, <see cref="Token.JitTaskExchange"/>).
/// </summary>
public static class JitTokenClaims
{
    /// <summary><c>true</c> in every JIT token.</summary>
    public const string Jit = "jit";
}

public static class JitTokenEndpoints
{
    private static readonly JsonWebTokenHandler Tokens = new() { SetDefaultTimesOnTokenCreation = false };
    private static readonly Dictionary<string, object> Header = new(StringComparer.Ordinal) { ["typ"] = JsonWebTokenTypes.AccessToken };

    /// <summary>A <c>jti</c> another service chose for a token signed here (JIT, AAuth): 16 to 64 URL-safe characters.</summary>
    public static bool IsTokenId(string? id) => id is { Length: >= 16 and <= 64 } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    public static IEndpointRouteBuilder MapJitTokenEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost(InternalRoutes.JitTokens, IssueAsync).RequireAuthorization(Policies.Internal).WithName("InternalIssueJitToken").WithTags("Internal");
        return app;
    }

    public static async Task<IResult> IssueAsync(
        JitTokenRequest request, HttpContext http, TenantDirectory tenants, TenantServerOptionsMonitor serverOptions, TimeProvider time, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator()
            .Required("tenantSlug", request.TenantSlug)
            .Required("taskId", request.TaskId)
            .Required("requestId", request.RequestId)
            .Check(IsTokenId(request.TokenId), "tokenId", "must be 16 to 64 URL-safe characters")
            .Check(request.LifetimeSeconds is > 0 and <= JitTokenRequest.MaxLifetimeSeconds, "lifetimeSeconds", $"must be 1 to {JitTokenRequest.MaxLifetimeSeconds}")
            .Check(request.AuthorizationDetails is { ValueKind: JsonValueKind.Array } details && details.GetArrayLength() > 0, "authorizationDetails", "must be a non-empty array");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        if (await tenants.FindAsync(request.TenantId, request.TenantSlug, cancellationToken) is not { } tenant)
        {
            return ApiErrors.NotFound("Tenant");
        }

        var options = await serverOptions.PinForRequestAsync(http, tenant);
        var (token, expiresAt) = Sign(request, tenant, options, time);
        return TypedResults.Ok(new JitTokenResponse(token, request.TokenId, expiresAt));
    }

    /// <summary>
    /// The JIT access token for a request the agents service judged and recorded: shared by its own fetch
    /// (<see cref="IssueAsync"/>) and by a token exchange naming <c>jit_task_id</c>, which adds the approved scopes.
    /// </summary>
    public static (string Token, DateTimeOffset ExpiresAt) Sign(JitTokenRequest request, TenantInfo tenant, OpenIddict.Server.OpenIddictServerOptions options, TimeProvider time)
    {
        var issuer = options.Issuer!.AbsoluteUri;
        var issuedAt = time.GetUtcNow().ToUnixTimeSeconds();
        var expiresAt = issuedAt + request.LifetimeSeconds;
        var tokenId = request.TokenId;
        var agent = request.AgentId.ToString();

        var payload = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(payload))
        {
            json.WriteStartObject();
            json.WriteString(Claims.Issuer, issuer);
            json.WriteNumber(Claims.ExpiresAt, expiresAt);
            json.WriteNumber(Claims.IssuedAt, issuedAt);
            json.WriteString(Claims.Audience, issuer);
            json.WriteString(Claims.JwtId, tokenId);
            json.WriteString(Claims.Subject, $"agent:{agent}:task:{request.TaskId}");
            json.WriteString(LumoClaims.TenantId, tenant.Id.ToString());
            json.WriteString(LumoClaims.Tenant, tenant.Slug);
            // The agent is its client: the deny-list's per-client cut-off voids all of an agent's JIT tokens at once (its
            // deletion). No oi_prst: presenters name OAuth clients, which introspection looks up, and an agent is none.
            json.WriteString(Claims.ClientId, agent);
            json.WriteString(LumoClaims.AgentId, agent);
            json.WriteString("task_id", request.TaskId);
            // The docs' claim: null for a top-level task, else the task this one was opened within.
            if (request.ParentTaskId is { Length: > 0 } parent)
            {
                json.WriteString("parent_task_id", parent);
            }
            else
            {
                json.WriteNull("parent_task_id");
            }

            json.WriteString("jit_request_id", request.RequestId);
            json.WriteBoolean(JitTokenClaims.Jit, true);
            if (request.OnBehalfOf is { Length: > 0 } principal)
            {
                json.WriteString("on_behalf_of", principal);
            }

            if (request.Scopes is { Count: > 0 } scopes)
            {
                json.WriteString(Claims.Scope, string.Join(' ', scopes));
            }

            json.WritePropertyName("authorization_details");
            request.AuthorizationDetails.WriteTo(json);
            json.WriteEndObject();
        }

        var token = Tokens.CreateToken(Encoding.UTF8.GetString(payload.WrittenSpan), options.SigningCredentials[0], Header);
        return (token, DateTimeOffset.FromUnixTimeSeconds(expiresAt));
    }
}
