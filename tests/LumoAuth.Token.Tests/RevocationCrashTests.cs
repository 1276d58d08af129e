using System.Net;
using LumoAuth.Messaging.Outbox;
using LumoAuth.Token.Data;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.Tests;

/// <summary>A token service whose save of a <c>TokenRevoked</c> event a test can make fail, as a crash would.</summary>
public sealed class RevocationCrashSuite : TokenSuite
{
    /// <summary>While armed, throws from the save that would write a <c>TokenRevoked</c> outbox row (after the grant's and token's writes).</summary>
    public InjectedSaveCrash Crash { get; } = new(
        changes => changes.Entries<OutboxMessage>().Any(e => e.Entity.MessageType.Contains("TokenRevoked", StringComparison.Ordinal)),
        "Injected crash before the revocation's commit");

    protected override void ConfigureTokenServices(IServiceCollection services) =>
        services.ConfigureDbContext<TokenDbContext>(options => options.AddInterceptors(Crash));
}

/// <summary>
/// <c>/oauth/revoke</c> revokes a refresh token's grant, the token itself and records its event in one transaction: a crash
/// before the commit leaves all of it undone, and the client's retry does all of it.
/// </summary>
public sealed class RevocationCrashTests(RevocationCrashSuite suite) : IClassFixture<RevocationCrashSuite>
{
    [Fact]
    public async Task ACrashBeforeTheCommit_UndoesTheGrantsAndTheTokensRevocation_AndTheRetryDoesItAll()
    {
        var setup = await suite.SetUpAsync();
        var tokens = await suite.SignInOnNewDeviceAsync(setup);
        var refreshToken = tokens.GetProperty("refresh_token").GetString()!;
        using var http = suite.Token.CreateClient();
        Task<HttpResponseMessage> RevokeAsync() => http.PostAsync(setup.Issuer + "/oauth/revoke", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = refreshToken, ["token_type_hint"] = "refresh_token", ["client_id"] = setup.ClientId,
        }));

        suite.Crash.Arm();
        try
        {
            using var crashed = await RevokeAsync();
            Assert.Equal(HttpStatusCode.InternalServerError, crashed.StatusCode);
        }
        finally
        {
            suite.Crash.Disarm();
        }

        // Nothing of it was kept: the grant and the token are as they were, and no event waits to be sent.
        await using (var scope = suite.Token.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
            Assert.False(await db.Set<OutboxMessage>().AnyAsync(m => m.TenantId == setup.Tenant.Id && m.MessageType.Contains("TokenRevoked")));
        }

        using var introspected = await http.PostAsync(setup.Issuer + "/oauth/introspect", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = refreshToken, ["client_id"] = setup.ClientId,
        }));
        Assert.True((await HttpAssert.JsonAsync(introspected, HttpStatusCode.OK)).GetProperty("active").GetBoolean());

        using var retried = await RevokeAsync();
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        var revoked = await suite.AuditEntryAsync(setup, "token_revoked");
        Assert.Equal(setup.ClientId, revoked.GetProperty("actor").GetProperty("id").GetString());
        using var refreshed = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken, ["client_id"] = setup.ClientId,
        }));
        await HttpAssert.OAuthErrorAsync(refreshed, HttpStatusCode.BadRequest, "invalid_grant");
    }
}
