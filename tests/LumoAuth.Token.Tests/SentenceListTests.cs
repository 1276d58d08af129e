using System.Net.Http.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// <c>GET admin/localization/pages</c>: the hosted pages' sentences for a wording editor, with our text in the language
/// asked for and the tenant's own wording beside it; searched and paged; a language we do not have is refused.
/// </summary>
[Collection(SharedTokenSuite.Name)]
public sealed class SentenceListTests(TokenSuite suite)
{
    [Fact]
    public async Task ThePagesSentences_ComeWithOurTextAndTheTenantsOwnWording()
    {
        var setup = await suite.SetUpAsync();
        var other = await suite.SetUpAsync();
        using (var settings = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await settings.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new
            {
                localization = new { texts = new Dictionary<string, Dictionary<string, string>> { ["de"] = new() { ["Forgot your password?"] = "Kennwort weg?" } } },
            }));
        }

        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var found = await ApiAssert.EventuallyAsync(async () =>
        {
            var body = await ApiAssert.OkAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/localization/pages?language=de&search=forgot your"));
            var entry = body["data"]!.AsArray().FirstOrDefault(e => e!["sentence"]!.GetValue<string>() == "Forgot your password?");
            return entry?["tenantText"] is not null ? entry : null;
        });
        Assert.Equal("Passwort vergessen?", found["text"]!.GetValue<string>());
        Assert.Equal("Kennwort weg?", found["tenantText"]!.GetValue<string>());

        // English is its own text; paging bounds a page and counts them all.
        var english = await ApiAssert.OkAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/localization/pages?language=en&limit=5"));
        Assert.Equal(5, english["data"]!.AsArray().Count);
        Assert.True(english["meta"]!["total"]!.GetValue<int>() > 100);
        Assert.All(english["data"]!.AsArray(), e => Assert.Equal(e!["sentence"]!.GetValue<string>(), e["text"]!.GetValue<string>()));

        // Another tenant sees our sentences without this tenant's wording.
        using var otherAdmin = suite.Token.CreateClient();
        otherAdmin.DefaultRequestHeaders.Add("X-API-Key", other.Tenant.ApiKey);
        var theirs = await ApiAssert.OkAsync(await otherAdmin.GetAsync($"{other.Tenant.Api}/admin/localization/pages?language=de&search=Forgot your password"));
        Assert.All(theirs["data"]!.AsArray(), e => Assert.Null(e!["tenantText"]));

        await ApiAssert.ErrorAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/localization/pages"), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/localization/pages?language=xx"), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/localization/pages?language=de&search={new string('a', 201)}"), 400, "validation_error");
        using var anonymous = suite.Token.CreateClient();
        Assert.Equal(401, (int)(await anonymous.GetAsync($"{setup.Tenant.Api}/admin/localization/pages?language=de")).StatusCode);
    }
}
