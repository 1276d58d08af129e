namespace LumoAuth.Messaging.Consumers;

/// <summary>
/// Thrown by a consumer when a service it depends on (one of ours, e.g. admin) cannot answer: an outage to wait out,
/// so the message is kept and tried again like when PostgreSQL or Redis is down (<see cref="OutageFailures"/>).
/// Not for clients' own URLs, whose failures are theirs to fix.
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
