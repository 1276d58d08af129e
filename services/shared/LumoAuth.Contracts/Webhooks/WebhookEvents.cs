namespace LumoAuth.Contracts.Webhooks;

/// <summary>A webhook was registered.</summary>
/// <param name="Url">Only the URL's origin (<c>https://host[:port]</c>): its path and query are often the receiver's credential
/// and stay in the webhook's own row and API answers, never in events, audit entries or other webhooks' payloads.</param>
public sealed record WebhookCreated(Guid WebhookId, string Url, IReadOnlyList<string> Events) : IntegrationEvent;

public sealed record WebhookUpdated(Guid WebhookId, IReadOnlyList<string> ChangedFields) : IntegrationEvent;

public sealed record WebhookDeleted(Guid WebhookId) : IntegrationEvent;

/// <summary>The signing secret changed; the secret itself never travels in an event.</summary>
public sealed record WebhookSecretRotated(Guid WebhookId) : IntegrationEvent;

/// <summary>The webhook was switched off after <see cref="ConsecutiveFailures"/> failed deliveries in a row.</summary>
/// <param name="Url">Only the URL's origin, as in <see cref="WebhookCreated"/>.</param>
public sealed record WebhookDisabled(Guid WebhookId, string Url, int ConsecutiveFailures) : IntegrationEvent;
