using System.DirectoryServices.Protocols;
using System.Net;
using System.Text;
using LumoAuth.Federation.Data;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.Extensions.Options;

namespace LumoAuth.Federation.Features.Ldap;

/// <summary>A directory entry that signed in: its DN, the value that names it for good, and what it says of the person.</summary>
public sealed record LdapAccount(
    string Dn, string Subject, string? Username, string? Email, string? Name, string? GivenName, string? FamilyName, string? Phone, IReadOnlyList<string> Groups);

public enum LdapVerdict
{
    Success,

    /// <summary>No entry, several entries, or the wrong password: the person is told the same.</summary>
    InvalidCredentials,

    /// <summary>The directory cannot be reached or did not answer in time.</summary>
    Unavailable,

    /// <summary>The directory refused the service account or the search: the tenant's settings are wrong (logged).</summary>
    Misconfigured,
}

public sealed record LdapOutcome(LdapVerdict Verdict, LdapAccount? Account = null, string? Problem = null);

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

    /// <summary>Sign-ins waiting on directories at once; more are told the directory is busy rather than tie up threads.</summary>
    private readonly SemaphoreSlim _gate = new(16);

    public void Dispose() => _gate.Dispose();

    public async Task<LdapOutcome> AuthenticateAsync(LdapSettings settings, string? bindPassword, string username, string password, CancellationToken cancellationToken)
    {
        // An empty password would be an unauthenticated bind, which directories answer with success (RFC 4513 §5.1.2).
        if (username.Length is 0 or > 256 || username.AsSpan().ContainsAnyInRange('\0', '\x1F') || password.Length is 0 or > 1024)
        {
            return new LdapOutcome(LdapVerdict.InvalidCredentials);
        }

        var target = await TargetAsync(settings, cancellationToken);
        if (target.Problem is { } problem)
        {
            return new LdapOutcome(LdapVerdict.Misconfigured, Problem: problem);
        }

        if (!await _gate.WaitAsync(StepTimeout, cancellationToken))
        {
            return new LdapOutcome(LdapVerdict.Unavailable, Problem: "too many sign-ins are waiting on directories");
        }

        try
        {
            // The steps have their own timeouts; this one bounds the whole when the library does not honour them.
            return await Task.Run(() => Authenticate(settings, target.Host!, bindPassword, username, password), cancellationToken)
                .WaitAsync(StepTimeout * 4, cancellationToken);
        }
        catch (TimeoutException)
        {
            return new LdapOutcome(LdapVerdict.Unavailable, Problem: "the directory did not answer in time");
        }
        finally
        {
            _gate.Release();
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
            if (settings.BindDn is { Length: > 0 } bindDn)
            {
                service.Bind(new NetworkCredential(bindDn, bindPassword ?? string.Empty));
            }
            else
            {
                service.AuthType = AuthType.Anonymous;
                service.Bind();
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

                return new LdapOutcome(LdapVerdict.InvalidCredentials);
            }

            entry = found.Entries[0];
        }
        catch (DirectoryOperationException exception) when (exception.Response?.ResultCode == ResultCode.SizeLimitExceeded)
        {
            LogAmbiguous(logger, settings.Host);
            return new LdapOutcome(LdapVerdict.InvalidCredentials);
        }
        catch (LdapException exception) when (exception.ErrorCode == InvalidCredentialsCode)
        {
            return Misconfigured(settings, "the directory refused the service account's credentials", exception);
        }
        catch (DirectoryOperationException exception)
        {
            return Misconfigured(settings, $"the directory refused the search ({exception.Response?.ResultCode})", exception);
        }
        catch (Exception exception) when (exception is LdapException or DirectoryException)
        {
            LogUnreachable(logger, settings.Host, settings.Port, exception);
            return new LdapOutcome(LdapVerdict.Unavailable, Problem: "the directory cannot be reached");
        }

        var account = Read(settings, entry);
        if (account is null)
        {
            return Misconfigured(settings, $"the entry has no {settings.IdAttribute} value to link it by", null);
        }

        try
        {
            using var person = Connect(settings, host);
            person.Bind(new NetworkCredential(entry.DistinguishedName, password));
            return new LdapOutcome(LdapVerdict.Success, account);
        }
        catch (LdapException exception) when (exception.ErrorCode == InvalidCredentialsCode)
        {
            return new LdapOutcome(LdapVerdict.InvalidCredentials);
        }
        catch (Exception exception) when (exception is LdapException or DirectoryException)
        {
            LogUnreachable(logger, settings.Host, settings.Port, exception);
            return new LdapOutcome(LdapVerdict.Unavailable, Problem: "the directory cannot be reached");
        }
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

            if (options.Value.Ldap.TrustedCertificatesDirectory is { Length: > 0 } trusted && OperatingSystem.IsLinux())
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
