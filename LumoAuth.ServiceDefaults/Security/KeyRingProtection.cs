using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LumoAuth.ServiceDefaults.Security;

/// <summary>
/// Data Protection for secrets a service must read back (tenant signing keys, TOTP and webhook secrets):
/// the key ring lives in the service's own database so every replica shares it, and each ring key is
/// itself encrypted with the deployment's key-encryption key (<c>LumoAuth:KeyEncryptionKey</c>), so a
/// copy of the database alone decrypts nothing.
/// </summary>
public static class KeyRingProtection
{
    public const string ConfigurationKey = "LumoAuth:KeyEncryptionKey";

    /// <summary>Retired key-encryption keys, still accepted to unseal ring keys until they are re-sealed with the current one.</summary>
    public const string PreviousKeysConfigurationKey = "LumoAuth:PreviousKeyEncryptionKeys";

    public static IServiceCollection AddKeyRingProtection(
        this IServiceCollection services, IConfiguration configuration, string applicationName, Func<IServiceProvider, IXmlRepository> repository)
    {
        var keys = KeyEncryptionKeys.FromConfiguration(configuration);
        services.AddSingleton(keys);
        services.AddDataProtection().SetApplicationName(applicationName);
        services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(sp => new ConfigureOptions<KeyManagementOptions>(o =>
        {
            o.XmlRepository = repository(sp);
            o.XmlEncryptor = new KeyEncryptionKeyXmlEncryptor(keys);
        }));
        return services;
    }
}

/// <summary>
/// The deployment's key-encryption keys, derived once from configuration: the current one seals, the current and the
/// previous ones unseal. Each sealed ring key names the key that sealed it by a short id (a hash of the key, which
/// tells nothing about it), so rotating is: set the new key, list the old one as previous, start the services (their
/// repositories re-seal what the old key sealed), then drop the old key.
/// </summary>
public sealed class KeyEncryptionKeys
{
    public const string IdAttribute = "kek";
    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private const int MinimumSecretLength = 32;

    private readonly (string Id, byte[] Key)[] _unsealing;

    public KeyEncryptionKeys(string current, IEnumerable<string> previous)
    {
        var secrets = new[] { current }.Concat(previous).ToList();
        if (secrets.Any(s => string.IsNullOrWhiteSpace(s) || s.Length < MinimumSecretLength))
        {
            throw new InvalidOperationException(
                $"{KeyRingProtection.ConfigurationKey} (and each of {KeyRingProtection.PreviousKeysConfigurationKey}) must be at least {MinimumSecretLength} characters to protect keys at rest.");
        }

        _unsealing = secrets.Distinct(StringComparer.Ordinal).Select(Derive).ToArray();
    }

    /// <summary>The id of the key that seals from now on.</summary>
    public string CurrentId => _unsealing[0].Id;

    public static KeyEncryptionKeys FromConfiguration(IConfiguration configuration) =>
        new(configuration[KeyRingProtection.ConfigurationKey] ?? string.Empty, PreviousSecrets(configuration));

    /// <summary>The retired keys: a list (…:PreviousKeyEncryptionKeys:0, __0 in the environment) or one value.</summary>
    public static string[] PreviousSecrets(IConfiguration configuration)
    {
        var previous = configuration.GetSection(KeyRingProtection.PreviousKeysConfigurationKey);
        return [.. previous.GetChildren().Select(c => c.Value).Append(previous.Value).OfType<string>().Where(s => s.Length > 0)];
    }

