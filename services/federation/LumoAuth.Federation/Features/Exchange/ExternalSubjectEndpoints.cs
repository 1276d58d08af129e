using LumoAuth.Contracts.Internal;
using LumoAuth.Federation.Data;
using LumoAuth.Federation.Features.Login;
using LumoAuth.Federation.Features.Providers;
using LumoAuth.Federation.Features.Saml;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Federation.Features.Exchange;

/// <summary>
/// Outside tokens exchanged at the token endpoint (RFC 8693): the token service, which has authenticated the client, asks
/// here who the token names. Either a SAML 2.0 assertion (RFC 7522's rules) signed by one of the tenant's SAML IdPs, meant
/// for us (audience: our SP entity ID or the token endpoint; bearer confirmation for the token endpoint, naming no
/// request), current — or an ID token of one of its OpenID providers, named by <c>subject_issuer</c>, signed by the
/// provider's keys for our client there, current — or a GitHub or Facebook access token their API says is our app's.
/// Only providers the tenant opened to exchange (<c>allowTokenExchange</c>)
/// count, and only tokens valid for at most a day. Each is used once (an assertion shares the ACS's memory, so it serves
/// one purpose). Its account is then linked, found or made exactly as at a browser's first sign-in with that provider.
/// </summary>
public static partial class ExternalSubjectEndpoints
{
    /// <summary>ID tokens are a kilobyte or two; anything far larger is not one.</summary>
    private const int MaxIdTokenLength = 16 * 1024;

    /// <summary>How long a used token is remembered (and so the longest validity taken: a token valid longer could come back).</summary>
    private static readonly TimeSpan MaxValidity = TimeSpan.FromDays(1);

    private const string NotExchanged = "this identity provider's tokens are not exchanged here (its allowTokenExchange is off)";

