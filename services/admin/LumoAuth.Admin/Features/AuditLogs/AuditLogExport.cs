using System.Globalization;
using System.Text;
using System.Text.Json;
using LumoAuth.Admin.Data;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.AuditLogs;

/// <summary>
/// ADM-64: the filtered audit log as CSV (default) or JSON, newest first, at most 10,000 entries per
/// request. Rows stream from the database to the response; nothing is buffered. When more entries match
/// than are exported, <c>X-Export-Truncated: true</c> and <c>X-Total-Count</c> say so.
/// </summary>
public static class AuditLogExport
{
    public const int MaxRows = 10_000;
    private static readonly string[] Columns =
    [
        "id", "timestamp", "action", "category", "outcome", "actorType", "actorId", "actorEmail", "targetType", "targetId",
        "ipAddress", "userAgent", "correlationId", "metadata",
    ];

    public static async Task<IResult> Export([AsParameters] AuditLogQuery query, string? format, AdminDbContext db, CancellationToken cancellationToken)
    {
        format = (format ?? "csv").ToLowerInvariant();
        var validation = AuditLogEndpoints.CheckFilter(query, new RequestValidator());
        validation.Check(format is "csv" or "json", "format", "must be csv or json");
        var start = query.StartDate ?? query.From;
        var end = query.EndDate ?? query.To;
        validation.Check(start is null || end is null || start <= end, "from", "must not be after 'to'");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var logs = AuditLogEndpoints.Filter(db.AuditLogs.AsNoTracking(), query);
        var (total, exact) = await BoundedCount.UpToAsync(n => logs.Take(n).LongCountAsync(cancellationToken), BoundedCount.DefaultBound);
        var rows = logs.OrderByDescending(l => l.Timestamp).ThenByDescending(l => l.Id).Take(MaxRows).AsAsyncEnumerable();
        return new StreamedExport(rows, format, total, exact);
    }

    /// <param name="exact">False when <paramref name="total"/> is where counting stopped (<see cref="BoundedCount.DefaultBound"/>).</param>
    private sealed class StreamedExport(IAsyncEnumerable<AuditLogEntry> rows, string format, long total, bool exact) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            var stamp = DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
            response.ContentType = format == "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8";
            response.Headers.ContentDisposition = $"attachment; filename=\"audit-logs-{stamp}.{format}\"";
            response.Headers.CacheControl = "no-store";
            response.Headers["X-Total-Count"] = total.ToString(CultureInfo.InvariantCulture);
            if (!exact)
            {
                response.Headers["X-Total-Count-Is-Lower-Bound"] = "true";
            }

            response.Headers["X-Export-Truncated"] = total > MaxRows ? "true" : "false";
            var cancellationToken = httpContext.RequestAborted;
            if (format == "csv")
            {
                await WriteCsvAsync(response.Body, cancellationToken);
            }
            else
            {
                await WriteJsonAsync(response.BodyWriter, cancellationToken);
            }
        }

        private async Task WriteCsvAsync(Stream body, CancellationToken cancellationToken)
        {
            await using var writer = new StreamWriter(body, new UTF8Encoding(false), 16 * 1024, leaveOpen: true);
            await writer.WriteLineAsync(string.Join(',', Columns));
            var count = 0;
            await foreach (var e in rows.WithCancellation(cancellationToken))
            {
                var view = AuditLogResponse.From(e);
                string?[] cells =
                [
                    view.Id, e.Timestamp.UtcDateTime.ToString("O", CultureInfo.InvariantCulture), e.Action, e.Category, e.Outcome, e.ActorType,
                    e.ActorId, e.ActorEmail, e.TargetType, e.TargetId, e.IpAddress, e.UserAgent, e.CorrelationId, e.Metadata,
                ];
                await writer.WriteLineAsync(string.Join(',', cells.Select(Cell)));
                if (++count % 500 == 0)
                {
                    await writer.FlushAsync(cancellationToken);
                }
            }

            await writer.FlushAsync(cancellationToken);
        }

        // Over the response's pipe, the serializer's own flushes only hand buffers over; the awaits send them.
        private async Task WriteJsonAsync(System.IO.Pipelines.PipeWriter body, CancellationToken cancellationToken)
        {
            await using var writer = new Utf8JsonWriter(body);
            writer.WriteStartArray();
            var count = 0;
            await foreach (var e in rows.WithCancellation(cancellationToken))
            {
                JsonSerializer.Serialize(writer, AuditLogResponse.From(e), ExportJson.Options);
                if (++count % 500 == 0)
                {
                    await body.FlushAsync(cancellationToken);
                }
            }

            writer.WriteEndArray();
            writer.Flush();
            await body.FlushAsync(cancellationToken);
        }
    }

    /// <summary>RFC 4180 quoting, and a leading quote mark on values a spreadsheet would run as a formula.</summary>
    public static string Cell(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return string.Empty;
        }

        if (value[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            value = "'" + value;
        }

        return value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }

    private static class ExportJson
    {
        public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
    }
}
