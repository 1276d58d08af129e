using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Caching;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Token.Directory;
using Microsoft.Extensions.Caching.Memory;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// RFC 7662's <c>username</c> for tokens a user authorized: the user's username, or their email when they have none.
/// Tokens carry no name (access tokens are read by every resource server), so it comes from admin's profile, kept
/// for a minute so a resource server introspecting on every request does not call admin on every request. Client
/// credentials tokens (the subject is the client) have no resource owner and get none.
/// </summary>
public sealed class IntrospectionUsername(UserDirectory users, IMemoryCache cache, TimeProvider time) : IOpenIddictServerHandler<HandleIntrospectionRequestContext>
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(1);

    // A user admin does not know (or could not be asked about) is asked again next time.
    private readonly ReadThroughCache<UserProfile?> _profiles = new(cache, time, profile => profile is null ? TimeSpan.Zero : Lifetime);

    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleIntrospectionRequestContext>()
            .UseSingletonHandler<IntrospectionUsername>()
            .SetOrder(OpenIddictServerHandlers.Introspection.AttachApplicationClaims.Descriptor.Order + 600)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(HandleIntrospectionRequestContext context)
    {
        var principal = context.GenericTokenPrincipal;
        if (principal is null
            || !Guid.TryParse(principal.GetClaim(Claims.Subject), out var userId)
            || principal.GetClaim(Claims.Subject) == principal.GetClaim(Claims.ClientId)
            || !Guid.TryParse(principal.GetClaim(LumoClaims.TenantId), out var tenantId))
        {
            return;
        }

        var profile = await _profiles.GetAsync($"username:{tenantId:N}:{userId:N}", (users, tenantId, userId),
            static lookup => lookup.users.GetProfileAsync(lookup.tenantId, lookup.userId, CancellationToken.None), context.CancellationToken);
        context.Username = profile?.Username ?? profile?.Email;
    }
}
