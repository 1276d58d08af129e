using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace LumoAuth.Testing;

/// <summary>
/// Sums a counter's measurements by the value of one of its tags, from creation on. A listener hears every meter of
/// the process, so only tests that run alone (a collection with parallelization disabled) can trust the sums.
/// </summary>
public sealed class CounterByTag : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _sums = new(StringComparer.Ordinal);

    public CounterByTag(string instrumentName, string tagKey)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name == instrumentName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == tagKey && tag.Value?.ToString() is { } tagValue)
                {
                    _sums.AddOrUpdate(tagValue, value, (_, sum) => sum + value);
                }
            }
        });
        _listener.Start();
    }

    /// <summary>The sum for a tag value so far.</summary>
    public long this[string tagValue] => _sums.GetValueOrDefault(tagValue);

    /// <summary>The sum for a tag value since the last take, starting again from zero.</summary>
    public long Take(string tagValue) => _sums.TryRemove(tagValue, out var sum) ? sum : 0;

    public void Dispose() => _listener.Dispose();
}
