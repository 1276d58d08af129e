using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Webhooks;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Features.Webhooks;

/// <summary>Webhooks (ADM-56…61) plus their delivery log and replay.</summary>
public static class WebhookEndpoints
{
    private const string SecretNote = "Store the secret securely. It will not be shown again.";

    public static IEndpointRouteBuilder MapWebhookEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin/webhooks")
            .RequireAuthorization(Policies.TenantAdmin)
            .WithTags("Webhooks");
        group.MapGet("/", ListWebhooks).WithName("ListWebhooks");
        group.MapPost("/", CreateWebhook).WithName("CreateWebhook");
        group.MapGet("/events", ListEventTypes).WithName("ListWebhookEventTypes");
        group.MapGet("/{webhookId}", GetWebhook).WithName("GetWebhook");
        group.MapPut("/{webhookId}", UpdateWebhook).WithName("UpdateWebhook");
        group.MapPatch("/{webhookId}", UpdateWebhook).WithName("PatchWebhook");
        group.MapDelete("/{webhookId}", DeleteWebhook).WithName("DeleteWebhook");
        group.MapPost("/{webhookId}/test", TestWebhook).WithName("TestWebhook");
        group.MapPost("/{webhookId}/rotate-secret", RotateSecret).WithName("RotateWebhookSecret");
        group.MapGet("/{webhookId}/deliveries", ListDeliveries).WithName("ListWebhookDeliveries");
        group.MapGet("/{webhookId}/deliveries/{deliveryId}", GetDelivery).WithName("GetWebhookDelivery");
        group.MapPost("/{webhookId}/deliveries/{deliveryId}/replay", ReplayDelivery).WithName("ReplayWebhookDelivery");
        return app;
    }

    public static async Task<IResult> ListWebhooks(int? page, int? limit, string? search, string? sortBy, string? sortDir, AdminDbContext db, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Optional("search", search);
        var order = ListOrder.Check(validation, sortBy, sortDir, ["createdAt", "url", "lastDeliveredAt"]);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var paging = PageRequest.From(page, limit);
        var query = db.Webhooks.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(search))
        {
            var pattern = LikePatterns.Containing(search);
            query = query.Where(w => EF.Functions.ILike(w.Url, pattern, LikePatterns.Escape) || (w.Description != null && EF.Functions.ILike(w.Description, pattern, LikePatterns.Escape)));
        }

        var total = await query.LongCountAsync(cancellationToken);
        var ordered = order.Key switch
        {
            "url" => order.Apply(query, w => w.Url),
            "lastDeliveredAt" => order.Apply(query, w => w.LastDeliveredAt),
            _ => order.Apply(query, w => w.CreatedAt),
        };
        var hooks = await ordered.ThenBy(w => w.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<WebhookResponse>(hooks.Select(WebhookResponse.From).ToList(), PageMeta.For(paging, total)));
    }

    public static IResult ListEventTypes() =>
        TypedResults.Ok(new DataResponse<IReadOnlyCollection<string>>([WebhookEventTypes.All, .. WebhookEventTypes.Catalogue]));

    public static async Task<IResult> CreateWebhook(
        CreateWebhookRequest request, AdminDbContext db, TenantContext tenant, WebhookSecrets secrets, IOptions<WebhookOptions> options, CancellationToken cancellationToken)
    {
        var validation = Validate(new RequestValidator(), request.Url, request.Events, request.Description, options.Value, required: true);
        validation.Check(request.Type is null or "custom", "type", "must be 'custom'");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var (secret, protectedSecret) = secrets.Generate();
        var now = DateTimeOffset.UtcNow;
        var webhook = new Webhook
        {
            Id = Guid.CreateVersion7(), TenantId = tenant.TenantId, Url = request.Url!, Events = request.Events!.Distinct().ToList(),
            Description = request.Description, ProtectedSecret = protectedSecret, IsActive = request.IsActive ?? true, CreatedAt = now, UpdatedAt = now,
        };
        db.Webhooks.Add(webhook);
        db.AddEvent(new WebhookCreated(webhook.Id, WebhookUrls.OriginOf(webhook.Url), webhook.Events) { TenantId = tenant.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Created($"/t/{tenant.Slug}/api/v1/admin/webhooks/{webhook.Id}",
            new DataResponse<CreatedWebhookResponse>(new CreatedWebhookResponse(WebhookResponse.From(webhook), secret, SecretNote), "Webhook created"));
    }

    public static async Task<IResult> GetWebhook(string webhookId, AdminDbContext db, CancellationToken cancellationToken) =>
        await FindAsync(db, webhookId, cancellationToken, tracking: false) is { } webhook
            ? TypedResults.Ok(new DataResponse<WebhookResponse>(WebhookResponse.From(webhook)))
            : ApiErrors.NotFound("Webhook");

    public static async Task<IResult> UpdateWebhook(
        string webhookId, UpdateWebhookRequest request, AdminDbContext db, IOptions<WebhookOptions> options, CancellationToken cancellationToken)
    {
        var webhook = await FindAsync(db, webhookId, cancellationToken);
        if (webhook is null)
        {
            return ApiErrors.NotFound("Webhook");
        }

        var validation = Validate(new RequestValidator(), request.Url, request.Events, request.Description, options.Value, required: false);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var changed = new List<string>();
        if (request.Url is { } url && url != webhook.Url)
        {
            webhook.Url = url;
            changed.Add("url");
        }

        if (request.Events is { } events && !events.Distinct().Order().SequenceEqual(webhook.Events.Order()))
        {
            webhook.Events = events.Distinct().ToList();
            changed.Add("events");
        }

        if (request.Description is { } description && description != (webhook.Description ?? string.Empty))
        {
            webhook.Description = description.Length == 0 ? null : description;
            changed.Add("description");
        }

        if (request.IsActive is { } active && active != webhook.IsActive)
        {
            webhook.IsActive = active;
            // Re-enabling starts the failure count afresh.
            webhook.FailureCount = 0;
            webhook.DisabledAt = active ? null : DateTimeOffset.UtcNow;
            changed.Add("isActive");
        }

        if (changed.Count > 0)
        {
            webhook.UpdatedAt = DateTimeOffset.UtcNow;
            db.AddEvent(new WebhookUpdated(webhook.Id, changed) { TenantId = webhook.TenantId });
            await db.SaveChangesAsync(cancellationToken);
        }

        return TypedResults.Ok(new DataResponse<WebhookResponse>(WebhookResponse.From(webhook), "Webhook updated"));
    }

    public static async Task<IResult> DeleteWebhook(string webhookId, AdminDbContext db, CancellationToken cancellationToken)
    {
        var webhook = await FindAsync(db, webhookId, cancellationToken);
        if (webhook is null)
        {
            return ApiErrors.NotFound("Webhook");
        }

        db.Webhooks.Remove(webhook);
        db.AddEvent(new WebhookDeleted(webhook.Id) { TenantId = webhook.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>Sends a <c>webhook.test</c> event now and answers how the receiver took it; it is logged like any delivery.</summary>
    public static async Task<IResult> TestWebhook(string webhookId, AdminDbContext db, TenantContext tenant, WebhookDispatcher dispatcher, CancellationToken cancellationToken)
    {
        var webhook = await FindAsync(db, webhookId, cancellationToken, tracking: false);
        if (webhook is null)
        {
            return ApiErrors.NotFound("Webhook");
        }

        var eventId = WebhookPayloads.EventIdFor(Guid.CreateVersion7());
        var data = new JsonObject { ["webhookId"] = webhook.Id.ToString(), ["message"] = "This is a test event from LumoAuth." };
        var delivery = NewDelivery(webhook, eventId, WebhookEventTypes.Test,
            WebhookPayloads.Build(eventId, WebhookEventTypes.Test, DateTimeOffset.UtcNow, tenant.Slug, data.ToJsonString()), null);
        // Claimed from the start so the dispatcher leaves this first attempt to us.
        delivery.LockedUntil = DateTimeOffset.UtcNow.AddMinutes(1);
        db.WebhookDeliveries.Add(delivery);
        await db.SaveChangesAsync(cancellationToken);
        var result = await dispatcher.AttemptAsync(delivery.Id, cancellationToken);
        return TypedResults.Ok(new DataResponse<WebhookTestResponse>(
            new WebhookTestResponse(delivery.Id, eventId, result?.Succeeded == true, result?.StatusCode, result?.Error, result?.DurationMs ?? 0),
            result?.Succeeded == true ? "Test event delivered" : "Test event not accepted by the endpoint"));
    }

    /// <summary>
    /// A new secret; the replaced one keeps signing deliveries (a second <c>v1=</c>) for <c>Webhooks:SecretRotationOverlap</c>
    /// (24 h), so the receiver can switch without failed deliveries. Only the latest replaced secret is kept.
    /// </summary>
    public static async Task<IResult> RotateSecret(
        string webhookId, AdminDbContext db, WebhookSecrets secrets, IOptions<WebhookOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var webhook = await FindAsync(db, webhookId, cancellationToken);
        if (webhook is null)
        {
            return ApiErrors.NotFound("Webhook");
        }

        var (secret, protectedSecret) = secrets.Generate();
        var now = time.GetUtcNow();
        webhook.PreviousProtectedSecret = webhook.ProtectedSecret;
        webhook.PreviousSecretExpiresAt = now + options.Value.SecretRotationOverlap;
        webhook.ProtectedSecret = protectedSecret;
        webhook.UpdatedAt = now;
        db.AddEvent(new WebhookSecretRotated(webhook.Id) { TenantId = webhook.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(new DataResponse<RotatedSecretResponse>(new RotatedSecretResponse(webhook.Id, secret, SecretNote), "Webhook secret rotated successfully"));
    }

    public static async Task<IResult> ListDeliveries(string webhookId, int? page, int? limit, string? status, AdminDbContext db, CancellationToken cancellationToken)
    {
        var webhook = await FindAsync(db, webhookId, cancellationToken, tracking: false);
        if (webhook is null)
        {
            return ApiErrors.NotFound("Webhook");
        }

        if (status is not (null or WebhookDeliveryStatuses.Pending or WebhookDeliveryStatuses.Succeeded or WebhookDeliveryStatuses.Failed))
        {
            return ApiErrors.Validation("status", "must be pending, succeeded or failed");
        }

        var paging = PageRequest.From(page, limit);
        var deliveries = db.WebhookDeliveries.AsNoTracking().Where(d => d.WebhookId == webhook.Id);
        if (status is not null)
        {
            deliveries = deliveries.Where(d => d.Status == status);
        }

        var meta = await BoundedCount.PageMetaAsync(paging, n => deliveries.Take(n).LongCountAsync(cancellationToken));
        var rows = await deliveries.OrderByDescending(d => d.CreatedAt).ThenByDescending(d => d.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<DeliveryResponse>(rows.Select(d => DeliveryResponse.From(d, null)).ToList(), meta));
    }

    public static async Task<IResult> GetDelivery(string webhookId, string deliveryId, AdminDbContext db, CancellationToken cancellationToken)
    {
        var delivery = await FindDeliveryAsync(db, webhookId, deliveryId, cancellationToken);
        if (delivery is null)
        {
            return ApiErrors.NotFound("Webhook delivery");
        }

        var attempts = await db.WebhookDeliveryAttempts.AsNoTracking().Where(a => a.DeliveryId == delivery.Id).OrderBy(a => a.Number)
            .Select(a => new AttemptResponse(a.Number, a.AttemptedAt, a.StatusCode, a.Error, a.DurationMs)).ToListAsync(cancellationToken);
        return TypedResults.Ok(new DataResponse<DeliveryResponse>(DeliveryResponse.From(delivery, attempts)));
    }

    /// <summary>Queues the same payload (same event id, so receivers can de-duplicate) as a new delivery.</summary>
    public static async Task<IResult> ReplayDelivery(string webhookId, string deliveryId, AdminDbContext db, WebhookSignal signal, CancellationToken cancellationToken)
    {
        var original = await FindDeliveryAsync(db, webhookId, deliveryId, cancellationToken);
        var webhook = original is null ? null : await FindAsync(db, webhookId, cancellationToken, tracking: false);
        if (original is null || webhook is null)
        {
            return ApiErrors.NotFound("Webhook delivery");
        }

        var replay = NewDelivery(webhook, original.EventId, original.EventType, original.Payload, original.Id);
        db.WebhookDeliveries.Add(replay);
        await db.SaveChangesAsync(cancellationToken);
        signal.Notify();
        return TypedResults.Accepted((string?)null, new DataResponse<DeliveryResponse>(DeliveryResponse.From(replay, null), "Delivery queued again"));
    }

    private static WebhookDelivery NewDelivery(Webhook webhook, string eventId, string type, string payload, Guid? replayOf)
    {
        var now = DateTimeOffset.UtcNow;
        return new WebhookDelivery
        {
            Id = Guid.CreateVersion7(), TenantId = webhook.TenantId, WebhookId = webhook.Id, EventId = eventId, EventType = type,
            Payload = payload, Status = WebhookDeliveryStatuses.Pending, NextAttemptAt = now, CreatedAt = now, ReplayOf = replayOf,
        };
    }

    private static RequestValidator Validate(
        RequestValidator validation, string? url, IReadOnlyList<string>? events, string? description, WebhookOptions options, bool required)
    {
        if (url is not null || required)
        {
            if (SsrfGuard.ProblemWith(url, options.AllowPrivateTargets) is { } problem)
            {
                validation.Add("url", problem);
            }
        }

        if (events is not null || required)
        {
            validation.Check(events is { Count: > 0 and <= 100 }, "events", "must list 1 to 100 event types ('*' for all)");
            foreach (var name in (events ?? []).Where(e => !WebhookEventTypes.IsKnown(e)).Take(10))
            {
                validation.Add("events", $"unknown event type '{name}' (see GET /admin/webhooks/events)");
            }
        }

        return validation.Optional("description", description, 500);
    }

    private static Task<Webhook?> FindAsync(AdminDbContext db, string webhookId, CancellationToken cancellationToken, bool tracking = true)
    {
        if (!Guid.TryParse(webhookId, out var id))
        {
            return Task.FromResult<Webhook?>(null);
        }

        return (tracking ? db.Webhooks : db.Webhooks.AsNoTracking()).FirstOrDefaultAsync(w => w.Id == id, cancellationToken);
    }

    private static async Task<WebhookDelivery?> FindDeliveryAsync(AdminDbContext db, string webhookId, string deliveryId, CancellationToken cancellationToken) =>
        Guid.TryParse(webhookId, out var hook) && Guid.TryParse(deliveryId, out var id)
            ? await db.WebhookDeliveries.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id && d.WebhookId == hook, cancellationToken)
            : null;
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateWebhookRequest(string? Url, IReadOnlyList<string>? Events, string? Description, bool? IsActive, string? Type);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record UpdateWebhookRequest(string? Url, IReadOnlyList<string>? Events, string? Description, bool? IsActive);

public sealed record WebhookResponse(
    Guid Id, string Url, IReadOnlyList<string> Events, string? Description, bool IsActive, int FailureCount,
    DateTimeOffset? LastDeliveredAt, DateTimeOffset? DisabledAt, DateTimeOffset CreatedAt)
{
    public static WebhookResponse From(Webhook w) => new(w.Id, w.Url, w.Events, w.Description, w.IsActive, w.FailureCount, w.LastDeliveredAt, w.DisabledAt, w.CreatedAt);
}

public sealed record CreatedWebhookResponse(
    [property: JsonPropertyName("webhook")] WebhookResponse Webhook, string Secret, [property: JsonPropertyName("_note")] string Note);

public sealed record RotatedSecretResponse(Guid WebhookId, string Secret, [property: JsonPropertyName("_note")] string Note);

public sealed record WebhookTestResponse(Guid DeliveryId, string EventId, bool Success, int? StatusCode, string? Error, int DurationMs);

public sealed record AttemptResponse(int Number, DateTimeOffset AttemptedAt, int? StatusCode, string? Error, int DurationMs);

public sealed record DeliveryResponse(
    Guid Id, string EventId, string EventType, string Status, int Attempts, DateTimeOffset? NextAttemptAt, int? LastStatusCode,
    string? LastError, Guid? ReplayOf, DateTimeOffset CreatedAt, DateTimeOffset? CompletedAt, IReadOnlyList<AttemptResponse>? AttemptLog)
{
    public static DeliveryResponse From(WebhookDelivery d, IReadOnlyList<AttemptResponse>? attempts) => new(
        d.Id, d.EventId, d.EventType, d.Status, d.Attempts, d.Status == WebhookDeliveryStatuses.Pending ? d.NextAttemptAt : null,
        d.LastStatusCode, d.LastError, d.ReplayOf, d.CreatedAt, d.CompletedAt, attempts);
}

/// <summary>What of a webhook URL may leave the webhook's own row and API answers.</summary>
public static class WebhookUrls
{
    /// <summary>
    /// The URL's origin (<c>https://host[:port]</c>): no user info, path, query or fragment, which are often the receiver's
    /// only credential (Slack-style capability URLs). Events, hence audit entries and other webhooks' payloads, carry only this.
    /// </summary>
    public static string OriginOf(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && !string.IsNullOrEmpty(uri.Host)
            ? uri.GetComponents(UriComponents.SchemeAndServer, UriFormat.UriEscaped)
            : string.Empty;
}
