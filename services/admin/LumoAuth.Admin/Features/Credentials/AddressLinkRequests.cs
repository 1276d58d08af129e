using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Internal;
using LumoAuth.Contracts.Internal;
using LumoAuth.Messaging;
using LumoAuth.Messaging.Inbox;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Tenancy;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// The hosted pages' requests for a link by address (forgot password, sign-in link, new verification link). Whether an
/// address has an account must not show in the answer, nor in how long it takes: the request does the same work for every
/// address — the tenant and the address's shape checked, one <see cref="AddressLinkRequested"/> recorded — and answers 202.
/// <see cref="AddressLinkRequestConsumer"/> then looks the address up and stages the link as each kind's rules say.
/// </summary>
public static class AddressLinkRequests
{
    /// <summary>Records the request and answers 202 with <paramref name="acceptedMessage"/>; a bad address or tenant is refused as before.</summary>
    public static async Task<IResult> AcceptAsync(
        AdminDbContext db, TenantContext tenant, Guid tenantId, string? email, string kind, string? returnUrl, string acceptedMessage,
        CancellationToken cancellationToken, string? domain = null, string? language = null)
    {
        if (await InternalTenantScope.EnterForEmailAsync(db, tenant, tenantId, email, cancellationToken) is { } refused)
        {
            return refused;
        }

        db.AddEvent(new AddressLinkRequested(kind, email!.ToLowerInvariant()) {
            TenantId = tenantId, ReturnUrl = returnUrl, Domain = domain,
            Language = LumoAuth.ServiceDefaults.Localization.LanguageTags.IsWellFormed(language) ? language : null,
        });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Accepted((string?)null, new DataResponse<object?>(null, acceptedMessage));
    }

    /// <summary>
    /// The consumer, on a queue of its own: neither a failing SMTP server (the e-mail queue) nor a flood of audited events
    /// holds up the links people are waiting for. A request that still fails after every retry is dropped, not parked
    /// with its address in an error queue: the person asks again.
    /// </summary>
    public static void AddAddressLinkConsumer(this IBusRegistrationConfigurator bus, IConfiguration configuration)
    {
        var queue = $"{configuration["Messaging:Prefix"] ?? "lumoauth"}-admin-address-links";
        bus.AddConsumer<AddressLinkRequestConsumer>().Endpoint(e => e.Name = queue);
        bus.DiscardFaults(queue);
    }
}

/// <summary>
/// Acts on an <see cref="AddressLinkRequested"/>: each kind's staging (user, spacing, token or claim, event) under an inbox
/// row keyed by the message id, so a redelivery stages and mails nothing; and under a lock per address and kind, so two
/// requests consumed at once cannot both pass the spacing check. Logs nothing about the address.
/// </summary>
public sealed class AddressLinkRequestConsumer(AdminDbContext db, TenantContext tenant, DirectoryPasswords directoryPasswords) : IConsumer<AddressLinkRequested>
{
    public const string InboxConsumer = "admin-address-link";

    /// <summary>How old a request may be and still be acted on (a link mailed hours later would only puzzle its reader).</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(15);

    public async Task Consume(ConsumeContext<AddressLinkRequested> context)
    {
        var message = context.Message;
        // A tenant suspended or deleted since the request gets nothing, as its request would have been refused then; nor does
        // a request that waited out an outage past MaxAge: whoever asked has given up, and its return URL is stale.
        if (context.MessageId is not { } messageId || message.Email is not { Length: > 0 and <= 320 } email
            || DateTimeOffset.UtcNow - message.OccurredAt > MaxAge
            || !await InternalTenantScope.EnterAsync(db, tenant, message.TenantId, context.CancellationToken))
        {
            return;
        }

        // An address without an account ends here, leaving no inbox row: anyone can send these, and the rows would stay.
        var normalized = email.ToLowerInvariant();
        var user = await db.Users.Where(u => u.NormalizedEmail == normalized).Select(u => new { u.DirectoryId }).FirstOrDefaultAsync(context.CancellationToken);
        if (user is null)
        {
            return;
        }

        // A password an LDAP directory keeps is reset by mail only where the directory takes passwords from here (asked
        // before the transaction below, which holds a lock).
        var resettable = message.Kind != AddressLinkKinds.PasswordReset || user.DirectoryId is not { } directoryId
                         || await directoryPasswords.IsWritableAsync(tenant.TenantId, directoryId, context.CancellationToken);
        await db.HandleOnceAsync(InboxConsumer, messageId, async ct =>
        {
            var key = $"address-link:{message.Kind}:{tenant.TenantId:N}:{normalized}";
            await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtextextended({key}, 0))", ct);
            switch (message.Kind)
            {
                case AddressLinkKinds.PasswordReset:
                    if (resettable)
                    {
                        await PasswordResetRequests.StageForAddressAsync(db, normalized, message.Language, ct);
                    }

                    break;
                case AddressLinkKinds.MagicLink:
                    await MagicLinks.StageForAddressAsync(db, tenant.TenantId, normalized, message.ReturnUrl, message.Domain, message.Language, ct);
                    break;
                case AddressLinkKinds.EmailVerification:
                    await EmailVerifications.StageForAddressAsync(db, normalized, message.Language, ct);
                    break;
            }
        }, context.CancellationToken);
    }
}
