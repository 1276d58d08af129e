using System.Text.Json;
using System.Text.Json.Serialization;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Scopes;
using LumoAuth.ServiceDefaults;
using LumoAuth.Token.Data;
using LumoAuth.Token.Protocol;
using Microsoft.Extensions.Options;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// <c>POST /t/{slug}/api/v1/connect/register</c> (RFC 7591, TOK-15; <c>/oauth/register</c> and <c>/oidc/register</c> as the aliases of
/// inventory C-05): applications register themselves when the tenant allows it (<c>clientRegistration.dynamicRegistrationEnabled</c>).
/// Anyone who can reach the endpoint may call it, so what it grants is narrower than the Admin API: the interactive
/// grants only (never client_credentials), and only the OpenID Connect scopes and the tenant's own custom scopes (never
/// the Admin API's). The rules of redirect URIs are those of every client. Each registration gets a registration access
/// token and the URL it manages the client at (RFC 7592): read, replace or delete, with that token as a bearer token.
/// </summary>
public static class DynamicRegistrationEndpoints
{
    public const string Path = "connect/register";

    /// <summary>Where the hash of the client's registration access token is kept (the token itself is shown once).</summary>
    public const string RegistrationTokenProperty = "registration_access_token";

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

        var managed = "/t/{tenantSlug}/api/v1/" + Path + "/{clientId}";
        app.MapGet(managed, Read).AllowAnonymous().ExcludeFromDescription().WithName("RegisteredClientRead");
        app.MapPut(managed, Replace).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription().WithName("RegisteredClientReplace");
        app.MapDelete(managed, Delete).AllowAnonymous().ExcludeFromDescription().WithName("RegisteredClientDelete");
        return app;
    }

    public static async Task<IResult> Register(
        HttpContext http, [AsParameters] ClientEndpoints.ClientServices services, HostedPageSettingsCache settings, IOptions<LumoAuthOptions> lumo)
    {
        var cancellationToken = http.RequestAborted;
        if (await ClosedAsync(services, settings, cancellationToken) is { } closed)
        {
            return closed;
        }

        var (translated, unreadable) = await ReadMetadataAsync(http, services, cancellationToken);
        if (translated is null)
        {
            return unreadable!;
        }

        var allowPrivate = services.Options.Value.AllowPrivateLogoutTargets;
        var keys = await services.KeySets.ForRegistrationAsync(translated.Client, current: null, allowPrivate, cancellationToken);
        var sector = await services.Sectors.ForRegistrationAsync(translated.Client, current: null, allowPrivate, cancellationToken);
        if (ClientValidation.ValidateNew(translated.Client, allowPrivate, out var validator, keys, sector) is not { } client)
        {
            return Refusal(validator);
        }

        // RFC 7592: the token that manages this registration, shown once and kept only as a hash (as secrets are).
        var registrationToken = "rat_" + System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var (application, secret) = await ClientEndpoints.CreateAsync(client, services, cancellationToken,
            withSecret: translated.AuthMethod != ClientAuthenticationMethods.PrivateKeyJwt, registrationTokenHash: ClientSecrets.Hash(registrationToken));
        return Answer(http, Describe(http, services, lumo, application, client, translated, secret) with { RegistrationAccessToken = registrationToken },
            StatusCodes.Status201Created);
    }

    /// <summary>RFC 7592 §2.1: the client as it is registered now (its secret is kept hashed, so it is not part of it).</summary>
    public static async Task<IResult> Read(
        HttpContext http, string clientId, [AsParameters] ClientEndpoints.ClientServices services, HostedPageSettingsCache settings, IOptions<LumoAuthOptions> lumo)
    {
        var (row, refused) = await ManagedAsync(http, clientId, services, settings);
        return row is null ? refused! : Answer(http, Describe(http, services, lumo, row, ClientMapping.Read(row), translated: null, secret: null));
    }

    /// <summary>
    /// RFC 7592 §2.2: the metadata sent replaces what was registered (a field left out is cleared), checked as a
    /// registration is. The client stays public or confidential, and a pairwise client keeps its sector.
    /// </summary>
    public static async Task<IResult> Replace(
        HttpContext http, string clientId, [AsParameters] ClientEndpoints.ClientServices services, HostedPageSettingsCache settings, IOptions<LumoAuthOptions> lumo)
    {
        var cancellationToken = http.RequestAborted;
        var (row, refused) = await ManagedAsync(http, clientId, services, settings);
        if (row is null)
        {
            return refused!;
        }

        var (translated, unreadable) = await ReadMetadataAsync(http, services, cancellationToken, clientId);
        if (translated is null)
        {
            return unreadable!;
        }

        var current = ClientMapping.Read(row);
        if (translated.Client.IsConfidential != current.IsConfidential)
        {
            return Error(InvalidClientMetadata, "token_endpoint_auth_method cannot move a client between public and confidential: register anew.");
        }

        // What the metadata covers starts from nothing, so that what is left out is cleared; the rest (lifetimes, its
        // active state, the sector its users' pairwise names are made for) stays.
        var cleared = current with
        {
            RedirectUris = [], PostLogoutRedirectUris = [], Jwks = null, JwksUri = null, BackchannelLogoutUri = null, FrontchannelLogoutUri = null,
            DpopBoundAccessTokens = false, AudienceUris = [], RequireSignedRequestObject = false, Links = null, TokenEndpointAuthMethod = null,
            ResponseProtection = null, SectorIdentifierUri = null, AuthorizationDetailsTypes = null, RequestUris = null,
        };
        var allowPrivate = services.Options.Value.AllowPrivateLogoutTargets;
        var keys = await services.KeySets.ForRegistrationAsync(translated.Client, cleared, allowPrivate, cancellationToken);
        var sector = await services.Sectors.ForRegistrationAsync(translated.Client, cleared, allowPrivate, cancellationToken);
        if (ClientValidation.ValidateUpdate(translated.Client, cleared, allowPrivate, out var validator, keys, sector) is not { } client)
        {
            return Refusal(validator);
        }

        return await ClientEndpoints.SaveUpdateAsync(row, clientId, current, client, services, cancellationToken)
            ?? Answer(http, Describe(http, services, lumo, row, client, translated, secret: null));
    }

    /// <summary>RFC 7592 §2.3: the client is deleted, and its tokens with it.</summary>
    public static async Task<IResult> Delete(HttpContext http, string clientId, [AsParameters] ClientEndpoints.ClientServices services, HostedPageSettingsCache settings)
    {
        var (row, refused) = await ManagedAsync(http, clientId, services, settings);
        return row is null ? refused! : await ClientEndpoints.DeleteAsync(row, clientId, services, new System.Security.Claims.ClaimsPrincipal(), http.RequestAborted);
    }

    /// <summary>Registration and its management are open only while the tenant allows them.</summary>
    private static async Task<IResult?> ClosedAsync(ClientEndpoints.ClientServices services, HostedPageSettingsCache settings, CancellationToken cancellationToken) =>
        await settings.GetAsync(services.Tenant.TenantId, cancellationToken) switch
        {
            null => Error("temporarily_unavailable", "Registration cannot be checked right now. Try again in a moment.", StatusCodes.Status503ServiceUnavailable),
            { DynamicClientRegistration: false } => Error("registration_not_allowed", "Dynamic client registration is not enabled for this tenant.", StatusCodes.Status403Forbidden),
            _ => null,
        };

    /// <summary>
    /// The registered client the request's bearer token manages (RFC 7592 §2): anything else — no token, another client's,
    /// a client made through the Admin API, another tenant's — is the same <c>invalid_token</c>, naming nothing.
    /// </summary>
    private static async Task<(TokenApplication? Row, IResult? Refused)> ManagedAsync(
        HttpContext http, string clientId, ClientEndpoints.ClientServices services, HostedPageSettingsCache settings)
    {
        if (await ClosedAsync(services, settings, http.RequestAborted) is { } closed)
        {
            return (null, closed);
        }

        var header = http.Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
        var row = token is { Length: > 0 and <= 200 } && clientId.Length <= ClientMetadataDocuments.MaxClientIdLength
            ? await ClientEndpoints.FindAsync(services, clientId, tracked: true, http.RequestAborted)
            : null;
        if (row is not null && ClientMapping.RegistrationTokenHashOf(row) is { } hash && ClientSecrets.Verify(token!, hash))
        {
            return (row, null);
        }

        http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
        return (null, Error("invalid_token", "The registration access token is not valid for this client.", StatusCodes.Status401Unauthorized));
    }

    /// <summary>The body as registration metadata for an Admin API request, or the refusal. A replacement names its client.</summary>
    private static async Task<(ClientMetadata.Translated? Translated, IResult? Refused)> ReadMetadataAsync(
        HttpContext http, ClientEndpoints.ClientServices services, CancellationToken cancellationToken, string? replacing = null)
    {
        ClientMetadata.Document? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<ClientMetadata.Document>(http.Request.Body, Json, cancellationToken);
        }
        catch (JsonException)
        {
            request = null;
        }

        if (request is null)
        {
            return (null, Error(InvalidClientMetadata, "The body must be a JSON object of client metadata."));
        }

        // RFC 7592 §2.2: the replacement carries the client's id, which must be this one.
        if (replacing is not null && request.ClientId != replacing)
        {
            return (null, Error(InvalidClientMetadata, "client_id must be the id of the client being replaced."));
        }

        if (request.RedirectUris is not { Count: > 0 })
        {
            return (null, Error(InvalidRedirectUri, "redirect_uris must name at least one redirect URI."));
        }

        var customScopes = await TenantScopes.NamesAsync(services.Db, services.Tenant.TenantId, cancellationToken);
        return ClientMetadata.Translate(request, ClientMetadata.Source.DynamicRegistration, customScopes, out var problem) is { } translated
            ? (translated, null)
            : (null, Error(InvalidClientMetadata, problem!));
    }

    private static IResult Refusal(LumoAuth.ServiceDefaults.Errors.RequestValidator validator)
    {
        var (field, fieldProblem) = validator.FirstProblems.First();
        return Error(field == "redirectUris" ? InvalidRedirectUri : InvalidClientMetadata, $"{ClientMetadata.FieldName(field)}: {fieldProblem}");
    }

    private static IResult Answer(HttpContext http, RegistrationResponse response, int status = StatusCodes.Status200OK)
    {
        http.Response.Headers.CacheControl = "no-store";
        return Results.Json(response, statusCode: status);
    }

    /// <summary>
    /// The client's registration as RFC 7591 §3.2.1 echoes it. Read back later, what the registration said but we keep
    /// no copy of is derived: the application type from the client's kind, the response types from its grant types.
    /// </summary>
    private static RegistrationResponse Describe(
        HttpContext http, ClientEndpoints.ClientServices services, IOptions<LumoAuthOptions> lumo, TokenApplication application, ClientSettings client,
        ClientMetadata.Translated? translated, string? secret) =>
        new(
            application.ClientId!, secret, application.CreatedAt.ToUnixTimeSeconds(), 0, client.Name, client.RedirectUris,
            client.PostLogoutRedirectUris, translated?.ApplicationType ?? (client.Kind == ClientKinds.Native ? ApplicationTypes.Native : ApplicationTypes.Web),
            client.GrantTypes, translated?.ResponseTypes ?? ResponseTypesOf(client.GrantTypes),
            string.Join(' ', client.Scopes),
            translated?.AuthMethod ?? client.TokenEndpointAuthMethod ?? (client.IsConfidential ? ClientAuthenticationMethods.ClientSecretBasic : ClientAuthenticationMethods.None),
            client.DpopBoundAccessTokens, client.AudienceUris ?? [],
            client.FrontchannelLogoutUri, client.BackchannelLogoutUri, client.RequireSignedRequestObject,
            client.FrontchannelLogoutUri is null ? null : true, client.BackchannelLogoutUri is null ? null : true,
            client.Links?.ClientUri, client.Links?.LogoUri, client.Links?.PolicyUri, client.Links?.TosUri,
            client.Jwks is null ? null : JsonSerializer.Deserialize<JsonElement>(client.Jwks),
            client.ResponseProtection?.UserinfoSigningAlg, client.ResponseProtection?.IdTokenEncryption?.Alg, client.ResponseProtection?.IdTokenEncryption?.Enc,
            client.ResponseProtection?.UserinfoEncryption?.Alg, client.ResponseProtection?.UserinfoEncryption?.Enc,
            client.ResponseProtection?.AuthorizationEncryption?.Alg, client.ResponseProtection?.AuthorizationEncryption?.Enc,
            client.ResponseProtection?.IntrospectionEncryption?.Alg, client.ResponseProtection?.IntrospectionEncryption?.Enc,
            client.ResponseProtection?.IdTokenSigningAlg, client.PairwiseSector is null ? PairwiseSubjects.Public : PairwiseSubjects.PairwiseType,
            client.JwksUri, client.SectorIdentifierUri, client.AuthorizationDetailsTypes, client.RequestUris,
            $"{lumo.Value.IssuerFor(http.Request, services.Tenant.Tenant!)}/{Path}/{Uri.EscapeDataString(application.ClientId!)}");

    private static IReadOnlyList<string> ResponseTypesOf(IReadOnlyList<string> grantTypes)
    {
        var code = grantTypes.Contains(GrantTypes.AuthorizationCode);
        var implicitFlow = grantTypes.Contains(GrantTypes.Implicit);
        return [.. (code ? new[] { "code" } : []),
            .. (implicitFlow ? new[] { "id_token", "id_token token" } : []),
            .. (code && implicitFlow ? new[] { "code id_token", "code token", "code id_token token" } : [])];
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
        [property: JsonPropertyName("sector_identifier_uri"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? SectorIdentifierUri = null,
        [property: JsonPropertyName("authorization_details_types"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? AuthorizationDetailsTypes = null,
        [property: JsonPropertyName("request_uris"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? RequestUris = null,
        [property: JsonPropertyName("registration_client_uri")] string? RegistrationClientUri = null)
    {
        /// <summary>RFC 7592 §3: in the registration's answer only (it is kept hashed).</summary>
        [JsonPropertyName("registration_access_token"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? RegistrationAccessToken { get; init; }
    }

    private static IResult Error(string error, string description, int status = StatusCodes.Status400BadRequest) =>
        ProtocolErrors.Json(error, description, status);
}
