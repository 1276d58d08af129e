using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.AuditLogs;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Admin.Tests;

public sealed class AuditExportTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    // Entries written straight to the table carry real actions (the filters refuse unknown ones) that nothing else in
    // the test's tenant records.
    private const string ExportProbe = "webhook_secret_rotated";
    private const string OutcomeProbe = "user_mfa_enrolled";

    private static async Task WaitForAuditAsync(HttpClient client, TestTenant tenant, string action, long count) =>
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action={action}"));
            return page["meta"]!["total"]!.GetValue<long>() >= count ? page : null;
        });

    [Fact]
    public async Task Export_Csv_IsTheDefault_WithHeaderAndFilteredRows()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        await factory.CreateUserAsync(tenant, "csv1@example.com");
        await factory.CreateUserAsync(tenant, "csv2@example.com");
        await WaitForAuditAsync(client, tenant, "user_created", 3);

        using var response = await client.GetAsync($"{tenant.Api}/admin/audit-logs/export?action=user_created");
        Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("false", response.Headers.GetValues("X-Export-Truncated").Single());
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("id,timestamp,action,category,outcome", lines[0]);
        Assert.Equal(4, lines.Length);
        Assert.All(lines.Skip(1), l => Assert.Contains(",user_created,user_management,success,", l));
        Assert.Contains(lines, l => l.Contains("csv2@example.com", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Export_Json_ByPostAlias_WithDateRange()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        await WaitForAuditAsync(client, tenant, "tenant_created", 1);
        var from = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(-1).ToString("O"));
        var to = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(1).ToString("O"));
        using var response = await client.PostAsync($"{tenant.Api}/admin/audit-logs/export?format=json&from={from}&to={to}", null);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var entries = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray();
        Assert.Contains(entries, e => e!["action"]!.GetValue<string>() == "tenant_created");
        Assert.All(entries, e => Assert.StartsWith("log_", e!["id"]!.GetValue<string>()));

        var past = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddYears(-1).ToString("O"));
        using var empty = await client.GetAsync($"{tenant.Api}/admin/audit-logs/export?format=json&to={past}");
        Assert.Empty(JsonNode.Parse(await empty.Content.ReadAsStringAsync())!.AsArray());
    }

    [Fact]
    public async Task Export_BadFormatOrRange_Returns400_AndOtherTenantsStayOut()
    {
        var a = await factory.CreateTenantAsync();
        var b = await factory.CreateTenantAsync();
        using var clientA = factory.ClientFor(a);
        await ApiAssert.ErrorAsync(await clientA.GetAsync($"{a.Api}/admin/audit-logs/export?format=xml"), 400, "validation_error");
        await ApiAssert.ErrorAsync(await clientA.GetAsync($"{a.Api}/admin/audit-logs/export?from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z"), 400, "validation_error");
        await ApiAssert.ErrorAsync(await clientA.GetAsync($"{a.Api}/admin/audit-logs/export?from=yesterday"), 400, "invalid_request");

        using var clientB = factory.ClientFor(b);
        await WaitForAuditAsync(clientB, b, "tenant_created", 1);
        var csv = await clientA.GetStringAsync($"{a.Api}/admin/audit-logs/export");
        Assert.DoesNotContain(b.Id.ToString(), csv);
        await ApiAssert.ErrorAsync(await clientB.GetAsync($"{a.Api}/admin/audit-logs/export"), 401, "unauthorized");
    }

    [Fact]
    public async Task Export_StopsAtTenThousandEntries_AndSaysItWasTruncated()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var now = DateTimeOffset.UtcNow;
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            db.AuditLogs.AddRange(Enumerable.Range(0, AuditLogExport.MaxRows + 1).Select(i => new AuditLogEntry
            {
                Id = Guid.CreateVersion7(), TenantId = tenant.Id, Action = ExportProbe, Category = "configuration", ActorType = "system",
                Timestamp = now.AddSeconds(-i),
            }));
            await db.SaveChangesAsync();
        }

        using var response = await client.GetAsync($"{tenant.Api}/admin/audit-logs/export?action={ExportProbe}");

        Assert.Equal("true", response.Headers.GetValues("X-Export-Truncated").Single());
        Assert.Equal("10001", response.Headers.GetValues("X-Total-Count").Single());
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1 + AuditLogExport.MaxRows, lines.Length);
    }

    /// <summary>
    /// A log too large to count on every page: counting stops at the bound and the answer says its total is a lower bound,
    /// while whether another page follows stays exact, up to the last page.
    /// </summary>
    [Fact]
    public async Task ListAndExport_OfAHugeLog_CountUpToTheBound_AndSayTheTotalIsALowerBound()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        const string probe = ExportProbe;
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO audit_logs ("Id", "TenantId", "Action", "Category", "ActorType", "Outcome", "Metadata", "Timestamp")
                SELECT gen_random_uuid(), {tenant.Id}, {probe}, 'configuration', 'system', 'success', CAST({"{}"} AS jsonb), now() - g * interval '1 second'
                FROM generate_series(1, {BoundedCount.DefaultBound + 1}) AS g
                """);
        }

        var first = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action={probe}&limit=100")))["meta"]!;
        Assert.Equal(BoundedCount.DefaultBound, first["total"]!.GetValue<long>());
        Assert.True(first["totalIsLowerBound"]!.GetValue<bool>());
        Assert.True(first["hasNextPage"]!.GetValue<bool>());
        var lastFull = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action={probe}&limit=100&page=1000")))["meta"]!;
        Assert.True(lastFull["hasNextPage"]!.GetValue<bool>());
        var last = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action={probe}&limit=100&page=1001"));
        Assert.Single(last["data"]!.AsArray());
        Assert.Equal(BoundedCount.DefaultBound + 1, last["meta"]!["total"]!.GetValue<long>());
        Assert.False(last["meta"]!["hasNextPage"]!.GetValue<bool>());
        Assert.Null(last["meta"]!["totalIsLowerBound"]);

        using var export = await client.GetAsync($"{tenant.Api}/admin/audit-logs/export?action={probe}&format=json");
        Assert.Equal(BoundedCount.DefaultBound.ToString(System.Globalization.CultureInfo.InvariantCulture), export.Headers.GetValues("X-Total-Count").Single());
        Assert.Equal("true", export.Headers.GetValues("X-Total-Count-Is-Lower-Bound").Single());
        Assert.Equal("true", export.Headers.GetValues("X-Export-Truncated").Single());
    }

    [Fact]
    public async Task List_ByOutcome_ShowsOnlyThatOutcome()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            db.AuditLogs.AddRange(new[] { "success", "failure", "failure" }.Select(outcome => new AuditLogEntry
            {
                Id = Guid.CreateVersion7(), TenantId = tenant.Id, Action = OutcomeProbe, Category = "authentication", ActorType = "system",
                Outcome = outcome, Timestamp = DateTimeOffset.UtcNow,
            }));
            await db.SaveChangesAsync();
        }

        var failures = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?outcome=failure"));
        Assert.Equal(2, failures["meta"]!["total"]!.GetValue<long>());
        Assert.All(failures["data"]!.AsArray(), e => Assert.Equal("failure", e!["outcome"]!.GetValue<string>()));
        var successes = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?outcome=success&action={OutcomeProbe}"));
        Assert.Equal(1, successes["meta"]!["total"]!.GetValue<long>());
    }

    [Fact]
    public async Task List_ByDocumentedActionNames_FindsOurEntries()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { maxFailedAttempts = 2, lockoutDuration = 600 } }));
        var userId = await factory.CreateUserAsync(tenant, "named@example.com", "correct horse battery 1");
        using (var internalClient = factory.Internal())
        {
            foreach (var guess in new[] { "wrong one", "wrong two" })
            {
                await ApiAssert.OkAsync(await internalClient.PostAsJsonAsync(InternalRoutes.Authenticate,
                    new AuthenticateRequest(tenant.Id, "named@example.com", guess, null, "203.0.113.7")));
            }
        }

        var failed = await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=login_failed&outcome=failure&targetId={userId}")))["data"]!
                .AsArray().FirstOrDefault()?.AsObject());
        Assert.Equal(("user_login_failed", "failure"), (failed["action"]!.GetValue<string>(), failed["outcome"]!.GetValue<string>()));
        var lockout = await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=security.account.lockout")))["data"]!
                .AsArray().FirstOrDefault()?.AsObject());
        Assert.Equal(("user_locked_out", userId.ToString()), (lockout["action"]!.GetValue<string>(), lockout["target"]!["id"]!.GetValue<string>()));

        // Our own names keep working, and the export reads the same filter.
        var ours = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_login_failed&targetId={userId}"));
        Assert.Equal(2, ours["meta"]!["total"]!.GetValue<long>());
        using var export = await client.GetAsync($"{tenant.Api}/admin/audit-logs/export?format=json&action=login_failed");
        var exported = JsonNode.Parse(await export.Content.ReadAsStringAsync())!.AsArray();
        Assert.Equal(2, exported.Count);
        Assert.All(exported, e => Assert.Equal("user_login_failed", e!["action"]!.GetValue<string>()));

        // A logout is the sessions_revoked entry whose reason says so; sessions an administrator ended are not one.
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            db.AuditLogs.AddRange(new[] { "logout", "admin" }.Select(reason => new AuditLogEntry
            {
                Id = Guid.CreateVersion7(), TenantId = tenant.Id, Action = "sessions_revoked", Category = "authentication", ActorType = "system",
                TargetType = "user", TargetId = reason, Metadata = $$"""{"userId":"{{userId}}","sessionIds":["sess_1"],"reason":"{{reason}}"}""",
                Timestamp = DateTimeOffset.UtcNow,
            }));
            await db.SaveChangesAsync();
        }

        var logouts = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=logout"));
        Assert.Equal("logout", logouts["data"]!.AsArray().Single()!["target"]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task List_UnknownFilterValues_Answer400_DocumentedNamesWithoutCounterpartListNothing()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        foreach (var query in new[] { "outcome=maybe", "category=nope", "action=user_logged_in_maybe", "action=LOGIN" })
        {
            await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?{query}"), 400, "validation_error");
            await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs/export?{query}"), 400, "validation_error");
        }

        await WaitForAuditAsync(client, tenant, "tenant_created", 1);
        var denied = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=access_denied&outcome=error&category=authorization"));
        Assert.Equal(0, denied["meta"]!["total"]!.GetValue<long>());
    }

    [Fact]
    public void Vocabulary_CoversEveryCategoryAnEntryCanHave()
    {
        Assert.All(AuditRegistration.AuditedTypes, type => Assert.Contains(AuditMapping.CategoryOf(type), AuditVocabulary.Categories));
        Assert.Contains("user_locked_out", AuditVocabulary.OurActions);
        Assert.DoesNotContain("access_tokens_issued", AuditVocabulary.OurActions);
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\"")]
    [InlineData("+1", "'+1")]
    [InlineData("@sum", "'@sum")]
    [InlineData(null, "")]
    public void CsvCell_QuotesAndDefusesFormulas(string? value, string expected) => Assert.Equal(expected, AuditLogExport.Cell(value));
}

public sealed class AuditRetentionTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private const string RetentionProbe = "webhook_secret_rotated";

    [Fact]
    public async Task Entries_PastTheirTenantsRetention_AreDeleted_OthersKept()
    {
        var shortLived = await factory.CreateTenantAsync();
        var byDefault = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(shortLived);
        await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{shortLived.Api}/admin/settings", new { auditPolicy = new { retentionDays = 0 } }), 400, "validation_error");
        var settings = await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{shortLived.Api}/admin/settings", new { auditPolicy = new { retentionDays = 30 } }));
        Assert.Equal(30, settings["data"]!["auditPolicy"]!["retentionDays"]!.GetValue<int>());

        var now = DateTimeOffset.UtcNow;
        AuditLogEntry Entry(TestTenant tenant, int daysAgo) => new()
        {
            Id = Guid.CreateVersion7(), TenantId = tenant.Id, Action = RetentionProbe, Category = "configuration", ActorType = "system",
            Timestamp = now.AddDays(-daysAgo),
        };
        var entries = new[] { Entry(shortLived, 40), Entry(shortLived, 10), Entry(byDefault, 40), Entry(byDefault, 100) };
        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        db.AuditLogs.AddRange(entries);
        await db.SaveChangesAsync();

        Assert.True(await AuditHousekeeping.PurgeAsync(db, now, CancellationToken.None) >= 2);

        var left = await db.AuditLogs.IgnoreQueryFilters().Where(e => e.Action == RetentionProbe && (e.TenantId == shortLived.Id || e.TenantId == byDefault.Id))
            .Select(e => e.Id).ToListAsync();
        Assert.Equal(new[] { entries[1].Id, entries[2].Id }.Order(), left.Order());
        var listed = await ApiAssert.OkAsync(await admin.GetAsync($"{shortLived.Api}/admin/audit-logs?action={RetentionProbe}"));
        Assert.Equal("log_" + entries[1].Id.ToString("N"), listed["data"]!.AsArray().Single()!["id"]!.GetValue<string>());
    }
}
