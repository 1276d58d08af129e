using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// Writes that race each other on rows: a member joining a group while SCIM soft-deletes it never ends up in it, and a
/// sign-in by link racing a change of the account's address or password does not deadlock. Requests are lined up behind
/// locks the test holds (<see cref="AdminFactory.WaitForLockWaitersAsync"/>), never by timing.
/// </summary>
public sealed class GroupMembershipRaceTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    /// <summary>Long enough for any request here; only there so that a request stuck behind the test's own lock fails the test instead of hanging it.</summary>
    private static readonly TimeSpan Stuck = TimeSpan.FromSeconds(60);

    private HttpClient Scim(TestTenant tenant)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tenant.ApiKey);
        return client;
    }

    private static StringContent ScimJson(object body) =>
        new(System.Text.Json.JsonSerializer.Serialize(body), Encoding.UTF8, "application/scim+json");

    private static async Task<string> ScimGroupAsync(HttpClient scim, TestTenant tenant, string displayName, params Guid[] members)
    {
        using var response = await scim.PostAsync($"{tenant.Api}/scim/v2/Groups", ScimJson(new
        {
            schemas = new[] { "urn:ietf:params:scim:schemas:core:2.0:Group" }, displayName, members = members.Select(m => new { value = m.ToString() }).ToArray(),
        }));
        return (await ApiAssert.OkAsync(response, 201))["id"]!.GetValue<string>();
    }

    private static async Task SoftDeleteAsync(HttpClient scim, TestTenant tenant, string groupId)
    {
        using var deleted = await scim.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{groupId}").WaitAsync(Stuck);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
    }

    private async Task<int> MembersOfAsync(string groupId)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        return await db.GroupMembers.IgnoreQueryFilters().CountAsync(m => m.GroupId == Guid.Parse(groupId));
    }

    /// <summary>Memberships of the tenant's soft-deleted groups: there must never be any.</summary>
    private async Task<int> MembersOfSoftDeletedGroupsAsync(TestTenant tenant)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        return await db.GroupMembers.IgnoreQueryFilters()
            .CountAsync(m => m.TenantId == tenant.Id && db.Groups.IgnoreQueryFilters().Any(g => g.Id == m.GroupId && g.SoftDeletedAt != null));
    }

    /// <summary>A transaction on its own connection, for the test to hold locks in.</summary>
    private async Task<(AsyncServiceScope Scope, AdminDbContext Db, Microsoft.EntityFrameworkCore.Storage.IDbContextTransaction Transaction)> HoldAsync()
    {
        var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        return (scope, db, await db.Database.BeginTransactionAsync());
    }

    [Fact]
    public async Task UserCreate_WhoseGroupIsSoftDeletedAfterItWasResolved_IsRefusedLikeAnUnknownGroup()
    {
        var tenant = await factory.CreateTenantAsync();
        using var scim = Scim(tenant);
        using var admin = factory.ClientFor(tenant);
        // Without members: removing a member writes the member's row (their SCIM version moves), which the lock below holds.
        var doomed = await ScimGroupAsync(scim, tenant, "Doomed");
        var kept = await factory.CreateGroupAsync(tenant, "Kept");

        // The create resolves both groups, then waits to read the users table (the test holds it); meanwhile SCIM
        // soft-deletes one of them, which needs nothing of that table.
        var (scope, holder, transaction) = await HoldAsync();
        await using (scope)
        {
            await holder.Database.ExecuteSqlRawAsync("LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
            var creating = admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "joiner@example.com", groups = new[] { kept.ToString(), doomed } });
            await factory.WaitForLockWaitersAsync("%\"NormalizedEmail\"%");
            await SoftDeleteAsync(scim, tenant, doomed);
            await transaction.CommitAsync();

            using var created = await creating.WaitAsync(Stuck);
            var error = await ApiAssert.ErrorAsync(created, 400, "validation_error");
            Assert.Equal($"no group '{doomed}'", Assert.Single(error["details"]!["groups"]!.AsArray())!.GetValue<string>());
        }

        Assert.Equal(0, await MembersOfAsync(doomed));
        Assert.Equal(0, (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users?search=joiner")))["meta"]!["total"]!.GetValue<long>());
    }

    [Fact]
    public async Task InvitationAccepted_AfterAGroupOfItWasSoftDeleted_JoinsTheOthers()
    {
        var tenant = await factory.CreateTenantAsync();
        using var scim = Scim(tenant);
        using var admin = factory.ClientFor(tenant);
        var doomed = await ScimGroupAsync(scim, tenant, "Doomed");
        var kept = await factory.CreateGroupAsync(tenant, "Kept");
        var invitation = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/invitations",
            new { email = "invitee@example.com", groups = new[] { doomed, kept.ToString() } }), 201))["data"]!["id"]!.GetValue<string>();
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            var hash = TokenRedemptionEndpoints.HashOf("race-invitation");
            await db.Invitations.IgnoreQueryFilters().Where(i => i.Id == Guid.Parse(invitation)).ExecuteUpdateAsync(s => s.SetProperty(i => i.TokenHash, hash));
        }

        // The acceptance has read the invitation (both groups live) and waits for its row; SCIM soft-deletes one group.
        using var client = factory.Internal();
        var (holdScope, holder, transaction) = await HoldAsync();
        Task<HttpResponseMessage> accepting;
        await using (holdScope)
        {
            await holder.Database.ExecuteSqlAsync($"SELECT 1 FROM invitations WHERE \"Id\" = {Guid.Parse(invitation)} FOR NO KEY UPDATE");
            accepting = client.PostAsJsonAsync(TokenRedemptionEndpoints.AcceptInvitation,
                new AcceptInvitationRequest(tenant.Id, "race-invitation", "a good password 1", "Invitee"));
            await factory.WaitForLockWaitersAsync("%UPDATE%invitations%");
            await SoftDeleteAsync(scim, tenant, doomed);
            await transaction.CommitAsync();
        }

        using var accepted = await accepting.WaitAsync(Stuck);
        var userId = (await ApiAssert.OkAsync(accepted, 201))["data"]!["userId"]!.GetValue<string>();
        var user = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{userId}")))["data"]!;
        Assert.Equal([kept.ToString()], user["groups"]!.AsArray().Select(g => g!["id"]!.GetValue<string>()));
        Assert.Equal(0, await MembersOfAsync(doomed));
    }

    /// <summary>Every way of joining a group, sent together with the group's soft delete, round after round.</summary>
    [Fact]
    public async Task MembershipWrites_RacingTheSoftDelete_NeverLeaveAMember_AndNeverFail()
    {
        var tenant = await factory.CreateTenantAsync();
        using var scim = Scim(tenant);
        using var admin = factory.ClientFor(tenant);
        for (var round = 0; round < 8; round++)
        {
            var existing = await factory.CreateUserAsync(tenant, $"existing{round}@example.com");
            var group = await ScimGroupAsync(scim, tenant, $"Racing {round}", await factory.CreateUserAsync(tenant, $"first{round}@example.com"));
            var creating = admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = $"new{round}@example.com", groups = new[] { group } });
            var adding = admin.PostAsJsonAsync($"{tenant.Api}/admin/groups/{group}/members", new { userIds = new[] { existing.ToString() } });
            var deleting = scim.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{group}");
            using var created = await creating;
            using var added = await adding;
            using var deleted = await deleting;

            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
            Assert.Contains((int)created.StatusCode, new[] { 201, 400 });
            Assert.Contains((int)added.StatusCode, new[] { 200, 404 });
            Assert.Equal(0, await MembersOfAsync(group));
        }

        Assert.Equal(0, await MembersOfSoftDeletedGroupsAsync(tenant));
    }

    [Fact]
    public async Task NamingASoftDeletedGroup_IsRefusedLikeAnUnknownGroup()
    {
        var tenant = await factory.CreateTenantAsync();
        using var scim = Scim(tenant);
        using var admin = factory.ClientFor(tenant);
        var user = await factory.CreateUserAsync(tenant, "someone@example.com");
        var doomed = await ScimGroupAsync(scim, tenant, "Doomed");
        var slug = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/groups/{doomed}")))["data"]!["slug"]!.GetValue<string>();
        await SoftDeleteAsync(scim, tenant, doomed);
        var unknown = Guid.NewGuid().ToString();

        foreach (var reference in new[] { doomed, slug, unknown })
        {
            var set = await ApiAssert.ErrorAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{user}/groups", new { groups = new[] { reference } }), 400, "validation_error");
            Assert.Equal($"no group '{reference}'", Assert.Single(set["details"]!["groups"]!.AsArray())!.GetValue<string>());
            var create = await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users",
                new { email = $"new-{Guid.NewGuid():N}@example.com", groups = new[] { reference } }), 400, "validation_error");
            Assert.Equal($"no group '{reference}'", Assert.Single(create["details"]!["groups"]!.AsArray())!.GetValue<string>());
        }

        Assert.Equal(0, await MembersOfAsync(doomed));
    }

    /// <summary>Should a membership of a soft-deleted group exist anyway, neither the API nor the token's <c>groups</c> shows it.</summary>
    [Fact]
    public async Task AStrayMembershipOfASoftDeletedGroup_ShowsNowhere()
    {
        var tenant = await factory.CreateTenantAsync();
        using var scim = Scim(tenant);
        using var admin = factory.ClientFor(tenant);
        var user = await factory.CreateUserAsync(tenant, "stray@example.com");
        var kept = await factory.CreateGroupAsync(tenant, "Kept", "kept");
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{user}/groups", new { groups = new[] { "kept" } }));
        var doomed = await ScimGroupAsync(scim, tenant, "Doomed");
        await SoftDeleteAsync(scim, tenant, doomed);
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            db.GroupMembers.Add(new GroupMember { GroupId = Guid.Parse(doomed), UserId = user, TenantId = tenant.Id, AddedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }

        var view = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{user}")))["data"]!;
        Assert.Equal([kept.ToString()], view["groups"]!.AsArray().Select(g => g!["id"]!.GetValue<string>()));
        var groups = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{user}/groups")))["data"]!;
        Assert.Equal([kept.ToString()], groups.AsArray().Select(g => g!["id"]!.GetValue<string>()));
        using var client = factory.Internal();
        var profile = await ApiAssert.OkAsync(await client.GetAsync($"{InternalRoutes.Prefix}/users/{user}?tenantId={tenant.Id}"));
        Assert.Equal(["kept"], profile["groups"]!.AsArray().Select(g => g!.GetValue<string>()));
    }

    private static Task<HttpResponseMessage> SignInWithLinkAsync(HttpClient client, TestTenant tenant, string token) =>
        client.PostAsJsonAsync(EmailLinkPaths.CompleteMagicLink, new CompleteMagicLink(tenant.Id, token, null, null));

    private static async Task<string> OutcomeAsync(HttpResponseMessage response)
    {
        await ApiAssert.OkAsync(response);
        return (await response.Content.ReadFromJsonAsync<MagicLinkSignIn>())!.Verdict.Outcome;
    }

    /// <summary>
    /// The address change has ended the mailed links and waits for the new address's name lock (the test holds it) when
    /// the link's sign-in takes the user's row. Had the change deleted the link before taking the row, the two would wait
    /// for each other (40P01); it takes the row first, so the sign-in waits, then finds its link gone.
    /// </summary>
    [Fact]
    public async Task SignInByLink_WhileTheAddressChanges_WaitsForTheChange_AndTheLinkNoLongerWorks()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { magicLinkEnabled = true } }));
        var id = await factory.CreateUserAsync(tenant, "old-address@example.com", "own password 123");
        await factory.PlantMagicLinkAsync(tenant, id, "mailed-before");
        using var client = factory.Internal();

        var (scope, holder, transaction) = await HoldAsync();
        Task<HttpResponseMessage> changing, signingIn;
        await using (scope)
        {
            var name = $"sign-in-name:{tenant.Id:N}:new-address@example.com";
            await holder.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtextextended({name}, 0))");
            changing = admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{id}", new { email = "new-address@example.com" });
            await factory.WaitForLockWaitersAsync("%pg_advisory_xact_lock%");
            signingIn = SignInWithLinkAsync(client, tenant, "mailed-before");
            await factory.WaitForLockWaitersAsync("%UPDATE%");
            await transaction.CommitAsync();
        }

        using var changed = await changing.WaitAsync(Stuck);
        Assert.Equal("new-address@example.com", (await ApiAssert.OkAsync(changed))["data"]!["email"]!.GetValue<string>());
        using var signIn = await signingIn.WaitAsync(Stuck);
        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, await OutcomeAsync(signIn));
    }

    /// <summary>Sign-ins by link sent together with address changes and password resets of the same account: answers, never 500.</summary>
    [Fact]
    public async Task SignInByLink_RacingAddressChangesAndResets_NeverFails()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { magicLinkEnabled = true } }));
        var id = await factory.CreateUserAsync(tenant, "racer@example.com", "own password 123");
        using var client = factory.Internal();
        for (var round = 0; round < 10; round++)
        {
            await factory.PlantMagicLinkAsync(tenant, id, $"link-{round}");
            await factory.PlantResetTokenAsync(tenant, id, $"reset-{round}");
            var signingIn = SignInWithLinkAsync(client, tenant, $"link-{round}");
            var changing = admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{id}", new { email = $"racer{round}@example.com" });
            var resetting = client.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
                new CompletePasswordResetRequest(tenant.Id, $"reset-{round}", $"fresh password {round} xyz"));
            using var signIn = await signingIn;
            using var changed = await changing;
            using var reset = await resetting;

            Assert.Contains(await OutcomeAsync(signIn), new[] { AuthenticationOutcomes.Success, AuthenticationOutcomes.InvalidCredentials });
            // A change that lost to another write of the user is told to retry (409); a link the change ended is invalid (400).
            Assert.Contains((int)changed.StatusCode, new[] { 200, 409 });
            Assert.Contains((int)reset.StatusCode, new[] { 200, 400, 409 });
        }
    }
}
