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
                new { employeeId = "E-1001", clearance = "secret", company = "Old Co" }));
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

        var form = HostedFlow.FormWith(page, "attr_company");
        using (var emptied = await HostedFlow.SubmitFormAsync(browser, form, new() { ["name"] = "Alice Example", ["attr_company"] = "" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, emptied.StatusCode);
            Assert.Contains("Company is required.", await emptied.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // A field for an attribute the user may not change is not read.
        using (var saved = await HostedFlow.SubmitFormAsync(browser, form, new()
               {
                   ["name"] = "Alice Example", ["attr_company"] = "New Co", ["attr_nickname_at_work"] = "Al", ["attr_employeeId"] = "E-9999",
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

        // Emptying an optional one removes it.
        page = await HostedFlow.OpenSignedInAsync(browser, setup, $"/t/{setup.Tenant.Slug}/account/profile");
        using (await HostedFlow.SubmitFormAsync(browser, HostedFlow.FormWith(page, "attr_company"), new() { ["name"] = "Alice Example", ["attr_company"] = "New Co", ["attr_nickname_at_work"] = "" }))
        {
        }

        Assert.Null((await AttributesAsync(setup.Tenant, setup.UserId.ToString()))["nickname_at_work"]);
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
    }
}
