using LumoAuth.Token.Data;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Token.Features.Scopes;

/// <summary>What the protocol reads of a tenant's custom scopes (<c>/admin/scopes</c>), beside the built-in ones.</summary>
public static class TenantScopes
{
    /// <summary>The names of the tenant's custom scopes (discovery's <c>scopes_supported</c>).</summary>
    public static Task<List<string>> NamesAsync(TokenDbContext db, Guid tenantId, CancellationToken cancellationToken) =>
        db.Scopes.AsNoTracking().Where(s => s.TenantId == tenantId).Select(s => s.Name).ToListAsync(cancellationToken);

    /// <summary>The scopes marked <c>isDefault</c>: what a request that names none gets (of those its client may have).</summary>
    public static Task<List<string>> DefaultsAsync(TokenDbContext db, Guid tenantId, CancellationToken cancellationToken) =>
        db.Scopes.AsNoTracking().Where(s => s.TenantId == tenantId && s.IsDefault).Select(s => s.Name).ToListAsync(cancellationToken);

    /// <summary>Each scope with its consent text, in the given order; null for a scope nobody described.</summary>
    public static async Task<IReadOnlyList<(string Name, string? Description)>> DescribeAsync(
        TokenDbContext db, Guid tenantId, IReadOnlyCollection<string> scopes, CancellationToken cancellationToken)
    {
        var custom = scopes.Where(s => !ScopeNames.IsBuiltIn(s)).ToList();
        var texts = custom.Count == 0
            ? []
            : await db.Scopes.AsNoTracking().Where(s => s.TenantId == tenantId && custom.Contains(s.Name))
                .ToDictionaryAsync(s => s.Name, s => s.Description, StringComparer.Ordinal, cancellationToken);
        return scopes
            .Select(s => (s, ScopeNames.BuiltIn.FirstOrDefault(b => b.Name == s)?.Description ?? texts.GetValueOrDefault(s)))
            .ToList();
    }
}
