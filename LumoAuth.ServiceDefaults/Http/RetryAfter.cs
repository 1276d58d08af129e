using System.Threading.RateLimiting;

namespace LumoAuth.ServiceDefaults.Http;

/// <summary>The <c>Retry-After</c> of a request a rate limiter refused, worked out one way by every limiter of ours.</summary>
public static class RetryAfter
{
    /// <summary>Whole seconds, at least one: when the limiter's lease says the window reopens, else <paramref name="fallback"/>.</summary>
    public static int Seconds(RateLimitLease lease, TimeSpan fallback) =>
        Math.Max(1, (int)Math.Ceiling((lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : fallback).TotalSeconds));
}
