using System.Text.Json;
using LumoAuth.Contracts.Sessions;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Consents;

/// <summary>An application a user has consented to: what it may have, and since when.</summary>
public sealed record GrantedApplication(string ClientId, string Name, IReadOnlyList<string> Scopes, DateTimeOffset GrantedAt);

/// <summary>
/// The applications a user let in, and taking one's access away (Keycloak's account console "Applications", Auth0's
/// grants): the remembered consent goes, so the next sign-in asks again, and with it every grant of the application for
/// the user, their refresh tokens and, on the deny-list, their access tokens.
/// </summary>
public sealed class ApplicationAccess(
    TokenDbContext db, TenantContext tenant, IOpenIddictAuthorizationManager authorizations, IOpenIddictTokenManager tokens)
{
    public static class Reasons
    {
        public const string Admin = "admin";
        public const string User = "user";
    }

    public async Task<IReadOnlyList<GrantedApplication>> ListAsync(Guid userId, CancellationToken cancellationToken)
    {
        var subject = userId.ToString();
        var tenantId = tenant.TenantId;
        var consents = await db.Set<TokenAuthorization>().AsNoTracking()
            .Where(a => a.TenantId == tenantId && a.Subject == subject && a.Type == AuthorizationTypes.Permanent && a.Status == Statuses.Valid && a.Application != null)
            .Select(a => new { a.Application!.ClientId, a.Application.DisplayName, a.Scopes, a.CreationDate })
            .ToListAsync(cancellationToken);
        // A client may hold several consents (one per scope set it asked for): shown as one application.
        return consents
            .GroupBy(c => c.ClientId!, StringComparer.Ordinal)
            .Select(g => new GrantedApplication(
                g.Key,
                g.Select(c => c.DisplayName).FirstOrDefault(n => !string.IsNullOrEmpty(n)) ?? g.Key,
                g.SelectMany(c => string.IsNullOrEmpty(c.Scopes) ? [] : JsonSerializer.Deserialize<List<string>>(c.Scopes) ?? []).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(),
                new DateTimeOffset(DateTime.SpecifyKind(g.Min(c => c.CreationDate) ?? DateTime.UnixEpoch, DateTimeKind.Utc))))
            .OrderBy(a => a.Name, StringComparer.OrdinalIgnoreCase)
            .ToList();
    }

    /// <summary>Takes the application's access away; false when the user had neither a consent nor a grant for it.</summary>
    public async Task<bool> RevokeAsync(Guid userId, string clientId, string reason, CancellationToken cancellationToken)
    {
        var subject = userId.ToString();
        var tenantId = tenant.TenantId;
        var ids = await db.Set<TokenAuthorization>().AsNoTracking()
            .Where(a => a.TenantId == tenantId && a.Subject == subject && a.Application!.ClientId == clientId && a.Status == Statuses.Valid)
            .Select(a => a.Id)
            .ToListAsync(cancellationToken);
        if (ids.Count == 0)
        {
            return false;
        }

        foreach (var id in ids.Select(i => i.ToString()))
        {
            // A grant's tokens go, and its access tokens on the deny-list (TokenTokenManager), each grant in its own transaction.
            await tokens.RevokeByAuthorizationIdAsync(id, cancellationToken);
            if (await authorizations.FindByIdAsync(id, cancellationToken) is { } authorization)
            {
                await authorizations.TryRevokeAsync(authorization, cancellationToken);
            }
        }

        db.AddEvent(new ApplicationAccessRevoked(userId, clientId, reason) { TenantId = tenantId });
        await db.SaveChangesAsync(cancellationToken);
        return true;
    }
}
