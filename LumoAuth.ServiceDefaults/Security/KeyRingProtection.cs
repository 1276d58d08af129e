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

    public static IServiceCollection AddKeyRingProtection(
        this IServiceCollection services, IConfiguration configuration, string applicationName, Func<IServiceProvider, IXmlRepository> repository)
    {
        var secret = configuration[ConfigurationKey];
        if (string.IsNullOrWhiteSpace(secret) || secret.Length < 32)
        {
            throw new InvalidOperationException($"{ConfigurationKey} must be set (at least 32 characters) to protect keys at rest.");
        }

        var key = new KeyEncryptionKey(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
        services.AddSingleton(key);
        services.AddDataProtection().SetApplicationName(applicationName);
        services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(sp => new ConfigureOptions<KeyManagementOptions>(o =>
        {
            o.XmlRepository = repository(sp);
            o.XmlEncryptor = new KeyEncryptionKeyXmlEncryptor(key);
        }));
        return services;
    }
}

/// <summary>The deployment's key-encryption key, derived once from configuration.</summary>
public sealed class KeyEncryptionKey(byte[] key)
{
    internal byte[] Value { get; } = key;
}

/// <summary>AES-256-GCM over each ring key's XML, with the key-encryption key.</summary>
public sealed class KeyEncryptionKeyXmlEncryptor(KeyEncryptionKey key) : IXmlEncryptor
{
    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        var plaintext = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        var sealedBytes = new byte[NonceBytes + TagBytes + plaintext.Length];
        var nonce = sealedBytes.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key.Value, TagBytes);
        aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(NonceBytes + TagBytes), sealedBytes.AsSpan(NonceBytes, TagBytes));
        var element = new XElement("encryptedKey", new XComment(" AES-256-GCM with the deployment key-encryption key "),
            new XElement("value", Convert.ToBase64String(sealedBytes)));
        return new EncryptedXmlInfo(element, typeof(KeyEncryptionKeyXmlDecryptor));
    }
}

/// <summary>Activated by Data Protection through the service provider.</summary>
public sealed class KeyEncryptionKeyXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    public XElement Decrypt(XElement encryptedElement)
    {
        var key = services.GetRequiredService<KeyEncryptionKey>();
        var sealedBytes = Convert.FromBase64String(encryptedElement.Element("value")!.Value);
        var plaintext = new byte[sealedBytes.Length - NonceBytes - TagBytes];
        using var aes = new AesGcm(key.Value, TagBytes);
        aes.Decrypt(sealedBytes.AsSpan(0, NonceBytes), sealedBytes.AsSpan(NonceBytes + TagBytes), sealedBytes.AsSpan(NonceBytes, TagBytes), plaintext);
        return XElement.Parse(Encoding.UTF8.GetString(plaintext));
    }
}
