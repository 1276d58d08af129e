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
        var (code, message) = Context.Items.TryGetValue(FailureKey, out var value) && value is (string c, string m)
            ? (c, m)
            : (ErrorCodes.Unauthorized, "Authentication required");
        Response.Headers.WWWAuthenticate = ChallengeHeader(code);
        return ErrorWriter.WriteAsync(Context, new ApiError(message, 401, code));
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        ErrorWriter.WriteAsync(Context, new ApiError("The credential lacks the scope this operation needs", 403, ErrorCodes.InsufficientScope));

    protected abstract string ChallengeHeader(string errorCode);
}
