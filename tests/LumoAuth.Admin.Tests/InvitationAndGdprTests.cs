using System.Net;
using System.Net.Http.Json;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.AuditLogs;
using LumoAuth.Admin.Features.Gdpr;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Admin.Tests;

public sealed class InvitationAndGdprTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    [Fact]
    public async Task Invitation_IsRecordedWithGroupsAndRoles_AndPublished_WithoutItsToken()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var groupId = await factory.CreateGroupAsync(tenant, "Newcomers");
        var invitation = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/invitations",
            new { email = "invitee@example.com", roles = new[] { "editor" }, groups = new[] { "newcomers" } }), 201))["data"]!;
        Assert.Equal("pending", invitation["status"]!.GetValue<string>());
        Assert.Equal(groupId.ToString(), invitation["groupIds"]![0]!.GetValue<string>());
        Assert.InRange(invitation["expiresAt"]!.GetValue<DateTimeOffset>(), DateTimeOffset.UtcNow.AddDays(6.9), DateTimeOffset.UtcNow.AddDays(7.1));
        Assert.DoesNotContain("token", invitation.ToJsonString(), StringComparison.OrdinalIgnoreCase);

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/invitations", new { email = "INVITEE@example.com" }), 409, "duplicate_resource");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = $"admin@{tenant.Slug}.example.com" }), 409, "duplicate_resource");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = "bad" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = "g@example.com", groups = new[] { "nope" } }), 400, "validation_error");

        var entry = await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_invited")))["data"]!.AsArray().FirstOrDefault()?.AsObject());
        Assert.Equal("editor", entry["metadata"]!["roles"]![0]!.GetValue<string>());

        var id = invitation["id"]!.GetValue<string>();
        using var revoked = await client.DeleteAsync($"{tenant.Api}/admin/invitations/{id}");
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        await ApiAssert.ErrorAsync(await client.DeleteAsync($"{tenant.Api}/admin/invitations/{id}"), 404, "resource_not_found");
        // Revoked, the address can be invited again.
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = "invitee@example.com" }), 201);
    }

    [Fact]
    public async Task AKeyScopedToUsers_InvitesThroughTheAlias_ButNamesNoRoles()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var key = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = "provisioning", scopes = new[] { "admin:users" } }), 201))
            ["data"]!["key"]!.GetValue<string>();
        using var scoped = factory.CreateClient();
        scoped.DefaultRequestHeaders.Add("X-API-Key", key);

        await ApiAssert.OkAsync(await scoped.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = "plain@example.com" }), 201);
        // Roles are given when the invitation is accepted, with nobody left to ask who invited: only full administrators name them.
        await ApiAssert.ErrorAsync(await scoped.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = "boss@example.com", roles = new[] { "admin" } }), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await scoped.PostAsJsonAsync($"{tenant.Api}/admin/invitations/bulk", new
        {
            invitations = new object[] { new { email = "a@example.com" }, new { email = "b@example.com", roles = new[] { "tenant_admin" } } },
        }), 403, "insufficient_scope");
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = "boss@example.com", roles = new[] { "admin" } }), 201);
    }

    [Fact]
    public async Task BulkInvitations_ReportEachItem()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var results = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/invitations/bulk", new
        {
            invitations = new object[] { new { email = "b1@example.com" }, new { email = "not-an-email" }, new { email = "b1@example.com" }, new { email = "b2@example.com" } },
        })))["data"]!.AsArray();
        Assert.Equal(["created", "error", "error", "created"], results.Select(r => r!["status"]!.GetValue<string>()).ToList());
        Assert.Equal("validation_error", results[1]!["code"]!.GetValue<string>());
        var list = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/invitations"));
        Assert.Equal(2, list["meta"]!["total"]!.GetValue<long>());

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/invitations/bulk", new { invitations = Array.Empty<object>() }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/invitations/bulk",
            new { invitations = Enumerable.Range(0, 101).Select(i => new { email = $"x{i}@example.com" }).ToArray() }), 400, "validation_error");
    }

    [Fact]
    public async Task GdprExport_BundlesTheUsersData_AndIsAudited()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var id = await factory.CreateUserAsync(tenant, "subject@example.com", "a long password 1", "Data Subject");
        await factory.CreateGroupAsync(tenant, "Club");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/groups", new { groups = new[] { "club" } }));
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/attributes", new { department = "sales" }));
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?targetId={id}&action=user_created"));
            return page["meta"]!["total"]!.GetValue<long>() == 1 ? page : null;
        });

        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<LumoAuth.Admin.Data.AdminDbContext>();
            db.Passkeys.Add(new LumoAuth.Admin.Data.PasskeyCredential
            {
                Id = Guid.CreateVersion7(), TenantId = tenant.Id, UserId = id, CredentialId = [7, 7], PublicKey = [9, 9, 9], UserHandle = id.ToByteArray(), CreatedAt = DateTimeOffset.UtcNow,
            });
            await db.SaveChangesAsync();
        }

        var bundle = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/gdpr/data-export", new { userId = "subject@example.com" })))["data"]!;
        Assert.Contains(bundle["mfaFactors"]!.AsArray(), f => f!["type"]!.GetValue<string>() == "webauthn");
        Assert.Equal("Data Subject", bundle["profile"]!["name"]!.GetValue<string>());
        Assert.Equal("club", bundle["profile"]!["groups"]![0]!["slug"]!.GetValue<string>());
        Assert.Equal("sales", bundle["profile"]!["attributes"]!["department"]!.GetValue<string>());
        Assert.True(bundle["account"]!["hasPassword"]!.GetValue<bool>());
        Assert.Contains(bundle["auditEntries"]!.AsArray(), e => e!["action"]!.GetValue<string>() == "user_created");
        // Alone here, admin cannot reach the services that keep sessions, consents and roles: the bundle says so.
        Assert.Equal([DataHeldElsewhere.SessionsPart, DataHeldElsewhere.RolesPart, DataHeldElsewhere.SocialLinksPart], bundle["unavailable"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Null(bundle["sessions"]);
        Assert.DoesNotContain("pbkdf2", bundle.ToJsonString(), StringComparison.OrdinalIgnoreCase);

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/gdpr/data-export", new { userId = Guid.NewGuid().ToString() }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/gdpr/data-export", new { }), 400, "validation_error");
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_data_exported&targetId={id}"));
            return page["meta"]!["total"]!.GetValue<long>() == 1 ? page : null;
        });

        var other = await factory.CreateTenantAsync();
        using var otherClient = factory.ClientFor(other);
        await ApiAssert.ErrorAsync(await otherClient.PostAsJsonAsync($"{other.Api}/gdpr/data-export", new { userId = id.ToString() }), 404, "resource_not_found");
    }

    [Fact]
    public async Task Invitations_ForOneAddressAtOnce_MakeOnePendingInvitation()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var statuses = await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
        {
            using var response = await client.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = i % 2 == 0 ? "twice@example.com" : "TWICE@example.com" });
            if ((int)response.StatusCode != 201)
            {
                await ApiAssert.ErrorAsync(response, 409, "duplicate_resource");
            }

            return (int)response.StatusCode;
        }));
        Assert.Equal(1, statuses.Count(status => status == 201));
        var pending = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/invitations?status=pending&search=twice"));
        Assert.Equal(1, pending["meta"]!["total"]!.GetValue<long>());
    }

    [Fact]
    public async Task GdprErasure_DeletesTheUser_AndPseudonymisesTheAuditLog_OfThisTenantOnly()
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        const string email = "Erase.Me+gdpr@example.com";
        const string password = "a long password 1";
        var id = await factory.CreateUserAsync(tenant, email, password, "Erin Erased");
        var twin = await factory.CreateUserAsync(other, email, password, "Erin Elsewhere");
        await factory.CreateGroupAsync(tenant, "Club");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/groups", new { groups = new[] { "club" } }));
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            db.Passkeys.Add(new PasskeyCredential
            {
                Id = Guid.CreateVersion7(), TenantId = tenant.Id, UserId = id, CredentialId = [8, 8], PublicKey = [9, 9, 9], UserHandle = id.ToByteArray(), CreatedAt = DateTimeOffset.UtcNow,
            });
            await db.SaveChangesAsync();
        }

        // An entry the user made (a sign-in from an address) and entries about the user.
        using (var internalApi = factory.Internal())
        {
            using var login = await internalApi.PostAsJsonAsync(InternalRoutes.Authenticate, new AuthenticateRequest(tenant.Id, email, password, null, "203.0.113.77"));
            Assert.True(login.IsSuccessStatusCode, await login.Content.ReadAsStringAsync());
        }

        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?actorId={id}"));
            return page["meta"]!["total"]!.GetValue<long>() >= 1 ? page : null;
        });

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/gdpr/data-deletion", new { }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/gdpr/data-deletion", new { userId = Guid.NewGuid().ToString() }), 404, "resource_not_found");
        var erased = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/gdpr/data-deletion", new { userId = email.ToLowerInvariant() })))["data"]!;
        var erasedAs = erased["erasedAs"]!.GetValue<string>();
        Assert.StartsWith("erased_", erasedAs);
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/users/{id}"), 404, "resource_not_found");

        // The deletion's own entry arrives after the erasure; the follow-up pseudonymises it too.
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_deleted"));
            return page["meta"]!["total"]!.GetValue<long>() == 1 ? page : null;
        });
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            await AuditHousekeeping.PseudonymiseErasuresAsync(db, DateTimeOffset.UtcNow, CancellationToken.None);
            var idText = id.ToString();
            var entries = await db.AuditLogs.IgnoreQueryFilters().AsNoTracking().Where(a => a.TenantId == tenant.Id).ToListAsync();
            Assert.DoesNotContain(entries, a => a.ActorId == idText || a.TargetId == idText || a.Metadata.Contains(idText, StringComparison.Ordinal)
                || a.Metadata.Contains(email, StringComparison.OrdinalIgnoreCase) || string.Equals(a.ActorEmail, email, StringComparison.OrdinalIgnoreCase)
                || a.IpAddress == "203.0.113.77");
            Assert.Contains(entries, a => a.Action == "user_login_succeeded" && a.ActorId == erasedAs);
            Assert.Contains(entries, a => a.Action == "user_created" && a.TargetId == erasedAs && a.Metadata.Contains(DataErasure.StruckOut, StringComparison.Ordinal));
            Assert.Equal(0, await db.Passkeys.IgnoreQueryFilters().CountAsync(p => p.UserId == id));
            Assert.Equal(0, await db.GroupMembers.IgnoreQueryFilters().CountAsync(m => m.UserId == id));

            // The other tenant's user of the same address is untouched.
            Assert.Contains(await db.AuditLogs.IgnoreQueryFilters().AsNoTracking().Where(a => a.TenantId == other.Id).ToListAsync(),
                a => a.TargetId == twin.ToString() && a.Metadata.Contains(email, StringComparison.OrdinalIgnoreCase));
        }

        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_data_erased&targetId={erasedAs}"));
            return page["meta"]!["total"]!.GetValue<long>() == 1 ? page : null;
        });
        using var otherClient = factory.ClientFor(other);
        await ApiAssert.OkAsync(await otherClient.GetAsync($"{other.Api}/admin/users/{twin}"));
    }

    [Fact]
    public async Task GdprErasure_AfterAnAddressChange_LeavesNoEarlierAddressInTheAuditLog()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        const string oldEmail = "before.change@example.com";
        var id = await factory.CreateUserAsync(tenant, oldEmail, "a long password 1", "Chandra Changed");
        await ApiAssert.OkAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/users/{id}", new { email = "after.change@example.com" }));
        // The creation's entry, which names the first address, is in the log before the erasure.
        await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_created&targetId={id}")))["data"]!.AsArray().FirstOrDefault());

        var erasedAs = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/gdpr/data-deletion", new { userId = id.ToString() })))["data"]!["erasedAs"]!.GetValue<string>();

        // The housekeeping the erasure woke may hold the erasure for a moment; then a round of our own, as the timer would run.
        await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_created&targetId={erasedAs}")))["data"]!.AsArray().FirstOrDefault());
        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        await AuditHousekeeping.PseudonymiseErasuresAsync(db, DateTimeOffset.UtcNow, CancellationToken.None);
        var entries = await db.AuditLogs.IgnoreQueryFilters().AsNoTracking().Where(a => a.TenantId == tenant.Id).ToListAsync();
        Assert.Contains(entries, a => a.Action == "user_created" && a.TargetId == erasedAs && a.Metadata.Contains(DataErasure.StruckOut, StringComparison.Ordinal));
        Assert.DoesNotContain(entries, a => a.Metadata.Contains(oldEmail, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task GdprErasure_PseudonymisesTheHistoryInSlices_ThenLateEntries_AndForgetsTheIdAfterADay()
    {
        var tenant = await factory.CreateTenantAsync();
        var userId = Guid.NewGuid();
        var bystander = Guid.NewGuid().ToString();
        const string email = "slice.me@example.com";
        var now = DateTimeOffset.UtcNow;
        var sameInstant = now.AddDays(-3);
        AuditLogEntry Entry(DateTimeOffset at, string? actor = null, string? target = null, string metadata = "{}", string? actorEmail = null) => new()
        {
            Id = Guid.CreateVersion7(), TenantId = tenant.Id, Action = "erasure_probe", Category = "authentication", ActorType = "user",
            ActorId = actor, ActorEmail = actorEmail, TargetId = target, Metadata = metadata, IpAddress = actor is null ? null : "198.51.100.7", Timestamp = at,
        };

        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        // A history longer than a slice of two: the user's own entries over a week, three about them at one instant (more
        // than a slice holds), one naming their address, and a bystander's.
        db.AuditLogs.AddRange(Enumerable.Range(1, 7).Select(d => Entry(now.AddDays(-d), actor: userId.ToString())));
        db.AuditLogs.AddRange(Enumerable.Range(0, 3).Select(_ => Entry(sameInstant, target: userId.ToString())));
        db.AuditLogs.Add(Entry(now.AddHours(-2), actor: bystander, metadata: $$"""{"invited":"{{email}}"}"""));
        // Half an hour after the erasure a new account takes the address: its entries are not the erased user's.
        var newcomer = Guid.NewGuid().ToString();
        db.AuditLogs.Add(Entry(now.AddMinutes(30), actor: newcomer, actorEmail: email, metadata: $$"""{"email":"{{email}}"}"""));
        var erased = new ErasedSubject
        {
            Id = Guid.CreateVersion7(), TenantId = tenant.Id, UserId = userId, Email = email, ErasedAs = "erased_slices" + Guid.NewGuid().ToString("N")[..8],
            ErasedAt = now, PseudonymisedFrom = DateTimeOffset.UnixEpoch,
        };
        db.ErasedSubjects.Add(erased);
        await db.SaveChangesAsync();

        async Task<List<AuditLogEntry>> EntriesAsync() =>
            await db.AuditLogs.IgnoreQueryFilters().AsNoTracking().Where(a => a.TenantId == tenant.Id && a.Action == "erasure_probe").ToListAsync();
        void AssertNothingLeftOfTheUser(List<AuditLogEntry> entries)
        {
            Assert.DoesNotContain(entries, a => a.ActorId != newcomer
                && (a.ActorId == userId.ToString() || a.TargetId == userId.ToString() || a.Metadata.Contains(email, StringComparison.OrdinalIgnoreCase)));
            var newcomers = Assert.Single(entries, a => a.ActorId == newcomer);
            Assert.Equal(email, newcomers.ActorEmail);
            Assert.Contains(email, newcomers.Metadata, StringComparison.Ordinal);
        }

        Task<ErasedSubject> ReloadAsync() => db.ErasedSubjects.IgnoreQueryFilters().AsNoTracking().SingleAsync(e => e.Id == erased.Id);

        await AuditHousekeeping.PseudonymiseErasureAsync(db, erased.Id, now, CancellationToken.None, sliceSize: 2);

        var entries = await EntriesAsync();
        AssertNothingLeftOfTheUser(entries);
        Assert.Equal(7, entries.Count(a => a.ActorId == erased.ErasedAs && a.IpAddress is null));
        Assert.Equal(3, entries.Count(a => a.TargetId == erased.ErasedAs));
        Assert.Contains(entries, a => a.ActorId == bystander && a.IpAddress == "198.51.100.7" && a.Metadata.Contains(DataErasure.StruckOut, StringComparison.Ordinal));
        var progress = await ReloadAsync();
        Assert.True(progress.PseudonymisedFrom >= now.AddHours(-1).AddMilliseconds(-1), $"caught up only to {progress.PseudonymisedFrom:O}");

        // An event of the user's last minutes written late, then one held up for longer than the rounds look back: the
        // rounds catch the first, the last pass a day after the erasure the second; then the id and address are forgotten.
        db.AuditLogs.Add(Entry(now.AddMinutes(-30), target: userId.ToString()));
        await db.SaveChangesAsync();
        await AuditHousekeeping.PseudonymiseErasureAsync(db, erased.Id, now.AddMinutes(10), CancellationToken.None, sliceSize: 2);
        AssertNothingLeftOfTheUser(await EntriesAsync());

        db.AuditLogs.Add(Entry(now.AddMinutes(-58), actor: userId.ToString()));
        await db.SaveChangesAsync();
        await AuditHousekeeping.PseudonymiseErasureAsync(db, erased.Id, now.AddDays(1).AddMinutes(1), CancellationToken.None, sliceSize: 2);
        AssertNothingLeftOfTheUser(await EntriesAsync());
        var finished = await ReloadAsync();
        Assert.Null(finished.UserId);
        Assert.Null(finished.Email);
    }

    [Fact]
    public async Task GdprErasure_OfAnAddressWithLettersBeyondAscii_StrikesItOut()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        const string email = "jürgen.ünal@exämple.com";
        var id = await factory.CreateUserAsync(tenant, email, "a long password 1", "Jürgen Ünal");
        await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_created&targetId={id}")))["data"]!.AsArray().FirstOrDefault());

        var erasedAs = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/gdpr/data-deletion", new { userId = id.ToString() })))["data"]!["erasedAs"]!.GetValue<string>();

        // Pseudonymised by the housekeeping, which the erasure woke.
        var entry = await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_created&targetId={erasedAs}")))["data"]!.AsArray().FirstOrDefault());
        Assert.DoesNotContain("ünal", entry["metadata"]!.ToJsonString(), StringComparison.OrdinalIgnoreCase);
        Assert.Contains(DataErasure.StruckOut, entry["metadata"]!.ToJsonString(), StringComparison.Ordinal);
    }
}
