using System.Text.Encodings.Web;
using LumoAuth.ServiceDefaults.Errors;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LumoAuth.ServiceDefaults.Security;

/// <summary>Answers challenges and forbids with the REST error envelope instead of a bare status.</summary>
public abstract class EnvelopeAuthenticationHandler<TOptions>(IOptionsMonitor<TOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<TOptions>(options, logger, encoder)
    where TOptions : AuthenticationSchemeOptions, new()
{
    private const string FailureKey = "lumoauth.auth-failure";

    protected AuthenticateResult Fail(string code, string message)
    {
        Context.Items[FailureKey] = (code, message);
        return AuthenticateResult.Fail(message);
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        // RFC 6750 §3.1: a request that carried no credential gets the bare challenge, without an error code.
        if (Context.Items.TryGetValue(FailureKey, out var value) && value is (string code, string message))
        {
            Response.Headers.WWWAuthenticate = ChallengeHeader(code);
            return ErrorWriter.WriteAsync(Context, new ApiError(message, 401, code));
        }

        Response.Headers.WWWAuthenticate = ChallengeHeader(null);
        return ErrorWriter.WriteAsync(Context, new ApiError("Authentication required", 401, ErrorCodes.Unauthorized));
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        // RFC 6750 §3.1: a token without the scope is a 403 whose challenge says insufficient_scope.
        if (ForbiddenChallengeHeader() is { } challenge)
        {
            Response.Headers.WWWAuthenticate = challenge;
        }

        return ErrorWriter.WriteAsync(Context, new ApiError("The credential lacks the scope this operation needs", 403, ErrorCodes.InsufficientScope));
    }

    /// <summary>The <c>WWW-Authenticate</c> value of a 401; <paramref name="errorCode"/> is null when no credential was sent.</summary>
    protected abstract string ChallengeHeader(string? errorCode);

    /// <summary>The <c>WWW-Authenticate</c> value of a 403, for schemes that define one.</summary>
    protected virtual string? ForbiddenChallengeHeader() => null;
}
