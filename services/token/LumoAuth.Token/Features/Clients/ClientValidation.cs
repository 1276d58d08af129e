using System.Text.Json;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Token.Features.Ciba;
using LumoAuth.Token.Features.Scopes;
using LumoAuth.Token.Protocol;
using Microsoft.IdentityModel.Tokens;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Clients;

/// <summary>A client's complete, validated settings: what the store is made to hold.</summary>
public sealed record ClientSettings(
    string Name,
    string? Description,
    string Kind,
    bool IsConfidential,
    IReadOnlyList<string> GrantTypes,
    IReadOnlyList<string> Scopes,
    IReadOnlyList<string> RedirectUris,
    IReadOnlyList<string> PostLogoutRedirectUris,
    IReadOnlyList<string> AllowedOrigins,
    bool RequiresPkce,
    bool IsActive,
    int AccessTokenLifetime,
    int RefreshTokenLifetime,
    string? Jwks,
    string? BackchannelLogoutUri,
    string? FrontchannelLogoutUri = null,
    bool RequiresPushedAuthorization = false,
    bool DpopBoundAccessTokens = false,
    string FapiProfile = FapiProfiles.Disabled,
    IReadOnlyList<string>? AudienceUris = null,
    string AudienceMatching = AudienceMatchings.Exact,
    string? BackchannelTokenDeliveryMode = null,
    string? BackchannelClientNotificationEndpoint = null,
    string? TlsClientAuthSubjectDn = null,
    IReadOnlyList<string>? TlsClientCertificateAuthorities = null,
    bool RequireSignedRequestObject = false,
    ClientLinks? Links = null,
    string? TokenEndpointAuthMethod = null,
    ClientResponseProtection? ResponseProtection = null,
    string? PairwiseSector = null,
    string? JwksUri = null,
    string? SectorIdentifierUri = null,
    IReadOnlyList<string>? AuthorizationDetailsTypes = null,
    IReadOnlyList<string>? RequestUris = null);

/// <summary>
/// Where the client's users learn about it (RFC 7591 §2, OIDC Dynamic Registration): its home page, logo, privacy
/// policy and terms. The consent page shows them; nobody here vetted what they say.
/// </summary>
public sealed record ClientLinks(string? ClientUri, string? LogoUri, string? PolicyUri, string? TosUri)
{
    public bool IsEmpty => ClientUri is null && LogoUri is null && PolicyUri is null && TosUri is null;
}

/// <summary>
/// How the client receives what the server writes for it beyond TLS (OIDC Dynamic Registration §2, JARM §3, RFC 9701
/// §6): the algorithm its ID tokens are signed with, userinfo as a JWT signed with the tenant's key, and ID tokens, userinfo, signed authorization responses and signed
/// introspection answers encrypted to a key of the client's.
/// </summary>
public sealed record ClientResponseProtection(
    string? UserinfoSigningAlg,
    ResponseEncryption.Choice? IdTokenEncryption,
    ResponseEncryption.Choice? UserinfoEncryption,
    ResponseEncryption.Choice? AuthorizationEncryption = null,
    ResponseEncryption.Choice? IntrospectionEncryption = null,
    string? IdTokenSigningAlg = null)
{
    public bool IsEmpty => UserinfoSigningAlg is null && IdTokenEncryption is null && UserinfoEncryption is null
        && AuthorizationEncryption is null && IntrospectionEncryption is null && IdTokenSigningAlg is null;
}

/// <summary>The checks of a client registration, field by field (RFC 9700 §2.1: exact, safe redirect URIs; RFC 8252 for native apps).</summary>
public static class ClientValidation
{
    public const int MaxNameLength = 200;
    public const int MaxDescriptionLength = 1000;
    public const int DefaultAccessTokenLifetime = 3600;
    public const int DefaultRefreshTokenLifetime = 2_592_000;
    private const int MinAccessTokenLifetime = 60;
    private const int MaxAccessTokenLifetime = 86_400;

    /// <summary>No access token outlives this, so a client-wide revocation needs to last no longer.</summary>
    public static readonly TimeSpan LongestAccessTokenLifetime = TimeSpan.FromSeconds(MaxAccessTokenLifetime);
    private const int MinRefreshTokenLifetime = 300;
    private const int MaxRefreshTokenLifetime = 31_536_000;
    private const int MaxUris = 20;
    private const int MaxScopes = 100;

    // Schemes a browser or OS would execute or read locally instead of handing to the app.
    private static readonly HashSet<string> ForbiddenSchemes = new(StringComparer.OrdinalIgnoreCase)
    {
        "javascript", "data", "file", "vbscript", "about", "blob", "filesystem", "ftp", "ws", "wss",
    };

