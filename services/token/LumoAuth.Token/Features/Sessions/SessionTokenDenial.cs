using LumoAuth.Contracts.Sessions;
using LumoAuth.Token.Protocol;
using MassTransit;

namespace LumoAuth.Token.Features.Sessions;

/// <summary>
/// Denies the access tokens of ended sessions from the <c>SessionsRevoked</c> event, which commits with the sessions' end.
/// The request that ended them tried already; this makes it certain: when Redis is down the consumer fails and the event
/// comes again until it is back. Denying twice changes nothing, so redelivery is harmless.
/// </summary>
public sealed class SessionTokenDenial(UserAccessTokenIndex accessTokens) : IConsumer<SessionsRevoked>
{
    public async Task Consume(ConsumeContext<SessionsRevoked> context)
    {
        if (context.Message.TenantId is not { } tenantId)
        {
            return;
        }

        foreach (var sessionId in context.Message.SessionIds)
        {
            await accessTokens.DenySessionAsync(tenantId, sessionId);
        }
    }
}
