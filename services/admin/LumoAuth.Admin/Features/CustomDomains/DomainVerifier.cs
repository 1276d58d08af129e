using System.Net;
using DnsClient;
using DnsClient.Protocol;
using LumoAuth.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Features.CustomDomains;

/// <summary>What DNS says of a domain: whether the tenant proved it holds it, and whether it reaches this deployment.</summary>
public sealed record DomainCheck(bool Owned, bool Routed, IReadOnlyList<string> Problems)
{
    public bool Passed => Owned && Routed;
}

/// <summary>
/// Asks DNS, uncached, two things before a domain is served. Ownership: a TXT record at <c>_lumoauth-challenge.{domain}</c>
/// holding the domain's token, which only whoever controls the zone can publish (a CNAME alone would let any tenant claim
/// any name already pointed here). Routing: a CNAME to the deployment's host, or, for a zone apex, A/AAAA records that are
/// all among the host's own addresses.
/// </summary>
public sealed class DomainVerifier(IOptions<CustomDomainOptions> options, IOptions<LumoAuthOptions> lumo)
{
    public const string ChallengeLabel = "_lumoauth-challenge";
    public const string TokenPrefix = "lumoauth-verification=";

    private readonly LookupClient _dns = Create(options.Value);

    /// <summary>The deployment's own names (its public host and the target), which no tenant may register.</summary>
    public IReadOnlyList<string> PlatformHosts => [Target, lumo.Value.PublicHost];

    /// <summary>The host a domain must point at.</summary>
    public string Target => (options.Value.Target is { Length: > 0 } target ? target : new Uri(lumo.Value.PublicBaseUrl).Host).TrimEnd('.').ToLowerInvariant();

    public static string ChallengeName(string domain) => $"{ChallengeLabel}.{domain}";

    public static string ChallengeValue(string token) => TokenPrefix + token;

    public async Task<DomainCheck> CheckAsync(string domain, string token, CancellationToken cancellationToken)
    {
        // The four questions about the domain go out together: an unresponsive resolver costs one timeout, not four.
        var txt = QueryAsync(ChallengeName(domain), QueryType.TXT, cancellationToken);
        var cname = QueryAsync(domain, QueryType.CNAME, cancellationToken);
        var v4 = QueryAsync(domain, QueryType.A, cancellationToken);
        var v6 = QueryAsync(domain, QueryType.AAAA, cancellationToken);
        await Task.WhenAll(txt, cname, v4, v6);

        var problems = new List<string>();
        var expected = ChallengeValue(token);
        var owned = (await txt).OfType<TxtRecord>().Any(record => record.Text.Any(text => string.Equals(text, expected, StringComparison.Ordinal)));
        if (!owned)
        {
            problems.Add($"no TXT record at {ChallengeName(domain)} holds \"{expected}\"");
        }

        var routed = (await cname).OfType<CNameRecord>().Any(record => string.Equals(record.CanonicalName.Value.TrimEnd('.'), Target, StringComparison.OrdinalIgnoreCase))
            || await AreTargetAddressesAsync(Addresses(await v4, await v6), cancellationToken);
        if (!routed)
        {
            problems.Add($"{domain} has neither a CNAME to {Target} nor only A/AAAA records of {Target}");
        }

        return new DomainCheck(owned, routed, problems);
    }

    /// <summary>
    /// Whether the ownership record is still published (a recheck of a verified domain; routing is not asked again, as a
    /// proxy or CDN may stand in front since): true or false when DNS answered, null when it did not (a timeout, a server
    /// failure), which proves nothing either way.
    /// </summary>
    public async Task<bool?> OwnershipAsync(string domain, string token, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _dns.QueryAsync(ChallengeName(domain), QueryType.TXT, QueryClass.IN, cancellationToken);
            if (response.HasError && response.Header.ResponseCode != DnsHeaderResponseCode.NotExistentDomain)
            {
                return null;
            }

            var expected = ChallengeValue(token);
            return response.Answers.OfType<TxtRecord>().Any(record => record.Text.Any(text => string.Equals(text, expected, StringComparison.Ordinal)));
        }
        catch (Exception ex) when (ex is DnsResponseException or DnsResponseParseException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>For a zone apex, which cannot hold a CNAME: every address it names must be one of the target's.</summary>
    private async Task<bool> AreTargetAddressesAsync(HashSet<IPAddress> addresses, CancellationToken cancellationToken)
    {
        if (addresses.Count == 0)
        {
            return false;
        }

        if (IPAddress.TryParse(Target, out var literal))
        {
            return addresses.All(literal.Equals);
        }

        var v4 = QueryAsync(Target, QueryType.A, cancellationToken);
        var v6 = QueryAsync(Target, QueryType.AAAA, cancellationToken);
        var targetAddresses = Addresses(await v4, await v6);
        return addresses.All(targetAddresses.Contains);
    }

    private static HashSet<IPAddress> Addresses(IReadOnlyList<DnsResourceRecord> v4, IReadOnlyList<DnsResourceRecord> v6) =>
        [.. v4.Concat(v6).OfType<AddressRecord>().Select(record => record.Address)];

    private async Task<IReadOnlyList<DnsResourceRecord>> QueryAsync(string name, QueryType type, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _dns.QueryAsync(name, type, QueryClass.IN, cancellationToken);
            return response.HasError ? [] : response.Answers;
        }
        catch (Exception ex) when (ex is DnsResponseException or DnsResponseParseException or ArgumentException)
        {
            // No answer in time, a refusal, an answer that cannot be read (the tenant's own server sends it) or a name DNS
            // cannot carry: the record is not there as far as anyone can tell.
            return [];
        }
    }

    private static LookupClient Create(CustomDomainOptions options)
    {
        var servers = options.NameServers.Select(ParseServer).ToArray();
        var lookup = servers.Length > 0 ? new LookupClientOptions(servers) : new LookupClientOptions();
        // Verification asks what DNS holds now, not what a cache remembers from before the owner fixed a record.
        lookup.UseCache = false;
        lookup.Timeout = options.LookupTimeout;
        lookup.Retries = 0;
        lookup.ThrowDnsErrors = false;
        return new LookupClient(lookup);
    }

    private static NameServer ParseServer(string value) =>
        IPEndPoint.TryParse(value, out var endpoint)
            ? new NameServer(endpoint.Port == 0 ? new IPEndPoint(endpoint.Address, 53) : endpoint)
            : throw new OptionsValidationException(CustomDomainOptions.SectionName, typeof(CustomDomainOptions), [$"'{value}' is not an ip or ip:port"]);
}
