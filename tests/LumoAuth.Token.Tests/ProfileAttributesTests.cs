using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// A tenant's declared profile attributes (Keycloak's declarative user profile): asked at registration where the tenant
/// says so (required ones enforced), shown on the account page (editable or read-only), saved among the user's custom
/// attributes beside those an administrator set, labelled in the tenant's words per language; bad declarations refused.
/// </summary>
[Collection(SharedTokenSuite.Name)]
public sealed class ProfileAttributesTests(TokenSuite suite)
{
    private static readonly object[] Declared =
    [
        new { name = "company", label = "Company", required = true, onRegistration = true, maxLength = 40 },
        new { name = "employeeId", label = "Employee number", userEditable = false },
        new { name = "nickname_at_work", label = "Nickname at work" },
        new { name = "risk_grade", label = "Risk grade", userEditable = false, userVisible = false },
    ];

    private async Task DeclareAsync(LumoAuth.Testing.TestTenant tenant)
    {
        using var admin = suite.Admin.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new
        {
            userProfile = new { attributes = Declared },
            localization = new { texts = new Dictionary<string, Dictionary<string, string>> { ["de"] = new() { ["Company"] = "Firma" } } },
        }));
    }

    private async Task<JsonNode> AttributesAsync(LumoAuth.Testing.TestTenant tenant, string user)
    {
        using var admin = suite.Admin.ClientFor(tenant);
        return (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{user}/attributes")))["data"]!["attributes"]!;
    }

    [Fact]
    public async Task Registration_AsksForTheDeclaredAttributes_AndKeepsThemOnTheUser()
    {
        var setup = await suite.SetUpAsync();
        await DeclareAsync(setup.Tenant);
        using var browser = suite.Browser();
        var page = await ApiAssert.EventuallyAsync(async () =>
        {
            var html = await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/register");
            return html.Contains("attr_company", StringComparison.Ordinal) ? html : null;
        });
        Assert.Contains("<label for=\"attr_company\">Company</label>", page, StringComparison.Ordinal);
        Assert.DoesNotContain("attr_employeeId", page, StringComparison.Ordinal);

        var email = $"attr-{Guid.NewGuid():N}"[..13] + "@example.com";
        async Task<HttpResponseMessage> RegisterAsync(string company)
        {
            var form = HostedFlow.HiddenFields(await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/register"));
            form["email"] = email;
            form["password"] = "Br4nd-New-Passw0rd!";
            form["attr_company"] = company;
            return await browser.PostAsync($"/t/{setup.Tenant.Slug}/register", new FormUrlEncodedContent(form));
        }

        using (var missing = await RegisterAsync("  "))
        {
            Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
            Assert.Contains("Company is required.", await missing.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var tooLong = await RegisterAsync(new string('x', 41)))
        {
            Assert.Contains("Company may have at most 40 characters.", await tooLong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var registered = await RegisterAsync("Acme Rockets"))
        {
            Assert.True(registered.StatusCode is HttpStatusCode.OK or HttpStatusCode.SeeOther, await registered.Content.ReadAsStringAsync());
        }

        Assert.Equal("Acme Rockets", (await AttributesAsync(setup.Tenant, email))["company"]!.GetValue<string>());

        // In German, the label is the tenant's own German word.
        using var german = suite.Browser();
        german.DefaultRequestHeaders.AcceptLanguage.ParseAdd("de");
        Assert.Contains("<label for=\"attr_company\">Firma</label>", await german.GetStringAsync($"/t/{setup.Tenant.Slug}/register"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheAccountPage_ChangesTheEditableAttributes_ShowsTheOthers_AndKeepsTheAdministratorsOwn()
    {
        var setup = await suite.SetUpAsync();
        await DeclareAsync(setup.Tenant);
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/attributes",
                new { employeeId = "E-1001", clearance = "secret", company = "Old Co", risk_grade = "grade-H7" }));
        }

        using var browser = suite.Browser();
        var page = await ApiAssert.EventuallyAsync(async () =>
        {
            var html = await HostedFlow.OpenSignedInAsync(browser, setup, $"/t/{setup.Tenant.Slug}/account/profile");
            return html.Contains("attr_company", StringComparison.Ordinal) ? html : null;
        });
        Assert.Contains("value=\"Old Co\"", page, StringComparison.Ordinal);
        Assert.Contains("Employee number: <strong>E-1001</strong>", page, StringComparison.Ordinal);
        Assert.DoesNotContain("attr_employeeId", page, StringComparison.Ordinal);
        // An attribute declared hidden from its user is not on their page at all.
        Assert.DoesNotContain("Risk grade", page, StringComparison.Ordinal);
        Assert.DoesNotContain("grade-H7", page, StringComparison.Ordinal);

        var form = HostedFlow.FormWith(page, "attr_company");
        using (var emptied = await HostedFlow.SubmitFormAsync(browser, form, new() { ["name"] = "Alice Example", ["attr_company"] = "" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, emptied.StatusCode);
            Assert.Contains("Company is required.", await emptied.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // A field for an attribute the user may not change is not read.
        using (var saved = await HostedFlow.SubmitFormAsync(browser, form, new()
               {
                   ["name"] = "Alice Example", ["attr_company"] = "New Co", ["attr_nickname_at_work"] = "Al", ["attr_employeeId"] = "E-9999", ["attr_risk_grade"] = "low",
               }))
        {
            var html = await saved.Content.ReadAsStringAsync();
            Assert.True(saved.StatusCode == HttpStatusCode.OK, html);
            Assert.Contains("data-saved", html, StringComparison.Ordinal);
        }

        var attributes = await AttributesAsync(setup.Tenant, setup.UserId.ToString());
        Assert.Equal("New Co", attributes["company"]!.GetValue<string>());
        Assert.Equal("Al", attributes["nickname_at_work"]!.GetValue<string>());
        Assert.Equal("E-1001", attributes["employeeId"]!.GetValue<string>());
        Assert.Equal("secret", attributes["clearance"]!.GetValue<string>());
        Assert.Equal("grade-H7", attributes["risk_grade"]!.GetValue<string>());

        // Emptying an optional one removes it.
        page = await HostedFlow.OpenSignedInAsync(browser, setup, $"/t/{setup.Tenant.Slug}/account/profile");
        using (await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(page, "attr_company"), new() { ["name"] = "Alice Example", ["attr_company"] = "New Co", ["attr_nickname_at_work"] = "" }))
        {
        }

        Assert.Null((await AttributesAsync(setup.Tenant, setup.UserId.ToString()))["nickname_at_work"]);
    }

    [Fact]
    public async Task TypedAttributes_GetTheirInputs_AreCheckedInThePersonsWords_AndKeptTyped()
    {
        var setup = await suite.SetUpAsync();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new
            {
                userProfile = new
                {
                    attributes = new object[]
                    {
                        new { name = "age", label = "Age", type = "integer", min = 18, max = 130 },
                        new { name = "born", label = "Born", type = "date" },
                        new { name = "site", label = "Website", type = "url" },
                        new { name = "workEmail", label = "Work email", type = "email" },
                        new { name = "mobile", label = "Mobile", type = "phone" },
                        new
                        {
                            name = "team", label = "Team", type = "choice", required = true,
                            options = new[] { new { value = "red", label = "Red team" }, new { value = "blue", label = "Blue team" } },
                        },
                        new { name = "badge", label = "Badge", pattern = "[A-Z]{2}-[0-9]{4}", patternMessage = "A badge looks like AB-1234." },
                    },
                },
                localization = new { texts = new Dictionary<string, Dictionary<string, string>> { ["de"] = new() { ["Blue team"] = "Team Blau", ["A badge looks like AB-1234."] = "Ein Ausweis sieht aus wie AB-1234." } } },
            }));
        }

        using var browser = suite.Browser();
        var page = await ApiAssert.EventuallyAsync(async () =>
        {
            var html = await HostedFlow.OpenSignedInAsync(browser, setup, $"/t/{setup.Tenant.Slug}/account/profile");
            return html.Contains("attr_team", StringComparison.Ordinal) ? html : null;
        });
        Assert.Contains("type=\"number\" step=\"1\" inputmode=\"numeric\" min=\"18\" max=\"130\" id=\"attr_age\"", page, StringComparison.Ordinal);
        Assert.Contains("type=\"date\" id=\"attr_born\"", page, StringComparison.Ordinal);
        Assert.Contains("type=\"url\" id=\"attr_site\"", page, StringComparison.Ordinal);
        Assert.Contains("type=\"email\" id=\"attr_workEmail\"", page, StringComparison.Ordinal);
        Assert.Contains("type=\"tel\" id=\"attr_mobile\"", page, StringComparison.Ordinal);
        Assert.Contains("<select id=\"attr_team\" name=\"attr_team\" required><option value=\"\"></option><option value=\"red\">Red team</option>", page, StringComparison.Ordinal);

        var good = new Dictionary<string, string>
        {
            ["name"] = "Alice Example", ["attr_age"] = "42", ["attr_born"] = "1990-12-31", ["attr_site"] = "https://alice.example.com",
            ["attr_workEmail"] = "alice@work.example.com", ["attr_mobile"] = "+44 20 7946 0000", ["attr_team"] = "blue", ["attr_badge"] = "AB-1234",
        };
        var form = HostedFlow.FormWith(page, "attr_team");
        foreach (var (field, value, problem) in new[]
                 {
                     ("attr_age", "forty", "Age must be a whole number."),
                     ("attr_age", "17", "Age must be at least 18."),
                     ("attr_age", "131", "Age must be at most 130."),
                     ("attr_born", "31/12/1990", "Born must be a date."),
                     ("attr_site", "ftp://alice.example.com", "Website must be a web address starting with https:// or http://."),
                     ("attr_workEmail", "alice", "Work email must be an email address."),
                     ("attr_mobile", "call me", "Mobile must be a phone number."),
                     ("attr_team", "green", "Choose one of the options offered for Team."),
                     ("attr_team", "", "Team is required."),
                     ("attr_badge", "ab-12", "A badge looks like AB-1234."),
                 })
        {
            using var refused = await HostedFlow.SubmitFormAsync(browser, form, new(good) { [field] = value });
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains(problem, await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Null((await AttributesAsync(setup.Tenant, setup.UserId.ToString()))["age"]);
        using (var saved = await HostedFlow.SubmitFormAsync(browser, form, good))
        {
            Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        }

        var attributes = await AttributesAsync(setup.Tenant, setup.UserId.ToString());
        Assert.Equal(42, attributes["age"]!.GetValue<long>());
        Assert.Equal("1990-12-31", attributes["born"]!.GetValue<string>());
        Assert.Equal("blue", attributes["team"]!.GetValue<string>());
        Assert.Equal("+44 20 7946 0000", attributes["mobile"]!.GetValue<string>());

        // Shown again as kept; in German the option and the pattern's message are the tenant's German words.
        page = await HostedFlow.OpenSignedInAsync(browser, setup, $"/t/{setup.Tenant.Slug}/account/profile");
        Assert.Contains("value=\"42\"", page, StringComparison.Ordinal);
        Assert.Contains("<option value=\"blue\" selected>Blue team</option>", page, StringComparison.Ordinal);
        browser.DefaultRequestHeaders.AcceptLanguage.ParseAdd("de");
        page = await HostedFlow.OpenSignedInAsync(browser, setup, $"/t/{setup.Tenant.Slug}/account/profile");
        Assert.Contains("<option value=\"blue\" selected>Team Blau</option>", page, StringComparison.Ordinal);
        using var german = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(page, "attr_team"), new(good) { ["attr_badge"] = "nope" });
        Assert.Contains("Ein Ausweis sieht aus wie AB-1234.", await german.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MultiValuedAttributes_AreBoxesOrLines_EachValueIsChecked_AndTheyAreKeptAsLists()
    {
        var setup = await suite.SetUpAsync();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new
            {
                userProfile = new
                {
                    attributes = new object[]
                    {
                        new
                        {
                            name = "languages", label = "Languages", type = "choice", multiValued = true, maxValues = 2, required = true,
                            options = new[] { new { value = "en", label = "English" }, new { value = "fr", label = "French" }, new { value = "de", label = "German" } },
                        },
                        new { name = "aliases", label = "Aliases", multiValued = true, pattern = "[a-z]+", patternMessage = "An alias is lower-case letters." },
                        new { name = "lucky", label = "Lucky numbers", type = "integer", multiValued = true, min = 1, max = 99 },
                        new { name = "teams", label = "Teams", multiValued = true, userEditable = false },
                    },
                },
            }));
            await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/attributes", new { teams = new[] { "core", "infra" } }));
        }

        using var browser = suite.Browser();
        var page = await ApiAssert.EventuallyAsync(async () =>
        {
            var html = await HostedFlow.OpenSignedInAsync(browser, setup, $"/t/{setup.Tenant.Slug}/account/profile");
            return html.Contains("attr_languages", StringComparison.Ordinal) ? html : null;
        });
        Assert.Contains(
            "<fieldset><legend>Languages</legend><label><input type=\"checkbox\" id=\"attr_languages_0\" name=\"attr_languages\" value=\"en\"> English</label>",
            page, StringComparison.Ordinal);
        Assert.Contains("<textarea id=\"attr_aliases\" name=\"attr_aliases\" aria-describedby=\"attr_aliases_hint\" rows=\"3\"", page, StringComparison.Ordinal);
        Assert.Contains("One value per line.", page, StringComparison.Ordinal);
        Assert.Contains("Teams: <strong>core, infra</strong>", page, StringComparison.Ordinal);

        var form = HostedFlow.FormWith(page, "attr_languages");
        var good = new Dictionary<string, string> { ["name"] = "Alice Example", ["attr_aliases"] = "ally\r\nal\r\n\r\n ally ", ["attr_lucky"] = "7\n 13" };
        foreach (var (fields, languages, problem) in new[]
                 {
                     (good, new[] { "en", "fr", "de" }, "Languages may have at most 2 values."),
                     (good, new[] { "en", "es" }, "Choose one of the options offered for Languages."),
                     (good, Array.Empty<string>(), "Languages is required."),
                     (new Dictionary<string, string>(good) { ["attr_aliases"] = "ally\nAl" }, new[] { "en" }, "An alias is lower-case letters."),
                     (new Dictionary<string, string>(good) { ["attr_lucky"] = "7\n100" }, new[] { "en" }, "Lucky numbers must be at most 99."),
                 })
        {
            using var refused = await HostedFlow.SubmitFormAsync(browser, form, fields, "attr_languages", languages);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains(problem, await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var saved = await HostedFlow.SubmitFormAsync(browser, form, good, "attr_languages", "fr", "en"))
        {
            Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        }

        // Lists in the order given, without repeats or blank lines; numbers as numbers; the administrator's list untouched.
        var attributes = await AttributesAsync(setup.Tenant, setup.UserId.ToString());
        Assert.Equal(["fr", "en"], attributes["languages"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.Equal(["ally", "al"], attributes["aliases"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.Equal([7L, 13L], attributes["lucky"]!.AsArray().Select(v => v!.GetValue<long>()));
        Assert.Equal(["core", "infra"], attributes["teams"]!.AsArray().Select(v => v!.GetValue<string>()));

        page = await HostedFlow.OpenSignedInAsync(browser, setup, $"/t/{setup.Tenant.Slug}/account/profile");
        Assert.Contains("value=\"fr\" checked> French", page, StringComparison.Ordinal);
        Assert.Contains("value=\"de\"> German", page, StringComparison.Ordinal);
        // A line break in a textarea is written as a character reference, which browsers read back as one.
        Assert.Contains(">ally&#xA;al</textarea>", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Groups_GatherTheirAttributes_UnderTheirLabel_AndHintsStandUnderTheirInputs()
    {
        var setup = await suite.SetUpAsync();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            var saved = await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new
            {
                userProfile = new
                {
                    groups = new object[]
                    {
                        new { name = "work", label = "At work", description = "What your employer asked us to keep." },
                        new { name = "internal", label = "Internal" },
                    },
                    attributes = new object[]
                    {
                        new { name = "company", label = "Company", onRegistration = true, group = "work", hint = "As on your badge." },
                        new { name = "nickname", label = "Nickname", onRegistration = true },
                        new { name = "department", label = "Department", onRegistration = true, group = "work" },
                        new { name = "employeeId", label = "Employee number", userEditable = false, group = "work" },
                        new { name = "risk_grade", label = "Risk grade", userEditable = false, userVisible = false, group = "internal" },
                    },
                },
                localization = new { texts = new Dictionary<string, Dictionary<string, string>> { ["de"] = new() { ["At work"] = "Bei der Arbeit", ["As on your badge."] = "Wie auf Ihrem Ausweis." } } },
            }));
            Assert.Equal("What your employer asked us to keep.", saved["data"]!["userProfile"]!["groups"]![0]!["description"]!.GetValue<string>());
            Assert.Equal("work", saved["data"]!["userProfile"]!["attributes"]![0]!["group"]!.GetValue<string>());
            await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/attributes", new { employeeId = "E-7", risk_grade = "B" }));
        }

        // The group stands where its first attribute is declared, holding all of its attributes; the others keep their order.
        static void AssertInOrder(string html, params string[] parts)
        {
            var from = 0;
            foreach (var part in parts)
            {
                var at = html.IndexOf(part, from, StringComparison.Ordinal);
                Assert.True(at >= 0, $"'{part}' is not where expected in {html}");
                from = at + part.Length;
            }
        }

        using var browser = suite.Browser();
        var registration = await ApiAssert.EventuallyAsync(async () =>
        {
            var html = await browser.GetStringAsync($"/t/{setup.Tenant.Slug}/register");
            return html.Contains("data-group", StringComparison.Ordinal) ? html : null;
        });
        AssertInOrder(registration,
            "<fieldset class=\"attribute-group\" data-group=\"work\" aria-describedby=\"group_work_about\"><legend>At work</legend>",
            "<p class=\"hint\" id=\"group_work_about\">What your employer asked us to keep.</p>",
            "name=\"attr_company\"", "name=\"attr_department\"", "</fieldset>", "name=\"attr_nickname\"");
        Assert.DoesNotContain("Internal", registration, StringComparison.Ordinal);
        // An attribute's hint is printed under its input and tied to it for screen readers.
        AssertInOrder(registration, "id=\"attr_company\" name=\"attr_company\" aria-describedby=\"attr_company_help\"", "<small id=\"attr_company_help\">As on your badge.</small>");

        var account = await HostedFlow.OpenSignedInAsync(browser, setup, $"/t/{setup.Tenant.Slug}/account/profile");
        // What the user may only read is grouped the same way, above the form; a group with nothing to show is left out.
        AssertInOrder(account,
            "<legend>At work</legend><p class=\"hint\" id=\"group_work_shown_about\">", "Employee number: <strong>E-7</strong>", "</fieldset>",
            "<legend>At work</legend><p class=\"hint\" id=\"group_work_about\">", "name=\"attr_company\"", "name=\"attr_department\"", "</fieldset>",
            "name=\"attr_nickname\"");
        Assert.DoesNotContain("data-group=\"internal\"", account, StringComparison.Ordinal);

        using (var saved = await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(account, "attr_company"), new()
               {
                   ["name"] = "Alice Example", ["attr_company"] = "Acme", ["attr_department"] = "Rockets", ["attr_nickname"] = "Al",
               }))
        {
            Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        }

        var attributes = await AttributesAsync(setup.Tenant, setup.UserId.ToString());
        Assert.Equal("Rockets", attributes["department"]!.GetValue<string>());
        Assert.Equal("E-7", attributes["employeeId"]!.GetValue<string>());

        using var german = suite.Browser();
        german.DefaultRequestHeaders.AcceptLanguage.ParseAdd("de");
        var inGerman = await german.GetStringAsync($"/t/{setup.Tenant.Slug}/register");
        Assert.Contains("<legend>Bei der Arbeit</legend>", inGerman, StringComparison.Ordinal);
        Assert.Contains(">Wie auf Ihrem Ausweis.</small>", inGerman, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadGroups_AreRefused_AndAGroupInUseStays()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.Admin.ClientFor(tenant);
        var work = new { name = "work", label = "At work" };
        foreach (var userProfile in new object[]
                 {
                     new { attributes = new[] { new { name = "a", label = "A", group = "nowhere" } } },
                     new { groups = new[] { work }, attributes = new[] { new { name = "a", label = "A", group = "Work" } } },
                     new { groups = new[] { work, work } },
                     new { groups = new[] { new { name = "1st", label = "First" } } },
                     new { groups = new[] { new { name = "work", label = " " } } },
                     new { groups = new object[] { new { name = "work" } } },
                     new { groups = new object[] { new { name = "work", label = "At work", description = "" } } },
                     new { groups = new object[] { new { name = "work", label = "At work", header = "At work" } } },
                     new { groups = new object[] { new { name = "work", label = "At work", description = new string('d', 301) } } },
                     new { groups = Enumerable.Range(0, 11).Select(i => new { name = $"g{i}", label = $"G {i}" }).ToArray() },
                     new { groups = "work" },
                     new { groups = new object[] { "work" } },
                 })
        {
            await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { userProfile }), 400, "validation_error");
        }

        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new
        {
            userProfile = new { groups = new[] { work }, attributes = new[] { new { name = "a", label = "A", group = "work" } } },
        }));

        // Groups and attributes are sections of their own: dropping the group while an attribute names it is refused, naming that attribute.
        var problem = await ApiAssert.ErrorAsync(
            await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { userProfile = new { groups = Array.Empty<object>() } }), 400, "validation_error");
        Assert.Contains("userProfile.attributes[0].group", problem.ToJsonString(), StringComparison.Ordinal);
        var settings = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/settings"));
        Assert.Equal("work", settings["data"]!["userProfile"]!["groups"]![0]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task BadDeclarations_AreRefused()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.Admin.ClientFor(tenant);
        foreach (var attributes in new object[]
                 {
                     new object[] { new { name = "address", label = "Address" } },
                     new object[] { new { name = "1st", label = "First" } },
                     new object[] { new { name = "a-b", label = "A B" } },
                     new object[] { new { name = "a", label = " " } },
                     new object[] { new { name = "a", label = "A" }, new { name = "a", label = "Again" } },
                     new object[] { new { name = "a", label = "A", maxLength = 0 } },
                     new object[] { new { name = "a", label = "A", colour = "red" } },
                     new object[] { new { label = "Nameless" } },
                     new object[] { new { name = "a", label = "A", type = "colour" } },
                     new object[] { new { name = "a", label = "A", min = 1 } },
                     new object[] { new { name = "a", label = "A", type = "integer", min = 5, max = 4 } },
                     new object[] { new { name = "a", label = "A", type = "integer", max = 9007199254740992L } },
                     new object[] { new { name = "a", label = "A", type = "integer", min = 1.5 } },
                     new object[] { new { name = "a", label = "A", type = "choice" } },
                     new object[] { new { name = "a", label = "A", options = new[] { new { value = "x", label = "X" } } } },
                     new object[] { new { name = "a", label = "A", type = "choice", options = Array.Empty<object>() } },
                     new object[] { new { name = "a", label = "A", type = "choice", options = new[] { new { value = "x", label = "X" }, new { value = "x", label = "Y" } } } },
                     new object[] { new { name = "a", label = "A", type = "choice", options = new[] { new { value = " x", label = "X" } } } },
                     new object[] { new { name = "a", label = "A", type = "choice", options = new object[] { new { value = "x" } } } },
                     new object[] { new { name = "a", label = "A", type = "choice", options = Enumerable.Range(0, 51).Select(i => new { value = $"v{i}", label = $"V {i}" }).ToArray() } },
                     new object[] { new { name = "a", label = "A", pattern = "(" } },
                     new object[] { new { name = "a", label = "A", pattern = "(a)\\1" } },
                     new object[] { new { name = "a", label = "A", pattern = "a(?=b)" } },
                     new object[] { new { name = "a", label = "A", pattern = new string('a', 201) } },
                     new object[] { new { name = "a", label = "A", patternMessage = "Needs a pattern" } },
                     new object[] { new { name = "a", label = "A", userVisible = false } },
                     new object[] { new { name = "a", label = "A", userVisible = false, userEditable = false, onRegistration = true } },
                     new object[] { new { name = "a", label = "A", userVisible = "no" } },
                     new object[] { new { name = "a", label = "A", maxValues = 3 } },
                     new object[] { new { name = "a", label = "A", requiredScopes = new[] { "profile" } } },
                     new object[] { new { name = "a", label = "A", required = true, userEditable = false, requiredScopes = new[] { "profile" } } },
                     new object[] { new { name = "a", label = "A", required = true, requiredScopes = new[] { "two words" } } },
                     new object[] { new { name = "a", label = "A", required = true, requiredScopes = "profile" } },
                     new object[] { new { name = "a", label = "A", multiValued = true, maxValues = 0 } },
                     new object[] { new { name = "a", label = "A", multiValued = true, maxValues = 51 } },
                     new object[] { new { name = "a", label = "A", multiValued = "yes" } },
                     new object[] { new { name = "a", label = "A", hint = " " } },
                     new object[] { new { name = "a", label = "A", hint = new string('h', 201) } },
                     Enumerable.Range(0, 21).Select(i => (object)new { name = $"a{i}", label = $"A {i}" }).ToArray(),
                     "company",
                 })
        {
            await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { userProfile = new { attributes } }), 400, "validation_error");
        }

        var saved = await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { userProfile = new { attributes = Declared } }));
        var first = saved["data"]!["userProfile"]!["attributes"]![0]!;
        Assert.Equal("company", first["name"]!.GetValue<string>());
        Assert.True(first["userEditable"]!.GetValue<bool>());
        Assert.Equal(40, first["maxLength"]!.GetValue<int>());
        Assert.True(first["userVisible"]!.GetValue<bool>());
        Assert.False(saved["data"]!["userProfile"]!["attributes"]![3]!["userVisible"]!.GetValue<bool>());
    }
}