    /// <summary>What a registration fetched from the client's own site for its checks: the document's content, or why there is none.</summary>
    public sealed record Fetched(string? Value, string? Problem);

    /// <summary>Validates a creation request, filling in the defaults of the client's kind.</summary>
    /// <param name="fetchedKeys">The key set at the request's <see cref="JwksUriOf"/>, when it has one (fetched beforehand).</param>
    /// <param name="fetchedSector">The redirect URIs listed at the request's <see cref="SectorIdentifierUriOf"/>, likewise.</param>
    public static ClientSettings? ValidateNew(
        ClientRequest request, bool allowPrivateLogoutTargets, out RequestValidator validator, Fetched? fetchedKeys = null, Fetched? fetchedSector = null) =>
        Validate(request, current: null, allowPrivateLogoutTargets, out validator, fetchedKeys, fetchedSector);

    /// <summary>Validates an update: absent fields keep their current values, and the result is checked as a whole.</summary>
    public static ClientSettings? ValidateUpdate(
        ClientRequest request, ClientSettings current, bool allowPrivateLogoutTargets, out RequestValidator validator, Fetched? fetchedKeys = null,
        Fetched? fetchedSector = null) =>
        Validate(request, current, allowPrivateLogoutTargets, out validator, fetchedKeys, fetchedSector);

