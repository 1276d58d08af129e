using System.Text.Json;
using System.Text.Json.Serialization;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Scopes;
using LumoAuth.Token.Protocol;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// <c>POST /t/{slug}/api/v1/connect/register</c> (RFC 7591, TOK-15; <c>/oauth/register</c> as the alias of inventory
/// C-05): applications register themselves when the tenant allows it (<c>clientRegistration.dynamicRegistrationEnabled</c>).
/// Anyone who can reach the endpoint may call it, so what it grants is narrower than the Admin API: the interactive
/// grants only (never client_credentials), and only the OpenID Connect scopes and the tenant's own custom scopes (never
/// the Admin API's). The rules of redirect URIs are those of every client.
/// </summary>
public static class DynamicRegistrationEndpoints
{
    public const string Path = "connect/register";

    private const string InvalidRedirectUri = "invalid_redirect_uri";
    private const string InvalidClientMetadata = "invalid_client_metadata";

    private static readonly HashSet<string> RegistrableGrantTypes = new(StringComparer.Ordinal)
    {
        GrantTypes.AuthorizationCode, GrantTypes.RefreshToken, GrantTypes.Implicit,
    };

    private static readonly HashSet<string> ResponseTypeValues = new(StringComparer.Ordinal)
    {
        "code", "token", "id_token", "none", "code id_token", "code token", "id_token token", "code id_token token",
    };

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IEndpointRouteBuilder MapDynamicRegistrationEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/t/{tenantSlug}/api/v1/" + Path, Register).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription().WithName("DynamicClientRegistration");
        app.MapPost("/t/{tenantSlug}/api/v1/oauth/register", Register).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription();
        return app;
    }

    /// <summary>RFC 7591 §2 client metadata; names the server does not know are ignored, as §2 asks.</summary>
    public sealed record RegistrationRequest(
        [property: JsonPropertyName("redirect_uris")] IReadOnlyList<string>? RedirectUris,
        [property: JsonPropertyName("client_name")] string? ClientName,
        [property: JsonPropertyName("grant_types")] IReadOnlyList<string>? GrantTypes,
        [property: JsonPropertyName("response_types")] IReadOnlyList<string>? ResponseTypes,
        [property: JsonPropertyName("application_type")] string? ApplicationType,
        [property: JsonPropertyName("token_endpoint_auth_method")] string? TokenEndpointAuthMethod,
        [property: JsonPropertyName("scope")] string? Scope,
        [property: JsonPropertyName("post_logout_redirect_uris")] IReadOnlyList<string>? PostLogoutRedirectUris,
        [property: JsonPropertyName("frontchannel_logout_uri")] string? FrontchannelLogoutUri,
        [property: JsonPropertyName("backchannel_logout_uri")] string? BackchannelLogoutUri,
        [property: JsonPropertyName("dpop_bound_access_tokens")] bool? DpopBoundAccessTokens = null,
        [property: JsonPropertyName("audience_uris")] IReadOnlyList<string>? AudienceUris = null);

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

        RegistrationRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<RegistrationRequest>(http.Request.Body, Json, cancellationToken);
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
        if (Translate(request, customScopes, out var problem) is not { } translated)
        {
            return Error(InvalidClientMetadata, problem!);
        }

        if (ClientValidation.ValidateNew(translated.Client, services.Options.Value.AllowPrivateLogoutTargets, out var validator) is not { } client)
        {
            var (field, fieldProblem) = validator.FirstProblems.First();
            return Error(field == "redirectUris" ? InvalidRedirectUri : InvalidClientMetadata, $"{SnakeCase(field)}: {fieldProblem}");
        }

        var (application, secret) = await ClientEndpoints.CreateAsync(client, services, cancellationToken);
        http.Response.Headers.CacheControl = "no-store";
        return Results.Json(new RegistrationResponse(
            application.ClientId!, secret, application.CreatedAt.ToUnixTimeSeconds(), 0, client.Name, client.RedirectUris,
            client.PostLogoutRedirectUris, translated.ApplicationType, client.GrantTypes, translated.ResponseTypes,
            string.Join(' ', client.Scopes), translated.AuthMethod, client.DpopBoundAccessTokens, client.AudienceUris ?? []), statusCode: StatusCodes.Status201Created);
    }

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
        [property: JsonPropertyName("audience_uris")] IReadOnlyList<string> AudienceUris);

    private sealed record Translated(ClientRequest Client, string ApplicationType, IReadOnlyList<string> ResponseTypes, string AuthMethod);

    /// <summary>RFC 7591 metadata as an Admin API client request, or null with the reason it cannot be registered here.</summary>
    private static Translated? Translate(RegistrationRequest request, IReadOnlyCollection<string> customScopes, out string? problem)
    {
        problem = null;
        var applicationType = request.ApplicationType ?? ApplicationTypes.Web;
        var authMethod = request.TokenEndpointAuthMethod ?? ClientAuthenticationMethods.ClientSecretBasic;
        var grantTypes = request.GrantTypes is { Count: > 0 } g ? g.Distinct(StringComparer.Ordinal).ToList() : [GrantTypes.AuthorizationCode];
        var responseTypes = request.ResponseTypes is { Count: > 0 } r ? r.Distinct(StringComparer.Ordinal).ToList() : ["code"];
        // No scope asked for: openid, the least an OpenID Connect client needs (RFC 7591 §2 leaves the default to us).
        var scopes = (request.Scope ?? ScopeNames.OpenId).Split(' ', StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).ToList();

        if (applicationType is not (ApplicationTypes.Web or ApplicationTypes.Native))
        {
            problem = "application_type must be web or native.";
        }
        else if (authMethod is not (ClientAuthenticationMethods.ClientSecretBasic or ClientAuthenticationMethods.ClientSecretPost or ClientAuthenticationMethods.None))
        {
            problem = "token_endpoint_auth_method must be client_secret_basic, client_secret_post or none.";
        }
        else if (applicationType == ApplicationTypes.Native && authMethod != ClientAuthenticationMethods.None)
        {
            problem = "A native application cannot keep a secret: token_endpoint_auth_method must be none.";
        }
        else if (grantTypes.FirstOrDefault(t => !RegistrableGrantTypes.Contains(t)) is { } grant)
        {
            problem = $"The grant type '{grant}' cannot be registered here; allowed: authorization_code, refresh_token, implicit.";
        }
        else if (responseTypes.FirstOrDefault(t => !ResponseTypeValues.Contains(t)) is { } unknown)
        {
            problem = $"The response type '{unknown}' is not supported.";
        }
        else if (responseTypes.Any(t => t.Split(' ').Contains("code")) && !grantTypes.Contains(GrantTypes.AuthorizationCode)
            || responseTypes.Any(t => t.Split(' ').Any(p => p is "token" or "id_token")) && !grantTypes.Contains(GrantTypes.Implicit))
        {
            problem = "response_types and grant_types do not match (code needs authorization_code; token and id_token need implicit).";
        }
        else if (scopes.FirstOrDefault(s => !IsRegistrable(s, customScopes)) is { } scope)
        {
            problem = $"The scope '{scope}' cannot be registered here.";
        }

        if (problem is not null)
        {
            return null;
        }

        var kind = authMethod == ClientAuthenticationMethods.None
            ? applicationType == ApplicationTypes.Native ? ClientKinds.Native : ClientKinds.Spa
            : ClientKinds.Web;
        var client = new ClientRequest(
            Name: string.IsNullOrWhiteSpace(request.ClientName) ? "Dynamically registered client" : request.ClientName,
            Description: "Registered through dynamic client registration (RFC 7591)",
            ApplicationType: kind,
            IsConfidential: authMethod != ClientAuthenticationMethods.None,
            RedirectUris: request.RedirectUris,
            PostLogoutRedirectUris: request.PostLogoutRedirectUris,
            AllowedOrigins: null,
            GrantTypes: grantTypes,
            AllowedScopes: scopes,
            RequiresPkce: null,
            IsActive: true,
            AccessTokenLifetime: null,
            RefreshTokenLifetime: null,
            BackchannelLogoutUri: request.BackchannelLogoutUri,
            FrontchannelLogoutUri: request.FrontchannelLogoutUri,
            DpopBoundAccessTokens: request.DpopBoundAccessTokens,
            AudienceUris: request.AudienceUris);
        return new Translated(client, applicationType, responseTypes, authMethod);
    }

    // The OpenID Connect scopes and the tenant's own, never the Admin API's (admin.read, admin.write, admin:…).
    private static bool IsRegistrable(string scope, IReadOnlyCollection<string> customScopes) =>
        !scope.StartsWith("admin", StringComparison.Ordinal)
        && (ScopeNames.IsBuiltIn(scope) || customScopes.Contains(scope, StringComparer.Ordinal));

    private static string SnakeCase(string field) => field switch
    {
        "name" => "client_name",
        "redirectUris" => "redirect_uris",
        "postLogoutRedirectUris" => "post_logout_redirect_uris",
        "backchannelLogoutUri" => "backchannel_logout_uri",
        "frontchannelLogoutUri" => "frontchannel_logout_uri",
        "grantTypes" => "grant_types",
        "allowedScopes" => "scope",
        "audienceUris" => "audience_uris",
        _ => JsonNamingPolicy.SnakeCaseLower.ConvertName(field),
    };

    private static IResult Error(string error, string description, int status = StatusCodes.Status400BadRequest) =>
        ProtocolErrors.Json(error, description, status);
}
