using System.Net;
using System.Text.RegularExpressions;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Contracts.Internal;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Only existing accounts lock, so the hosted login must answer a locked account exactly like an unknown address:
/// anything else would confirm that the address has an account.
/// </summary>
public sealed partial class LoginLockoutTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    [Fact]
    public async Task Login_LockedAccount_ReadsLikeAnUnknownAddress_EvenWithTheRightPassword()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var login = $"/t/{setup.Tenant.Slug}/login";
        var unknown = $"nobody-{Guid.NewGuid():N}"[..15] + "@example.com";

        // The tenant locks after five failures (the default); the sixth attempt meets the lock.
        var answers = new List<(string Email, HttpStatusCode Status, string Alert)>();
        for (var attempt = 0; attempt < 6; attempt++)
        {
            foreach (var email in new[] { setup.Email, unknown })
            {
                using var response = await HostedFlow.SubmitLoginAsync(browser, login, email, $"wrong-{attempt}");
                answers.Add((email, response.StatusCode, Alert(await response.Content.ReadAsStringAsync())));
            }
        }

        using var rightPassword = await HostedFlow.SubmitLoginAsync(browser, login, setup.Email, setup.Password);
        answers.Add((setup.Email, rightPassword.StatusCode, Alert(await rightPassword.Content.ReadAsStringAsync())));

        Assert.All(answers, a => Assert.Equal((HttpStatusCode.Unauthorized, "The email or password is incorrect."), (a.Status, a.Alert)));
        Assert.False(rightPassword.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("lumo_session=", StringComparison.Ordinal)));

        // The account is locked indeed (admin's own answer), not merely refused.
        using var scope = suite.Admin.Services.CreateScope();
        var verdict = await scope.ServiceProvider.GetRequiredService<Authenticator>()
            .AuthenticateAsync(new AuthenticateRequest(setup.Tenant.Id, setup.Email, setup.Password, null, null), CancellationToken.None);
        Assert.Equal(AuthenticationOutcomes.Locked, verdict.Outcome);
    }

    [Fact]
    public async Task AdaptiveAuth_RiskySignIn_IsRefusedOnThePage_AndTheBrowserKeepsItsDeviceId()
    {
        var setup = await suite.SetUpAsync();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            await LumoAuth.Testing.ApiAssert.OkAsync(await admin.PatchAsync($"{setup.Tenant.Api}/admin/settings",
                System.Net.Http.Json.JsonContent.Create(new { adaptiveAuth = new { enabled = true } })));
        }

        using var browser = suite.Browser();
        var login = $"/t/{setup.Tenant.Slug}/login";
        string? device = null;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            using var wrong = await HostedFlow.SubmitLoginAsync(browser, login, setup.Email, $"wrong-{attempt}");
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            if (wrong.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.FirstOrDefault(c => c.StartsWith("lumo_device=", StringComparison.Ordinal)) is { } cookie)
            {
                Assert.Null(device);
                device = cookie;
                Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
                Assert.Contains($"path=/t/{setup.Tenant.Slug}/", cookie, StringComparison.OrdinalIgnoreCase);
            }
        }

        // A new browser, a new network and two wrong passwords: blocked, with the right password too.
        Assert.NotNull(device);
        using var blocked = await HostedFlow.SubmitLoginAsync(browser, login, setup.Email, setup.Password);
        Assert.Equal(HttpStatusCode.Forbidden, blocked.StatusCode);
        Assert.StartsWith("Login blocked due to suspicious activity.", Alert(await blocked.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        Assert.False(blocked.Headers.TryGetValues("Set-Cookie", out var after) && after.Any(c => c.StartsWith("lumo_session=", StringComparison.Ordinal)));
    }

    private static string Alert(string html) => AlertElement().Match(html) is { Success: true } match ? WebUtility.HtmlDecode(match.Groups[1].Value) : string.Empty;

    [GeneratedRegex("<p class=\"error\" role=\"alert\">([^<]*)</p>")]
    private static partial Regex AlertElement();
}