    private static ClientSettings? Validate(
        ClientRequest request, ClientSettings? current, bool allowPrivateLogoutTargets, out RequestValidator validator, Fetched? fetchedKeys, Fetched? fetchedSector)
    {
        validator = new RequestValidator();

        var name = request.Name is null ? current?.Name : request.Name.Trim();
        validator.Required("name", name, MaxNameLength);

        var description = request.Description is null ? current?.Description
            : string.IsNullOrWhiteSpace(request.Description) ? null : request.Description.Trim();
        validator.Optional("description", description, MaxDescriptionLength);

        // A change of kind or confidentiality re-derives the other; otherwise both stay as they are.
        var kindChanged = request.ApplicationType is not null || request.IsConfidential is not null;
        var grantTypes = Distinct(request.GrantTypes) ?? current?.GrantTypes;
        var origins = Distinct(request.AllowedOrigins) ?? current?.AllowedOrigins ?? [];
        string? kind;
        bool isConfidential;
        if (current is not null && !kindChanged)
        {
            (kind, isConfidential) = (current.Kind, current.IsConfidential);
        }
        else if (request.ApplicationType is { } requestedKind)
        {
            kind = requestedKind.Trim().ToLowerInvariant();
            if (!ClientKinds.All.Contains(kind))
            {
                validator.Add("applicationType", "must be one of web, spa, native, m2m");
                kind = ClientKinds.Web;
            }

            isConfidential = request.IsConfidential ?? ClientKinds.IsConfidential(kind);
            validator.Check(isConfidential == ClientKinds.IsConfidential(kind), "isConfidential",
                isConfidential ? $"a {kind} client is public" : $"a {kind} client is confidential");
        }
        else
        {
            isConfidential = request.IsConfidential ?? current?.IsConfidential ?? true;
            kind = null;
        }

        // A confidential client registered without redirect URIs is a service; anything else signs users in.
        grantTypes ??= kind == ClientKinds.Machine || (kind is null && isConfidential && request.RedirectUris is null)
            ? [GrantTypes.ClientCredentials]
            : [GrantTypes.AuthorizationCode];
        kind ??= DefaultKind(isConfidential, grantTypes, origins);
        ValidateGrantTypes(validator, kind, isConfidential, grantTypes);

        var redirectUris = Distinct(request.RedirectUris) ?? current?.RedirectUris ?? [];
        ValidateUris(validator, "redirectUris", kind, redirectUris);
        validator.Check(redirectUris.Count > 0 || !grantTypes.Any(g => g is GrantTypes.AuthorizationCode or GrantTypes.Implicit), "redirectUris",
            "authorization_code and implicit need at least one redirect URI");

        var postLogoutUris = Distinct(request.PostLogoutRedirectUris) ?? current?.PostLogoutRedirectUris ?? [];
        ValidateUris(validator, "postLogoutRedirectUris", kind, postLogoutUris);

        var normalizedOrigins = new List<string>();
        foreach (var origin in origins)
        {
            if (NormalizeOrigin(origin) is { } normalized)
            {
                normalizedOrigins.Add(normalized);
            }
            else
            {
                validator.Add("allowedOrigins", $"'{Shorten(origin)}' is not an origin (scheme://host[:port], https except loopback)");
            }
        }

        validator.Check(origins.Count <= MaxUris, "allowedOrigins", $"at most {MaxUris} origins");
        validator.Check(origins.Count == 0 || kind is ClientKinds.Spa or ClientKinds.Web, "allowedOrigins", "only browser-based clients (spa, web) have allowed origins");

        var scopes = Distinct(request.AllowedScopes) ?? current?.Scopes ?? [];
        foreach (var scope in scopes.Where(s => !ScopeNames.IsValid(s)))
        {
            validator.Add("allowedScopes", $"'{Shorten(scope)}' is not a valid scope");
        }

        validator.Check(scopes.Count <= MaxScopes, "allowedScopes", $"at most {MaxScopes} scopes");

        // C-06: PKCE is mandatory for public clients and optional for confidential ones.
        var requiresPkce = request.RequiresPkce ?? (kindChanged || current is null ? !isConfidential : current.RequiresPkce || !isConfidential);
        validator.Check(requiresPkce || isConfidential, "requiresPkce", "public clients always require PKCE");

        // FAPI 2.0 Security Profile: the profile fixes PAR, PKCE (S256), DPoP, private_key_jwt and short lifetimes.
        var fapiProfile = request.FapiProfile?.Trim().ToLowerInvariant() ?? current?.FapiProfile ?? FapiProfiles.Disabled;
        validator.Check(FapiProfiles.Supported.Contains(fapiProfile), "fapiProfile",
            "must be disabled, fapi2_baseline or fapi2_advanced");
        var fapi = fapiProfile is FapiProfiles.Baseline or FapiProfiles.Advanced;
        var advanced = fapiProfile == FapiProfiles.Advanced;
        if (fapi)
        {
            validator.Check(isConfidential, "fapiProfile", "FAPI 2.0 clients are confidential");
            validator.Check(!grantTypes.Contains(GrantTypes.Implicit), "grantTypes", "FAPI 2.0 clients use the code flow only, not implicit");
            validator.Check(request.RequiresPushedAuthorization != false, "requiresPushedAuthorization", "FAPI 2.0 clients always push their authorization requests");
            validator.Check(request.RequiresPkce != false, "requiresPkce", "FAPI 2.0 clients always use PKCE");
            validator.Check(request.DpopBoundAccessTokens != false, "dpopBoundAccessTokens", "FAPI 2.0 clients always get sender-constrained (DPoP) tokens");
        }

        // RFC 9101 §10.5: a client may be held to signed request objects (FAPI 2.0 Message Signing always is).
        validator.Check(!advanced || request.RequireSignedRequestObject != false, "requireSignedRequestObject",
            "FAPI 2.0 Message Signing (fapi2_advanced) clients always sign their authorization requests");
        var signedRequests = advanced || (request.RequireSignedRequestObject ?? current?.RequireSignedRequestObject ?? false);

        // RFC 9126 §6: a client may be held to pushed requests only (FAPI 2.0); only clients that authorize users push.
        var requiresPushed = fapi && grantTypes.Contains(GrantTypes.AuthorizationCode)
            || (request.RequiresPushedAuthorization ?? current?.RequiresPushedAuthorization ?? false);
        validator.Check(!requiresPushed || grantTypes.Any(g => g is GrantTypes.AuthorizationCode or GrantTypes.Implicit), "requiresPushedAuthorization",
            "only clients with the authorization_code or implicit grant use the authorization endpoint");

        // RFC 9449 §5.2: a client may be held to DPoP-bound access tokens, so a token request without a proof is refused.
        var dpopBound = fapi || (request.DpopBoundAccessTokens ?? current?.DpopBoundAccessTokens ?? false);

        var accessLifetime = request.AccessTokenLifetime ?? current?.AccessTokenLifetime ?? DefaultAccessTokenLifetime;
        if (fapi && request.AccessTokenLifetime is null && accessLifetime > FapiProfiles.MaxAccessTokenLifetime)
        {
            accessLifetime = FapiProfiles.DefaultAccessTokenLifetime;
        }

        validator.Check(accessLifetime is >= MinAccessTokenLifetime and <= MaxAccessTokenLifetime, "accessTokenLifetime",
            $"must be between {MinAccessTokenLifetime} and {MaxAccessTokenLifetime} seconds");
        validator.Check(!fapi || accessLifetime <= FapiProfiles.MaxAccessTokenLifetime, "accessTokenLifetime",
            $"FAPI 2.0 access tokens live at most {FapiProfiles.MaxAccessTokenLifetime} seconds");
        var refreshLifetime = request.RefreshTokenLifetime ?? current?.RefreshTokenLifetime ?? DefaultRefreshTokenLifetime;
        validator.Check(refreshLifetime is >= MinRefreshTokenLifetime and <= MaxRefreshTokenLifetime, "refreshTokenLifetime",
            $"must be between {MinRefreshTokenLifetime} and {MaxRefreshTokenLifetime} seconds");

        var isActive = request.IsActive ?? current?.IsActive ?? true;

        // RFC 8707: the resources (APIs) the client may ask tokens for, matched exactly or as a path prefix.
        var audienceUris = Distinct(request.AudienceUris) ?? current?.AudienceUris ?? [];
        foreach (var uri in audienceUris.Where(u => !AudienceMatchings.IsResourceUri(u)))
        {
            validator.Add("audienceUris", $"'{Shorten(uri)}' is not an absolute http(s) URI without fragment");
        }

        validator.Check(audienceUris.Count <= MaxUris, "audienceUris", $"at most {MaxUris} audience URIs");
        var audienceMatching = request.AudienceMatching?.Trim().ToLowerInvariant() ?? current?.AudienceMatching ?? AudienceMatchings.Exact;
        validator.Check(audienceMatching is AudienceMatchings.Exact or AudienceMatchings.Prefix, "audienceMatching", "must be exact or prefix");

        // private_key_jwt (RFC 7523) and encryption to the client: its public keys, registered here (an empty set turns them
        // off) or published at its jwks_uri (RFC 7591 §2: one or the other; setting one drops the other).
        validator.Check(request.Jwks is not { ValueKind: not JsonValueKind.Null } || string.IsNullOrWhiteSpace(request.JwksUri), "jwksUri",
            "register the keys in jwks or publish them at jwksUri, not both");
        var jwksUri = JwksUriOf(request, current);
        var jwks = request.Jwks is { } requestedJwks ? ClientKeys.Normalize(requestedJwks, validator)
            : jwksUri is not null ? null : current?.Jwks;
        if (jwksUri is not null && OpenIdProviders.UrlProblem(jwksUri, allowPrivateLogoutTargets) is { } jwksUriProblem)
        {
            validator.Add("jwksUri", jwksUriProblem);
        }
        else if (jwksUri is not null && jwksUri != current?.JwksUri && fetchedKeys?.Problem is { } fetchProblem)
        {
            // A new address must answer now; a standing one that is out for a while does not block unrelated changes.
            validator.Add("jwksUri", "did not give a usable key set: " + fetchProblem);
        }

        var hasKeys = jwks is not null || jwksUri is not null;
        var keys = jwks ?? (jwksUri is null ? null : fetchedKeys?.Value);
        var keysKnown = jwksUri is null || keys is not null;
        validator.Check(!hasKeys || isConfidential, "jwks", "only confidential clients authenticate with private_key_jwt");
        validator.Check(!fapi || hasKeys, "jwks", "FAPI 2.0 clients authenticate with private_key_jwt: register their public keys");
        validator.Check(!signedRequests || hasKeys, "jwks", "request objects are verified with the client's keys: register its public keys");

        var backchannel = request.BackchannelLogoutUri is null ? current?.BackchannelLogoutUri
            : string.IsNullOrWhiteSpace(request.BackchannelLogoutUri) ? null : request.BackchannelLogoutUri.Trim();
        // We call this URL ourselves: besides the redirect-URI rules, it must not point into our own network.
        if (backchannel is not null
            && (RedirectUriProblem(backchannel, ClientKinds.Web) ?? (allowPrivateLogoutTargets ? null : SsrfGuard.ProblemWith(backchannel, allowPrivateTargets: false)))
                is { } backchannelProblem)
        {
            validator.Add("backchannelLogoutUri", backchannelProblem);
        }

        // The browser loads this one in an iframe of our logout page (OIDC Front-Channel Logout 1.0): the redirect-URI rules.
        var frontchannel = request.FrontchannelLogoutUri is null ? current?.FrontchannelLogoutUri
            : string.IsNullOrWhiteSpace(request.FrontchannelLogoutUri) ? null : request.FrontchannelLogoutUri.Trim();
        if (frontchannel is not null && RedirectUriProblem(frontchannel, ClientKinds.Web) is { } frontchannelProblem)
        {
            validator.Add("frontchannelLogoutUri", frontchannelProblem);
        }

        var (deliveryMode, notificationEndpoint) = ValidateBackchannelAuthentication(validator, request, current, grantTypes, allowPrivateLogoutTargets);
        var (tlsSubjectDn, tlsAuthorities) = TlsClientAuth.Validate(request.TlsClientAuthSubjectDn, request.TlsClientCertificateAuthorities, current, isConfidential, validator);
        var authMethod = ClientAuthMethods.Validate(request.TokenEndpointAuthMethod, current, isConfidential, hasKeys, tlsSubjectDn, fapi, validator);
        var links = new ClientLinks(
            Link(validator, "clientUri", request.ClientUri, current?.Links?.ClientUri),
            Link(validator, "logoUri", request.LogoUri, current?.Links?.LogoUri),
            Link(validator, "policyUri", request.PolicyUri, current?.Links?.PolicyUri),
            Link(validator, "tosUri", request.TosUri, current?.Links?.TosUri));
        var protection = ValidateResponseProtection(validator, request, current?.ResponseProtection, keys, keysKnown, fapi);
        var sectorIdentifierUri = ValidateSectorIdentifierUri(validator, request, current, redirectUris, fetchedSector, allowPrivateLogoutTargets);
        var pairwiseSector = ValidateSubjectType(validator, request.SubjectType, current?.PairwiseSector, redirectUris, sectorIdentifierUri);
        var detailsTypes = ValidateAuthorizationDetailsTypes(validator, request.AuthorizationDetailsTypes, current?.AuthorizationDetailsTypes);
        var requestUris = RequestObjectReferences.Validate(validator, Distinct(request.RequestUris), current?.RequestUris, hasKeys, allowPrivateLogoutTargets);

        return validator.IsValid
            ? new ClientSettings(name!, description, kind, isConfidential, grantTypes, scopes, redirectUris, postLogoutUris,
                normalizedOrigins.Distinct(StringComparer.Ordinal).ToList(), requiresPkce || fapi, isActive, accessLifetime, refreshLifetime,
                jwks, backchannel, frontchannel, requiresPushed, dpopBound, fapiProfile, audienceUris, audienceMatching,
                deliveryMode, notificationEndpoint, tlsSubjectDn, tlsAuthorities, signedRequests, links.IsEmpty ? null : links, authMethod,
                protection.IsEmpty ? null : protection, pairwiseSector, jwksUri, sectorIdentifierUri, detailsTypes, requestUris)
            : null;
    }

