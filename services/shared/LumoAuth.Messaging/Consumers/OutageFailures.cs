using System.Net.Sockets;
using Npgsql;
using StackExchange.Redis;

namespace LumoAuth.Messaging.Consumers;

/// <summary>Tells a dependency being out (worth waiting for) from a failure that would repeat on every try.</summary>
public static class OutageFailures
{
    /// <summary>Whether the exception, or one it wraps, says a database, Redis or a peer service could not be reached.</summary>
    public static bool IsOutage(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is NpgsqlException { IsTransient: true } or RedisException or RedisTimeoutException or HttpRequestException
                or SocketException or TimeoutException)
            {
                return true;
            }
        }

        return false;
    }
}
