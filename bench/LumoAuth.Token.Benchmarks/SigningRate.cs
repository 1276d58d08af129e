using System.Diagnostics;
using System.Globalization;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Benchmarks;

/// <summary>
/// The ceiling a token endpoint can reach on this machine: one thread per core writes and signs access
/// tokens back to back for a fixed time per algorithm, and the total rate is printed. BenchmarkDotNet's
/// figures are one thread; this is what all cores together allow.
/// </summary>
public static class SigningRate
{
    public static int Run(string[] args)
    {
        var seconds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        var algorithms = args.Length > 1 ? args[1..] : ["RS256", "ES256"];
        var threads = Environment.ProcessorCount;
        foreach (var algorithm in algorithms)
        {
            var signed = Measure(algorithm, threads, TimeSpan.FromSeconds(seconds), out var elapsed);
            // The bench scripts read this line: "<alg> <signatures/s> on <threads> threads".
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{algorithm} {signed / elapsed.TotalSeconds:F0} signatures/s on {threads} threads ({signed} in {elapsed.TotalSeconds:F1} s)"));
        }

        return 0;
    }

    private static long Measure(string algorithm, int threads, TimeSpan duration, out TimeSpan elapsed)
    {
        var credentials = SampleAccessToken.Credentials(algorithm);
        // A short warm-up so JIT tiering and key setup are not counted.
        var warmUp = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        for (var i = 0; i < 200; i++)
        {
            warmUp.CreateToken(SampleAccessToken.Describe(credentials));
        }

        long total = 0;
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
        {
            var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
            long mine = 0;
            while (clock.Elapsed < duration)
            {
                handler.CreateToken(SampleAccessToken.Describe(credentials));
                mine++;
            }

            Interlocked.Add(ref total, mine);
        })).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());
        elapsed = clock.Elapsed;
        return total;
    }
}