    /// <summary>
    /// The RFC 9396 <c>authorization_details</c> types the client may ask for (§10: <c>authorization_details_types</c>): none
    /// unless listed, each a name of 1–100 printable characters, at most 20. Types mean what the tenant's APIs make of them.
    /// </summary>
    private static IReadOnlyList<string>? ValidateAuthorizationDetailsTypes(RequestValidator validator, IReadOnlyList<string>? requested, IReadOnlyList<string>? current)
    {
        if (requested is null)
        {
            return current;
        }

        var types = requested.Select(t => t?.Trim() ?? string.Empty).Distinct(StringComparer.Ordinal).ToList();
        validator.Check(types.Count <= 20, "authorizationDetailsTypes", "may list at most 20 types")
            .Check(types.All(t => t.Length is > 0 and <= 100 && t.All(c => c is > ' ' and <= '~')), "authorizationDetailsTypes", "each type is 1 to 100 printable characters without spaces");
        return types.Count == 0 ? null : types;
    }

    /// <summary>
    /// The <c>jwks_uri</c> a create or update leaves the client with: the one asked for (empty removes it), else the current
    /// one unless the request registers keys inline. The endpoints fetch it before validating (<see cref="ClientKeySets"/>).
    /// </summary>
    public static string? JwksUriOf(ClientRequest request, ClientSettings? current) =>
        request.JwksUri is { } requested ? requested.Trim() is { Length: > 0 } trimmed ? trimmed : null
        : request.Jwks is { ValueKind: not JsonValueKind.Null } ? null
        : current?.JwksUri;

