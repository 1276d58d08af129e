namespace LumoAuth.Contracts.Tokens;

/// <summary>
/// A client asked to authenticate a user through the back channel (OpenID CIBA Core 1.0). The user has to approve
/// it on their own device: <see cref="ApprovalUrl"/> is the hosted page that shows the request to the signed-in user.
/// A tenant forwards this event (webhook <c>ciba.authentication_requested</c>) to its push or SMS channel. It carries
/// no secret: the <c>auth_req_id</c> stays with the client.
/// </summary>
public sealed record CibaAuthenticationRequested(
    Guid RequestId,
    string ClientId,
    Guid UserId,
    IReadOnlyList<string> Scopes,
    string? BindingMessage,
    bool UserCodeRequired,
    string ApprovalUrl,
    DateTimeOffset ExpiresAt) : IntegrationEvent;

/// <summary>The user approved or denied a back-channel authentication request; in ping mode the client is told.</summary>
public sealed record CibaAuthenticationDecided(Guid RequestId, string ClientId, Guid UserId, bool Approved) : IntegrationEvent;
