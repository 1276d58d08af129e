using System.Buffers;
using System.Text;
using System.Text.Json;
using LumoAuth.ServiceDefaults;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Protocol;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Token;

/// <summary>
/// The token endpoint's hot path. A plain client-credentials request — form body with only <c>grant_type</c>,
/// <c>scope</c> and the client's id and secret (<c>client_secret_basic</c> or <c>_post</c>), from an
/// active, confidential client whose secret matches and who holds every requested scope — is answered here
/// with the token and response OpenIddict issues for it (same header, claims, lifetime, audit event), without
/// OpenIddict's generic pipeline, which costs several times the signature itself. Anything else passes on
/// untouched: other grants and parameters, client assertions, unknown or deactivated clients, wrong
/// secrets, scopes not held, DPoP proofs, client certificates (mutual TLS). So every refusal, and every case not listed here, still comes from OpenIddict.
/// <c>ClientCredentialsFastPathTests</c> compares both paths' output.
/// </summary>
public sealed class ClientCredentialsFastPath(
    RequestDelegate next,
    ClientCache clients,
    TenantServerOptionsMonitor serverOptions,
    EventBatcher<TokenDbContext> batcher,
    TimeProvider time)
{
    private const string FormContentType = "application/x-www-form-urlencoded";
    private const int MaxClientIdLength = 200;
    private static readonly PathString TokenPath = new("/oauth/token");
    private static readonly JsonWebTokenHandler Tokens = new() { SetDefaultTimesOnTokenCreation = false };
    private static readonly Dictionary<string, object> AccessTokenHeader = new(StringComparer.Ordinal) { ["typ"] = JsonWebTokenTypes.AccessToken };

    public async Task InvokeAsync(HttpContext http, TenantContext tenantContext)
    {
        var request = http.Request;
        if (tenantContext.Tenant is not { } tenant
            || !HttpMethods.IsPost(request.Method)
            || !request.Path.Equals(TokenPath, StringComparison.Ordinal)
            || !string.Equals(request.ContentType, FormContentType, StringComparison.OrdinalIgnoreCase)
            || request.Headers.ContainsKey(DPoPProofValidator.HeaderName)
            || http.Connection.ClientCertificate is not null
            || !await TryIssueAsync(http, tenant))
        {
            await next(http);
        }
    }

    private async Task<bool> TryIssueAsync(HttpContext http, TenantInfo tenant)
    {
        IFormCollection form;
        try
        {
            // Buffered in the form feature: if this path declines, OpenIddict reads the same form again.
            form = await http.Request.ReadFormAsync(http.RequestAborted);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or BadHttpRequestException)
        {
            return false;
        }

        if (!TryReadRequest(http.Request, form, out var clientId, out var secret, out var scope)
            // An agent's client passes the agent's allow-list and budget first (AgentTokenGate, in the pipeline).
            || AgentDirectory.IsAgentClient(clientId)
            || await clients.GetAsync(tenant, clientId, http.RequestAborted) is not { Profile.CanUseClientCredentials: true } client
            // A client held to another method is refused by the pipeline (RegisteredClientAuthentication).
            || !client.Profile.AcceptsSecret(basicHeader: http.Request.Headers.Authorization.Count > 0)
            || !ClientSecrets.Verify(secret, client.Application.ClientSecret!)
            || !client.Profile.TryGrant(scope, out var scopes))
        {
            return false;
        }

        var options = serverOptions.ForRequest(http);
        var issuer = options.Issuer!.AbsoluteUri;
        // The tenant's own API is the audience, as for every token of the tenant (see TokenEndpoints).
        var audience = issuer;
        var issuedAt = time.GetUtcNow().ToUnixTimeSeconds();
        var lifetime = client.Profile.AccessTokenLifetimeSeconds;
        var tokenId = TokenIds.New();
        var scopeClaim = string.Join(' ', scopes);

        var payload = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(payload))
        {
            json.WriteStartObject();
            WriteClientTokenClaims(json, issuer, audience, issuedAt, lifetime, scopeClaim, tokenId, clientId, tenant);
            json.WriteEndObject();
        }

        var accessToken = Sign(payload.WrittenSpan, options.SigningCredentials[0]);
        RecordAccessTokenIssued.Record(
            batcher, http, RecordAccessTokenIssued.DirectPath, clientId, GrantTypes.ClientCredentials, clientId, tokenId, scopes, tenant.Id);

        // The granted scope is always named, as by the pipeline (AlwaysNameTheGrantedScope).
        await WriteResponseAsync(http.Response, accessToken, lifetime, scopes.Length > 0 ? scopeClaim : null);
        return true;
    }

    /// <summary>
    /// The claims, in the order, of OpenIddict's client-credentials access token, whose subject is the client (oi_prst:
    /// its presenters claim, which its introspection reads); a caller may add its own before ending the object.
    /// </summary>
    public static void WriteClientTokenClaims(
        Utf8JsonWriter json, string issuer, string audience, long issuedAt, long lifetime, string scope, string tokenId, string clientId, TenantInfo tenant)
    {
        json.WriteString(Claims.Issuer, issuer);
        json.WriteNumber(Claims.ExpiresAt, issuedAt + lifetime);
        json.WriteNumber(Claims.IssuedAt, issuedAt);
        json.WriteString(Claims.Audience, audience);
        if (scope.Length > 0)
        {
            json.WriteString(Claims.Scope, scope);
        }

        json.WriteString(Claims.JwtId, tokenId);
        json.WriteString(Claims.Subject, clientId);
        json.WriteString(LumoClaims.TenantId, tenant.Id.ToString());
        json.WriteString(LumoClaims.Tenant, tenant.Slug);
        json.WriteString(Claims.Private.Presenter, clientId);
        json.WriteString(Claims.ClientId, clientId);
    }

    /// <summary>Signs an access token (RFC 9068 header) with the tenant's current key.</summary>
    public static string Sign(ReadOnlySpan<byte> payload, Microsoft.IdentityModel.Tokens.SigningCredentials credentials) =>
        Tokens.CreateToken(Encoding.UTF8.GetString(payload), credentials, AccessTokenHeader);

    /// <summary>Reads a request of exactly the shape this path serves; false for anything else.</summary>
    private static bool TryReadRequest(HttpRequest request, IFormCollection form, out string clientId, out string secret, out string? scope)
    {
        clientId = secret = string.Empty;
        scope = null;
        var fields = 0;
        if (!Single(form, Parameters.GrantType, ref fields, out var grantType) || grantType != GrantTypes.ClientCredentials)
        {
            return false;
        }

        if (form.ContainsKey(Parameters.Scope) && !Single(form, Parameters.Scope, ref fields, out scope))
        {
            return false;
        }

        var authorization = request.Headers.Authorization;
        if (authorization.Count > 0)
        {
            if (!TryReadBasic(authorization, out clientId, out secret))
            {
                return false;
            }
        }
        else if (!Single(form, Parameters.ClientId, ref fields, out clientId!) || !Single(form, Parameters.ClientSecret, ref fields, out secret!))
        {
            return false;
        }

        // Any other field (resource, audience, client_assertion, a second credential…) is OpenIddict's to judge.
        return fields == form.Count && clientId.Length is > 0 and <= MaxClientIdLength && secret.Length > 0;
    }

    private static bool Single(IFormCollection form, string name, ref int fields, out string? value)
    {
        value = form.TryGetValue(name, out var values) && values.Count == 1 ? values[0] : null;
        if (value is null)
        {
            return false;
        }

        fields++;
        return true;
    }

    /// <summary>
    /// <c>Basic base64(id:secret)</c>. Ids and secrets that would need RFC 6749 §2.3.1's form-decoding (any
    /// <c>%</c> or <c>+</c>) are left to OpenIddict; ours never contain them.
    /// </summary>
    private static bool TryReadBasic(StringValues header, out string clientId, out string secret) =>
        BasicCredentials.TryRead(header, out clientId, out secret)
        && clientId.AsSpan().IndexOfAny('%', '+') < 0 && secret.AsSpan().IndexOfAny('%', '+') < 0;

    /// <summary>The JSON token response (RFC 6749 §5.1) with OpenIddict's headers; a token exchange names the issued type (RFC 8693 §2.2.1).</summary>
    public static async Task WriteResponseAsync(HttpResponse response, string accessToken, long expiresIn, string? scope, string? issuedTokenType = null)
    {
        var body = new ArrayBufferWriter<byte>(accessToken.Length + 128);
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteString(Parameters.AccessToken, accessToken);
            if (issuedTokenType is not null)
            {
                json.WriteString(Parameters.IssuedTokenType, issuedTokenType);
            }
            json.WriteString(Parameters.TokenType, TokenTypes.Bearer);
            json.WriteNumber(Parameters.ExpiresIn, expiresIn);
            if (scope is not null)
            {
                json.WriteString(Parameters.Scope, scope);
            }

            json.WriteEndObject();
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json;charset=UTF-8";
        response.ContentLength = body.WrittenCount;
        response.Headers.CacheControl = "no-store";
        response.Headers.Pragma = "no-cache";
        response.Headers.Expires = "Thu, 01 Jan 1970 00:00:00 GMT";
        await response.Body.WriteAsync(body.WrittenMemory);
    }
}