    /// <summary>
    /// The <c>sector_identifier_uri</c> a create or update leaves the client with: the one asked for (empty removes it),
    /// else the current one. The endpoints fetch it before validating (<see cref="SectorIdentifiers"/>).
    /// </summary>
    public static string? SectorIdentifierUriOf(ClientRequest request, ClientSettings? current) =>
        request.SectorIdentifierUri is { } requested ? requested.Trim() is { Length: > 0 } trimmed ? trimmed : null : current?.SectorIdentifierUri;

    /// <summary>
    /// OIDC Core §8.1: the document must list every redirect URI of the client. A new document, or new redirect URIs, must
    /// be checked against it now; a standing one that is out does not block unrelated changes.
    /// </summary>
    private static string? ValidateSectorIdentifierUri(
        RequestValidator validator, ClientRequest request, ClientSettings? current, IReadOnlyList<string> redirectUris, Fetched? fetched, bool allowPrivateTargets)
    {
        if (SectorIdentifierUriOf(request, current) is not { } uri)
        {
            return null;
        }

        if (OpenIdProviders.UrlProblem(uri, allowPrivateTargets) is { } problem)
        {
            validator.Add("sectorIdentifierUri", problem);
        }
        else if (fetched?.Value is { } document)
        {
            var listed = SectorIdentifiers.Listed(document);
            foreach (var redirectUri in redirectUris.Where(r => !listed.Contains(r, StringComparer.Ordinal)))
            {
                validator.Add("sectorIdentifierUri", $"does not list the redirect URI '{Shorten(redirectUri)}'");
            }
        }
        else if (uri != current?.SectorIdentifierUri || request.RedirectUris is not null)
        {
            validator.Add("sectorIdentifierUri", "did not give the list of the client's redirect URIs: " + (fetched?.Problem ?? "it was not fetched"));
        }

        return uri;
    }

