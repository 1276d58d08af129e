using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Federation.Data;
using LumoAuth.Federation.Features.Providers;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Federation.Features.Login;

/// <summary>Who the provider says signed in: its stable id of the account, and what it tells of the person.</summary>
public sealed record UpstreamAccount(string Subject, string? Email, bool EmailVerified, string? Name, string? GivenName, string? FamilyName, string? Picture)
{
    /// <summary>A phone number the provider holds (an LDAP directory's); a new user gets it when it is in E.164 form.</summary>
    public string? PhoneNumber { get; init; }

    /// <summary>The provider's login name for the person (an LDAP directory's); a new user gets it as their username when it is free.</summary>
    public string? Username { get; init; }
}

/// <summary>Where a provider's sign-in begins and ends (its authorization and token endpoints), for the redirect and the callback.</summary>
public sealed record ProviderEndpoints(string AuthorizationEndpoint, string TokenEndpoint, bool IsOpenIdConnect);

/// <summary>
/// The provider's side of a sign-in: where to send the browser, and — back at the callback — the code exchanged
/// (with the client's secret and the PKCE verifier) for the provider's answer, which is believed only once checked:
/// an ID token signed by the issuer's keys, for this client, current, with the sign-in's nonce (OpenID Connect
/// providers), or the account GitHub's or Facebook's API names for the access token it gave.
/// </summary>
public sealed class UpstreamSignIn(
    IHttpClientFactory httpClients, OpenIdProviders openIdProviders, ProviderSecrets secrets, IOptions<FederationOptions> options, TimeProvider time)
{
    public const string HttpClientName = "identity-providers";

    private static readonly JsonWebTokenHandler Handler = new() { MapInboundClaims = false };

    /// <summary>The provider's endpoints; null when its discovery document cannot be had (the sign-in cannot start).</summary>
    public async Task<ProviderEndpoints?> EndpointsAsync(IdentityProvider provider, CancellationToken cancellationToken)
    {
        if (provider.Type == ProviderTypes.GitHub)
        {
            var github = options.Value.GitHub;
            return new ProviderEndpoints(github.AuthorizationEndpoint, github.TokenEndpoint, IsOpenIdConnect: false);
        }

        if (provider.Type == ProviderTypes.Facebook)
        {
            var facebook = options.Value.Facebook;
            return new ProviderEndpoints(facebook.AuthorizationEndpoint, facebook.TokenEndpoint, IsOpenIdConnect: false);
        }

        var metadata = await openIdProviders.DiscoverAsync(provider.IssuerUrl!, cancellationToken, ProviderTypes.DiscoveryIssuerRule(provider.IssuerUrl!));
        return metadata is { AuthorizationEndpoint: { } authorize, TokenEndpoint: { } token } ? new ProviderEndpoints(authorize, token, IsOpenIdConnect: true) : null;
    }

    /// <summary>The account that signed in; null with the reason (logged, never shown) when the answer does not hold up.</summary>
    public async Task<(UpstreamAccount? Account, string? Problem)> CompleteAsync(
        IdentityProvider provider, ProviderEndpoints endpoints, string code, string redirectUri, string codeVerifier, string nonce, CancellationToken cancellationToken)
    {
        string secret;
        try
        {
            secret = secrets.Reveal(provider.ProtectedClientSecret);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return (null, "the provider's client secret cannot be decrypted (key ring lost?): set it again");
        }

        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = redirectUri, ["client_id"] = provider.ClientId, ["client_secret"] = secret,
        };
        if (ProviderTypes.UsesPkce(provider.Type))
        {
            form["code_verifier"] = codeVerifier;
        }

        if (provider.Type == ProviderTypes.Apple)
        {
            try
            {
                form["client_secret"] = AppleClientSecret.Create(secret, provider.Apple ?? new AppleSettings(), provider.ClientId, provider.IssuerUrl!, time.GetUtcNow());
            }
            catch (System.Security.Cryptography.CryptographicException)
            {
                return (null, "the Sign in with Apple key cannot sign: set privateKey again");
            }
        }

        var http = httpClients.CreateClient(HttpClientName);
        using var exchange = new HttpRequestMessage(HttpMethod.Post, endpoints.TokenEndpoint) { Content = new FormUrlEncodedContent(form) };
        exchange.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        JsonElement answer;
        try
        {
            using var response = await http.SendAsync(exchange, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            using var document = JsonDocument.Parse(body);
            answer = document.RootElement.Clone();
            if (!response.IsSuccessStatusCode || answer.ValueKind != JsonValueKind.Object || answer.TryGetProperty("error", out _))
            {
                return (null, $"the token endpoint refused the code ({(int)response.StatusCode}{(answer.ValueKind == JsonValueKind.Object && answer.TryGetProperty("error", out var error) ? ", " + error : string.Empty)})");
            }
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or JsonException && !cancellationToken.IsCancellationRequested)
        {
            return (null, "the token endpoint cannot be reached: " + exception.Message);
        }

        if (endpoints.IsOpenIdConnect)
        {
            return await FromIdTokenAsync(provider, answer, nonce, cancellationToken);
        }

        return provider.Type == ProviderTypes.Facebook
            ? await FromFacebookAsync(http, answer, secret, cancellationToken)
            : await FromGitHubAsync(http, answer, cancellationToken);
    }

    private async Task<(UpstreamAccount?, string?)> FromIdTokenAsync(IdentityProvider provider, JsonElement answer, string nonce, CancellationToken cancellationToken)
    {
        if (!answer.TryGetProperty("id_token", out var idTokenValue) || idTokenValue.ValueKind != JsonValueKind.String)
        {
            return (null, "the answer holds no ID token");
        }

        return await VerifyIdTokenAsync(provider, idTokenValue.GetString()!, nonce, cancellationToken);
    }

    /// <summary>
    /// The account an ID token of <paramref name="provider"/> names, once it holds: signed by the issuer's keys, for our
    /// client there, current, and — at a browser's sign-in — with that sign-in's <paramref name="nonce"/> (none is asked of
    /// one presented for exchange at the token endpoint). Null with the reason otherwise.
    /// </summary>
    public async Task<(UpstreamAccount? Account, string? Problem)> VerifyIdTokenAsync(IdentityProvider provider, string idToken, string? nonce, CancellationToken cancellationToken)
    {
        JsonWebToken unverified;
        try
        {
            unverified = new JsonWebToken(idToken);
        }
        catch (ArgumentException)
        {
            return (null, "the ID token is not a JWT");
        }

        var configured = provider.IssuerUrl!;
        var tenantClaim = unverified.TryGetPayloadValue<string>("tid", out var tid) ? tid : null;
        if (!ProviderTypes.IssuerMatches(configured, unverified.Issuer, tenantClaim))
        {
            return (null, $"the ID token's issuer is not {configured}");
        }

        var keys = await openIdProviders.KeysForAsync(configured, null, unverified.Kid, cancellationToken, ProviderTypes.DiscoveryIssuerRule(configured));

        if (keys is null)
        {
            return (null, "the issuer's signing keys cannot be fetched");
        }

        var result = await Handler.ValidateTokenAsync(idToken, new TokenValidationParameters
        {
            ValidIssuer = unverified.Issuer,
            ValidAudience = provider.ClientId,
            IssuerSigningKeys = keys,
            ValidAlgorithms = OpenIdProviders.AsymmetricAlgorithms,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ClockSkew = TimeSpan.FromMinutes(2),
        });
        if (!result.IsValid || result.SecurityToken is not JsonWebToken token)
        {
            return (null, "the ID token does not verify: " + result.Exception?.GetType().Name);
        }

        // The nonce ties the token to this browser's sign-in (OIDC Core §3.1.3.7): a token from another sign-in is refused.
        if (nonce is not null && (!token.TryGetPayloadValue<string>("nonce", out var tokenNonce) || !CryptographicEquals(tokenNonce, nonce)))
        {
            return (null, "the ID token's nonce is not this sign-in's");
        }

        // Presented for exchange, nothing of ours shows it was an ID token issued to us (at a sign-in, the code and the
        // nonce do): the provider's access tokens for our client and tokens for several parties are not taken.
        if (nonce is null && (token.Typ.Contains("at+jwt", StringComparison.OrdinalIgnoreCase) || token.TryGetClaim("scp", out _)))
        {
            return (null, "the token is an access token, not an ID token");
        }

        if (nonce is null && token.Audiences.Count() > 1 && (!token.TryGetPayloadValue<string>("azp", out var party) || party != provider.ClientId))
        {
            return (null, "the ID token names several audiences and is not authorised for our client (azp)");
        }

        if (token.Subject is not { Length: > 0 and <= 500 })
        {
            return (null, "the ID token names no subject (or one longer than 500 characters)");
        }

        string? Text(string name) => token.TryGetClaim(name, out var claim) && claim.Value.Length > 0 ? claim.Value : null;
        // Microsoft's email claim is whatever the directory holds, never verified: only its verified-address claims count.
        var verified = token.TryGetClaim("email_verified", out var flag) && string.Equals(flag.Value, "true", StringComparison.OrdinalIgnoreCase);
        return (new UpstreamAccount(token.Subject, Email(Text("email")), verified, Text("name"), Text("given_name"), Text("family_name"), Text("picture")), null);
    }

    /// <summary>
    /// An access token presented at token exchange as one the provider gave our client there. Taken only from providers whose
    /// API says which app a token was given to — GitHub ("check a token", with our client's credentials) and Facebook
    /// (<c>debug_token</c>, with our app's token): otherwise a token any other app obtained for the same person would sign
    /// them in here. The account is then the one sign-in reads with the token. OpenID providers: exchange their ID token.
    /// </summary>
    public async Task<(UpstreamAccount? Account, string? Problem)> VerifyAccessTokenAsync(IdentityProvider provider, string accessToken, CancellationToken cancellationToken)
    {
        if (provider.Type is not (ProviderTypes.GitHub or ProviderTypes.Facebook))
        {
            return (null, "only GitHub's and Facebook's access tokens are exchanged (their APIs say which app a token is for): exchange an OpenID provider's ID token");
        }

        string secret;
        try
        {
            secret = secrets.Reveal(provider.ProtectedClientSecret);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return (null, "the provider's client secret cannot be decrypted (key ring lost?): set it again");
        }

        var http = httpClients.CreateClient(HttpClientName);
        var answer = JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["access_token"] = accessToken });
        if (provider.Type == ProviderTypes.GitHub)
        {
            using var check = new HttpRequestMessage(HttpMethod.Post, $"{options.Value.GitHub.ApiBase.TrimEnd('/')}/applications/{Uri.EscapeDataString(provider.ClientId)}/token")
            {
                Content = JsonContent.Create(new Dictionary<string, string> { ["access_token"] = accessToken }),
            };
            check.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{provider.ClientId}:{secret}")));
            var (checkedToken, problem) = await SendForJsonAsync(http, check, cancellationToken);
            return checkedToken is { ValueKind: JsonValueKind.Object } known && known.TryGetProperty("app", out var app) && app.ValueKind == JsonValueKind.Object
                   && String(app, "client_id") == provider.ClientId
                ? await FromGitHubAsync(http, answer, cancellationToken)
                : (null, problem is null ? "GitHub does not know the token as this app's" : "GitHub does not know the token as this app's: " + problem);
        }

        var graph = options.Value.Facebook.GraphApiBase.TrimEnd('/');
        using var debug = new HttpRequestMessage(HttpMethod.Get,
            $"{graph}/debug_token?input_token={Uri.EscapeDataString(accessToken)}&access_token={Uri.EscapeDataString(provider.ClientId + "|" + secret)}");
        var (debugged, debugProblem) = await SendForJsonAsync(http, debug, cancellationToken);
        return debugged is { ValueKind: JsonValueKind.Object } verdict && verdict.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
               && Flag(data, "is_valid") && String(data, "app_id") == provider.ClientId
            ? await FromFacebookAsync(http, answer, secret, cancellationToken)
            : (null, debugProblem is null ? "Facebook does not know the token as this app's" : "Facebook does not know the token as this app's: " + debugProblem);
    }

    /// <summary>GitHub: the user its API names for the token, with the primary address if GitHub verified it.</summary>
    private async Task<(UpstreamAccount?, string?)> FromGitHubAsync(HttpClient http, JsonElement answer, CancellationToken cancellationToken)
    {
        if (!answer.TryGetProperty("access_token", out var accessToken) || accessToken.ValueKind != JsonValueKind.String)
        {
            return (null, "the answer holds no access token");
        }

        var api = options.Value.GitHub.ApiBase.TrimEnd('/');
        var (user, userProblem) = await GetJsonAsync(http, $"{api}/user", accessToken.GetString()!, cancellationToken);
        if (user is not { ValueKind: JsonValueKind.Object } || !user.Value.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.Number)
        {
            return (null, userProblem ?? "GitHub's user has no id");
        }

        var (emails, _) = await GetJsonAsync(http, $"{api}/user/emails", accessToken.GetString()!, cancellationToken);
        var primary = emails is { ValueKind: JsonValueKind.Array }
            ? emails.Value.EnumerateArray().FirstOrDefault(e => e.ValueKind == JsonValueKind.Object && Flag(e, "primary") && Flag(e, "verified"))
            : default;
        var email = primary.ValueKind == JsonValueKind.Object ? String(primary, "email") : null;
        var name = String(user.Value, "name") ?? String(user.Value, "login");
        email = Email(email);
        return (new UpstreamAccount(id.GetRawText(), email, email is not null, name, null, null, String(user.Value, "avatar_url")), null);
    }

    /// <summary>
    /// Facebook: the person the Graph API's <c>/me</c> names for the token. The call carries the app secret's proof of the
    /// token (<c>appsecret_proof</c>, HMAC-SHA256), so only our server can use it. Facebook returns only an address its
    /// user confirmed, so an address it gives counts as verified.
    /// </summary>
    private async Task<(UpstreamAccount?, string?)> FromFacebookAsync(HttpClient http, JsonElement answer, string appSecret, CancellationToken cancellationToken)
    {
        if (!answer.TryGetProperty("access_token", out var accessToken) || accessToken.ValueKind != JsonValueKind.String || accessToken.GetString() is not { Length: > 0 } token)
        {
            return (null, "the answer holds no access token");
        }

        var proof = Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(appSecret), System.Text.Encoding.UTF8.GetBytes(token)));
        var graph = options.Value.Facebook.GraphApiBase.TrimEnd('/');
        var (me, problem) = await GetJsonAsync(http, $"{graph}/me?fields=id,name,email,first_name,last_name,picture&appsecret_proof={proof}", token, cancellationToken);
        if (me is not { ValueKind: JsonValueKind.Object } person || String(person, "id") is not { Length: <= 500 } id)
        {
            return (null, problem ?? "Facebook's /me names no id");
        }

        var picture = person.TryGetProperty("picture", out var pictureValue) && pictureValue.ValueKind == JsonValueKind.Object
            && pictureValue.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object ? String(data, "url") : null;
        var email = Email(String(person, "email"));
        return (new UpstreamAccount(id, email, email is not null, String(person, "name"), String(person, "first_name"), String(person, "last_name"), picture), null);
    }

    private static async Task<(JsonElement? Json, string? Problem)> GetJsonAsync(HttpClient http, string url, string accessToken, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return await SendForJsonAsync(http, request, cancellationToken);
    }

    private static async Task<(JsonElement? Json, string? Problem)> SendForJsonAsync(HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        // GitHub's API refuses requests that do not say who makes them.
        request.Headers.UserAgent.ParseAdd("LumoAuth");
        // The query (Facebook's proof of the token, our app token) stays out of the log.
        var named = request.RequestUri!.GetLeftPart(UriPartial.Path);
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return (null, $"{named} answered {(int)response.StatusCode}");
            }

            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            return (document.RootElement.Clone(), null);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or JsonException && !cancellationToken.IsCancellationRequested)
        {
            return (null, $"{named}: {exception.Message}");
        }
    }

    /// <summary>An address no longer than one can be (RFC 5321), else none: the account then needs one from elsewhere.</summary>
    private static string? Email(string? email) => email is { Length: <= 320 } && email.Contains('@', StringComparison.Ordinal) ? email : null;

    private static bool Flag(JsonElement element, string name) => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text ? text : null;

    private static bool CryptographicEquals(string a, string b) =>
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(a), System.Text.Encoding.UTF8.GetBytes(b));
}
