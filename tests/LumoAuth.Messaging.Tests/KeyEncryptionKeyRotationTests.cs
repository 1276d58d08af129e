using System.Security.Cryptography;
using System.Xml.Linq;
using LumoAuth.Messaging.Data;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Testing;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace LumoAuth.Messaging.Tests;

public sealed class RingDbContext(DbContextOptions<RingDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.AddDataProtectionKeys();
}

/// <summary>
/// Rotating the deployment's key-encryption key against a real database: ring keys sealed by the old key open while
/// it is listed as previous, get re-sealed with the new one, and then the old key can go.
/// </summary>
public sealed class KeyEncryptionKeyRotationTests : IAsyncLifetime
{
    private const string OldKey = "old-key-encryption-key-0123456789abcdef-0123";
    private const string NewKey = "new-key-encryption-key-0123456789abcdef-4567";
    private const string OtherKey = "other-key-encryption-key-0123456789abcdef-89";
    private const string Purpose = "rotation-test";

    private readonly string _database = TestInfrastructure.NewDatabase("ring");

    public async Task InitializeAsync()
    {
        using var host = BuildHost(OldKey);
        await using var scope = host.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<RingDbContext>().Database.EnsureCreatedAsync();
    }

    public Task DisposeAsync() => TestInfrastructure.DropDatabaseAsync(_database);

    [Fact]
    public async Task RingKeysSealedByTheOldKey_OpenWhileItIsPrevious_AreResealed_AndThenTheOldKeyCanGo()
    {
        var payload = Protect(OldKey, "signing-key-material");
        Assert.All(await SealingKeyIdsAsync(), id => Assert.Equal(KeyId(OldKey), id));

        Assert.Equal("signing-key-material", Unprotect(payload, NewKey, OldKey));
        Assert.All(await SealingKeyIdsAsync(), id => Assert.Equal(KeyId(NewKey), id));

        // The old key is gone from the deployment: everything still opens, and new secrets are sealed by the new key.
        Assert.Equal("signing-key-material", Unprotect(payload, NewKey));
        Assert.Equal("webhook-secret", Unprotect(Protect(NewKey, "webhook-secret"), NewKey));
        Assert.DoesNotContain(await SealingKeyIdsAsync(), id => id != KeyId(NewKey));
    }

    [Fact]
    public async Task TheDeploymentStep_ResealsBeforeAnySecretIsRead()
    {
        var payload = Protect(OldKey, "totp-secret");

        using (var rotated = BuildHost(NewKey, OldKey))
        {
            await MessagingExtensions.MigrateAsync<RingDbContext>(rotated.Services);
        }

        Assert.All(await SealingKeyIdsAsync(), id => Assert.Equal(KeyId(NewKey), id));
        Assert.Equal("totp-secret", Unprotect(payload, NewKey));
    }

    [Fact]
    public async Task WithoutTheKeyThatSealedTheRing_NothingOpens_AndTheRowsAreLeftAsTheyWere()
    {
        var payload = Protect(OldKey, "client-notification-token");
        var before = await RowsAsync();

        using (var mistyped = BuildHost(OtherKey))
        {
            var error = await Assert.ThrowsAnyAsync<CryptographicException>(() => MessagingExtensions.MigrateAsync<RingDbContext>(mistyped.Services));
            Assert.Contains(KeyRingProtection.PreviousKeysConfigurationKey, error.Message);
        }

        Assert.ThrowsAny<CryptographicException>(() => Unprotect(payload, OtherKey));

        // Data Protection starts a ring key of its own beside the one it cannot open; that one is untouched.
        Assert.Equal(before, (await RowsAsync()).Take(before.Count));

        // Listing the right key again restores everything.
        Assert.Equal("client-notification-token", Unprotect(payload, OtherKey, OldKey));
    }

    [Fact]
    public void ARingKeySealedBeforeKeysHadIds_OpensWithWhicheverKeySealedIt()
    {
        var sealedElement = new KeyEncryptionKeys(OldKey, []).Seal(new XElement("masterKey", "material"));
        sealedElement.Attribute(KeyEncryptionKeys.IdAttribute)!.Remove();

        var opened = new KeyEncryptionKeys(NewKey, [OldKey]).Unseal(sealedElement);

        Assert.Equal("material", opened.Value);
        Assert.ThrowsAny<CryptographicException>(() => new KeyEncryptionKeys(NewKey, []).Unseal(sealedElement));
    }

    [Theory]
    [InlineData("too-short")]
    [InlineData("")]
    public void APreviousKeyShorterThanTheMinimum_StopsTheHost(string previous)
    {
        var error = Assert.Throws<InvalidOperationException>(() => new KeyEncryptionKeys(NewKey, [previous]));
        Assert.Contains(KeyRingProtection.PreviousKeysConfigurationKey, error.Message);
    }

    [Fact]
    public void PreviousKeys_AreReadAsAListOrAsOneValue()
    {
        static KeyEncryptionKeys Read(Dictionary<string, string?> settings) =>
            KeyEncryptionKeys.FromConfiguration(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());

        var sealedByOld = new KeyEncryptionKeys(OldKey, []).Seal(new XElement("masterKey", "material"));
        var asList = Read(new() { [KeyRingProtection.ConfigurationKey] = NewKey, [KeyRingProtection.PreviousKeysConfigurationKey + ":0"] = OldKey });
        var asValue = Read(new() { [KeyRingProtection.ConfigurationKey] = NewKey, [KeyRingProtection.PreviousKeysConfigurationKey] = OldKey });

        Assert.Equal("material", asList.Unseal(sealedByOld).Value);
        Assert.Equal("material", asValue.Unseal(sealedByOld).Value);
    }

    private string Protect(string current, string secret)
    {
        using var host = BuildHost(current);
        return host.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector(Purpose).Protect(secret);
    }

    private string Unprotect(string payload, string current, params string[] previous)
    {
        using var host = BuildHost(current, previous);
        return host.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector(Purpose).Unprotect(payload);
    }

    private IHost BuildHost(string current, params string[] previous)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [KeyRingProtection.ConfigurationKey] = current,
        });
        builder.Configuration.AddInMemoryCollection(previous.Select((key, i) =>
            KeyValuePair.Create($"{KeyRingProtection.PreviousKeysConfigurationKey}:{i}", (string?)key)));
        builder.Services.AddDbContext<RingDbContext>(o => o.UseNpgsql(_database));
        builder.AddDatabaseKeyRing<RingDbContext>("ring-test");
        return builder.Build();
    }

    private static string KeyId(string secret) => new KeyEncryptionKeys(secret, []).CurrentId;

    private async Task<List<string>> RowsAsync()
    {
        using var host = BuildHost(OldKey);
        await using var scope = host.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<RingDbContext>().Set<DataProtectionKeyRow>()
            .OrderBy(r => r.Id).Select(r => r.Xml).ToListAsync();
    }

    /// <summary>The key named by every sealed secret in the stored ring (at least one).</summary>
    private async Task<List<string>> SealingKeyIdsAsync()
    {
        var ids = (await RowsAsync())
            .SelectMany(xml => XElement.Parse(xml).Descendants("encryptedKey"))
            .Select(e => e.Attribute(KeyEncryptionKeys.IdAttribute)?.Value ?? "none")
            .ToList();
        Assert.NotEmpty(ids);
        return ids;
    }
}