    public static IEndpointRouteBuilder MapExternalSubjectEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGroup(string.Empty).RequireAuthorization(Policies.Internal).WithTags("Internal")
            .MapPost(InternalRoutes.ExternalSubjects, ExchangeAsync).WithName("InternalExternalSubject");
        return app;
    }

    public sealed record ExchangeServices(
        FederationDbContext Db, TenantDirectory Tenants, TenantContext Tenant, SamlStates SamlStates, LoginStates LoginStates, ExternalUsers Users,
        UpstreamSignIn Upstream, SamlSigningKeys SamlKeys, IOptions<LumoAuthOptions> Options, TimeProvider Time, ILogger<ExternalSubjectRequest> Logger);

    /// <summary>What a provider vouched for, or why the token is not believed (for the log, and for the client).</summary>
    private sealed record Vouched(UpstreamAccount? Account, IdentityProvider? Provider, string? Problem);

    public static async Task<IResult> ExchangeAsync(ExternalSubjectRequest request, [AsParameters] ExchangeServices services, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty || await services.Tenants.FindAsync(request.TenantId, request.TenantSlug, cancellationToken) is not { } tenant)
        {
            return ApiErrors.NotFound("Tenant");
        }

        services.Tenant.Set(tenant);
        var vouched = ExternalSubjectTypes.IsSaml(request.TokenType) ? await FromAssertionAsync(request, services, tenant, cancellationToken)
            : ExternalSubjectTypes.IsJwt(request.TokenType) ? await FromIdTokenAsync(request, services, tenant, cancellationToken)
            : request.TokenType == ExternalSubjectTypes.AccessToken ? await FromAccessTokenAsync(request, services, cancellationToken)
            : new Vouched(null, null, "only SAML 2.0 assertions, ID tokens and GitHub's or Facebook's access tokens are exchanged");
        if (vouched is not { Account: { } account, Provider: { } provider })
        {
            LogRefused(services.Logger, tenant.Id, vouched.Provider?.Id, vouched.Problem!);
            return Refused($"The subject token is not accepted: {vouched.Problem}.");
        }

        var (userId, refusal) = await SignInSteps.LinkAsync(
            new SignInSteps.Context(services.Db, services.Tenant, services.Users, services.LoginStates), provider, account, cancellationToken,
            LumoAuth.Contracts.Sessions.ExternalAccountLinked.ByTokenExchange);
        if (refusal is not null)
        {
            LogRefused(services.Logger, tenant.Id, provider.Id, "no user for the account: " + refusal);
            return Refused($"The subject token's account has no user here ({refusal}).");
        }

        return TypedResults.Ok(new ExternalSubjectResponse(userId, provider.Id, provider.Name));
    }

    private static async Task<Vouched> FromAssertionAsync(ExternalSubjectRequest request, ExchangeServices services, TenantInfo tenant, CancellationToken cancellationToken)
    {
        if (SamlMessages.FromBase64Url(request.Token) is not { } xml || SamlMessages.Load(xml) is not { } document)
        {
            return new Vouched(null, null, "it is not a base64url-encoded SAML assertion (well-formed XML without a DTD)");
        }

        var providers = await services.Db.IdentityProviders.AsNoTracking().Where(p => p.Type == ProviderTypes.Saml && p.IsEnabled).ToListAsync(cancellationToken);
        var expected = new SamlExpectation(
            RequestId: null, Audiences: [SamlNames.SpEntityId(services.Options.Value, tenant.Slug), request.TokenEndpoint], Recipients: [request.TokenEndpoint],
            NeedsAuthnStatement: false);
        var now = services.Time.GetUtcNow();
        var keys = await services.SamlKeys.KeysAsync(services.Db, tenant.Id, tenant.Slug, cancellationToken);
        var (asserted, provider, problem) = SamlResponseReader.ReadBearer(document, providers, expected, now, keys.Decrypting);
        if (asserted is null)
        {
            return new Vouched(null, provider, problem);
        }

        if (!provider!.AllowTokenExchange)
        {
            return new Vouched(null, provider, NotExchanged);
        }

        // The memory of used assertions lasts a day: one valid for longer could be used again after it.
        if (asserted.ValidUntil - now >= MaxValidity)
        {
            return new Vouched(null, provider, "the assertion is valid for more than a day: the IdP must issue it for minutes");
        }

        if (request.SubjectIssuer is { Length: > 0 } named && named != provider!.Saml!.EntityId && named != provider.Id.ToString())
        {
            return new Vouched(null, provider, "subject_issuer names another identity provider than the assertion's Issuer");
        }

        return await services.SamlStates.FirstAssertionUseAsync(tenant.Id, provider!.Id, asserted.AssertionId, asserted.ValidUntil - now)
            ? new Vouched(asserted.Account, provider, null)
            : new Vouched(null, provider, "the assertion was used already");
    }

    private static async Task<Vouched> FromIdTokenAsync(ExternalSubjectRequest request, ExchangeServices services, TenantInfo tenant, CancellationToken cancellationToken)
    {
        if (request.SubjectIssuer is not { Length: > 0 and <= 2048 } named)
        {
            return new Vouched(null, null, "subject_issuer must name the identity provider that issued the ID token (its id or issuer URL)");
        }

        if (request.Token is not { Length: > 0 and <= MaxIdTokenLength })
        {
            return new Vouched(null, null, "it is not an ID token");
        }

        var providers = await services.Db.IdentityProviders.AsNoTracking().Where(p => ProviderTypes.All.Contains(p.Type) && p.IsEnabled).ToListAsync(cancellationToken);
        var provider = providers.FirstOrDefault(p => p.Id.ToString() == named)
                       ?? providers.FirstOrDefault(p => p.IssuerUrl is { } issuer && issuer.TrimEnd('/') == named.TrimEnd('/'));
        if (provider is null)
        {
            return new Vouched(null, null, "subject_issuer names no enabled identity provider of this organisation");
        }

        if (provider.IssuerUrl is null)
        {
            return new Vouched(null, provider, "this provider issues no ID tokens");
        }

        if (!provider.AllowTokenExchange)
        {
            return new Vouched(null, provider, NotExchanged);
        }

        var (account, problem) = await services.Upstream.VerifyIdTokenAsync(provider, request.Token, nonce: null, cancellationToken);
        if (account is null)
        {
            return new Vouched(null, provider, problem);
        }

        // Used once, remembered until it expires. It verified, so it is a JWT with an expiry; the key is its signed part,
        // since a signature has other spellings (base64url's spare bits, ECDSA's s and n - s) that verify alike.
        var token = new JsonWebToken(request.Token);
        var remember = token.ValidTo - services.Time.GetUtcNow().UtcDateTime + TimeSpan.FromMinutes(2);
        if (remember >= MaxValidity)
        {
            return new Vouched(null, provider, "the ID token is valid for more than a day");
        }

        return await services.LoginStates.FirstIdTokenUseAsync(request.Token[..request.Token.LastIndexOf('.')], remember)
            ? new Vouched(account, provider, null)
            : new Vouched(null, provider, "the ID token was used already");
    }

    /// <summary>
    /// A social provider's access token for our client there, named by <c>subject_issuer</c> (the provider's id, or its type
    /// when the tenant has one enabled provider of it). Its API must say the token is our app's (<see cref="UpstreamSignIn.VerifyAccessTokenAsync"/>).
    /// Not used once: access tokens are presented again by design, and only an authenticated client of the tenant can.
    /// </summary>
    private static async Task<Vouched> FromAccessTokenAsync(ExternalSubjectRequest request, ExchangeServices services, CancellationToken cancellationToken)
    {
        if (request.SubjectIssuer is not { Length: > 0 and <= 100 } named)
        {
            return new Vouched(null, null, "subject_issuer must name the provider that issued the access token (its id, or github or facebook)");
        }

        if (request.Token is not { Length: > 0 and <= 4096 })
        {
            return new Vouched(null, null, "it is not an access token");
        }

        var providers = await services.Db.IdentityProviders.AsNoTracking().Where(p => ProviderTypes.All.Contains(p.Type) && p.IsEnabled).ToListAsync(cancellationToken);
        var ofType = providers.Where(p => p.Type == named).Take(2).ToList();
        var provider = providers.FirstOrDefault(p => p.Id.ToString() == named) ?? (ofType.Count == 1 ? ofType[0] : null);
        if (provider is null)
        {
            return new Vouched(null, null, ofType.Count > 1
                ? "subject_issuer names a kind of provider this organisation has several of: name one by its id"
                : "subject_issuer names no enabled identity provider of this organisation");
        }

        if (!provider.AllowTokenExchange)
        {
            return new Vouched(null, provider, NotExchanged);
        }

        var (account, problem) = await services.Upstream.VerifyAccessTokenAsync(provider, request.Token, cancellationToken);
        return new Vouched(account, provider, problem);
    }

    private static IResult Refused(string message) => ApiErrors.Create(StatusCodes.Status400BadRequest, ExternalSubjectTypes.Refused, message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outside subject token refused at tenant {TenantId} (identity provider {ProviderId}): {Problem}")]
    private static partial void LogRefused(ILogger logger, Guid tenantId, Guid? providerId, string problem);
}