    /// <summary>
    /// OIDC Core §8: <c>public</c> (the default) or <c>pairwise</c> subjects. A pairwise client's sector is the host of its
    /// <c>sector_identifier_uri</c>, else the one host its redirect URIs share, fixed when it becomes pairwise: its users'
    /// subjects are made for it, so it must stay. Back to public forgets it.
    /// </summary>
    private static string? ValidateSubjectType(
        RequestValidator validator, string? requested, string? currentSector, IReadOnlyList<string> redirectUris, string? sectorIdentifierUri)
    {
        var type = requested?.Trim().ToLowerInvariant() ?? (currentSector is null ? PairwiseSubjects.Public : PairwiseSubjects.PairwiseType);
        if (type == PairwiseSubjects.Public)
        {
            return null;
        }

        if (type != PairwiseSubjects.PairwiseType)
        {
            validator.Add("subjectType", "must be public or pairwise");
            return null;
        }

        var sectors = sectorIdentifierUri is not null && Uri.IsWellFormedUriString(sectorIdentifierUri, UriKind.Absolute)
            ? [SectorIdentifiers.SectorOf(sectorIdentifierUri)]
            : PairwiseSubjects.SectorsOf(redirectUris);
        if (sectors.Count != 1)
        {
            validator.Add("subjectType", sectors.Count == 0
                ? "pairwise subjects are made for the host of the client's redirect URIs: register them"
                : "the redirect URIs of a pairwise client share one host, its sector, unless a sectorIdentifierUri lists them");
            return null;
        }

        validator.Check(currentSector is null || sectors[0] == currentSector, sectorIdentifierUri is null ? "redirectUris" : "sectorIdentifierUri",
            $"must stay on {currentSector}: this client's users have pairwise subjects made for that host");
        return currentSector ?? sectors[0];
    }

    /// <summary>
    /// The algorithms ID tokens and userinfo are signed with (ones the tenant's keys make) and encrypted ID tokens, userinfo, authorization
    /// responses and introspection answers (to a key in the client's <c>jwks</c>). Absent keeps the current choice; empty removes it.
    /// </summary>
    private static ClientResponseProtection ValidateResponseProtection(
        RequestValidator validator, ClientRequest request, ClientResponseProtection? current, string? jwks, bool keysKnown, bool fapi)
    {
        var userinfoSigning = SigningAlgorithm(validator, "userinfoSignedResponseAlg", request.UserinfoSignedResponseAlg, current?.UserinfoSigningAlg, fapi);
        var idTokenSigning = SigningAlgorithm(validator, "idTokenSignedResponseAlg", request.IdTokenSignedResponseAlg, current?.IdTokenSigningAlg, fapi);
        var idToken = ResponseEncryption.Validate(validator, "idTokenEncryptedResponseAlg", "idTokenEncryptedResponseEnc",
            request.IdTokenEncryptedResponseAlg, request.IdTokenEncryptedResponseEnc, current?.IdTokenEncryption, jwks, keysKnown);
        var userinfo = ResponseEncryption.Validate(validator, "userinfoEncryptedResponseAlg", "userinfoEncryptedResponseEnc",
            request.UserinfoEncryptedResponseAlg, request.UserinfoEncryptedResponseEnc, current?.UserinfoEncryption, jwks, keysKnown);
        var authorization = ResponseEncryption.Validate(validator, "authorizationEncryptedResponseAlg", "authorizationEncryptedResponseEnc",
            request.AuthorizationEncryptedResponseAlg, request.AuthorizationEncryptedResponseEnc, current?.AuthorizationEncryption, jwks, keysKnown);
        var introspection = ResponseEncryption.Validate(validator, "introspectionEncryptedResponseAlg", "introspectionEncryptedResponseEnc",
            request.IntrospectionEncryptedResponseAlg, request.IntrospectionEncryptedResponseEnc, current?.IntrospectionEncryption, jwks, keysKnown);
        return new ClientResponseProtection(userinfoSigning, idToken, userinfo, authorization, introspection, idTokenSigning);
    }

