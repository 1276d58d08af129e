using System.Globalization;

namespace LumoAuth.OpenLoop;

/// <summary>Latencies in milliseconds, sorted; counts of what went wrong.</summary>
public sealed record LoadResult(
    double[] FromSchedule, double[] Service, double[] SendLag, long Errors, long Unsent, string? FirstError, TimeSpan Elapsed)
{
    public static LoadResult From(IReadOnlyList<ConnectionLog> logs, TimeSpan elapsed) => new(
        Sorted(logs.SelectMany(l => l.FromSchedule)),
        Sorted(logs.SelectMany(l => l.Service)),
        Sorted(logs.SelectMany(l => l.SendLag)),
        logs.Sum(l => l.Errors),
        logs.Sum(l => l.Unsent),
        logs.Select(l => l.FirstError).FirstOrDefault(e => e is not null),
        elapsed);

    public double Achieved => FromSchedule.Length / Elapsed.TotalSeconds;

    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    public string Describe(double target) => string.Create(CultureInfo.InvariantCulture, $"""
        target {target:F0}/s, achieved {Achieved:F0}/s ({FromSchedule.Length} ok in {Elapsed.TotalSeconds:F1} s), {Errors} errors, {Unsent} unsent
        latency from schedule: p50 {Percentile(FromSchedule, 0.5):F2} ms, p90 {Percentile(FromSchedule, 0.9):F2} ms, p99 {Percentile(FromSchedule, 0.99):F2} ms, max {Percentile(FromSchedule, 1):F2} ms
        service time (from send): p50 {Percentile(Service, 0.5):F2} ms, p99 {Percentile(Service, 0.99):F2} ms; send lag p99 {Percentile(SendLag, 0.99):F2} ms
        """) + (FirstError is null ? string.Empty : $"{Environment.NewLine}first error: {FirstError}");

    /// <summary>For scripts: <c>OPENLOOP achieved p50 p90 p99 max errors unsent service-p99 lag-p99</c>.</summary>
    public string MachineLine() => string.Create(CultureInfo.InvariantCulture,
        $"OPENLOOP {Achieved:F0} {Percentile(FromSchedule, 0.5):F2} {Percentile(FromSchedule, 0.9):F2} {Percentile(FromSchedule, 0.99):F2} {Percentile(FromSchedule, 1):F2} {Errors} {Unsent} {Percentile(Service, 0.99):F2} {Percentile(SendLag, 0.99):F2}");

    private static double[] Sorted(IEnumerable<double> values)
    {
        var array = values.ToArray();
        Array.Sort(array);
        return array;
    }
}
