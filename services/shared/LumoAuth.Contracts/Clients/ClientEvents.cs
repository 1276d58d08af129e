using System.Text.Json.Serialization;

namespace LumoAuth.Contracts.Clients;

public sealed record ClientCreated(string ClientId, string Name, bool IsConfidential, IReadOnlyList<string> GrantTypes) : IntegrationEvent;

public sealed record ClientUpdated(string ClientId) : IntegrationEvent;

public sealed record ClientDeleted(string ClientId) : IntegrationEvent;

/// <summary>
/// An access token was issued. Never published alone: it travels in an <see cref="AccessTokensIssued"/> batch,
/// and consumers handle each one as its own event (one audit entry, one <c>token.issued</c> webhook each).
/// </summary>
public sealed record AccessTokenIssued(string ClientId, string GrantType, string? Subject, string TokenId, IReadOnlyList<string> Scopes) : IntegrationEvent;

/// <summary>
/// A client revoked a token at the revocation endpoint (RFC 7009): <paramref name="TokenType"/> is <c>access_token</c> or
/// <c>refresh_token</c>; <paramref name="TokenId"/> is the access token's <c>jti</c> or the stored token's id.
/// </summary>
public sealed record TokenRevoked(string ClientId, string TokenType, string? Subject, string TokenId) : IntegrationEvent;

/// <summary>
/// The access tokens one token-service replica issued for one tenant in a short window: one message for up to
/// a few hundred tokens, so issuing thousands a second costs the bus and its consumers a few messages, not thousands.
/// Each item carries only what differs from token to token (the tenant is the batch's; the actor is the client), which
/// keeps the message, and the work of everyone who reads it, small.
/// </summary>
public sealed record AccessTokensIssued(IReadOnlyList<IssuedAccessToken> Tokens) : IntegrationEvent, IBatchedEvent
{
    IEnumerable<IntegrationEvent> IBatchedEvent.Items => Tokens.Select(token => token.ToEvent(TenantId));
}

/// <summary>One item of <see cref="AccessTokensIssued"/>; absent values are left out of the message.</summary>
public sealed record IssuedAccessToken(
    string ClientId,
    string GrantType,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Subject,
    string TokenId,
    IReadOnlyList<string> Scopes,
    DateTimeOffset OccurredAt)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? IpAddress { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? UserAgent { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? CorrelationId { get; init; }

    /// <summary>The event this item stands for, as consumers handle it.</summary>
    public AccessTokenIssued ToEvent(Guid? tenantId) => new(ClientId, GrantType, Subject, TokenId, Scopes)
    {
        TenantId = tenantId,
        OccurredAt = OccurredAt,
        Actor = new EventActor(ActorTypes.Client, ClientId),
        IpAddress = IpAddress,
        UserAgent = UserAgent,
        CorrelationId = CorrelationId,
    };

    /// <summary>The item for an issued-token event (the inverse of <see cref="ToEvent"/>).</summary>
    public static IssuedAccessToken From(AccessTokenIssued issued) =>
        new(issued.ClientId, issued.GrantType, issued.Subject, issued.TokenId, issued.Scopes, issued.OccurredAt)
        {
            IpAddress = issued.IpAddress,
            UserAgent = issued.UserAgent,
            CorrelationId = issued.CorrelationId,
        };
}
