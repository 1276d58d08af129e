using System.Text.Json.Serialization;
using System.Text.Json;
using LumoAuth.Admin.Data;
using LumoAuth.Contracts;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.AuditLogs;

public static class AuditLogEndpoints
{
    public static IEndpointRouteBuilder MapAuditLogEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin/audit-logs")
            .RequireAuthorization(Policies.TenantAdmin)
            .WithTags("Audit logs");
        group.MapGet("/", ListAuditLogs).WithName("ListAuditLogs");
        group.MapGet("/export", AuditLogExport.Export).WithName("ExportAuditLogs");
        group.MapPost("/export", AuditLogExport.Export).WithName("ExportAuditLogsPost");
        group.MapGet("/{logId}", GetAuditLog).WithName("GetAuditLog");
        return app;
    }

    public static async Task<IResult> ListAuditLogs([AsParameters] AuditLogQuery query, AdminDbContext db, CancellationToken cancellationToken)
    {
        var validation = CheckFilter(query, new RequestValidator());
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var paging = PageRequest.From(query.Page, query.Limit);
        var logs = Filter(db.AuditLogs.AsNoTracking(), query);
        var meta = await BoundedCount.PageMetaAsync(paging, n => logs.Take(n).LongCountAsync(cancellationToken));
        var page = await logs.OrderByDescending(l => l.Timestamp).ThenByDescending(l => l.Id)
            .Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<AuditLogResponse>(page.Select(AuditLogResponse.From).ToList(), meta));
    }

    /// <summary>
    /// Refuses filter values no entry can match, as an unknown sortBy is refused (C-18): a misspelt action would otherwise
    /// answer an empty list, indistinguishable from "nothing happened".
    /// </summary>
    public static RequestValidator CheckFilter(AuditLogQuery query, RequestValidator validation) => validation
        .Check(query.Action is not { Length: > 0 } action || AuditVocabulary.Resolve(action) is not null,
            "action", "is neither an action of the audit log nor one of the documented action names")
        .Check(query.Category is not { Length: > 0 } category || AuditVocabulary.Categories.Contains(category),
            "category", "must be one of " + string.Join(", ", AuditVocabulary.Categories))
        .Check(query.Outcome is not { Length: > 0 } outcome || AuditVocabulary.Outcomes.Contains(outcome),
            "outcome", "must be one of " + string.Join(", ", AuditVocabulary.Outcomes));

    /// <summary>The documented filters, shared by the list and the export (their values checked by <see cref="CheckFilter"/>).</summary>
    public static IQueryable<AuditLogEntry> Filter(IQueryable<AuditLogEntry> logs, AuditLogQuery query)
    {
        if (query.Action is { Length: > 0 } action)
        {
            // A documented name stands for one or more of our actions, some narrowed by a fact of the entry.
            var match = AuditVocabulary.Resolve(action) ?? new AuditVocabulary.ActionMatch([action]);
            var actions = match.Actions.ToArray();
            logs = logs.Where(l => actions.Contains(l.Action));
            if (match.MetadataContains is { } fact)
            {
                logs = logs.Where(l => EF.Functions.JsonContains(l.Metadata, fact));
            }
        }

        if (query.Category is { Length: > 0 } category)
        {
            logs = logs.Where(l => l.Category == category);
        }

        if (query.ActorId is { Length: > 0 } actorId)
        {
            logs = logs.Where(l => l.ActorId == actorId);
        }

        if (query.TargetId is { Length: > 0 } targetId)
        {
            logs = logs.Where(l => l.TargetId == targetId);
        }

        if (query.Outcome is { Length: > 0 } outcome)
        {
            logs = logs.Where(l => l.Outcome == outcome);
        }

        // startDate/endDate (api-reference) and from/to (user guide) mean the same (C-25).
        if ((query.StartDate ?? query.From) is { } start)
        {
            logs = logs.Where(l => l.Timestamp >= start);
        }

        if ((query.EndDate ?? query.To) is { } end)
        {
            logs = logs.Where(l => l.Timestamp <= end);
        }

        return logs;
    }

    public static async Task<IResult> GetAuditLog(string logId, AdminDbContext db, CancellationToken cancellationToken)
    {
        if (!AuditLogResponse.TryParseId(logId, out var id))
        {
            return ApiErrors.NotFound("Audit log entry");
        }

        var entry = await db.AuditLogs.AsNoTracking().FirstOrDefaultAsync(l => l.Id == id, cancellationToken);
        return entry is null ? ApiErrors.NotFound("Audit log entry") : TypedResults.Ok(new DataResponse<AuditLogResponse>(AuditLogResponse.From(entry)));
    }
}

public sealed record AuditLogQuery(
    int? Page, int? Limit, string? Action, string? Category, string? ActorId, string? TargetId, string? Outcome,
    DateTimeOffset? StartDate, DateTimeOffset? EndDate, DateTimeOffset? From, DateTimeOffset? To);

public sealed record AuditActor(string Type, string? Id, string? Email);

/// <summary>
/// Who acted, for an action done with a delegated token (RFC 8693): the principal the token names and the actors acting
/// for it, earliest first — the docs' <c>principal.subject</c> and <c>principal.actor_chain</c>.
/// </summary>
public sealed record AuditPrincipal(
    [property: JsonPropertyName("subject")] string Subject,
    [property: JsonPropertyName("actor_chain")] IReadOnlyList<string> ActorChain);

public sealed record AuditTarget(string? Type, string? Id);

public sealed record AuditLogResponse(
    string Id, string Action, string Category, AuditActor Actor, AuditTarget? Target, string Outcome,
    string? IpAddress, string? UserAgent, string? CorrelationId, JsonElement Metadata, DateTimeOffset Timestamp)
{
    /// <summary>Present only for actions done with a delegated token.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public AuditPrincipal? Principal { get; init; }

    public static AuditLogResponse From(AuditLogEntry e) => new(
        AuditLogIds.Format(e.Id), e.Action, e.Category, new AuditActor(e.ActorType, e.ActorId, e.ActorEmail),
        e.TargetType is null && e.TargetId is null ? null : new AuditTarget(e.TargetType, e.TargetId),
        e.Outcome, e.IpAddress, e.UserAgent, e.CorrelationId, JsonDocument.Parse(e.Metadata).RootElement.Clone(), e.Timestamp)
    {
        Principal = e.ActorChain is { } chain && e.ActorId is { } subject
            // Typed references as the docs write them; an actor of a token exchange is always an OAuth client here.
            ? new AuditPrincipal($"{e.ActorType}:{subject}", (JsonSerializer.Deserialize<List<string>>(chain) ?? []).Select(actor => $"{ActorTypes.Client}:{actor}").ToList())
            : null,
    };

    public static bool TryParseId(string value, out Guid id) => AuditLogIds.TryParse(value, out id);
}
