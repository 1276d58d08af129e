namespace LumoAuth.Messaging;

/// <summary>
/// The long retry for a consumer whose dependency is out (<see cref="Consumers.OutageFailures"/>), after the quick
/// retries: waits growing from <see cref="MinInterval"/> by <see cref="IntervalDelta"/> doubled each time, up to
/// <see cref="MaxInterval"/>, <see cref="Limit"/> times. Tests shorten it (<c>Messaging:OutageRetry</c>).
/// </summary>
public sealed class OutageRetryOptions
{
    public const string SectionName = "Messaging:OutageRetry";

    public int Limit { get; set; } = 10_000;

    public TimeSpan MinInterval { get; set; } = TimeSpan.FromSeconds(20);

    public TimeSpan MaxInterval { get; set; } = TimeSpan.FromMinutes(5);

    public TimeSpan IntervalDelta { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// About how long one delivery stays unacknowledged at most while it is retried (about 35 days by default): the
    /// broker's <c>consumer_timeout</c> must be longer, or it closes the channel mid-retry (see eng/infra.sh).
    /// </summary>
    public TimeSpan LongestSpan => MaxInterval * Limit;

    public IEnumerable<TimeSpan> Schedule() => QuickRetries.Exponential(Limit, MinInterval, MaxInterval, IntervalDelta);
}

/// <summary>The first retries of any failure: eight, about 40 s of waits in all.</summary>
public static class QuickRetries
{
    public static IEnumerable<TimeSpan> Schedule() =>
        Exponential(8, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(300));

    /// <summary><paramref name="count"/> waits: <c>min + delta × (2^i − 1)</c>, at most <paramref name="max"/>.</summary>
    public static IEnumerable<TimeSpan> Exponential(int count, TimeSpan min, TimeSpan max, TimeSpan delta)
    {
        var wait = min;
        for (var i = 0; i < count; i++)
        {
            yield return wait < max ? wait : max;
            if (wait < max)
            {
                wait = min + (delta * Math.Pow(2, i + 1)) - delta;
            }
        }
    }
}
