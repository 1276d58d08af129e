using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Admin.Features.Email;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Localization;
using LumoAuth.Testing;
using MimeKit;
using static LumoAuth.Admin.Tests.ScimHttp;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// A person's language: kept as the user's <c>locale</c> (admin API, SCIM, invitations), and the language their mails and
/// texts are written in — their own, else the page they asked from, else the tenant's default, among the languages the
/// tenant offers.
/// </summary>
public sealed class UserLanguageTests(EmailAdminFixture fixture) : IClassFixture<EmailAdminFixture>
{
    private AdminFactory Factory => fixture.Admin;

    private static readonly CatalogueCheck Catalogue = new(Path.Combine("services", "admin", "LumoAuth.Admin", "Features", "Email"), MailText.Catalogue);

    private static void AssertLanguage(ReceivedMail mail, string language)
    {
        Assert.Equal(language, mail.Message.Body!.Headers[HeaderId.ContentLanguage]);
        Assert.Contains($"<html lang=\"{language}\"{LanguageTags.DirectionAttribute(language)}>", mail.Html, StringComparison.Ordinal);
    }

    private async Task<Guid> CreateUserAsync(TestTenant tenant, string email, string? locale)
    {
        using var admin = Factory.ClientFor(tenant);
        var created = await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email, password = "a long password 1", name = "Lena", locale }), 201);
        return created["data"]!["id"]!.GetValue<Guid>();
    }

    [Fact]
    public async Task Locale_IsSetReadChangedAndCleared_AndNoTagIsRefused()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        var userId = await CreateUserAsync(tenant, $"lena@{tenant.Slug}.example.com", "de-AT");
        var read = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{userId}")))["data"]!;
        Assert.Equal("de-AT", read["locale"]!.GetValue<string>());

        var changed = (await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{userId}", new { locale = "fr" })))["data"]!;
        Assert.Equal("fr", changed["locale"]!.GetValue<string>());
        var cleared = (await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{userId}", new { locale = "" })))["data"]!;
        Assert.Null(cleared["locale"]);

        // Claims readers expect a BCP 47 tag: anything else is refused, on create and update alike.
        foreach (var bad in new[] { "x", "german!", "de_DE", "en-", "toolongprimary", new string('a', 2) + "-" + new string('b', 40) })
        {
            var error = await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{userId}", new { locale = bad }), 400, "validation_error");
            Assert.True(error["details"]!.AsObject().ContainsKey("locale"), error.ToJsonString());
        }

        await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{userId}", new { locale = 7 }), 400, "invalid_request");
        var refused = await ApiAssert.ErrorAsync(
            await admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = $"bad@{tenant.Slug}.example.com", locale = "<script>" }), 400, "validation_error");
        Assert.True(refused["details"]!.AsObject().ContainsKey("locale"), refused.ToJsonString());

        // The token service reads it for the locale claim.
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{userId}", new { locale = "es" }));
        using var internalClient = Factory.Internal();
        var profile = await ApiAssert.OkAsync(await internalClient.GetAsync($"/internal/v1/users/{userId}?tenantId={tenant.Id}"));
        Assert.Equal("es", profile["locale"]!.GetValue<string>());
    }

    [Fact]
    public async Task PasswordReset_ForAUserWithALanguage_IsMailedInIt_WithALinkThatOpensThePageInIt()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        var address = $"greta@{tenant.Slug}.example.com";
        var userId = await CreateUserAsync(tenant, address, "de-CH");
        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{userId}/password-reset", null), 202);

        var mail = await fixture.MailToAsync(address, EmailKinds.PasswordReset);
        AssertLanguage(mail, "de");
        Assert.Equal($"Passwort für Tenant {tenant.Slug} zurücksetzen", mail.Message.Subject);
        Assert.StartsWith("Hallo Lena,", mail.Text, StringComparison.Ordinal);
        Assert.Contains("&ui_locales=de", mail.Text, StringComparison.Ordinal);
        Assert.Contains("&amp;ui_locales=de", mail.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForgotPasswordPage_MailsInThePagesLanguage_UnlessTheUserHasOne_AndOnlyInLanguagesTheTenantOffers()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        using var client = Factory.Internal();
        var withoutLanguage = $"plain@{tenant.Slug}.example.com";
        var spanish = $"spanish@{tenant.Slug}.example.com";
        await CreateUserAsync(tenant, withoutLanguage, null);
        await CreateUserAsync(tenant, spanish, "es");

        await ApiAssert.OkAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestPasswordReset, new RequestPasswordResetByEmail(tenant.Id, withoutLanguage) { Language = "fr" }), 202);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestPasswordReset, new RequestPasswordResetByEmail(tenant.Id, spanish) { Language = "fr" }), 202);
        AssertLanguage(await fixture.MailToAsync(withoutLanguage, EmailKinds.PasswordReset), "fr");
        AssertLanguage(await fixture.MailToAsync(spanish, EmailKinds.PasswordReset), "es");

        // A tenant that offers only English and German: the Spanish user's mail falls back to its default, German.
        var narrow = await Factory.CreateTenantAsync();
        using var narrowAdmin = Factory.ClientFor(narrow);
        await ApiAssert.OkAsync(await narrowAdmin.PatchAsJsonAsync($"{narrow.Api}/admin/settings", new { localization = new { languages = new[] { "en", "de" }, defaultLanguage = "de" } }));
        var elsewhere = $"spanish@{narrow.Slug}.example.com";
        var userId = await CreateUserAsync(narrow, elsewhere, "es");
        await ApiAssert.OkAsync(await narrowAdmin.PostAsync($"{narrow.Api}/admin/users/{userId}/password-reset", null), 202);
        AssertLanguage(await fixture.MailToAsync(elsewhere, EmailKinds.PasswordReset), "de");

        // A page language that is no tag at all is ignored, not an error: the tenant's default speaks.
        var odd = $"odd@{narrow.Slug}.example.com";
        await CreateUserAsync(narrow, odd, null);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestPasswordReset, new RequestPasswordResetByEmail(narrow.Id, odd) { Language = "<b>" }), 202);
        AssertLanguage(await fixture.MailToAsync(odd, EmailKinds.PasswordReset), "de");
    }

    [Fact]
    public async Task Invitation_InAChosenLanguage_IsMailedInIt_AndTheNewUserKeepsIt()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        var address = $"camille@{tenant.Slug}.example.com";
        var created = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = address, locale = "fr-CA" }), 201))["data"]!;
        Assert.Equal("fr-CA", created["locale"]!.GetValue<string>());
        var refused = await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = $"x@{tenant.Slug}.example.com", locale = "français" }), 400, "validation_error");
        Assert.True(refused["details"]!.AsObject().ContainsKey("locale"), refused.ToJsonString());

        var mail = await fixture.MailToAsync(address, EmailKinds.Invitation);
        AssertLanguage(mail, "fr");
        Assert.Equal($"Vous avez reçu une invitation à rejoindre Tenant {tenant.Slug}", mail.Message.Subject);
        var token = System.Text.RegularExpressions.Regex.Match(mail.Text, @"\?token=([A-Za-z0-9_-]+)&ui_locales=fr").Groups[1].Value;
        Assert.NotEmpty(token);

        using var client = Factory.Internal();
        var accepted = await ApiAssert.EventuallyAsync(async () =>
        {
            using var response = await client.PostAsJsonAsync(EmailLinkPaths.AcceptInvitation, new AcceptInvitationRequest(tenant.Id, token, "a good password 1", "Camille"));
            return (int)response.StatusCode == 400 ? null : await ApiAssert.OkAsync(response, 201);
        });
        var userId = accepted["data"]!["userId"]!.GetValue<Guid>();
        var user = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{userId}")))["data"]!;
        Assert.Equal("fr-CA", user["locale"]!.GetValue<string>());
    }

    [Fact]
    public async Task Notices_FollowTheUsersLanguage_AndOtherwiseTheTenantsDefault()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { localization = new { defaultLanguage = "es" } }));
        var german = $"dieter@{tenant.Slug}.example.com";
        var plain = $"pablo@{tenant.Slug}.example.com";
        var arabic = $"layla@{tenant.Slug}.example.com";
        var germanId = await CreateUserAsync(tenant, german, "de");
        var plainId = await CreateUserAsync(tenant, plain, null);
        var arabicId = await CreateUserAsync(tenant, arabic, "ar-EG");
        foreach (var id in new[] { germanId, plainId, arabicId })
        {
            await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/password", new { password = "another long password 2" }));
        }

        var toGerman = await fixture.MailToAsync(german, EmailKinds.PasswordChanged);
        AssertLanguage(toGerman, "de");
        Assert.Equal($"Ihr Passwort für Tenant {tenant.Slug} wurde geändert", toGerman.Message.Subject);
        AssertLanguage(await fixture.MailToAsync(plain, EmailKinds.PasswordChanged), "es");
        // Right to left, as the pages in Arabic are.
        AssertLanguage(await fixture.MailToAsync(arabic, EmailKinds.PasswordChanged), "ar");
    }

    [Fact]
    public async Task Scim_CarriesTheLocale_AndReadsPosixFormAndPreferredLanguage()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var scim = ClientFor(Factory, tenant);
        var posix = await ScimAsync(await scim.PostAsync($"{tenant.Api}/scim/v2/Users", Json(new { userName = $"posix@{tenant.Slug}.example.com", locale = "de_DE" })), 201);
        Assert.Equal("de-DE", posix["locale"]!.GetValue<string>());
        var preferred = await ScimAsync(await scim.PostAsync($"{tenant.Api}/scim/v2/Users",
            Json(new { userName = $"pref@{tenant.Slug}.example.com", preferredLanguage = "fr-CA, fr;q=0.9, en;q=0.5" })), 201);
        Assert.Equal("fr-CA", preferred["locale"]!.GetValue<string>());
        var read = await ScimAsync(await scim.GetAsync($"{tenant.Api}/scim/v2/Users/{preferred["id"]!.GetValue<string>()}"), 200);
        Assert.Equal("fr-CA", read["locale"]!.GetValue<string>());

        using var bad = await scim.PostAsync($"{tenant.Api}/scim/v2/Users", Json(new { userName = $"bad@{tenant.Slug}.example.com", locale = "!!" }));
        Assert.Equal(400, (int)bad.StatusCode);
    }

    [Fact]
    public async Task ATenantsOwnWording_IsValidated_ReachesTheTokenService_AndRewordsItsMails()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        foreach (var (texts, path) in new (object, string)[]
                 {
                     (new { ja = new { Hello = "Konnichiwa" } }, "localization.texts.ja"),
                     (new { de = "Hallo" }, "localization.texts.de"),
                     (new { de = new { Hello = 7 } }, "localization.texts.de"),
                     (new Dictionary<string, object> { ["de"] = new Dictionary<string, string> { ["Hello {0},"] = "Hallo," } }, "localization.texts.de"),
                     (new Dictionary<string, object> { ["de"] = new Dictionary<string, string> { ["Hello {0},"] = "Hallo {name}, {0}" } }, "localization.texts.de"),
                     (new Dictionary<string, object> { ["fr"] = new Dictionary<string, string> { ["Sign in"] = "" } }, "localization.texts.fr"),
                     (new Dictionary<string, object> { ["fr"] = new Dictionary<string, string> { ["Sign in"] = new string('x', 2001) } }, "localization.texts.fr"),
                     (new Dictionary<string, object> { ["fr"] = Enumerable.Range(0, 301).ToDictionary(i => $"Sentence {i}", i => "x") }, "localization.texts.fr"),
                     ("all of them", "localization.texts"),
                 })
        {
            var error = await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { localization = new { texts } }), 400, "validation_error");
            Assert.True(error["details"]!.AsObject().ContainsKey(path), error.ToJsonString());
        }

        var reworded = new Dictionary<string, Dictionary<string, string>>
        {
            ["de"] = new() { ["Reset your {0} password"] = "Neues Kennwort für {0}" },
        };
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { localization = new { texts = reworded } }));
        var stored = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/settings")))["data"]!["localization"]!["texts"]!;
        Assert.Equal("Neues Kennwort für {0}", stored["de"]!["Reset your {0} password"]!.GetValue<string>());
        using var internalClient = Factory.Internal();
        var hostedPages = await ApiAssert.OkAsync(await internalClient.GetAsync($"/internal/v1/tenants/{tenant.Id}/hosted-pages"));
        Assert.Equal("Neues Kennwort für {0}", hostedPages["texts"]!["de"]!["Reset your {0} password"]!.GetValue<string>());

        var address = $"kurt@{tenant.Slug}.example.com";
        var userId = await CreateUserAsync(tenant, address, "de");
        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{userId}/password-reset", null), 202);
        var mail = await fixture.MailToAsync(address, EmailKinds.PasswordReset);
        Assert.Equal($"Neues Kennwort für Tenant {tenant.Slug}", mail.Message.Subject);
        Assert.StartsWith("Hallo Lena,", mail.Text, StringComparison.Ordinal);

        // An empty object takes every rewording back.
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { localization = new { texts = new { } } }));
        var cleared = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/settings")))["data"]!["localization"]!["texts"]!;
        Assert.Empty(cleared.AsObject());
    }

    [Fact]
    public async Task APreview_ShowsEachMailAsItWouldGoOut_InTheLanguageAskedFor_WithTheTenantsWording()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        var api = $"{tenant.Api}/admin/email-templates";
        foreach (var kind in Features.Email.EmailPreviewEndpoints.Kinds)
        {
            var preview = (await ApiAssert.OkAsync(await admin.GetAsync($"{api}/{kind}/preview")))["data"]!;
            Assert.Equal("en", preview["language"]!.GetValue<string>());
            Assert.False(string.IsNullOrWhiteSpace(preview["text"]!.GetValue<string>()), kind);
        }

        var reset = (await ApiAssert.OkAsync(await admin.GetAsync($"{api}/password_reset/preview")))["data"]!;
        Assert.Equal($"Reset your Tenant {tenant.Slug} password", reset["subject"]!.GetValue<string>());
        Assert.Contains($"/t/{tenant.Slug}/forgot-password/reset?token=EXAMPLE&ui_locales=en", reset["text"]!.GetValue<string>(), StringComparison.Ordinal);
        var sms = (await ApiAssert.OkAsync(await admin.GetAsync($"{api}/sms_code/preview?language=fr")))["data"]!;
        Assert.Null(sms["subject"]);
        Assert.StartsWith("123456 ", sms["text"]!.GetValue<string>(), StringComparison.Ordinal);

        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new
        {
            localization = new { texts = new Dictionary<string, Dictionary<string, string>> { ["de"] = new() { ["Reset your {0} password"] = "Neues Kennwort für {0}" } } },
        }));
        var german = (await ApiAssert.OkAsync(await admin.GetAsync($"{api}/password_reset/preview?language=de")))["data"]!;
        Assert.Equal($"Neues Kennwort für Tenant {tenant.Slug}", german["subject"]!.GetValue<string>());
        Assert.Contains("<html lang=\"de\">", german["html"]!.GetValue<string>(), StringComparison.Ordinal);

        var notOffered = await ApiAssert.ErrorAsync(await admin.GetAsync($"{api}/password_reset/preview?language=ja"), 400, "validation_error");
        Assert.True(notOffered["details"]!.AsObject().ContainsKey("language"));
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{api}/birthday_card/preview"), 404, "resource_not_found");
        using var anonymous = Factory.CreateClient();
        Assert.Equal(401, (int)(await anonymous.GetAsync($"{api}/password_reset/preview")).StatusCode);
        Assert.Empty(fixture.Smtp.To("alex@example.com"));
    }

    [Fact]
    public void EverySentenceOfTheMails_IsTranslatedInEveryLanguage()
    {
        Assert.True(Catalogue.KeysInCode().Count > 40, "the mails' sentences were not found: is the key pattern still the one the code uses?");
        Assert.Equal(HostedPageLanguages.All.Order(StringComparer.Ordinal), MailText.Catalogue.Languages.Order(StringComparer.Ordinal));
        var missing = Catalogue.Untranslated();
        Assert.True(missing.Count == 0, "Not translated:\n" + string.Join('\n', missing));
        var wrong = Catalogue.WrongTranslations();
        Assert.True(wrong.Count == 0, string.Join('\n', wrong));
        var computed = Catalogue.ComputedKeys();
        Assert.True(computed.Count == 0, "Interpolated or verbatim keys:\n" + string.Join('\n', computed));
    }
}
