using System.DirectoryServices.Protocols;
using System.Net;
using System.Text;
using LumoAuth.Federation.Data;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.Extensions.Options;

namespace LumoAuth.Federation.Features.Ldap;

/// <summary>A directory entry that signed in: its DN, the value that names it for good, and what it says of the person.</summary>
public sealed record LdapAccount(
    string Dn, string Subject, string? Username, string? Email, string? Name, string? GivenName, string? FamilyName, string? Phone, IReadOnlyList<string> Groups)
{
    /// <summary>The entry as any outside account: linked by its lasting id, its address verified when the directory is trusted for it.</summary>
    public Login.UpstreamAccount ToUpstream(LdapSettings settings) => new(
        Subject, Email, settings.TrustEmail && Email is not null,
        Name ?? (GivenName is null && FamilyName is null ? null : $"{GivenName} {FamilyName}".Trim()),
        GivenName, FamilyName, Picture: null) { PhoneNumber = Phone, Username = Username };
}

public enum LdapVerdict
{
    Success,

    /// <summary>No entry, several entries, or the wrong password: the person is told the same.</summary>
    InvalidCredentials,

    /// <summary>The directory cannot be reached or did not answer in time.</summary>
    Unavailable,

    /// <summary>The directory refused the service account or the search: the tenant's settings are wrong (logged).</summary>
    Misconfigured,

    /// <summary>The directory refused a new password (its own password policy: length, history, age).</summary>
    Refused,
}

public sealed record LdapOutcome(LdapVerdict Verdict, LdapAccount? Account = null, string? Problem = null)
{
    /// <summary>A listing's entries (<see cref="LdapDirectory.ListAsync"/>).</summary>
    public IReadOnlyList<LdapAccount> Accounts { get; init; } = [];

    /// <summary>Whether the listing stopped at its cap (or the directory's) before the last entry.</summary>
    public bool Truncated { get; init; }

    /// <summary>The latest <c>modifyTimestamp</c> among the listed entries (as the directory wrote it); null when none had one.</summary>
    public string? HighWater { get; init; }
}

/// <summary>
/// Signs a person in at an LDAP directory the way Keycloak's and Auth0's connectors do: the service account (or an
/// anonymous session) searches the base DN's subtree with the tenant's filter, in which the typed name is escaped
/// (RFC 4515); exactly one entry must match; then a second connection binds as that entry with the typed password, which
/// is the check. Only a hostname whose addresses pass the SSRF rules is contacted (<see cref="FederationOptions"/>);
/// without TLS the connection goes to the very address checked, with TLS to the name, which the certificate must carry.
/// The library's calls block, so they run on the thread pool, a bounded number at a time.
/// </summary>
public sealed partial class LdapDirectory(IOptions<FederationOptions> options, ILogger<LdapDirectory> logger) : IDisposable
{
    /// <summary>Each step (connect, bind, search) gives up after this long.</summary>
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Calls blocked on directories at once, all directories together; more are told to come back.</summary>
    private const int MaxWaiting = 16;

    /// <summary>Calls blocked on one directory at once: a directory that never answers holds these, not the others' share.</summary>
    private const int MaxWaitingPerDirectory = 4;

    private readonly SemaphoreSlim _gate = new(MaxWaiting);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _waitingPerDirectory = new(StringComparer.OrdinalIgnoreCase);

    public void Dispose() => _gate.Dispose();

    /// <summary>
    /// Whether the typed name and password may be sent at all. An empty password would be an unauthenticated bind, which
    /// directories answer with success (RFC 4513 §5.1.2); a NUL (or any control character) could cut the password short
    /// in the library and make one of it.
    /// </summary>
    public static bool IsUsable(string username, string password) =>
        username.Length is > 0 and <= 256 && !username.AsSpan().ContainsAnyInRange('\0', '\x1F')
        && password.Length is > 0 and <= 1024 && !password.AsSpan().ContainsAnyInRange('\0', '\x1F');

