using LumoAuth.ServiceDefaults.Errors;
using Npgsql;
using StackExchange.Redis;

namespace LumoAuth.Messaging.Consumers;

/// <summary>Tells our own infrastructure being out (worth waiting for) from a failure that would repeat on every try.</summary>
public static class OutageFailures
{
    /// <summary>
    /// Whether the exception, or one it wraps, says the database, Redis or a service we depend on could not be reached.
    /// Failed HTTP calls as such are not counted: several consumers call clients' own URLs (back-channel logout, CIBA
    /// pings), where a dead address is the client's lasting problem; a consumer says an internal service is down with
    /// <see cref="DependencyUnavailableException"/>.
    /// </summary>
    public static bool IsOutage(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is NpgsqlException { IsTransient: true } or RedisConnectionException or RedisTimeoutException or DependencyUnavailableException)
            {
                return true;
            }
        }

        return false;
    }
}