    /// <summary>A registered signature algorithm: one the tenant's keys make (<see cref="ClientSigning.Algorithms"/>), never RS256 for FAPI 2.0.</summary>
    private static string? SigningAlgorithm(RequestValidator validator, string field, string? requested, string? current, bool fapi)
    {
        var algorithm = requested is null ? current : requested.Trim() is { Length: > 0 } trimmed ? trimmed : null;
        validator.Check(algorithm is null || ClientSigning.Algorithms.Contains(algorithm, StringComparer.Ordinal), field,
            "must be one of " + string.Join(", ", ClientSigning.Algorithms));
        validator.Check(!fapi || algorithm != SecurityAlgorithms.RsaSha256, field, "FAPI 2.0 clients receive PS256 or ES256 signatures");
        return algorithm;
    }

    /// <summary>
    /// A page the consent screen links to or loads (a logo): absolute https (http on loopback), no credentials in it.
    /// Absent keeps the current value; empty clears it.
    /// </summary>
    private static string? Link(RequestValidator validator, string field, string? requested, string? current)
    {
        if (requested is null)
        {
            return current;
        }

        var value = requested.Trim();
        if (value.Length == 0)
        {
            return null;
        }

        if (value.Length > 2000 || !Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.HostNameType == UriHostNameType.Unknown)
        {
            validator.Add(field, $"'{Shorten(value)}' is not an absolute URL");
        }
        else if (!IsWebScheme(uri))
        {
            validator.Add(field, $"'{Shorten(value)}' must use https (http is allowed only for loopback)");
        }
        else if (uri.UserInfo.Length > 0)
        {
            validator.Add(field, $"'{Shorten(value)}' must not carry credentials");
        }

        return value;
    }

    /// <summary>
    /// CIBA (OpenID CIBA Core 1.0 §4): a client with the CIBA grant is told the result by polling (the default) or by a
    /// ping to its notification endpoint, which we call ourselves — so it gets the same SSRF rules as back-channel logout.
    /// </summary>
    private static (string? Mode, string? Endpoint) ValidateBackchannelAuthentication(
        RequestValidator validator, ClientRequest request, ClientSettings? current, IReadOnlyList<string> grantTypes, bool allowPrivateTargets)
    {
        if (!grantTypes.Contains(CibaDelivery.GrantType))
        {
            validator.Check(request.BackchannelTokenDeliveryMode is null && request.BackchannelClientNotificationEndpoint is null,
                "backchannelTokenDeliveryMode", $"only clients with the {CibaDelivery.GrantType} grant have a back-channel delivery mode");
            return (null, null);
        }

        var mode = request.BackchannelTokenDeliveryMode?.Trim().ToLowerInvariant() ?? current?.BackchannelTokenDeliveryMode ?? CibaDelivery.Poll;
        validator.Check(CibaDelivery.Supported.Contains(mode), "backchannelTokenDeliveryMode",
            mode == CibaDelivery.Push ? "push delivery is not offered; use poll or ping" : "must be poll or ping");
        var endpoint = request.BackchannelClientNotificationEndpoint is null ? current?.BackchannelClientNotificationEndpoint
            : string.IsNullOrWhiteSpace(request.BackchannelClientNotificationEndpoint) ? null : request.BackchannelClientNotificationEndpoint.Trim();
        if (mode != CibaDelivery.Ping)
        {
            return (mode, null);
        }

        if (endpoint is null)
        {
            validator.Add("backchannelClientNotificationEndpoint", "is required for ping delivery");
        }
        else if ((RedirectUriProblem(endpoint, ClientKinds.Web) ?? (allowPrivateTargets ? null : SsrfGuard.ProblemWith(endpoint, allowPrivateTargets: false))) is { } problem)
        {
            validator.Add("backchannelClientNotificationEndpoint", problem);
        }

        return (mode, endpoint);
    }

    private static string DefaultKind(bool isConfidential, IReadOnlyList<string> grantTypes, IReadOnlyList<string> origins) =>
        isConfidential
            ? grantTypes.All(g => g == GrantTypes.ClientCredentials) ? ClientKinds.Machine : ClientKinds.Web
            : origins.Count > 0 ? ClientKinds.Spa : ClientKinds.Native;

