using System.Globalization;

namespace LumoAuth.OpenLoop;

/// <summary>What to send, how fast and for how long; parsed from <c>--name value</c> pairs.</summary>
public sealed record LoadOptions(
    Uri Url,
    double Rate,
    int Seconds,
    int Connections,
    IReadOnlyList<string> Bodies,
    IReadOnlyList<(string Name, string Value)> Headers,
    string? Expect,
    int WarmUpSeconds)
{
    public const string Usage = """
        usage: LumoAuth.OpenLoop <url> --rate <requests/s> --seconds <n> [--connections 64]
               (--body '<json>' | --bodies <file with one JSON body a line>) [--header 'Name: value']...
               [--expect '<substring every good answer holds>'] [--warmup <seconds>]
        """;

    public static LoadOptions Parse(string[] args)
    {
        if (args.Length == 0 || args[0].StartsWith("--", StringComparison.Ordinal))
        {
            throw new ArgumentException("the URL comes first");
        }

        var url = new Uri(args[0]);
        if (!url.IsLoopback)
        {
            // A load tool aimed elsewhere by mistake must not send anything.
            throw new ArgumentException($"{url.Host} is not a loopback address");
        }

        double rate = 0;
        int seconds = 0, connections = 64, warmUp = 0;
        string? expect = null;
        var bodies = new List<string>();
        var headers = new List<(string, string)>();
        for (var i = 1; i < args.Length; i += 2)
        {
            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"{args[i]} needs a value");
            }

            var value = args[i + 1];
            switch (args[i])
            {
                case "--rate": rate = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--seconds": seconds = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--connections": connections = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--warmup": warmUp = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--body": bodies.Add(value); break;
                case "--bodies": bodies.AddRange(File.ReadLines(value).Where(l => l.Length > 0)); break;
                case "--expect": expect = value; break;
                case "--header":
                    var colon = value.IndexOf(':', StringComparison.Ordinal);
                    headers.Add((value[..colon].Trim(), value[(colon + 1)..].Trim()));
                    break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        if (rate is <= 0 or > 1_000_000 || seconds is <= 0 or > 600 || connections is <= 0 or > 1024 || warmUp is < 0 or > 60 || bodies.Count == 0)
        {
            throw new ArgumentException("--rate 1..1000000, --seconds 1..600, --connections 1..1024, --warmup 0..60 and a body are required");
        }

        return new LoadOptions(url, rate, seconds, connections, bodies, headers, expect, warmUp);
    }
}
