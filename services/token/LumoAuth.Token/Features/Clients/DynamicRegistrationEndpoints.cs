using System.Text.Json;
using System.Text.Json.Serialization;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Scopes;
using LumoAuth.Token.Protocol;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// <c>POST /t/{slug}/api/v1/connect/register</c> (RFC 7591, TOK-15; <c>/oauth/register</c> and <c>/oidc/register</c> as the aliases of
/// inventory C-05): applications register themselves when the tenant allows it (<c>clientRegistration.dynamicRegistrationEnabled</c>).
/// Anyone who can reach the endpoint may call it, so what it grants is narrower than the Admin API: the interactive
/// grants only (never client_credentials), and only the OpenID Connect scopes and the tenant's own custom scopes (never
/// the Admin API's). The rules of redirect URIs are those of every client.
/// </summary>
public static class DynamicRegistrationEndpoints
{
    public const string Path = "connect/register";

    /// <summary>The other paths pages of the docs give it (inventory C-05).</summary>
    public static readonly string[] Aliases = ["oauth/register", "oidc/register"];

    private const string InvalidRedirectUri = "invalid_redirect_uri";
    private const string InvalidClientMetadata = "invalid_client_metadata";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IEndpointRouteBuilder MapDynamicRegistrationEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/t/{tenantSlug}/api/v1/" + Path, Register).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription().WithName("DynamicClientRegistration");
        foreach (var alias in Aliases)
        {
            app.MapPost("/t/{tenantSlug}/api/v1/" + alias, Register).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription();
        }

