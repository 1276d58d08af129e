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

    private static string Alert(string html) => AlertElement().Match(html) is { Success: true } match ? WebUtility.HtmlDecode(match.Groups[1].Value) : string.Empty;

    [GeneratedRegex("<p class=\"error\" role=\"alert\">([^<]*)</p>")]
    private static partial Regex AlertElement();
}
