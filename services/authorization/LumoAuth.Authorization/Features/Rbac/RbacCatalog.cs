using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using LumoAuth.Authorization.Data;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Authorization.Features.Rbac;

/// <summary>Slugs, system roles and lookups shared by the RBAC endpoints.</summary>
public static partial class RbacCatalog
{
    /// <summary>The documented system roles: present in every tenant, immutable, undeletable.</summary>
    public static readonly IReadOnlyList<(string Slug, string Name, string Description)> SystemRoles =
    [
        ("admin", "Admin", "Full administrative access"),
        ("tenant_admin", "Tenant admin", "Administers the tenant"),
        ("user", "User", "A regular user"),
    ];

    private static readonly ConcurrentDictionary<Guid, bool> Seeded = new();

    /// <summary>Permission and role slugs are opaque (<c>document.edit</c>, <c>users:read</c>, C-22) but bounded in shape.</summary>
    public static bool IsSlug(string? value) => value is not null && SlugPattern().IsMatch(value);

    /// <summary>A slug from a display name: lowercase, runs of other characters become one underscore.</summary>
    public static string SlugFrom(string name)
    {
        var slug = NonSlugCharacters().Replace(name.Trim().ToLowerInvariant(), "_").Trim('_');
        return slug.Length > 100 ? slug[..100] : slug;
    }

    /// <summary>Creates the tenant's system roles the first time this replica meets the tenant (idempotent everywhere).</summary>
    public static async Task EnsureSystemRolesAsync(AuthorizationDbContext db, Guid tenantId, CancellationToken cancellationToken)
    {
        if (Seeded.ContainsKey(tenantId))
        {
            return;
        }

        var now = DateTimeOffset.UtcNow;
        foreach (var (slug, name, description) in SystemRoles)
        {
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO roles ("Id", "TenantId", "Slug", "Name", "Description", "IsSystem", "CreatedAt", "UpdatedAt")
                VALUES ({Guid.NewGuid()}, {tenantId}, {slug}, {name}, {description}, TRUE, {now}, {now})
                ON CONFLICT ("TenantId", "Slug") DO NOTHING
                """, cancellationToken);
        }

        if (Seeded.Count > 100_000)
        {
            Seeded.Clear();
        }

        Seeded[tenantId] = true;
    }

    /// <summary>A role by id or slug (ADM-17).</summary>
    public static Task<Role?> FindRoleAsync(AuthorizationDbContext db, string idOrSlug, CancellationToken cancellationToken) =>
        Guid.TryParse(idOrSlug, out var id)
            ? db.Roles.FirstOrDefaultAsync(r => r.Id == id, cancellationToken)
            : db.Roles.FirstOrDefaultAsync(r => r.Slug == idOrSlug, cancellationToken);

    /// <summary>Roles named by slug or id, as the slugs the tuples use (sorted, distinct), and the names that match no role.</summary>
    public static async Task<(List<string> Slugs, List<string> Unknown)> ResolveAsync(AuthorizationDbContext db, Guid tenantId, IReadOnlyCollection<string> named, CancellationToken cancellationToken)
    {
        var wanted = named.Distinct(StringComparer.Ordinal).ToList();
        var found = await RolesNamedAsync(db, tenantId, wanted, cancellationToken);
        var unknown = wanted.Where(w => !found.Any(f => f.Slug == w || f.Id.ToString() == w)).ToList();
        return ([.. found.Select(f => f.Slug).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)], unknown);
    }

    /// <summary>The tenant's roles named by slug or id among <paramref name="wanted"/>; names that match none are left out.</summary>
    public static async Task<List<(Guid Id, string Slug)>> RolesNamedAsync(AuthorizationDbContext db, Guid tenantId, IReadOnlyCollection<string> wanted, CancellationToken cancellationToken)
    {
        var ids = wanted.Select(r => Guid.TryParse(r, out var g) ? g : Guid.Empty).Where(g => g != Guid.Empty).ToList();
        var roles = await db.Roles.IgnoreQueryFilters().AsNoTracking()
            .Where(r => r.TenantId == tenantId && (wanted.Contains(r.Slug) || ids.Contains(r.Id)))
            .Select(r => new { r.Id, r.Slug })
            .ToListAsync(cancellationToken);
        return [.. roles.Select(r => (r.Id, r.Slug))];
    }

    public static Task<Permission?> FindPermissionAsync(AuthorizationDbContext db, string idOrSlug, CancellationToken cancellationToken) =>
        Guid.TryParse(idOrSlug, out var id)
            ? db.Permissions.FirstOrDefaultAsync(p => p.Id == id, cancellationToken)
            : db.Permissions.FirstOrDefaultAsync(p => p.Slug == idOrSlug, cancellationToken);

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}$")]
    private static partial Regex SlugPattern();

    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex NonSlugCharacters();
}
