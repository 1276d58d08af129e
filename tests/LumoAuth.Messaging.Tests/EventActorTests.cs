using System.Security.Claims;
using LumoAuth.Contracts;
using LumoAuth.Messaging.Outbox;

namespace LumoAuth.Messaging.Tests;

/// <summary>Who an event names as its actor, from the request's principal.</summary>
public sealed class EventActorTests
{
    private static ClaimsPrincipal Principal(params Claim[] claims) => new(new ClaimsIdentity(claims, "Bearer"));

    [Fact]
    public void DelegatedToken_NamesThePrincipal_AndItsActors_EarliestFirst()
    {
        // RFC 8693 §4.1: the current actor outermost; "orders" acted first, then handed over to "worker".
        var user = Principal(
            new Claim("sub", "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"), new Claim("client_id", "worker"),
            new Claim("act", """{"sub":"worker","act":{"sub":"orders"}}""", "JSON"));

        var actor = OutboxInterceptor.ActorOf(user)!;

        Assert.Equal(ActorTypes.User, actor.Type);
        Assert.Equal("9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", actor.Id);
        Assert.Equal(["orders", "worker"], actor.ActorChain);
    }

    [Fact]
    public void TokenNobodyActsWith_HasNoChain_AndAMalformedActClaimIsIgnored()
    {
        Assert.Null(OutboxInterceptor.ActorOf(Principal(new Claim("sub", "svc"), new Claim("client_id", "svc")))!.ActorChain);
        Assert.Null(OutboxInterceptor.ActorOf(Principal(new Claim("sub", "svc"), new Claim("client_id", "svc"), new Claim("act", "{not json")))!.ActorChain);
    }
}
