using LumoAuth.Token.Data;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Token.Features.Scopes;

/// <summary>The consent text of scopes: the built-in ones' own, a tenant's custom ones' as its admin wrote it.</summary>
public static class ScopeDescriptions
{
    /// <summary>Each scope with its description, in the given order; null for a scope nobody described.</summary>
    public static async Task<IReadOnlyList<(string Name, string? Description)>> OfAsync(
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
