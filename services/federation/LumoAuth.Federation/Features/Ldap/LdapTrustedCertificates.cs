using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace LumoAuth.Federation.Features.Ldap;

/// <summary>
/// A directory's own CA certificates (<see cref="Data.LdapSettings.CaCertificate"/>): checked and put in one form when an
/// administrator sets them, and handed to the LDAP library as a folder of their own (the library takes trusted CAs as a
/// folder, per connection), one per set of certificates, written once per process in a folder only it can write.
/// </summary>
public static class LdapTrustedCertificates
{
    public const int MaxLength = 65_536;
    public const int MaxCertificates = 20;

    private static readonly ConcurrentDictionary<string, Lazy<string>> Folders = new(StringComparer.Ordinal);

    /// <summary>The certificates of <paramref name="pem"/> as PEM, one after the other; null when it is not only 1 to 20 certificates.</summary>
    public static string? Normalize(string pem)
    {
        // A key pasted along with the certificate would be stored in the clear and shown in answers.
        if (pem.Length > MaxLength || pem.Contains("PRIVATE KEY", StringComparison.Ordinal))
        {
            return null;
        }

        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (CryptographicException)
        {
            return null;
        }

        try
        {
            return certificates.Count is > 0 and <= MaxCertificates
                ? string.Join('\n', certificates.Select(c => c.ExportCertificatePem())) + "\n"
                : null;
        }
        finally
        {
            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }
        }
    }

    /// <summary>The folder holding exactly these certificates (written the first time it is asked for in this process).</summary>
    public static string FolderFor(string pem) =>
        Folders.GetOrAdd(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(pem))), hash => new Lazy<string>(() => Write(hash, pem))).Value;

    /// <summary>
    /// This process's own folder (a fresh name, readable by this user only): nothing another local user prepared is taken
    /// for a directory's CAs.
    /// </summary>
    private static readonly Lazy<string> Root = new(() =>
    {
        var root = Path.Combine(Path.GetTempPath(), $"lumoauth-ldap-ca-{Guid.NewGuid():N}");
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(root);
        }
        else
        {
            Directory.CreateDirectory(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return root;
    });

    private static string Write(string hash, string pem)
    {
        var folder = Directory.CreateDirectory(Path.Combine(Root.Value, hash)).FullName;
        File.WriteAllText(Path.Combine(folder, "ca.pem"), pem);
        return folder;
    }
}
