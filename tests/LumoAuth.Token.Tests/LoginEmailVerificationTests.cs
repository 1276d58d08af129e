using System.Net;
using System.Net.Http.Json;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>A tenant that requires verified addresses keeps unverified users out of the hosted login.</summary>
[Collection(SharedTokenSuite.Name)]
public sealed class LoginEmailVerificationTests(TokenSuite suite)
{
    [Fact]
    public async Task Login_UnverifiedAddressWhereVerificationIsRequired_SaysWhyAndOpensNoSession()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        (await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { loginPolicy = new { emailVerificationRequired = true } })).EnsureSuccessStatusCode();
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();
        var login = $"/t/{setup.Tenant.Slug}/login?returnUrl={Uri.EscapeDataString(HostedFlow.AuthorizeUrl(setup, challenge))}";

        using var refused = await HostedFlow.SubmitLoginAsync(browser, login, setup.Email, setup.Password);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("Verify your email address first", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(refused.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("lumo_session=", StringComparison.Ordinal)));

        // A wrong password still reads like any other failure.
        using var wrong = await HostedFlow.SubmitLoginAsync(browser, login, setup.Email, "not-the-password");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);

        (await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}", new { emailVerified = true })).EnsureSuccessStatusCode();
        using var verified = await HostedFlow.SubmitLoginAsync(browser, login, setup.Email, setup.Password);
        Assert.Equal(HttpStatusCode.SeeOther, verified.StatusCode);
    }
}
