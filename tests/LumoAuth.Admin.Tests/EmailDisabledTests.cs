using System.Net.Http.Json;
using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LumoAuth.Admin.Tests;

/// <summary>An admin without an <c>Email</c> section, whose log lines are recorded.</summary>
public sealed class NoEmailAdminFixture : IAsyncLifetime
{
    public NoEmailAdminFixture()
    {
        Admin = new AdminFactory { ExtraServices = services => services.AddSingleton<ILoggerProvider>(Logs) };
    }

    public RecordingLoggerProvider Logs { get; } = new();

    public AdminFactory Admin { get; }

    public Task InitializeAsync() => Admin.InitializeAsync();

    public async Task DisposeAsync() => await Admin.DisposeAsync();
}

public sealed class EmailDisabledTests(NoEmailAdminFixture fixture) : IClassFixture<NoEmailAdminFixture>
{
    [Fact]
    public async Task PasswordReset_WithoutSmtp_IsAcceptedAndLoggedAsNotSent_WithoutIssuingAToken()
    {
        var factory = fixture.Admin;
        var tenant = await factory.CreateTenantAsync();
        var address = $"nomail@{tenant.Slug}.example.com";
        var userId = await factory.CreateUserAsync(tenant, address);
        using var client = factory.Internal();
        await ApiAssert.OkAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestPasswordReset, new RequestPasswordResetByEmail(tenant.Id, address)), 202);

        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        // Staged by admin's consumer after the answer, mail or no mail.
        var reset = await ApiAssert.EventuallyAsync(() => db.PasswordResetTokens.IgnoreQueryFilters().AsNoTracking().SingleOrDefaultAsync(t => t.UserId == userId));
        var skipped = await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            return fixture.Logs.Lines.FirstOrDefault(l => l.Message.Contains("delivery is disabled", StringComparison.Ordinal)
                && l.Message.Contains(userId.ToString(), StringComparison.Ordinal)) is { Message: not null } line ? line.Message : null;
        });
        Assert.DoesNotContain(address, skipped, StringComparison.Ordinal);

        // The consumer acknowledged without issuing: the stored hash is still the request's placeholder.
        var after = await db.PasswordResetTokens.IgnoreQueryFilters().AsNoTracking().SingleAsync(t => t.Id == reset.Id);
        Assert.Equal(reset.TokenHash, after.TokenHash);
    }
}
