using System.Security.Cryptography;
using System.Xml.Linq;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LumoAuth.Messaging.Data;

/// <summary>One ring key of ASP.NET Core Data Protection, stored (sealed) in the service's database.</summary>
public sealed class DataProtectionKeyRow
{
    public int Id { get; set; }

    public string? FriendlyName { get; set; }

    public string Xml { get; set; } = string.Empty;
}

/// <summary>Re-seals stored ring keys with the current key-encryption key (the one-shot migration step calls it).</summary>
public interface IKeyRingResealer
{
    /// <summary>Answers how many ring keys were re-sealed.</summary>
    int ResealAll();
}

/// <summary>
/// Keeps a service's Data Protection key ring in its own database, so every replica protects and
/// unprotects with the same keys. Reads are rare: Data Protection caches the ring. Each read also re-seals
/// ring keys that a previous key-encryption key sealed, so a rotation completes without a separate step.
/// </summary>
public sealed partial class DatabaseXmlRepository<TDbContext>(
    IServiceScopeFactory scopeFactory, KeyEncryptionKeys keys, ILogger<DatabaseXmlRepository<TDbContext>> logger) : IXmlRepository, IKeyRingResealer
    where TDbContext : DbContext
{
    public IReadOnlyCollection<XElement> GetAllElements() => Load(failOnUnsealable: false).Elements;

    /// <summary>Also fails on a ring key no configured key opens, so a mistyped key stops the deployment step.</summary>
    public int ResealAll() => Load(failOnUnsealable: true).Resealed;

    public void StoreElement(XElement element, string friendlyName)
    {
        using var scope = scopeFactory.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
        db.Set<DataProtectionKeyRow>().Add(new DataProtectionKeyRow { FriendlyName = friendlyName, Xml = element.ToString(SaveOptions.DisableFormatting) });
        db.SaveChanges();
    }

    private (List<XElement> Elements, int Resealed) Load(bool failOnUnsealable)
    {
        using var scope = scopeFactory.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
        var rows = db.Set<DataProtectionKeyRow>().OrderBy(k => k.Id).ToList();
        var elements = new List<XElement>(rows.Count);
        var resealed = 0;
        foreach (var row in rows)
        {
            var element = XElement.Parse(row.Xml);
            try
            {
                if (keys.Reseal(element))
                {
                    row.Xml = element.ToString(SaveOptions.DisableFormatting);
                    resealed++;
                }
            }
            catch (Exception ex) when (!failOnUnsealable && ex is CryptographicException or FormatException or System.Xml.XmlException)
            {
                // Left as it is: Data Protection reports the key as unreadable when it is used, and the others still work.
                LogUnsealable(row.Id, ex.Message);
                element = XElement.Parse(row.Xml);
            }

            elements.Add(element);
        }

        if (resealed > 0)
        {
            try
            {
                // Replicas re-sealing at once each write a valid seal of the same ring key; the last one stays.
                db.SaveChanges();
                LogResealed(resealed, keys.CurrentId);
            }
            catch (Exception ex) when (!failOnUnsealable && ex is DbUpdateException or System.Data.Common.DbException)
            {
                // Reading the ring must not fail for a write it did on the side: the elements opened either way, and the
                // next read (or the --migrate step) re-seals them.
                LogResealNotSaved(ex);
                resealed = 0;
            }
        }

        return (elements, resealed);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Re-sealed {Count} ring keys with key-encryption key {KeyId}")]
    private partial void LogResealed(int count, string keyId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Re-sealed ring keys could not be saved; the next read of the ring tries again")]
    private partial void LogResealNotSaved(Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Ring key row {RowId} could not be re-sealed: {Reason}")]
    private partial void LogUnsealable(int rowId, string reason);
}

public static class DatabaseKeyRing
{
    /// <summary>Maps the key-ring table into a service's DbContext.</summary>
    public static ModelBuilder AddDataProtectionKeys(this ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<DataProtectionKeyRow>(e =>
        {
            e.ToTable("data_protection_keys");
            e.HasKey(k => k.Id);
            e.Property(k => k.Id).HasColumnName("id");
            e.Property(k => k.FriendlyName).HasColumnName("friendly_name").HasMaxLength(200);
            e.Property(k => k.Xml).HasColumnName("xml");
        });
        return modelBuilder;
    }

    /// <summary>Data Protection with its ring in <typeparamref name="TDbContext"/>'s database, sealed by the key-encryption key.</summary>
    public static IHostApplicationBuilder AddDatabaseKeyRing<TDbContext>(this IHostApplicationBuilder builder, string applicationName)
        where TDbContext : DbContext
    {
        builder.Services.AddSingleton<DatabaseXmlRepository<TDbContext>>();
        builder.Services.AddSingleton<IKeyRingResealer>(sp => sp.GetRequiredService<DatabaseXmlRepository<TDbContext>>());
        builder.Services.AddKeyRingProtection(builder.Configuration, applicationName, sp => sp.GetRequiredService<DatabaseXmlRepository<TDbContext>>());
        return builder;
    }
}