    public async Task<LdapOutcome> AuthenticateAsync(LdapSettings settings, string? bindPassword, string username, string password, CancellationToken cancellationToken)
    {
        return IsUsable(username, password)
            ? await RunAsync(settings, host => Authenticate(settings, host, bindPassword, username, password), cancellationToken)
            : new LdapOutcome(LdapVerdict.InvalidCredentials);
    }

    /// <summary>
    /// The administrator's check of a directory's settings: the host is one we contact, TLS holds, the service account binds
    /// and can read the base DN. <see cref="LdapVerdict.Success"/>, or the problem in words.
    /// </summary>
    public Task<LdapOutcome> CheckAsync(LdapSettings settings, string? bindPassword, CancellationToken cancellationToken) =>
        RunAsync(settings, host => Check(settings, host, bindPassword), cancellationToken);

    /// <summary>How long one listing may take in all (each page and group read still has the step timeout).</summary>
    private static readonly TimeSpan ListTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Entries asked for per page (RFC 2696 paged results): under the usual server limits of 500 and 1000.</summary>
    private const int PageSize = 200;

    /// <summary>Group reads one listing may make, all entries together (each group is read once).</summary>
    private const int MaxListGroupReads = 2000;

    /// <summary>
    /// Every entry the user filter matches with its <c>{username}</c> a wildcard — the people who may sign in — page by
    /// page, at most <paramref name="maxEntries"/> (<see cref="LdapOutcome.Truncated"/> beyond), each read as at sign-in;
    /// with nested groups, each group's parents are read once for the whole listing.
    /// </summary>
    /// <param name="changedSince">Only entries whose <c>modifyTimestamp</c> is at or after this generalized time (the directory's clock).</param>
    public Task<LdapOutcome> ListAsync(LdapSettings settings, string? bindPassword, int maxEntries, CancellationToken cancellationToken, string? changedSince = null) =>
        RunAsync(settings, host => List(settings, host, bindPassword, maxEntries, changedSince), cancellationToken, ListTimeout);

    /// <summary>
    /// Sets the password of the entry whose lasting id is <paramref name="subject"/> with RFC 3062's password modify
    /// operation: as the person, after binding with <paramref name="currentPassword"/> (their own change), or as the service
    /// account (a reset, when no current password is given; the account needs the right to write passwords).
    /// </summary>
    public Task<LdapOutcome> ChangePasswordAsync(
        LdapSettings settings, string? bindPassword, string subject, string? currentPassword, string newPassword, CancellationToken cancellationToken) =>
        RunAsync(settings, host => ChangePassword(settings, host, bindPassword, subject, currentPassword, newPassword), cancellationToken);

    /// <summary>RFC 3062's extended operation.</summary>
    private const string PasswordModifyOid = "1.3.6.1.4.1.4203.1.11.1";

