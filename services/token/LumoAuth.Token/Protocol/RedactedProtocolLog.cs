using Microsoft.Extensions.Logging;
using OpenIddict.Abstractions;
using LumoAuth.Token.Features.Ciba;
using OpenIddict.Server;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// OpenIddict's server writes every request and response it handles to its Information log ("The token request was
/// successfully extracted: {Request}") and masks only the parameters it treats as credentials. Device codes, user codes,
/// CIBA <c>auth_req_id</c>s and PKCE verifiers pass in clear — whoever reads the log could poll in a device's or a
/// client's place — and so do login hints, request objects and introspected user names, which name people. Registered as
/// OpenIddict's logger, this one logs a masked copy of every such message, and masks the holes that carry a raw token
/// or a token payload (debug and trace messages) whatever their level.
/// </summary>
public sealed class RedactedProtocolLog(ILoggerFactory factory) : ILogger<OpenIddictServerDispatcher>
{
    private const string Masked = "[redacted]";
    private const string TemplateKey = "{OriginalFormat}";

    private static readonly HashSet<string> MaskedParameters = new(StringComparer.Ordinal)
    {
        OpenIddictConstants.Parameters.DeviceCode,
        OpenIddictConstants.Parameters.UserCode,
        OpenIddictConstants.Parameters.VerificationUriComplete,
        OpenIddictConstants.Parameters.CodeVerifier,
        OpenIddictConstants.Parameters.Request,
        OpenIddictConstants.Parameters.LoginHint,
        OpenIddictConstants.Parameters.Username,
        CibaGrant.AuthReqIdParameter,
        "client_notification_token",
    };

    private static readonly HashSet<string> MaskedHoles = new(StringComparer.Ordinal) { "Token", "Payload", "ReferenceId" };

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

    /// <summary>A copy to print: OpenIddict's own rendering then masks its credentials, and the values above are masked too.</summary>
    private static OpenIddictMessage MaskedCopy(OpenIddictMessage message)
    {
        var copy = new OpenIddictMessage();
        foreach (var (name, value) in message.GetParameters())
        {
            copy.SetParameter(name, MaskedParameters.Contains(name) ? Masked : value);
        }

        return copy;
    }
}
