using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// The tenant's passkey settings (attestation, authenticator kind, registration and sign-in switches) and passkeys as the
/// second step a required MFA policy asks for after a password.
/// </summary>
public sealed partial class PasskeyTests
{
    [Fact]
    public async Task DirectAttestationAndRoamingKeys_AreAskedFor_AndWhatTheKeySaidIsKept()
    {
        var setup = await suite.SetUpAsync();
        await PatchSettingsAsync(setup, new { passkeyPolicy = new { attestationPreference = "direct", authenticatorTypes = "roaming" } });

        using var browser = await SignedInAsync(setup);
        var options = await OptionsAsync(browser, setup, "register");
        Assert.Equal("direct", options.GetProperty("attestation").GetString());
        Assert.Equal("cross-platform", options.GetProperty("authenticatorSelection").GetProperty("authenticatorAttachment").GetString());
        Assert.Equal("required", options.GetProperty("authenticatorSelection").GetProperty("userVerification").GetString());

        // A browser that says the answer came from the device itself contradicts the tenant's choice.
        using (var builtIn = new SoftwarePasskey { AttestationFormat = "packed", Attachment = "platform" })
        using (var refused = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/register", builtIn.Create(options, Origin)))
        {
            var error = await HttpAssert.EnvelopeAsync(refused, HttpStatusCode.BadRequest, "invalid_passkey");
            Assert.Contains("security keys", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        var model = Guid.NewGuid();
        using var key = new SoftwarePasskey { AttestationFormat = "packed", Attachment = "cross-platform", Aaguid = model };
        using (var registered = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/register",
                   key.Create(await OptionsAsync(browser, setup, "register"), Origin)))
        {
            await HttpAssert.JsonAsync(registered, HttpStatusCode.Created);
        }

        using var admin = suite.Admin.ClientFor(setup.Tenant);
        var listed = JsonDocument.Parse(await admin.GetStringAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/passkeys")).RootElement.GetProperty("data");
        var only = Assert.Single(listed.EnumerateArray());
        Assert.Equal("packed", only.GetProperty("attestationFormat").GetString());
        Assert.Equal("cross-platform", only.GetProperty("authenticatorAttachment").GetString());
        Assert.Equal(model, only.GetProperty("aaguid").GetGuid());

        using var other = suite.Browser();
        using var signedIn = await PostJsonAsync(other, $"/t/{setup.Tenant.Slug}/webauthn/authenticate", key.Get(await OptionsAsync(other, setup, "authenticate"), Origin));
        await HttpAssert.JsonAsync(signedIn, HttpStatusCode.OK);
    }

    [Fact]
    public async Task RegistrationSwitchedOff_LeavesSignIn_AndSignInSwitchedOff_TakesEveryPasskeyButtonAway()
    {
        var noRegistration = await suite.SetUpAsync();
        await PatchSettingsAsync(noRegistration, new { passkeyPolicy = new { allowRegistration = false } });
        using (var browser = await SignedInAsync(noRegistration))
        {
            using (var page = await browser.GetAsync($"/t/{noRegistration.Tenant.Slug}/account/passkeys"))
            {
                var html = await page.Content.ReadAsStringAsync();
                Assert.Equal(HttpStatusCode.OK, page.StatusCode);
                Assert.DoesNotContain("data-passkey=\"register\"", html, StringComparison.Ordinal);
                Assert.Contains("does not let you add passkeys", html, StringComparison.Ordinal);
            }

            using var options = await PostJsonAsync(browser, $"/t/{noRegistration.Tenant.Slug}/webauthn/register/options", new JsonObject());
            await HttpAssert.EnvelopeAsync(options, HttpStatusCode.Forbidden, "passkey_registration_disabled");
            using var login = await suite.Browser().GetAsync($"/t/{noRegistration.Tenant.Slug}/login");
            Assert.Contains("data-passkey=\"authenticate\"", await login.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // A user with a passkey and a TOTP app; then the tenant stops passkey sign-ins.
        var setup = await suite.SetUpAsync();
        using var passkey = new SoftwarePasskey();
        await RegisterAsync(setup, passkey);
        await suite.EnrolTotpAsync(setup);
        await PatchSettingsAsync(setup, new { passkeyPolicy = new { allowLogin = false } });

        // The hosted pages learn of the change through TenantSettingsChanged.
        await ApiAssert.EventuallyAsync(async () =>
        {
            using var login = await suite.Browser().GetAsync($"/t/{setup.Tenant.Slug}/login");
            var html = await login.Content.ReadAsStringAsync();
            return html.Contains("data-passkey", StringComparison.Ordinal) ? null : html;
        });
        using var anonymous = suite.Browser();
        using (var options = await PostJsonAsync(anonymous, $"/t/{setup.Tenant.Slug}/webauthn/authenticate/options", new JsonObject()))
        {
            await HttpAssert.EnvelopeAsync(options, HttpStatusCode.Forbidden, "passkey_login_disabled");
        }

        using var second = await HostedFlow.SubmitLoginAsync(suite.Browser(), $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);
        var step = await second.Content.ReadAsStringAsync();
        Assert.Contains("name=\"totp\"", step, StringComparison.Ordinal);
        Assert.DoesNotContain("data-passkey", step, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnderRequiredMfa_APasskeyOnlyUsersPassword_IsFollowedByThePasskey_UnlessTheTenantDoesNotCountPasskeys()
    {
        var setup = await suite.SetUpAsync();
        using var passkey = new SoftwarePasskey();
        await RegisterAsync(setup, passkey);
        await PatchSettingsAsync(setup, new { mfaPolicy = new { required = true, gracePeriodDays = 0 } });

        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();
        var authorize = HostedFlow.AuthorizeUrl(setup, challenge);
        string loginUrl;
        using (var toLogin = await browser.GetAsync(authorize))
        {
            loginUrl = HostedFlow.LocalRedirect(toLogin)!;
        }

        // The password alone opens nothing: the page asks for the passkey, a backup code standing in.
        using var password = await HostedFlow.SubmitLoginAsync(browser, loginUrl, setup.Email, setup.Password);
        var step = await password.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, password.StatusCode);
        Assert.Contains("data-passkey-step", step, StringComparison.Ordinal);
        Assert.Contains("data-passkey=\"authenticate\"", step, StringComparison.Ordinal);
        Assert.Contains("Or a backup code", step, StringComparison.Ordinal);
        Assert.DoesNotContain("Use a passkey instead", step, StringComparison.Ordinal);
        using (var stillOut = await browser.GetAsync(authorize))
        {
            Assert.StartsWith($"/t/{setup.Tenant.Slug}/login", HostedFlow.LocalRedirect(stillOut), StringComparison.Ordinal);
        }

        var form = HostedFlow.HiddenFields(step);
        form["totp"] = "ABCD-EFGH-IJKL-MNOP";
        using (var wrongCode = await browser.PostAsync($"/t/{setup.Tenant.Slug}/login", new FormUrlEncodedContent(form)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrongCode.StatusCode);
            Assert.Contains("data-passkey-step", await wrongCode.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var returnUrl = System.Net.WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(step, "data-return-url=\"([^\"]+)\"").Groups[1].Value);
        var options = await OptionsAsync(browser, setup, "authenticate");
        using (var signedIn = await PostJsonAsync(browser, $"/t/{setup.Tenant.Slug}/webauthn/authenticate?returnUrl={Uri.EscapeDataString(returnUrl)}", passkey.Get(options, Origin)))
        {
            Assert.Equal(returnUrl, (await HttpAssert.JsonAsync(signedIn, HttpStatusCode.OK)).GetProperty("redirect").GetString());
        }

        using (var consent = await browser.GetAsync(returnUrl))
        {
            Assert.Contains("consent_decision", await consent.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // A tenant that does not take passkeys as a second factor makes the same user set up an authenticator app.
        await PatchSettingsAsync(setup, new { mfaPolicy = new { allowedMethods = new[] { "totp" } } });
        using var enrol = await HostedFlow.SubmitLoginAsync(suite.Browser(), $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password);
        var enrolment = await enrol.Content.ReadAsStringAsync();
        Assert.Contains("Set up two-step verification", enrolment, StringComparison.Ordinal);
        Assert.DoesNotContain("data-passkey-step", enrolment, StringComparison.Ordinal);
    }

    private async Task PatchSettingsAsync(SignInSetup setup, object body)
    {
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        using var patched = await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", body);
        Assert.True(patched.IsSuccessStatusCode, await patched.Content.ReadAsStringAsync());
    }
}
