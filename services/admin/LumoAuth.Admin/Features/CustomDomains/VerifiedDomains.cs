using LumoAuth.Admin.Data;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.CustomDomains;

public static class VerifiedDomains
{
    /// <summary>Whether <paramref name="domain"/> (lower-case) is a verified domain of the tenant the context is scoped to.</summary>
    public static Task<bool> IsVerifiedDomainAsync(this AdminDbContext db, string domain, CancellationToken cancellationToken) =>
        db.CustomDomains.AnyAsync(d => d.Domain == domain && d.VerifiedAt != null, cancellationToken);
}
