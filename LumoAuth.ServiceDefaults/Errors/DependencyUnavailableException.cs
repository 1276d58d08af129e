namespace LumoAuth.ServiceDefaults.Errors;

/// <summary>
/// Thrown when a service this work depends on (one of ours, e.g. admin) cannot answer: an outage to wait out. A consumer's
/// message is kept and tried again, as when PostgreSQL or Redis is down (<c>OutageFailures</c>); a request is answered
/// 503 (<c>temporarily_unavailable</c> on OAuth paths) by <see cref="EnvelopeExceptionHandler"/>. Not for clients' own
/// URLs, whose failures are theirs to fix.
/// </summary>
public sealed class DependencyUnavailableException : Exception
{
    public DependencyUnavailableException()
    {
    }

    public DependencyUnavailableException(string message)
        : base(message)
    {
    }

    public DependencyUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
