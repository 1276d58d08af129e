using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Authorization.Tests;

/// <summary>
/// An accepted invitation's roles wait out an admin outage longer than the consumer's quick retries (they once went to
/// the error queue, and the new user never got them).
/// </summary>
[LumoAuth.Testing.RunsLong(95)]
public sealed class InvitationRolesOutageTests(InvitationOutageSuite suite) : IClassFixture<InvitationOutageSuite>
{
    /// <summary>
    /// Longer than the quick retries can last: nine tries of at most 5 s each (the directory's timeout) and about 40 s
    /// of waits between them.
    /// </summary>
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task InvitationAccepted_WhileAdminAnswers503PastTheQuickRetries_StillGivesTheRoles()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var userId = await suite.Admin.CreateUserAsync(tenant, "joiner@example.com");
        suite.Outage.Down(userId);

        await suite.Authorization.Services.GetRequiredService<IBus>().Publish(
            new UserInvitationAccepted(Guid.NewGuid(), userId, ["admin"]) { TenantId = tenant.Id });
        var firstRefusal = (DateTimeOffset)await ApiAssert.EventuallyAsync(() => Task.FromResult<object?>(suite.Outage.FirstRefusal), TimeSpan.FromSeconds(30));
        var remaining = Outage - (DateTimeOffset.UtcNow - firstRefusal);
        await Task.Delay(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
        suite.Outage.Up();

        using var client = AuthorizationSuite.ClientFor(suite.Authorization, tenant);
        await ApiAssert.EventuallyAsync(async () =>
        {
            using var response = await client.GetAsync($"{tenant.Api}/admin/users/{userId}/roles");
            return response.IsSuccessStatusCode && (await response.Content.ReadAsStringAsync()).Contains("\"admin\"", StringComparison.Ordinal) ? "given" : null;
        }, TimeSpan.FromSeconds(60));
    }
}

/// <summary>Admin and authorization, with a switch that makes admin answer 503 to lookups of one user; outage retries a second apart.</summary>
public sealed class InvitationOutageSuite : IAsyncLifetime
{
    public InvitationOutageSuite() =>
        Admin = new AdminFactory { AuthorizationHandler = () => Authorization.Server.CreateHandler() };

    public AdminFactory Admin { get; }

    public AuthorizationFactory Authorization { get; private set; } = null!;

    public UserLookupOutage Outage { get; } = new();

    public async Task InitializeAsync()
    {
        await Admin.InitializeAsync();
        Authorization = new AuthorizationFactory(
            Admin,
            settings: new Dictionary<string, string?>
            {
                ["Messaging:OutageRetry:MinInterval"] = "00:00:01",
                ["Messaging:OutageRetry:MaxInterval"] = "00:00:02",
                ["Messaging:OutageRetry:IntervalDelta"] = "00:00:01",
            },
            adminHandler: () => new UserLookupOutageHandler(Outage) { InnerHandler = Admin.AdminHandler() });
        await Authorization.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await Authorization.DisposeAsync();
        await Admin.DisposeAsync();
    }
}

public sealed class UserLookupOutage
{
    private readonly Lock _lock = new();
    private Guid? _user;

    public DateTimeOffset? FirstRefusal { get; private set; }

    public void Down(Guid userId)
    {
        lock (_lock)
        {
            _user = userId;
            FirstRefusal = null;
        }
    }

    public void Up()
    {
        lock (_lock)
        {
            _user = null;
        }
    }

    /// <summary>Whether a request for the path is refused now (noting the first refusal).</summary>
    public bool Refuses(string path)
    {
        lock (_lock)
        {
            if (_user is not { } user || !path.EndsWith(InternalRoutes.UserProfile.Replace("{userId:guid}", user.ToString(), StringComparison.Ordinal), StringComparison.Ordinal))
            {
                return false;
            }

            FirstRefusal ??= DateTimeOffset.UtcNow;
            return true;
        }
    }
}

/// <summary>Answers 503 to admin lookups of the user the outage is for; passes everything else on.</summary>
public sealed class UserLookupOutageHandler(UserLookupOutage outage) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        outage.Refuses(request.RequestUri!.AbsolutePath)
            ? Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.ServiceUnavailable) { RequestMessage = request })
            : base.SendAsync(request, cancellationToken);
}
