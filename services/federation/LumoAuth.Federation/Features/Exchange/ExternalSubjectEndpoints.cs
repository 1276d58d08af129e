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

namespace LumoAuth.Federation.Features.Exchange;

/// <summary>
/// Outside tokens exchanged at the token endpoint (RFC 8693 with a SAML 2.0 assertion, RFC 7522's rules for it): the token
/// service, which has authenticated the client, asks here who the token names. The assertion must be signed by one of the
/// tenant's SAML IdPs, meant for us (audience: our SP entity ID or the token endpoint; bearer confirmation for the token
/// endpoint, naming no request), current, and used once — the same memory as the ACS, so an assertion serves one purpose.
/// Its account is then linked, found or made exactly as at a browser's first sign-in with that IdP.
/// </summary>
public static partial class ExternalSubjectEndpoints
{
    public static IEndpointRouteBuilder MapExternalSubjectEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGroup(string.Empty).RequireAuthorization(Policies.Internal).WithTags("Internal")
            .MapPost(InternalRoutes.ExternalSubjects, ExchangeAsync).WithName("InternalExternalSubject");
        return app;
    }

    public sealed record ExchangeServices(
        FederationDbContext Db, TenantDirectory Tenants, TenantContext Tenant, SamlStates SamlStates, LoginStates LoginStates, ExternalUsers Users,
        IOptions<LumoAuthOptions> Options, TimeProvider Time, ILogger<ExternalSubjectRequest> Logger);

    public static async Task<IResult> ExchangeAsync(ExternalSubjectRequest request, [AsParameters] ExchangeServices services, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty || await services.Tenants.FindAsync(request.TenantId, request.TenantSlug, cancellationToken) is not { } tenant)
        {
            return ApiErrors.NotFound("Tenant");
        }

        services.Tenant.Set(tenant);
        if (!ExternalSubjectTypes.IsSaml(request.TokenType))
        {
            return Refused("Only SAML 2.0 assertions are exchanged here.");
        }

        if (FromBase64Url(request.Token) is not { } xml || SamlMessages.Load(xml) is not { } document)
        {
            return Refused("The subject token is not a base64url-encoded SAML assertion (well-formed XML without a DTD).");
        }

        var providers = await services.Db.IdentityProviders.AsNoTracking()
            .Where(p => p.Type == ProviderTypes.Saml && p.IsEnabled).ToListAsync(cancellationToken);
        var options = services.Options.Value;
        var expected = new SamlExpectation(
            RequestId: null, Audiences: [SamlNames.SpEntityId(options, tenant.Slug), request.TokenEndpoint], Recipients: [request.TokenEndpoint], NeedsAuthnStatement: false);
        var now = services.Time.GetUtcNow();
        var (asserted, provider, problem) = SamlResponseReader.ReadBearer(document, providers, expected, now);
        if (asserted is not null && request.SubjectIssuer is { Length: > 0 } named && named != provider!.Saml!.EntityId && named != provider.Id.ToString())
        {
            (asserted, problem) = (null, "subject_issuer names another identity provider than the assertion's Issuer");
        }

        if (asserted is not null && !await services.SamlStates.FirstAssertionUseAsync(tenant.Id, provider!.Id, asserted.AssertionId, asserted.ValidUntil - now))
        {
            (asserted, problem) = (null, "the assertion was used already");
        }

        if (asserted is null)
        {
            LogRefused(services.Logger, tenant.Id, provider?.Id, problem!);
            return Refused($"The assertion is not accepted: {problem}.");
        }

        var (userId, refusal) = await SignInSteps.LinkAsync(
            new SignInSteps.Context(services.Db, services.Tenant, services.Users, services.LoginStates), provider!, asserted.Account, cancellationToken);
        if (refusal is not null)
        {
            LogRefused(services.Logger, tenant.Id, provider!.Id, "no user for the account: " + refusal);
            return Refused($"The assertion's account has no user here ({refusal}).");
        }

        return TypedResults.Ok(new ExternalSubjectResponse(userId, provider!.Id, provider.Name));
    }

    /// <summary>RFC 8693 §3 encodes the assertion in base64url; plain base64 (what SAML bindings use) is taken too.</summary>
    private static byte[]? FromBase64Url(string? encoded)
    {
        if (string.IsNullOrWhiteSpace(encoded) || encoded.Length > SamlMessages.MaxMessageBytes * 4 / 3 + 4)
        {
            return null;
        }

        var base64 = encoded.Trim().Replace('-', '+').Replace('_', '/');
        base64 = base64.PadRight(base64.Length + ((4 - base64.Length % 4) % 4), '=');
        var buffer = new byte[base64.Length];
        return Convert.TryFromBase64String(base64, buffer, out var written) && written > 0 ? buffer[..written] : null;
    }

    private static IResult Refused(string message) => ApiErrors.Create(StatusCodes.Status400BadRequest, ExternalSubjectTypes.Refused, message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outside subject token refused at tenant {TenantId} (identity provider {ProviderId}): {Problem}")]
    private static partial void LogRefused(ILogger logger, Guid tenantId, Guid? providerId, string problem);
}
