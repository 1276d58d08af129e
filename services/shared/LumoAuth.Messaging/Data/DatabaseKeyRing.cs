using System.Xml.Linq;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LumoAuth.Messaging.Data;

/// <summary>One ring key of ASP.NET Core Data Protection, stored (sealed) in the service's database.</summary>
public sealed class DataProtectionKeyRow
{
    public int Id { get; set; }

    public string? FriendlyName { get; set; }

    public string Xml { get; set; } = string.Empty;
}

/// <summary>
/// Keeps a service's Data Protection key ring in its own database, so every replica protects and
/// unprotects with the same keys. Reads are rare: Data Protection caches the ring.
/// </summary>
public sealed class DatabaseXmlRepository<TDbContext>(IServiceScopeFactory scopeFactory) : IXmlRepository
    where TDbContext : DbContext
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var scope = scopeFactory.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
        return db.Set<DataProtectionKeyRow>().AsNoTracking().OrderBy(k => k.Id).Select(k => k.Xml).ToList()
            .Select(xml => XElement.Parse(xml))
            .ToList();
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var scope = scopeFactory.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
        db.Set<DataProtectionKeyRow>().Add(new DataProtectionKeyRow { FriendlyName = friendlyName, Xml = element.ToString(SaveOptions.DisableFormatting) });
        db.SaveChanges();
    }
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
        builder.Services.AddKeyRingProtection(builder.Configuration, applicationName,
            sp => new DatabaseXmlRepository<TDbContext>(sp.GetRequiredService<IServiceScopeFactory>()));
        return builder;
    }
}
