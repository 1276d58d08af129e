using LumoAuth.ServiceDefaults.Security;
using Microsoft.Extensions.Logging;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// OpenIddict's server writes every request and response it handles to its Information log ("The token request was
/// successfully extracted: {Request}") and masks only the parameters it treats as credentials. Device codes, user codes,
/// CIBA <c>auth_req_id</c>s and PKCE verifiers pass in clear — whoever reads the log could poll in a device's or a
/// client's place — and so do login and logout hints, request objects, antiforgery tokens and introspected user names.
/// Registered as OpenIddict's logger, this one logs a copy of every such message in which only known harmless
/// parameters keep their values, and masks the holes that carry a raw token or a token payload (debug and trace
/// messages) whatever their level.
/// </summary>
public sealed class RedactedProtocolLog(ILoggerFactory factory) : ILogger<OpenIddictServerDispatcher>
{
    private const string Masked = "[redacted]";
    private const string TemplateKey = "{OriginalFormat}";

    // Printed as they are: which client asked for what, how, and what the server answered about it. Every other
    // parameter — codes, tokens, hints, state, form fields such as the antiforgery token, and whatever a later
    // extension adds — is masked.
    private static readonly HashSet<string> PrintableParameters = new(StringComparer.Ordinal)
    {
        Parameters.ClientId, Parameters.ResponseType, Parameters.ResponseMode, Parameters.Scope, Parameters.GrantType,
        Parameters.Prompt, Parameters.MaxAge, Parameters.CodeChallenge, Parameters.CodeChallengeMethod, Parameters.Resource,
        Parameters.Audience, Parameters.AcrValues, Parameters.UiLocales, Parameters.ClaimsLocales, Parameters.Display,
        Parameters.TokenTypeHint, Parameters.ClientAssertionType, Parameters.SubjectTokenType, Parameters.ActorTokenType,
        Parameters.RequestedTokenType, Parameters.TokenType, Parameters.IssuedTokenType, Parameters.ExpiresIn,
        Parameters.Interval, Parameters.Error, Parameters.ErrorDescription, Parameters.Iss, Parameters.Active,
        Claims.Subject, Claims.ExpiresAt, Claims.IssuedAt, Claims.NotBefore, Claims.Audience, Claims.JwtId, Claims.Issuer,
        Claims.AuthenticationTime, Claims.AuthenticationContextReference, Claims.AuthenticationMethodReference, "cnf", "dpop_jkt",
        LumoClaims.Tenant, LumoClaims.TenantId, "keys",
    };

    // Holes of debug and trace messages that carry a raw token, its payload, a principal's claims or a header's value.
    private static readonly HashSet<string> MaskedHoles = new(StringComparer.Ordinal) { "Token", "Payload", "ReferenceId", "Claims", "Value" };

    private readonly ILogger _inner = factory.CreateLogger<OpenIddictServerDispatcher>();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => _inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => _inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        // OpenIddict's calls reach here whatever the level: nothing is copied for a level nobody listens to.
        if (!_inner.IsEnabled(logLevel))
        {
            return;
        }

        if (state is not IReadOnlyList<KeyValuePair<string, object?>> values || !NeedsMasking(values))
        {
            _inner.Log(logLevel, eventId, state, exception, formatter);
            return;
        }

        string? template = null;
        var arguments = new List<object?>(values.Count);
        foreach (var (key, value) in values)
        {
            if (key == TemplateKey)
            {
                template = value as string;
            }
            else
            {
                arguments.Add(value is OpenIddictMessage message ? MaskedCopy(message) : MaskedHoles.Contains(key) ? Masked : value);
            }
        }

#pragma warning disable CA2254 // the template is OpenIddict's own, passed on unchanged with masked values
        _inner.Log(logLevel, eventId, exception, template, [.. arguments]);
#pragma warning restore CA2254
    }

    private static bool NeedsMasking(IReadOnlyList<KeyValuePair<string, object?>> values)
    {
        foreach (var (key, value) in values)
        {
            if (value is OpenIddictMessage || MaskedHoles.Contains(key))
            {
                return true;
            }
        }

        return false;
    }

    // Addresses (redirect_uri, verification_uri…) and discovery metadata are printable too; not a pushed request's
    // request_uri, which is a reference to it.
    private static bool IsPrintable(string name) =>
        PrintableParameters.Contains(name)
        || (name.EndsWith("_uri", StringComparison.Ordinal) && name != Parameters.RequestUri)
        || name.EndsWith("_endpoint", StringComparison.Ordinal) || name.EndsWith("_supported", StringComparison.Ordinal);

    /// <summary>A copy to print, with every parameter that is not printable masked.</summary>
    private static OpenIddictMessage MaskedCopy(OpenIddictMessage message)
    {
        var copy = new OpenIddictMessage();
        foreach (var (name, value) in message.GetParameters())
        {
            copy.SetParameter(name, IsPrintable(name) ? value : Masked);
        }

        return copy;
    }
}