    private LdapOutcome ChangePassword(LdapSettings settings, string host, string? bindPassword, string subject, string? currentPassword, string newPassword)
    {
        // An empty password would bind unauthenticated (RFC 4513 §5.1.2), proving nothing, as at sign-in.
        if (currentPassword is not null && !IsUsable(subject, currentPassword))
        {
            return new LdapOutcome(LdapVerdict.InvalidCredentials);
        }

        string dn;
        try
        {
            using var service = Connect(settings, host);
            if (BindService(service, settings, bindPassword) is { } unbound)
            {
                return Misconfigured(settings, unbound, null);
            }

            var search = new SearchRequest(settings.BaseDn, $"({settings.IdAttribute}={IdFilterValue(settings.IdAttribute, subject)})", SearchScope.Subtree, "1.1")
            {
                SizeLimit = 2, TimeLimit = StepTimeout,
            };
            if (((SearchResponse)service.SendRequest(search, StepTimeout)).Entries is not { Count: 1 } entries)
            {
                return new LdapOutcome(LdapVerdict.InvalidCredentials, Problem: "the directory no longer has the person's entry");
            }

            dn = entries[0].DistinguishedName;
            if (currentPassword is null)
            {
                service.SendRequest(new ExtendedRequest(PasswordModifyOid, PasswordModifyValue(dn, null, newPassword)), StepTimeout);
                return new LdapOutcome(LdapVerdict.Success);
            }
        }
        catch (DirectoryOperationException exception) when (exception.Response?.ResultCode is ResultCode.ConstraintViolation or ResultCode.UnwillingToPerform)
        {
            return new LdapOutcome(LdapVerdict.Refused, Problem: exception.Response.ErrorMessage);
        }
        catch (Exception exception) when (exception is LdapException or DirectoryException)
        {
            return ServiceAccountFailure(settings, exception, "password reset");
        }

        try
        {
            using var person = Connect(settings, host);
            person.Bind(new NetworkCredential(dn, currentPassword));
            person.SendRequest(new ExtendedRequest(PasswordModifyOid, PasswordModifyValue(null, currentPassword, newPassword)), StepTimeout);
            return new LdapOutcome(LdapVerdict.Success);
        }
        catch (LdapException exception) when (exception.ErrorCode == InvalidCredentialsCode)
        {
            return new LdapOutcome(LdapVerdict.InvalidCredentials);
        }
        catch (DirectoryOperationException exception) when (exception.Response?.ResultCode is ResultCode.ConstraintViolation or ResultCode.UnwillingToPerform)
        {
            return new LdapOutcome(LdapVerdict.Refused, Problem: exception.Response.ErrorMessage);
        }
        catch (Exception exception) when (exception is LdapException or DirectoryException)
        {
            return Unreachable(settings, exception);
        }
    }

    /// <summary>RFC 3062's request value: <c>SEQUENCE { userIdentity [0], oldPasswd [1], newPasswd [2] }</c>, each optional.</summary>
    private static byte[] PasswordModifyValue(string? dn, string? oldPassword, string newPassword)
    {
        var writer = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.BER);
        void Field(int tag, string? value)
        {
            if (value is not null)
            {
                writer.WriteOctetString(Encoding.UTF8.GetBytes(value), new System.Formats.Asn1.Asn1Tag(System.Formats.Asn1.TagClass.ContextSpecific, tag));
            }
        }

        using (writer.PushSequence())
        {
            Field(0, dn);
            Field(1, oldPassword);
            Field(2, newPassword);
        }

