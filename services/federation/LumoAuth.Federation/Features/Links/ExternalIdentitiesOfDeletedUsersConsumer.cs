using LumoAuth.Contracts.Users;
using LumoAuth.Federation.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Federation.Features.Links;

/// <summary>
/// A deleted user's outside accounts are unlinked: signing in with one again is a first sign-in (a new account, if the
/// provider allows sign-up), never the deleted user. Idempotent: a redelivery deletes nothing more.
/// </summary>
public sealed class ExternalIdentitiesOfDeletedUsersConsumer(FederationDbContext db) : IConsumer<UserDeleted>
{
    public async Task Consume(ConsumeContext<UserDeleted> context)
    {
        if (context.Message.TenantId is not { } tenantId)
        {
            return;
        }

        await db.ExternalIdentities.IgnoreQueryFilters()
            .Where(i => i.TenantId == tenantId && i.UserId == context.Message.UserId)
            .ExecuteDeleteAsync(context.CancellationToken);
    }
}