        return app;
    }

    public static async Task<IResult> Register(HttpContext http, [AsParameters] ClientEndpoints.ClientServices services, HostedPageSettingsCache settings)
    {
        var cancellationToken = http.RequestAborted;
        var current = await settings.GetAsync(services.Tenant.TenantId, cancellationToken);
        if (current is null)
        {
            return Error("temporarily_unavailable", "Registration cannot be checked right now. Try again in a moment.", StatusCodes.Status503ServiceUnavailable);
        }

        if (!current.DynamicClientRegistration)
        {
            return Error("registration_not_allowed", "Dynamic client registration is not enabled for this tenant.", StatusCodes.Status403Forbidden);
        }

        ClientMetadata.Document? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<ClientMetadata.Document>(http.Request.Body, Json, cancellationToken);
        }
        catch (JsonException)
        {
            return Error(InvalidClientMetadata, "The body must be a JSON object of client metadata.");
        }

        if (request is null)
        {
            return Error(InvalidClientMetadata, "The body must be a JSON object of client metadata.");
        }

        if (request.RedirectUris is not { Count: > 0 })
        {
            return Error(InvalidRedirectUri, "redirect_uris must name at least one redirect URI.");
        }

        var customScopes = await TenantScopes.NamesAsync(services.Db, services.Tenant.TenantId, cancellationToken);
        if (ClientMetadata.Translate(request, ClientMetadata.Source.DynamicRegistration, customScopes, out var problem) is not { } translated)
        {
            return Error(InvalidClientMetadata, problem!);
        }

        var allowPrivate = services.Options.Value.AllowPrivateLogoutTargets;
        var keys = await services.KeySets.ForRegistrationAsync(translated.Client, current: null, allowPrivate, cancellationToken);
        var sector = await services.Sectors.ForRegistrationAsync(translated.Client, current: null, allowPrivate, cancellationToken);
        if (ClientValidation.ValidateNew(translated.Client, allowPrivate, out var validator, keys, sector) is not { } client)
        {
            var (field, fieldProblem) = validator.FirstProblems.First();
            return Error(field == "redirectUris" ? InvalidRedirectUri : InvalidClientMetadata, $"{ClientMetadata.FieldName(field)}: {fieldProblem}");
        }

        var (application, secret) = await ClientEndpoints.CreateAsync(client, services, cancellationToken,
            withSecret: translated.AuthMethod != ClientAuthenticationMethods.PrivateKeyJwt);
        http.Response.Headers.CacheControl = "no-store";
        return Results.Json(new RegistrationResponse(
            application.ClientId!, secret, application.CreatedAt.ToUnixTimeSeconds(), 0, client.Name, client.RedirectUris,
            client.PostLogoutRedirectUris, translated.ApplicationType, client.GrantTypes, translated.ResponseTypes,
            string.Join(' ', client.Scopes), translated.AuthMethod, client.DpopBoundAccessTokens, client.AudienceUris ?? [],
            client.FrontchannelLogoutUri, client.BackchannelLogoutUri, client.RequireSignedRequestObject,
            client.FrontchannelLogoutUri is null ? null : true, client.BackchannelLogoutUri is null ? null : true,
            client.Links?.ClientUri, client.Links?.LogoUri, client.Links?.PolicyUri, client.Links?.TosUri,
            client.Jwks is null ? null : JsonSerializer.Deserialize<JsonElement>(client.Jwks),
            client.ResponseProtection?.UserinfoSigningAlg, client.ResponseProtection?.IdTokenEncryption?.Alg, client.ResponseProtection?.IdTokenEncryption?.Enc,
            client.ResponseProtection?.UserinfoEncryption?.Alg, client.ResponseProtection?.UserinfoEncryption?.Enc,
            client.ResponseProtection?.AuthorizationEncryption?.Alg, client.ResponseProtection?.AuthorizationEncryption?.Enc,
            client.ResponseProtection?.IntrospectionEncryption?.Alg, client.ResponseProtection?.IntrospectionEncryption?.Enc,
            client.ResponseProtection?.IdTokenSigningAlg, client.PairwiseSector is null ? PairwiseSubjects.Public : PairwiseSubjects.PairwiseType,
            client.JwksUri, client.SectorIdentifierUri), statusCode: StatusCodes.Status201Created);
    }

    /// <summary>
    /// What was registered, echoed as RFC 7591 §3.2.1 asks (snake_case metadata names); the logout URIs only when the
    /// client registered them.
    /// </summary>
    public sealed record RegistrationResponse(
        [property: JsonPropertyName("client_id")] string ClientId,
        [property: JsonPropertyName("client_secret")] string? ClientSecret,
        [property: JsonPropertyName("client_id_issued_at")] long ClientIdIssuedAt,
        [property: JsonPropertyName("client_secret_expires_at")] long ClientSecretExpiresAt,
        [property: JsonPropertyName("client_name")] string ClientName,
        [property: JsonPropertyName("redirect_uris")] IReadOnlyList<string> RedirectUris,
        [property: JsonPropertyName("post_logout_redirect_uris")] IReadOnlyList<string> PostLogoutRedirectUris,
        [property: JsonPropertyName("application_type")] string ApplicationType,
        [property: JsonPropertyName("grant_types")] IReadOnlyList<string> GrantTypes,
        [property: JsonPropertyName("response_types")] IReadOnlyList<string> ResponseTypes,
        [property: JsonPropertyName("scope")] string Scope,
        [property: JsonPropertyName("token_endpoint_auth_method")] string TokenEndpointAuthMethod,
        [property: JsonPropertyName("dpop_bound_access_tokens")] bool DpopBoundAccessTokens,
        [property: JsonPropertyName("audience_uris")] IReadOnlyList<string> AudienceUris,
        [property: JsonPropertyName("frontchannel_logout_uri"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? FrontchannelLogoutUri = null,
        [property: JsonPropertyName("backchannel_logout_uri"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? BackchannelLogoutUri = null,
        [property: JsonPropertyName("require_signed_request_object")] bool RequireSignedRequestObject = false,
        // Our logout always names the session (sid, and iss on the front channel), so a registered logout URI always gets it.
        [property: JsonPropertyName("frontchannel_logout_session_required"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? FrontchannelLogoutSessionRequired = null,
        [property: JsonPropertyName("backchannel_logout_session_required"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? BackchannelLogoutSessionRequired = null,
        [property: JsonPropertyName("client_uri"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ClientUri = null,
        [property: JsonPropertyName("logo_uri"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? LogoUri = null,
        [property: JsonPropertyName("policy_uri"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? PolicyUri = null,
        [property: JsonPropertyName("tos_uri"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? TosUri = null,
        [property: JsonPropertyName("jwks"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? Jwks = null,
        [property: JsonPropertyName("userinfo_signed_response_alg"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? UserinfoSignedResponseAlg = null,
        [property: JsonPropertyName("id_token_encrypted_response_alg"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? IdTokenEncryptedResponseAlg = null,
        [property: JsonPropertyName("id_token_encrypted_response_enc"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? IdTokenEncryptedResponseEnc = null,
        [property: JsonPropertyName("userinfo_encrypted_response_alg"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? UserinfoEncryptedResponseAlg = null,
        [property: JsonPropertyName("userinfo_encrypted_response_enc"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? UserinfoEncryptedResponseEnc = null,
        [property: JsonPropertyName("authorization_encrypted_response_alg"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? AuthorizationEncryptedResponseAlg = null,
        [property: JsonPropertyName("authorization_encrypted_response_enc"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? AuthorizationEncryptedResponseEnc = null,
        [property: JsonPropertyName("introspection_encrypted_response_alg"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? IntrospectionEncryptedResponseAlg = null,
        [property: JsonPropertyName("introspection_encrypted_response_enc"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? IntrospectionEncryptedResponseEnc = null,
        [property: JsonPropertyName("id_token_signed_response_alg"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? IdTokenSignedResponseAlg = null,
        [property: JsonPropertyName("subject_type")] string SubjectType = PairwiseSubjects.Public,
        [property: JsonPropertyName("jwks_uri"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? JwksUri = null,
        [property: JsonPropertyName("sector_identifier_uri"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? SectorIdentifierUri = null);

    private static IResult Error(string error, string description, int status = StatusCodes.Status400BadRequest) =>
        ProtocolErrors.Json(error, description, status);
}
