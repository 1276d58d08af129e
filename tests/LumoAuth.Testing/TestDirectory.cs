using System.DirectoryServices.Protocols;
using System.Net;

namespace LumoAuth.Testing;

/// <summary>
/// The OpenLDAP directory eng/infra.sh runs for the LDAP sign-in tests (<c>LUMOAUTH_LDAP</c>, from <c>infra.sh env</c>):
/// people and groups are added through its root DN, each under a name of its own, so tests never share an entry.
/// </summary>
public static class TestDirectory
{
    private static readonly string[] Parts = (Environment.GetEnvironmentVariable("LUMOAUTH_LDAP")
        ?? $"127.0.0.1;21389;21636;dc=lumoauth,dc=test;cn=admin,dc=lumoauth,dc=test;ldap-admin-secret;{DefaultTrustedFolder()}").Split(';');

    public static string Host => Parts[0];

    public static int Port => int.Parse(Parts[1], System.Globalization.CultureInfo.InvariantCulture);

    public static int TlsPort => int.Parse(Parts[2], System.Globalization.CultureInfo.InvariantCulture);

    public static string Suffix => Parts[3];

    public static string RootDn => Parts[4];

    public static string RootPassword => Parts[5];

    /// <summary>The folder holding the CA of the directory's certificate (for <c>Federation:Ldap:TrustedCertificatesDirectory</c>).</summary>
    public static string TrustedCertificates => Parts[6];

    public static string People => "ou=people," + Suffix;

    public static string Groups => "ou=groups," + Suffix;

    /// <summary>A person (inetOrgPerson) with a password; their DN. Optional attributes left null are not set.</summary>
    public static string AddPerson(
        string uid, string password, string? mail = null, string? givenName = null, string? surname = null, string? displayName = null, string? phone = null,
        string? under = null)
    {
        var dn = $"uid={uid},{under ?? People}";
        var request = new AddRequest(dn,
            new DirectoryAttribute("objectClass", "inetOrgPerson"), new DirectoryAttribute("uid", uid), new DirectoryAttribute("cn", displayName ?? uid),
            new DirectoryAttribute("sn", surname ?? uid), new DirectoryAttribute("userPassword", password));
        foreach (var (name, value) in new[] { ("mail", mail), ("givenName", givenName), ("displayName", displayName), ("telephoneNumber", phone) })
        {
            if (value is not null)
            {
                request.Attributes.Add(new DirectoryAttribute(name, value));
            }
        }

        Send(request);
        return dn;
    }

    /// <summary>A group (groupOfNames) of the given members; its DN. The directory's memberOf overlay lists it on each member.</summary>
    public static string AddGroup(string cn, params string[] memberDns)
    {
        var dn = $"cn={cn},{Groups}";
        Send(new AddRequest(dn, new DirectoryAttribute("objectClass", "groupOfNames"), new DirectoryAttribute("cn", cn), new DirectoryAttribute("member", memberDns)));
        return dn;
    }

    /// <summary>An organisational unit of its own under the people (a test's own base DN, whose listing holds only its people); its DN.</summary>
    public static string AddUnit(string ou)
    {
        var dn = $"ou={ou},{People}";
        Send(new AddRequest(dn, new DirectoryAttribute("objectClass", "organizationalUnit"), new DirectoryAttribute("ou", ou)));
        return dn;
    }

    /// <summary>Removes an entry (a person who left).</summary>
    public static void Delete(string dn) => Send(new DeleteRequest(dn));

    /// <summary>Replaces an attribute of an entry (a person's mail, a group's members).</summary>
    public static void Replace(string dn, string attribute, params string[] values) =>
        Send(new ModifyRequest(dn, DirectoryAttributeOperation.Replace, attribute, values));

    private static void Send(DirectoryRequest request)
    {
        using var connection = new LdapConnection(new LdapDirectoryIdentifier(Host, Port)) { AuthType = AuthType.Basic, Timeout = TimeSpan.FromSeconds(10) };
        connection.SessionOptions.ProtocolVersion = 3;
        connection.Bind(new NetworkCredential(RootDn, RootPassword));
        connection.SendRequest(request);
    }

    private static string DefaultTrustedFolder()
    {
        var folder = AppContext.BaseDirectory;
        while (folder is not null && !File.Exists(Path.Combine(folder, "LumoAuth.sln")))
        {
            folder = Path.GetDirectoryName(folder);
        }

        return Path.Combine(folder ?? ".", ".lumoauth", "infra", "ldap", "tls", "trusted");
    }
}
