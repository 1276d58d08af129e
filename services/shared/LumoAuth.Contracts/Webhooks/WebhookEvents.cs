namespace LumoAuth.Contracts.Webhooks;

public sealed record WebhookCreated(Guid WebhookId, string Url, IReadOnlyList<string> Events) : IntegrationEvent;

public sealed record WebhookUpdated(Guid WebhookId, IReadOnlyList<string> ChangedFields) : IntegrationEvent;

public sealed record WebhookDeleted(Guid WebhookId) : IntegrationEvent;

/// <summary>The signing secret changed; the secret itself never travels in an event.</summary>
public sealed record WebhookSecretRotated(Guid WebhookId) : IntegrationEvent;

/// <summary>The webhook was switched off after <see cref="ConsecutiveFailures"/> failed deliveries in a row.</summary>
public sealed record WebhookDisabled(Guid WebhookId, string Url, int ConsecutiveFailures) : IntegrationEvent;
