using System.Net.Http.Json;
using LumoAuth.Testing;

namespace LumoAuth.Admin.Tests;

public sealed class SettingsTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    [Fact]
    public async Task Settings_DefaultsThenPartialUpdate_KeepsWhatWasNotSent()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var defaults = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/settings")))["data"]!;
        Assert.Equal(8, defaults["passwordPolicy"]!["minLength"]!.GetValue<int>());
        Assert.Equal(5, defaults["loginPolicy"]!["maxFailedAttempts"]!.GetValue<int>());
        Assert.Equal(1800, defaults["loginPolicy"]!["lockoutDuration"]!.GetValue<int>());
        Assert.Equal("Tenant " + tenant.Slug, defaults["branding"]!["displayName"]!.GetValue<string>());

        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/settings", new { passwordPolicy = new { minLength = 14, requireSymbols = true } }));
        var patched = (await ApiAssert.OkAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/settings",
            new { branding = new { primaryColor = "#0066cc", supportEmail = "support@acme.example.com" }, mfaPolicy = new { required = true, allowedMethods = new[] { "totp" } } })))["data"]!;
        Assert.Equal(14, patched["passwordPolicy"]!["minLength"]!.GetValue<int>());
        Assert.True(patched["passwordPolicy"]!["requireSymbols"]!.GetValue<bool>());
        Assert.Equal("#0066cc", patched["branding"]!["primaryColor"]!.GetValue<string>());
        Assert.True(patched["mfaPolicy"]!["required"]!.GetValue<bool>());

        var again = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/settings")))["data"]!;
        Assert.Equal(patched.ToJsonString(), again.ToJsonString());

        var changed = await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=tenant_settings_changed"));
            return page["meta"]!["total"]!.GetValue<long>() == 2 ? page : null;
        });
        Assert.Contains("branding", changed.ToJsonString());
        Assert.Equal("configuration", changed["data"]![0]!["category"]!.GetValue<string>());
    }

    [Fact]
    public async Task Settings_RequiringMfaWithoutTotp_IsRefused_AndNothingChanges()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var before = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/settings")))["data"]!.ToJsonString();

        // Sign-in can only make a user without a factor enrol TOTP: without it, every such user would be locked out.
        foreach (var methods in new[] { Array.Empty<string>(), ["sms", "webauthn"] })
        {
            var error = await ApiAssert.ErrorAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/settings",
                new { mfaPolicy = new { required = true, allowedMethods = methods, gracePeriodDays = 0 } }), 400, "validation_error");
            Assert.Contains("must include totp", error["details"]!["mfaPolicy.allowedMethods"]!.ToJsonString(), StringComparison.Ordinal);
        }

        Assert.Equal(before, (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/settings")))["data"]!.ToJsonString());
        // Without the requirement any methods may be allowed.
        await ApiAssert.OkAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { mfaPolicy = new { required = false, allowedMethods = new[] { "sms" } } }));
    }

    [Fact]
    public async Task PasskeyPolicy_HasTheDocsSettings_RefusesWhatItCannotHonour_AndReachesTheTokenService()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var defaults = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/settings")))["data"]!["passkeyPolicy"]!;
        Assert.True(defaults["allowRegistration"]!.GetValue<bool>());
        Assert.True(defaults["allowLogin"]!.GetValue<bool>());
        Assert.True(defaults["requireUserVerification"]!.GetValue<bool>());
        Assert.Equal("none", defaults["attestationPreference"]!.GetValue<string>());
        Assert.Equal("both", defaults["authenticatorTypes"]!.GetValue<string>());

        // A passkey replaces the password: one that did not verify its user would be a single factor.
        var error = await ApiAssert.ErrorAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new
        {
            passkeyPolicy = new { requireUserVerification = false, attestationPreference = "enterprise", authenticatorTypes = "usb", allowLogin = "yes", timeout = 5 },
        }), 400, "validation_error");
        var details = error["details"]!.AsObject();
        foreach (var path in new[]
                 {
                     "passkeyPolicy.requireUserVerification", "passkeyPolicy.attestationPreference", "passkeyPolicy.authenticatorTypes",
                     "passkeyPolicy.allowLogin", "passkeyPolicy.timeout",
                 })
        {
            Assert.True(details.ContainsKey(path), $"no detail for {path}: {details}");
        }

        // WebAuthn's own word for a roaming authenticator is taken too.
        var updated = (await ApiAssert.OkAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new
        {
            passkeyPolicy = new { allowRegistration = false, attestationPreference = "direct", authenticatorTypes = "cross-platform" },
        })))["data"]!["passkeyPolicy"]!;
        Assert.False(updated["allowRegistration"]!.GetValue<bool>());
        Assert.Equal("direct", updated["attestationPreference"]!.GetValue<string>());
        Assert.Equal("roaming", updated["authenticatorTypes"]!.GetValue<string>());

        using var internalClient = factory.Internal();
        var hostedPages = await ApiAssert.OkAsync(await internalClient.GetAsync($"/internal/v1/tenants/{tenant.Id}/hosted-pages"));
        Assert.False(hostedPages["passkeyRegistration"]!.GetValue<bool>());
        Assert.True(hostedPages["passkeyLogin"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Settings_EveryBadField_IsReportedByPath_AndNothingChanges()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var error = await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/settings", new
        {
            passwordPolicy = new { minLength = 3, requireNumbers = "yes", preventReuse = 99, extra = 1 },
            mfaPolicy = new { allowedMethods = new[] { "carrier-pigeon" }, gracePeriodDays = 1.5 },
            sessionPolicy = new { maxAge = 600, idleTimeout = 3600 },
            loginPolicy = new { maxFailedAttempts = 0 },
            branding = new { logoUrl = "http://insecure.example.com/logo.png", primaryColor = "blue", supportEmail = "nope" },
            colours = new { },
        }), 400, "validation_error");
        var details = error["details"]!.AsObject();
        foreach (var path in new[]
                 {
                     "passwordPolicy.minLength", "passwordPolicy.requireNumbers", "passwordPolicy.preventReuse", "passwordPolicy.extra",
                     "mfaPolicy.allowedMethods", "mfaPolicy.gracePeriodDays", "sessionPolicy.idleTimeout", "loginPolicy.maxFailedAttempts",
                     "branding.logoUrl", "branding.primaryColor", "branding.supportEmail", "colours",
                 })
        {
            Assert.True(details.ContainsKey(path), $"no detail for {path}: {details}");
        }

        var unchanged = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/settings")))["data"]!;
        Assert.Equal(8, unchanged["passwordPolicy"]!["minLength"]!.GetValue<int>());
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/settings", new { branding = "red" }), 400, "validation_error");
        using var array = new StringContent("[]", System.Text.Encoding.UTF8, "application/json");
        await ApiAssert.ErrorAsync(await client.PutAsync($"{tenant.Api}/admin/settings", array), 400, "invalid_request");
    }

    [Fact]
    public async Task ClientRegistration_OffByDefault_SwitchedOnForItsTenantOnly_AndReachesTheTokenService()
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        using var internalClient = factory.Internal();
        var defaults = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/settings")))["data"]!;
        Assert.False(defaults["clientRegistration"]!["dynamicRegistrationEnabled"]!.GetValue<bool>());

        var error = await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/settings",
            new { clientRegistration = new { dynamicRegistrationEnabled = "yes" } }), 400, "validation_error");
        Assert.True(error["details"]!.AsObject().ContainsKey("clientRegistration.dynamicRegistrationEnabled"), error.ToJsonString());

        var updated = (await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/settings",
            new { clientRegistration = new { dynamicRegistrationEnabled = true } })))["data"]!;
        Assert.True(updated["clientRegistration"]!["dynamicRegistrationEnabled"]!.GetValue<bool>());

        // What the token service reads: on for this tenant, still off for the other.
        var hostedPages = await ApiAssert.OkAsync(await internalClient.GetAsync($"/internal/v1/tenants/{tenant.Id}/hosted-pages"));
        Assert.True(hostedPages["dynamicClientRegistration"]!.GetValue<bool>());
        var otherPages = await ApiAssert.OkAsync(await internalClient.GetAsync($"/internal/v1/tenants/{other.Id}/hosted-pages"));
        Assert.False(otherPages["dynamicClientRegistration"]!.GetValue<bool>());
    }

    [Fact]
    public async Task RememberDeviceDays_OffByDefault_Bounded_AndReachTheTokenService()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        using var internalClient = factory.Internal();
        var defaults = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/settings")))["data"]!;
        Assert.Equal(0, defaults["mfaPolicy"]!["rememberDeviceDays"]!.GetValue<int>());

        var error = await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/settings", new { mfaPolicy = new { rememberDeviceDays = 91 } }), 400, "validation_error");
        Assert.True(error["details"]!.AsObject().ContainsKey("mfaPolicy.rememberDeviceDays"), error.ToJsonString());

        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/settings", new { mfaPolicy = new { rememberDeviceDays = 14 } }));
        var hostedPages = await ApiAssert.OkAsync(await internalClient.GetAsync($"/internal/v1/tenants/{tenant.Id}/hosted-pages"));
        Assert.Equal(14, hostedPages["rememberDeviceDays"]!.GetValue<int>());
    }

    [Fact]
    public async Task Localization_OffersEveryLanguageByDefault_TakesASubsetWithItsDefault_AndReachesTheTokenService()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        using var internalClient = factory.Internal();
        var defaults = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/settings")))["data"]!["localization"]!;
        Assert.Equal(["en", "ar", "de", "es", "fr", "it", "nl", "pt"], defaults["languages"]!.AsArray().Select(l => l!.GetValue<string>()));
        Assert.Equal("en", defaults["defaultLanguage"]!.GetValue<string>());

        // A language we have no pages in, no language at all, and a default the tenant does not offer are each refused.
        foreach (var (localization, path) in new (object, string)[]
                 {
                     (new { languages = new[] { "en", "tlh" } }, "localization.languages"),
                     (new { languages = Array.Empty<string>() }, "localization.languages"),
                     (new { languages = new[] { "fr" } }, "localization.defaultLanguage"),
                     (new { defaultLanguage = "ja" }, "localization.defaultLanguage"),
                     (new { languages = "fr" }, "localization.languages"),
                 })
        {
            var error = await ApiAssert.ErrorAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { localization }), 400, "validation_error");
            Assert.True(error["details"]!.AsObject().ContainsKey(path), error.ToJsonString());
        }

        await ApiAssert.OkAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { localization = new { languages = new[] { "fr", "en" }, defaultLanguage = "fr" } }));
        var hostedPages = await ApiAssert.OkAsync(await internalClient.GetAsync($"/internal/v1/tenants/{tenant.Id}/hosted-pages"));
        Assert.Equal(["fr", "en"], hostedPages["languages"]!.AsArray().Select(l => l!.GetValue<string>()));
        Assert.Equal("fr", hostedPages["defaultLanguage"]!.GetValue<string>());
    }

    [Fact]
    public async Task ClientIdMetadataDocuments_OffByDefault_SwitchedOnForItsTenantOnly_AndReachTheTokenService()
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        using var internalClient = factory.Internal();
        var defaults = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/settings")))["data"]!;
        Assert.False(defaults["clientRegistration"]!["clientIdMetadataDocumentsEnabled"]!.GetValue<bool>());

        var error = await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/settings",
            new { clientRegistration = new { clientIdMetadataDocumentsEnabled = 1 } }), 400, "validation_error");
        Assert.True(error["details"]!.AsObject().ContainsKey("clientRegistration.clientIdMetadataDocumentsEnabled"), error.ToJsonString());

        var updated = (await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/settings",
            new { clientRegistration = new { clientIdMetadataDocumentsEnabled = true } })))["data"]!;
        Assert.True(updated["clientRegistration"]!["clientIdMetadataDocumentsEnabled"]!.GetValue<bool>());
        Assert.False(updated["clientRegistration"]!["dynamicRegistrationEnabled"]!.GetValue<bool>());

        var hostedPages = await ApiAssert.OkAsync(await internalClient.GetAsync($"/internal/v1/tenants/{tenant.Id}/hosted-pages"));
        Assert.True(hostedPages["clientIdMetadataDocuments"]!.GetValue<bool>());
        var otherPages = await ApiAssert.OkAsync(await internalClient.GetAsync($"/internal/v1/tenants/{other.Id}/hosted-pages"));
        Assert.False(otherPages["clientIdMetadataDocuments"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Settings_AreIsolatedPerTenant_AndNeedAWritingScope()
    {
        var a = await factory.CreateTenantAsync();
        var b = await factory.CreateTenantAsync();
        using var clientA = factory.ClientFor(a);
        await ApiAssert.OkAsync(await clientA.PutAsJsonAsync($"{a.Api}/admin/settings", new { passwordPolicy = new { minLength = 20 } }));
        using var clientB = factory.ClientFor(b);
        Assert.Equal(8, (await ApiAssert.OkAsync(await clientB.GetAsync($"{b.Api}/admin/settings")))["data"]!["passwordPolicy"]!["minLength"]!.GetValue<int>());
        await ApiAssert.ErrorAsync(await clientB.PutAsJsonAsync($"{a.Api}/admin/settings", new { passwordPolicy = new { minLength = 8 } }), 401, "unauthorized");

        var key = (await ApiAssert.OkAsync(await clientA.PostAsJsonAsync($"{a.Api}/admin/api-keys", new { name = "reader", scopes = new[] { "admin:read" } }), 201))["data"]!["key"]!.GetValue<string>();
        using var reader = factory.CreateClient();
        reader.DefaultRequestHeaders.Add("X-API-Key", key);
        await ApiAssert.OkAsync(await reader.GetAsync($"{a.Api}/admin/settings"));
        await ApiAssert.ErrorAsync(await reader.PutAsJsonAsync($"{a.Api}/admin/settings", new { passwordPolicy = new { minLength = 8 } }), 403, "insufficient_scope");
    }

    [Fact]
    public async Task ApiKey_ExpiryWithAnOffset_IsKeptAsTheSameInstant_AndAnsweredInUtc()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var sent = new DateTimeOffset(DateTime.UtcNow.Year + 2, 3, 1, 9, 30, 0, TimeSpan.FromHours(-5));

        var created = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/api-keys",
            new { name = "offset", scopes = new[] { "admin:read" }, expiresAt = sent.ToString("yyyy-MM-ddTHH:mm:sszzz") }), 201);
        var listed = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/api-keys")))["data"]!.AsArray()
            .Single(k => k!["name"]!.GetValue<string>() == "offset")!;

        foreach (var answered in new[] { created["data"]!["expiresAt"]!, listed["expiresAt"]! })
        {
            var instant = DateTimeOffset.Parse(answered.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(sent.UtcDateTime, instant.UtcDateTime);
            Assert.Equal(TimeSpan.Zero, instant.Offset);
        }
    }

    [Fact]
    public async Task Info_ReportsTheTenantAndItsUsage()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        await factory.CreateUserAsync(tenant, "counted@example.com");
        var info = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/info")))["data"]!;
        Assert.Equal(tenant.Slug, info["slug"]!.GetValue<string>());
        Assert.Equal(2, info["usage"]!["users"]!.GetValue<long>());
        Assert.Equal(1, info["usage"]!["activeApiKeys"]!.GetValue<long>());
    }

    /// <summary><c>GET admin/localization/mails</c>: the mails' sentences with our text and the tenant's own wording, per language.</summary>
    [Fact]
    public async Task TheMailsSentences_ComeWithOurTextAndTheTenantsOwnWording()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new
        {
            localization = new { texts = new Dictionary<string, Dictionary<string, string>> { ["fr"] = new() { ["Hello {0},"] = "Salut {0}," } } },
        }));

        var body = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/localization/mails?language=fr&search=hello"));
        var hello = body["data"]!.AsArray().Single(e => e!["sentence"]!.GetValue<string>() == "Hello {0},")!;
        Assert.Equal("Bonjour {0},", hello["text"]!.GetValue<string>());
        Assert.Equal("Salut {0},", hello["tenantText"]!.GetValue<string>());

        var all = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/localization/mails?language=de&limit=100"));
        Assert.True(all["meta"]!["total"]!.GetValue<int>() >= 40);
        Assert.All(all["data"]!.AsArray(), e => Assert.Null(e!["tenantText"]));

        await ApiAssert.ErrorAsync(await admin.GetAsync($"{tenant.Api}/admin/localization/mails?language=klingon"), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{tenant.Api}/admin/localization/mails"), 400, "validation_error");
    }
}