    private static void ValidateGrantTypes(RequestValidator validator, string kind, bool isConfidential, IReadOnlyList<string> grantTypes)
    {
        foreach (var unknown in grantTypes.Where(g => !ClientPermissions.SupportedGrantTypes.Contains(g)))
        {
            validator.Add("grantTypes", $"unknown grant type '{Shorten(unknown)}'; supported: authorization_code, client_credentials, refresh_token, implicit, {GrantTypes.DeviceCode}, {GrantTypes.TokenExchange}, {CibaDelivery.GrantType}");
        }

        validator.Check(grantTypes.Count > 0, "grantTypes", "at least one grant type is required");
        validator.Check(isConfidential || !grantTypes.Contains(GrantTypes.ClientCredentials), "grantTypes", "a public client cannot use client_credentials");
        validator.Check(isConfidential || !grantTypes.Contains(GrantTypes.TokenExchange), "grantTypes", "a public client cannot exchange tokens (delegation)");
        validator.Check(isConfidential || !grantTypes.Contains(CibaDelivery.GrantType), "grantTypes", "a public client cannot use CIBA (it authenticates at the back channel)");
        validator.Check(kind != ClientKinds.Machine || grantTypes.All(g => g is GrantTypes.ClientCredentials or GrantTypes.TokenExchange or CibaDelivery.GrantType or GrantTypes.RefreshToken), "grantTypes",
            "an m2m client uses client_credentials (and token exchange or CIBA to act for users) only");
        validator.Check(!grantTypes.Contains(GrantTypes.RefreshToken) || grantTypes.Any(g => g is GrantTypes.AuthorizationCode or GrantTypes.DeviceCode or CibaDelivery.GrantType), "grantTypes",
            "refresh_token needs authorization_code, the device code grant or CIBA");
    }

    private static void ValidateUris(RequestValidator validator, string field, string kind, IReadOnlyList<string> uris)
    {
        foreach (var uri in uris)
        {
            if (RedirectUriProblem(uri, kind) is { } problem)
            {
                validator.Add(field, problem);
            }
        }

        validator.Check(uris.Count <= MaxUris, field, $"at most {MaxUris} URIs");
    }

    /// <summary>Exact URIs only: absolute, no fragment, no wildcard; https, or http on loopback; private-use schemes for native apps.</summary>
    public static string? RedirectUriProblem(string? value, string kind)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > 2000 || !Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            return $"'{Shorten(value)}' is not an absolute URI";
        }

        if (value.Contains('#', StringComparison.Ordinal))
        {
            return $"'{Shorten(value)}' must not contain a fragment";
        }

        if (value.Contains('*', StringComparison.Ordinal))
        {
            return $"'{Shorten(value)}' must not contain a wildcard";
        }

        // The authorization response adds its own (RFC 9207); one fixed in the URI could pass off another issuer.
        if (Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(uri.Query).ContainsKey("iss"))
        {
            return $"'{Shorten(value)}' must not carry an 'iss' parameter";
        }

        if (uri.Scheme == Uri.UriSchemeHttps)
        {
            return null;
        }

        if (uri.Scheme == Uri.UriSchemeHttp)
        {
            return uri.IsLoopback ? null : $"'{Shorten(value)}' must use https (http is allowed only for loopback)";
        }

        if (kind != ClientKinds.Native)
        {
            return $"'{Shorten(value)}' must use https; custom schemes are for native clients";
        }

        return ForbiddenSchemes.Contains(uri.Scheme) ? $"'{Shorten(value)}' uses a forbidden scheme" : null;
    }

    /// <summary>The web addresses a client may name for browsers: https, or http on loopback.</summary>
    public static bool IsWebScheme(Uri uri) => uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback);

    /// <summary><c>scheme://host[:port]</c> in lower case, or null when the value is not a safe origin.</summary>
    public static string? NormalizeOrigin(string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > 500 || value.Contains('*', StringComparison.Ordinal)
            || !Uri.TryCreate(value, UriKind.Absolute, out var uri)
            || !IsWebScheme(uri)
            || uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0)
        {
            return null;
        }

        return uri.GetLeftPart(UriPartial.Authority).ToLowerInvariant();
    }

    private static List<string>? Distinct(IReadOnlyList<string>? values) =>
        values?.Select(v => v ?? string.Empty).Distinct(StringComparer.Ordinal).ToList();

    private static string Shorten(string? value) => value is null ? string.Empty : value.Length <= 100 ? value : value[..100] + "…";
}
