using System.Buffers;
using System.Text;
using System.Text.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Jit;
using LumoAuth.Token.Protocol;
using Microsoft.IdentityModel.JsonWebTokens;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.AAuth;

/// <summary>
/// Signs AAuth tokens for the agents service, which runs the protocol and judged the request: resource tokens
/// (<c>resource+jwt</c>) and auth tokens (<c>auth+jwt</c>), with the tenant's key and issuer, each bound to the key whose
/// RFC 7638 thumbprint it carries in <c>cnf.jkt</c>. Their <c>typ</c> keeps them apart from access tokens: the bearer
/// checks and introspection take <c>at+jwt</c> only, so neither kind is ever a bearer token at our APIs.
/// </summary>
public static class AAuthTokenEndpoints
{
    private const int MaxClaimLength = 2000;

    private static readonly JsonWebTokenHandler Tokens = new() { SetDefaultTimesOnTokenCreation = false };
    private static readonly Dictionary<string, object> ResourceHeader = new(StringComparer.Ordinal) { ["typ"] = AAuthTokenRequest.ResourceType };
    private static readonly Dictionary<string, object> AuthHeader = new(StringComparer.Ordinal) { ["typ"] = AAuthTokenRequest.AuthType };

    public static IEndpointRouteBuilder MapAAuthTokenEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost(InternalRoutes.AAuthTokens, IssueAsync).RequireAuthorization(Policies.Internal).WithName("InternalIssueAAuthToken").WithTags("Internal");
        return app;
    }

    public static async Task<IResult> IssueAsync(
        AAuthTokenRequest request, HttpContext http, TenantDirectory tenants, TenantServerOptionsMonitor serverOptions, TimeProvider time, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator()
            .Required("tenantSlug", request.TenantSlug)
            .Check(request.Type is AAuthTokenRequest.ResourceType or AAuthTokenRequest.AuthType, "type",
                $"must be {AAuthTokenRequest.ResourceType} or {AAuthTokenRequest.AuthType}")
            .Required("subject", request.Subject, MaxClaimLength)
            .Required("audience", request.Audience, MaxClaimLength)
            .Check(DPoPBinding.IsThumbprint(request.KeyThumbprint), "keyThumbprint", "must be an RFC 7638 SHA-256 thumbprint (43 base64url characters)")
            .Check(JitTokenEndpoints.IsTokenId(request.TokenId), "tokenId", "must be 16 to 64 URL-safe characters")
            .Check(request.LifetimeSeconds is > 0 and <= AAuthTokenRequest.MaxLifetimeSeconds, "lifetimeSeconds", $"must be 1 to {AAuthTokenRequest.MaxLifetimeSeconds}")
            .Optional("agent", request.Agent, MaxClaimLength)
            .Optional("scope", request.Scope, MaxClaimLength)
            .Optional("actor", request.Actor, MaxClaimLength)
            .Check(request.AuthLevel is null || AAuthTokenRequest.AuthLevels.Contains(request.AuthLevel), "authLevel", $"must be one of {string.Join(", ", AAuthTokenRequest.AuthLevels)}");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        if (await tenants.FindAsync(request.TenantId, request.TenantSlug, cancellationToken) is not { } tenant)
        {
            return ApiErrors.NotFound("Tenant");
        }

        var options = await serverOptions.PinForRequestAsync(http, tenant);
        var issuer = options.Issuer!.AbsoluteUri;
        var issuedAt = time.GetUtcNow().ToUnixTimeSeconds();
        var expiresAt = issuedAt + request.LifetimeSeconds;
        var isAuthToken = request.Type == AAuthTokenRequest.AuthType;

        var payload = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(payload))
        {
            json.WriteStartObject();
            json.WriteString(Claims.Issuer, issuer);
            json.WriteString(Claims.Subject, request.Subject);
            json.WriteString(Claims.Audience, request.Audience);
            json.WriteNumber(Claims.IssuedAt, issuedAt);
            json.WriteNumber(Claims.ExpiresAt, expiresAt);
            json.WriteString(Claims.JwtId, request.TokenId);
            json.WriteString(LumoClaims.TenantId, tenant.Id.ToString());
            json.WriteString(LumoClaims.Tenant, tenant.Slug);
            json.WriteStartObject(Claims.Confirmation);
            json.WriteString("jkt", request.KeyThumbprint);
            json.WriteEndObject();
            if (request.Agent is { Length: > 0 } agent)
            {
                // An auth token is issued to the agent, its client; a resource token only names the agent that asked for it
                // (no client_id, which would make it look issued to someone).
                if (isAuthToken)
                {
                    json.WriteString(Claims.ClientId, agent);
                }

                json.WriteString("agent", agent);
            }

            if (request.Scope is { Length: > 0 } scope)
            {
                json.WriteString(Claims.Scope, scope);
            }

            if (request.Actor is { Length: > 0 } actor)
            {
                // RFC 8693 §4.1: who acts for the subject (a delegate of the agent).
                json.WriteStartObject("act");
                json.WriteString(Claims.Subject, actor);
                json.WriteEndObject();
            }

            if (request.AuthLevel is { Length: > 0 } level)
            {
                json.WriteString("auth_level", level);
            }

            json.WriteEndObject();
        }

        var token = Tokens.CreateToken(Encoding.UTF8.GetString(payload.WrittenSpan), options.SigningCredentials[0], isAuthToken ? AuthHeader : ResourceHeader);
        return TypedResults.Ok(new AAuthTokenResponse(token, request.TokenId, DateTimeOffset.FromUnixTimeSeconds(expiresAt), issuer));
    }
}