        return writer.Encode();
    }

    /// <summary>A lasting id as a filter value: AD's <c>objectGUID</c> as its escaped bytes, any other id as escaped text.</summary>
    private static string IdFilterValue(string attribute, string subject) =>
        string.Equals(attribute, "objectGUID", StringComparison.OrdinalIgnoreCase) && Guid.TryParse(subject, out var guid)
            ? string.Concat(guid.ToByteArray().Select(b => $"\\{b:x2}"))
            : EscapeFilterValue(subject);

    /// <summary>The operational attribute every directory keeps of an entry's last change (AD constructs it from <c>whenChanged</c>).</summary>
    private const string ModifyTimestamp = "modifyTimestamp";

    /// <summary>A generalized time (RFC 4517 §3.3.13) as a UTC instant; null when it is not one.</summary>
    public static DateTimeOffset? ParseGeneralizedTime(string? value)
    {
        if (value is not { Length: >= 15 } || !value.EndsWith('Z')
            || !DateTimeOffset.TryParseExact(value[..14], "yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal, out var instant))
        {
            return null;
        }

        return instant;
    }

    /// <summary>An instant as a generalized time in whole seconds, the form both OpenLDAP and Active Directory take in filters.</summary>
    public static string FormatGeneralizedTime(DateTimeOffset instant) =>
        instant.UtcDateTime.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture) + ".0Z";

    /// <summary>Runs <paramref name="work"/> against the directory's checked address, within the limits on blocked threads.</summary>
    private async Task<LdapOutcome> RunAsync(LdapSettings settings, Func<string, LdapOutcome> work, CancellationToken cancellationToken, TimeSpan? total = null)
    {
        var target = await TargetAsync(settings, cancellationToken);
        if (target.Problem is { } problem)
        {
            return new LdapOutcome(LdapVerdict.Misconfigured, Problem: problem);
        }

        var directory = $"{settings.Host}:{settings.Port}";
        if (_waitingPerDirectory.AddOrUpdate(directory, 1, (_, n) => n + 1) > MaxWaitingPerDirectory)
        {
            Leave(directory);
            return new LdapOutcome(LdapVerdict.Unavailable, Problem: "too many sign-ins are waiting on this directory");
        }

        if (!await _gate.WaitAsync(StepTimeout, CancellationToken.None))
        {
            Leave(directory);
            return new LdapOutcome(LdapVerdict.Unavailable, Problem: "too many sign-ins are waiting on directories");
        }

        // The places are given back when the blocking work ends, not when this caller stops waiting for it: a directory that
        // never answers keeps its threads, and only up to the limits.
        var running = Task.Run(() => work(target.Host!), CancellationToken.None);
        _ = running.ContinueWith(_ => { _gate.Release(); Leave(directory); }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            // The steps have their own timeouts; this one bounds the whole when the library does not honour them.
            return await running.WaitAsync(total ?? StepTimeout * 4, cancellationToken);
        }
        catch (TimeoutException)
        {
            return new LdapOutcome(LdapVerdict.Unavailable, Problem: "the directory did not answer in time");
        }
    }

    private void Leave(string directory)
    {
        if (_waitingPerDirectory.AddOrUpdate(directory, 0, (_, n) => n - 1) <= 0)
        {
            _waitingPerDirectory.TryRemove(new KeyValuePair<string, int>(directory, 0));
        }
    }

    /// <summary>Escapes a value for an LDAP search filter (RFC 4515 §3): the typed name can never add to the filter.</summary>
    public static string EscapeFilterValue(string value)
    {
        var escaped = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            _ = c switch
            {
                '\\' => escaped.Append(@"\5c"),
                '*' => escaped.Append(@"\2a"),
                '(' => escaped.Append(@"\28"),
                ')' => escaped.Append(@"\29"),
                '\0' => escaped.Append(@"\00"),
                _ => escaped.Append(c),
            };
        }

        return escaped.ToString();
    }

    /// <summary>Whether <paramref name="filter"/> is one the search may use: parenthesised, naming <c>{username}</c> at least once.</summary>
    public static bool IsUsableFilter(string filter) =>
        filter.Length is > 2 and <= 1000 && filter[0] == '(' && filter[^1] == ')' && filter.Contains("{username}", StringComparison.Ordinal)
        && !filter.AsSpan().ContainsAnyInRange('\0', '\x1F') && filter.Count(c => c == '(') == filter.Count(c => c == ')');

    private async Task<(string? Host, string? Problem)> TargetAsync(LdapSettings settings, CancellationToken cancellationToken)
    {
        var allowPrivate = options.Value.AllowPrivateTargets
                           || options.Value.Ldap.PrivateHosts.Contains(settings.Host, StringComparer.OrdinalIgnoreCase);
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(settings.Host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(settings.Host, cancellationToken);
        }
        catch (System.Net.Sockets.SocketException)
        {
            return (null, $"the host {settings.Host} does not resolve");
        }

        if (addresses.Length == 0 || (!allowPrivate && addresses.Any(SsrfGuard.IsForbidden)))
        {
            return (null, $"the host {settings.Host} resolves to an address this deployment does not contact (Federation:Ldap:PrivateHosts lists directories on private networks)");
        }

        // TLS checks the certificate against the name; without it the checked address itself is contacted (no second lookup).
        return (settings.UseTls || settings.StartTls ? settings.Host : addresses[0].ToString(), null);
    }

    private LdapOutcome Authenticate(LdapSettings settings, string host, string? bindPassword, string username, string password)
    {
        SearchResultEntry entry;
        try
        {
            using var service = Connect(settings, host);
            if (BindService(service, settings, bindPassword) is { } unbound)
            {
                return Misconfigured(settings, unbound, null);
            }

            var filter = settings.UserFilter.Replace("{username}", EscapeFilterValue(username), StringComparison.Ordinal);
            var search = new SearchRequest(settings.BaseDn, filter, SearchScope.Subtree, Attributes(settings)) { SizeLimit = 2, TimeLimit = StepTimeout };
            var found = (SearchResponse)service.SendRequest(search, StepTimeout);
            if (found.Entries.Count != 1)
            {
                if (found.Entries.Count > 1)
                {
                    LogAmbiguous(logger, settings.Host);
                }

                return Refused(settings, host, password);
            }

            entry = found.Entries[0];
        }
        catch (DirectoryOperationException exception) when (exception.Response?.ResultCode == ResultCode.SizeLimitExceeded)
        {
            LogAmbiguous(logger, settings.Host);
            return Refused(settings, host, password);
        }
        catch (Exception exception) when (exception is LdapException or DirectoryException)
        {
            return ServiceAccountFailure(settings, exception, "search");
        }

        try
        {
            using var person = Connect(settings, host);
            person.Bind(new NetworkCredential(entry.DistinguishedName, password));
        }
        catch (LdapException exception) when (exception.ErrorCode == InvalidCredentialsCode)
        {
            return new LdapOutcome(LdapVerdict.InvalidCredentials);
        }
        catch (Exception exception) when (exception is LdapException or DirectoryException)
        {
            return Unreachable(settings, exception);
        }

        // Read only once the password is proven: an entry the settings cannot link says nothing to someone guessing.
        if (Read(settings, entry) is not { } account)
        {
            return Misconfigured(settings, $"the entry has no {settings.IdAttribute} value to link it by", null);
        }

        if (!settings.NestedGroups || account.Groups.Count == 0)
        {
            return new LdapOutcome(LdapVerdict.Success, account);
        }

        // Roles follow the groups: without all of them the sign-in cannot go on (no role is kept or given by guess).
        try
        {
            using var service = Connect(settings, host);
            return BindService(service, settings, bindPassword) is { } unbound
                ? Misconfigured(settings, unbound, null)
                : new LdapOutcome(LdapVerdict.Success, account with { Groups = WithParentGroups(service, settings, account.Groups, [], MaxGroupReads) });
        }
        catch (DirectoryOperationException exception)
        {
            return Misconfigured(settings, $"the directory refused to read a group ({exception.Response?.ResultCode})", exception);
        }
        catch (Exception exception) when (exception is LdapException or DirectoryException)
        {
            return Unreachable(settings, exception);
        }
    }

    /// <summary>Group reads one sign-in may make to find the groups of groups.</summary>
    private const int MaxGroupReads = 100;

    /// <summary>
    /// <paramref name="direct"/> and every group they are in, directly or further up, breadth first: each group's own groups
    /// attribute is read (AD's and OpenLDAP's <c>memberOf</c> on group entries, so it works on both, unlike AD's
    /// in-chain matching rule). Cycles end where a group is met again. A group's parents are read once into
    /// <paramref name="parentsOf"/> (a listing shares it between entries), at most <paramref name="reads"/> reads in all. A
    /// group the service account cannot see adds no parents.
    /// </summary>
    private static List<string> WithParentGroups(
        LdapConnection service, LdapSettings settings, IReadOnlyList<string> direct, Dictionary<string, IReadOnlyList<string>> parentsOf, int reads)
    {
        var groups = new List<string>(direct);
        var seen = new HashSet<string>(direct, StringComparer.OrdinalIgnoreCase);
        var pending = new Queue<string>(direct);
        while (pending.TryDequeue(out var group))
        {
            if (!parentsOf.TryGetValue(group, out var parents))
            {
                if (parentsOf.Count >= reads)
                {
                    break;
                }

                parentsOf[group] = parents = ParentsOf(service, settings, group);
            }

            foreach (var parent in parents.Where(seen.Add))
            {
                groups.Add(parent);
                pending.Enqueue(parent);
            }
        }

        return groups;
    }

    private static IReadOnlyList<string> ParentsOf(LdapConnection service, LdapSettings settings, string group)
    {
        try
        {
            var read = (SearchResponse)service.SendRequest(new SearchRequest(group, "(objectClass=*)", SearchScope.Base, settings.GroupsAttribute), StepTimeout);
            return read.Entries is [SearchResultEntry entry] && entry.Attributes[settings.GroupsAttribute] is { } parents
                ? [.. parents.GetValues(typeof(string)).Cast<string>()]
                : [];
        }
        catch (DirectoryOperationException exception) when (exception.Response?.ResultCode is ResultCode.NoSuchObject or ResultCode.InsufficientAccessRights)
        {
            return [];
        }
    }

    private LdapOutcome List(LdapSettings settings, string host, string? bindPassword, int maxEntries, string? changedSince)
    {
        try
        {
            using var service = Connect(settings, host);
            if (BindService(service, settings, bindPassword) is { } unbound)
            {
                return Misconfigured(settings, unbound, null);
            }

            var filter = settings.UserFilter.Replace("{username}", "*", StringComparison.Ordinal);
            if (ParseGeneralizedTime(changedSince) is { } since)
            {
                filter = $"(&{filter}({ModifyTimestamp}>={FormatGeneralizedTime(since)}))";
            }

            var paging = new PageResultRequestControl(PageSize) { IsCritical = false };
            var search = new SearchRequest(settings.BaseDn, filter, SearchScope.Subtree, [.. Attributes(settings), ModifyTimestamp]) { TimeLimit = StepTimeout };
            DateTimeOffset? highWater = null;
            search.Controls.Add(paging);
            var accounts = new List<LdapAccount>();
            var truncated = false;
            while (true)
            {
                SearchResponse page;
                try
                {
                    page = (SearchResponse)service.SendRequest(search, StepTimeout);
                }
                catch (DirectoryOperationException exception) when (exception.Response is SearchResponse partial && exception.Response.ResultCode == ResultCode.SizeLimitExceeded)
                {
                    // The directory's own limit: what it gave is taken, and the listing counts as cut short.
                    (page, truncated) = (partial, true);
                }

                foreach (SearchResultEntry entry in page.Entries)
                {
                    if (accounts.Count >= maxEntries)
                    {
                        truncated = true;
                        break;
                    }

                    if (Read(settings, entry) is { } account)
                    {
                        accounts.Add(account);
                        if (entry.Attributes[ModifyTimestamp] is { Count: > 0 } stamps && ParseGeneralizedTime(stamps[0] as string) is { } stamp && !(stamp <= highWater))
                        {
                            highWater = stamp;
                        }
                    }
                }

                var cookie = page.Controls.OfType<PageResultResponseControl>().FirstOrDefault()?.Cookie;
                if (truncated || cookie is not { Length: > 0 })
                {
                    break;
                }

                paging.Cookie = cookie;
            }

            if (settings.NestedGroups)
            {
                var parentsOf = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
                for (var i = 0; i < accounts.Count; i++)
                {
                    if (accounts[i].Groups.Count > 0)
                    {
                        accounts[i] = accounts[i] with { Groups = WithParentGroups(service, settings, accounts[i].Groups, parentsOf, MaxListGroupReads) };
                    }
                }
            }

            return new LdapOutcome(LdapVerdict.Success)
            {
                Accounts = accounts, Truncated = truncated, HighWater = highWater is { } latest ? FormatGeneralizedTime(latest) : null,
            };
        }
        catch (Exception exception) when (exception is LdapException or DirectoryException)
        {
            return ServiceAccountFailure(settings, exception, "listing");
        }
    }

    private LdapOutcome Check(LdapSettings settings, string host, string? bindPassword)
    {
        try
        {
            using var service = Connect(settings, host);
            if (BindService(service, settings, bindPassword) is { } unbound)
            {
                return new LdapOutcome(LdapVerdict.Misconfigured, Problem: unbound);
            }

            service.SendRequest(new SearchRequest(settings.BaseDn, "(objectClass=*)", SearchScope.Base, "objectClass"), StepTimeout);
            return new LdapOutcome(LdapVerdict.Success);
        }
        catch (LdapException exception) when (exception.ErrorCode == InvalidCredentialsCode)
        {
            return new LdapOutcome(LdapVerdict.Misconfigured, Problem: "the directory refused the service account's credentials");
        }
        catch (DirectoryOperationException exception)
        {
            return new LdapOutcome(LdapVerdict.Misconfigured, Problem: $"the directory refused to read the base DN ({exception.Response?.ResultCode})");
        }
        catch (Exception exception) when (exception is LdapException or DirectoryException)
        {
            return new LdapOutcome(LdapVerdict.Unavailable, Problem: $"the directory cannot be reached or TLS failed ({exception.Message})");
        }
    }

    /// <summary>Binds the service account, or anonymously when there is none; the problem when the settings cannot bind.</summary>
    private static string? BindService(LdapConnection service, LdapSettings settings, string? bindPassword)
    {
        if (settings.BindDn is not { Length: > 0 } bindDn)
        {
            service.AuthType = AuthType.Anonymous;
            service.Bind();
            return null;
        }

        if (string.IsNullOrEmpty(bindPassword))
        {
            // A DN without a password is an unauthenticated bind, which acts anonymously: not what was set up.
            return "the service account has no password";
        }

        service.Bind(new NetworkCredential(bindDn, bindPassword));
        return null;
    }

    /// <summary>
    /// The answer for a name that matched no single entry, after the same second connection and bind a known name costs
    /// (as an entry that does not exist): how long the answer takes does not tell which names the directory has.
    /// </summary>
    private LdapOutcome Refused(LdapSettings settings, string host, string password)
    {
        try
        {
            using var nobody = Connect(settings, host);
            nobody.Bind(new NetworkCredential($"cn={Guid.NewGuid():N},{settings.BaseDn}", password));
        }
        catch (Exception exception) when (exception is LdapException or DirectoryException)
        {
            // Refused, as it should be.
        }

        return new LdapOutcome(LdapVerdict.InvalidCredentials);
    }

    /// <summary>What went wrong with the service account's <paramref name="step"/>: its credentials or the step refused (the settings), or no answer.</summary>
    private LdapOutcome ServiceAccountFailure(LdapSettings settings, Exception exception, string step) => exception switch
    {
        LdapException { ErrorCode: InvalidCredentialsCode } => Misconfigured(settings, "the directory refused the service account's credentials", exception),
        DirectoryOperationException refused => Misconfigured(settings, $"the directory refused the {step} ({refused.Response?.ResultCode})", exception),
        _ => Unreachable(settings, exception),
    };

    private LdapOutcome Unreachable(LdapSettings settings, Exception exception)
    {
        LogUnreachable(logger, settings.Host, settings.Port, exception);
        return new LdapOutcome(LdapVerdict.Unavailable, Problem: "the directory cannot be reached");
    }

    /// <summary>LDAP's invalidCredentials (RFC 4511 §4.1.9).</summary>
    private const int InvalidCredentialsCode = 49;

    private LdapOutcome Misconfigured(LdapSettings settings, string problem, Exception? exception)
    {
        LogMisconfigured(logger, settings.Host, problem, exception);
        return new LdapOutcome(LdapVerdict.Misconfigured, Problem: problem);
    }

    private LdapConnection Connect(LdapSettings settings, string host)
    {
        var connection = new LdapConnection(new LdapDirectoryIdentifier(host, settings.Port, fullyQualifiedDnsHostName: false, connectionless: false))
        {
            AuthType = AuthType.Basic, Timeout = StepTimeout,
        };
        try
        {
            var session = connection.SessionOptions;
            session.ProtocolVersion = 3;
            // A referral would send the password on to whatever server the directory names.
            session.ReferralChasing = ReferralChasingOptions.None;
            if (!settings.UseTls && !settings.StartTls)
            {
                return connection;
            }

            // The directory's own CA, when the tenant gave one, else the deployment's folder (and the system's CAs).
            var trusted = settings.CaCertificate is { Length: > 0 } ca ? LdapTrustedCertificates.FolderFor(ca) : options.Value.Ldap.TrustedCertificatesDirectory;
            if (trusted is { Length: > 0 } && OperatingSystem.IsLinux())
            {
                session.TrustedCertificatesDirectory = trusted;
                session.StartNewTlsSessionContext();
            }

            if (settings.UseTls)
            {
                session.SecureSocketLayer = true;
                return connection;
            }

            // On Linux the library connects at the first request, and StartTLS needs a connection: the root DSE is read first
            // (anonymous and harmless: no credential has been sent yet), as clients do to learn what a server offers.
            connection.SendRequest(new SearchRequest(string.Empty, "(objectClass=*)", SearchScope.Base, "supportedExtension"), StepTimeout);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    session.StartTransportLayerSecurity(null);
                    return connection;
                }
                catch (TlsOperationException exception) when (exception.Response?.ResultCode == ResultCode.OperationsError && attempt < 3)
                {
                    // OpenLDAP refuses StartTLS while the search just answered is still being cleaned up on its side.
                    Thread.Sleep(20 * attempt);
                }
            }
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static string[] Attributes(LdapSettings settings) =>
    [
        .. new[]
        {
            settings.IdAttribute, settings.UsernameAttribute, settings.EmailAttribute, settings.NameAttribute, settings.GivenNameAttribute,
            settings.FamilyNameAttribute, settings.PhoneAttribute, settings.GroupsAttribute,
        }.Where(a => a.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase),
    ];

    private static LdapAccount? Read(LdapSettings settings, SearchResultEntry entry)
    {
        if (IdOf(entry, settings.IdAttribute) is not { Length: > 0 and <= 500 } subject)
        {
            return null;
        }

        string? First(string attribute) =>
            attribute.Length > 0 && entry.Attributes[attribute] is { Count: > 0 } values && values[0] is string value && value.Trim().Length > 0 ? value.Trim() : null;
        var groups = settings.GroupsAttribute.Length > 0 && entry.Attributes[settings.GroupsAttribute] is { } memberOf
            ? memberOf.GetValues(typeof(string)).Cast<string>().ToList()
            : [];
        return new LdapAccount(
            entry.DistinguishedName, subject, First(settings.UsernameAttribute), First(settings.EmailAttribute), First(settings.NameAttribute),
            First(settings.GivenNameAttribute), First(settings.FamilyNameAttribute), First(settings.PhoneAttribute), groups);
    }

    /// <summary>The entry's lasting id: AD's binary <c>objectGUID</c> as a GUID, a text one (OpenLDAP's <c>entryUUID</c>) as it is.</summary>
    private static string? IdOf(SearchResultEntry entry, string attribute)
    {
        if (entry.Attributes[attribute] is not { Count: > 0 } values)
        {
            return null;
        }

        if (string.Equals(attribute, "objectGUID", StringComparison.OrdinalIgnoreCase))
        {
            return values.GetValues(typeof(byte[])) is [byte[] { Length: 16 } guid, ..] ? new Guid(guid).ToString() : null;
        }

        return values.GetValues(typeof(string)) is [string text, ..] ? text.Trim() : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "LDAP directory {Host}:{Port} could not be reached")]
    private static partial void LogUnreachable(ILogger logger, string host, int port, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "LDAP directory {Host} cannot sign people in: {Problem}")]
    private static partial void LogMisconfigured(ILogger logger, string host, string problem, Exception? exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "LDAP directory {Host}: a sign-in's name matched several entries; the user filter should match one")]
    private static partial void LogAmbiguous(ILogger logger, string host);
}
