using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LumoAuth.ServiceDefaults.Security;

/// <summary>Service-to-service calls carry the deployment's internal key, compared in constant time.</summary>
public sealed class InternalKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptions<LumoAuthOptions> lumoOptions)
    : EnvelopeAuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = Request.Headers[InternalRoutes.InternalKeyHeader].ToString();
        if (presented.Length == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var expected = Encoding.UTF8.GetBytes(lumoOptions.Value.InternalKey);
        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), expected))
        {
            return Task.FromResult(Fail(ErrorCodes.Unauthorized, "Invalid internal key"));
        }

        var identity = new ClaimsIdentity([new Claim(LumoClaims.Subject, "internal")], Scheme.Name);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name)));
    }

    protected override string ChallengeHeader(string? errorCode) => "Internal";
}