    /// <summary>AES-256-GCM over the element's XML with the current key.</summary>
    public XElement Seal(XElement plaintextElement)
    {
        var (id, key) = _unsealing[0];
        var plaintext = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        var sealedBytes = new byte[NonceBytes + TagBytes + plaintext.Length];
        var nonce = sealedBytes.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagBytes);
        aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(NonceBytes + TagBytes), sealedBytes.AsSpan(NonceBytes, TagBytes));
        CryptographicOperations.ZeroMemory(plaintext);
        return new XElement("encryptedKey", new XAttribute(IdAttribute, id),
            new XComment(" AES-256-GCM with the deployment key-encryption key "),
            new XElement("value", Convert.ToBase64String(sealedBytes)));
    }

    /// <summary>
    /// Opens an element <see cref="Seal"/> made, with the key it names. Elements sealed before keys had ids are tried
    /// with each key: GCM's tag tells the right one.
    /// </summary>
    public XElement Unseal(XElement sealedElement)
    {
        var sealedBytes = Convert.FromBase64String(sealedElement.Element("value")?.Value
            ?? throw new CryptographicException("A sealed ring key has no value."));
        var named = sealedElement.Attribute(IdAttribute)?.Value;
        var candidates = named is null ? _unsealing : _unsealing.Where(k => k.Id == named).ToArray();
        if (candidates.Length == 0)
        {
            throw new CryptographicException(
                $"A ring key was sealed by key-encryption key '{named}', which is neither {KeyRingProtection.ConfigurationKey} nor listed in {KeyRingProtection.PreviousKeysConfigurationKey}.");
        }

        foreach (var (_, key) in candidates)
        {
            if (TryOpen(key, sealedBytes) is { } plaintext)
            {
                return XElement.Parse(plaintext);
            }
        }

        throw new CryptographicException("A ring key could not be unsealed with any configured key-encryption key.");
    }

    /// <summary>
    /// Re-seals, with the current key, every secret of a stored ring key that another key sealed; answers whether
    /// anything changed. The ring key's material stays the same, so what it protected still opens.
    /// </summary>
    public bool Reseal(XElement ringKey)
    {
        var changed = false;
        foreach (var secret in ringKey.Descendants().Where(IsOurs).ToList())
        {
            if (secret.Elements().FirstOrDefault() is { } sealedElement && sealedElement.Attribute(IdAttribute)?.Value != CurrentId)
            {
                sealedElement.ReplaceWith(Seal(Unseal(sealedElement)));
                changed = true;
            }
        }

        return changed;
    }

    /// <summary>Data Protection wraps what an encryptor returns in an element naming the decryptor.</summary>
    private static bool IsOurs(XElement element) =>
        element.Name.LocalName == "encryptedSecret"
        && element.Attribute("decryptorType")?.Value.StartsWith(typeof(KeyEncryptionKeyXmlDecryptor).FullName + ",", StringComparison.Ordinal) == true;

    private static string? TryOpen(byte[] key, byte[] sealedBytes)
    {
        if (sealedBytes.Length < NonceBytes + TagBytes)
        {
            return null;
        }

        var plaintext = new byte[sealedBytes.Length - NonceBytes - TagBytes];
        try
        {
            using var aes = new AesGcm(key, TagBytes);
            aes.Decrypt(sealedBytes.AsSpan(0, NonceBytes), sealedBytes.AsSpan(NonceBytes + TagBytes), sealedBytes.AsSpan(NonceBytes, TagBytes), plaintext);
            return Encoding.UTF8.GetString(plaintext);
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private static (string Id, byte[] Key) Derive(string secret)
    {
        var key = SHA256.HashData(Encoding.UTF8.GetBytes(secret));
        var id = Convert.ToHexString(SHA256.HashData([.. "lumoauth-kek-id:"u8, .. key]).AsSpan(0, 8)).ToLowerInvariant();
        return (id, key);
    }
}

/// <summary>Seals each new ring key with the current key-encryption key.</summary>
public sealed class KeyEncryptionKeyXmlEncryptor(KeyEncryptionKeys keys) : IXmlEncryptor
{
    public EncryptedXmlInfo Encrypt(XElement plaintextElement) =>
        new(keys.Seal(plaintextElement), typeof(KeyEncryptionKeyXmlDecryptor));
}

/// <summary>Activated by Data Protection through the service provider.</summary>
public sealed class KeyEncryptionKeyXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement) => services.GetRequiredService<KeyEncryptionKeys>().Unseal(encryptedElement);
}
