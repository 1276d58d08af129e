using System.Net.Http.Json;
using LumoAuth.Admin.Features.Email;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;

namespace LumoAuth.Admin.Tests;

/// <summary>An admin that mails (to a local receiver) and checks domains against a DNS server of the test's own.</summary>
public sealed class CustomDomainEmailFixture() : EmailAdminFixture(new Dictionary<string, string?>
{
    ["CustomDomains:NameServers:0"] = SharedDns.Endpoint,
    ["CustomDomains:Target"] = CustomDomainFixture.Target,
})
{
    // Static: the base constructor reads the settings before this class's fields exist.
    private static readonly TestDnsServer SharedDns = new();

    public TestDnsServer Dns => SharedDns;
}

public sealed class CustomDomainEmailTests(CustomDomainEmailFixture fixture) : IClassFixture<CustomDomainEmailFixture>
{
    [Fact]
    public async Task ASignInLink_AskedForOnTheTenantsDomain_PointsThere_AndAnyOtherDomainIsIgnored()
    {
        var factory = fixture.Admin;
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { magicLinkEnabled = true } }));
        var domain = $"login-{Guid.NewGuid().ToString("N")[..10]}.acme.example";
        var added = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/custom-domains", new { domain }), 201))["data"]!;
        fixture.Dns.Publish(added["dnsRecords"]!);
        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/custom-domains/{added["id"]}/verify", null));

        var onDomain = $"ondomain@{tenant.Slug}.example.com";
        var elsewhere = $"elsewhere@{tenant.Slug}.example.com";
        await factory.CreateUserAsync(tenant, onDomain);
        await factory.CreateUserAsync(tenant, elsewhere);
        using var client = factory.Internal();
        await ApiAssert.OkAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestMagicLink,
            new RequestMagicLink(tenant.Id, onDomain, null) { Domain = domain.ToUpperInvariant() }), 202);
        // A domain that is not the tenant's (another tenant's, or none at all) never makes it into a mail.
        await ApiAssert.OkAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestMagicLink,
            new RequestMagicLink(tenant.Id, elsewhere, null) { Domain = "phish.example.net" }), 202);

        var mail = await fixture.MailToAsync(onDomain, EmailKinds.MagicLink);
        Assert.Contains($"http://{domain}{EmailLinkPaths.MagicLink}?token=", mail.Text, StringComparison.Ordinal);
        var other = await fixture.MailToAsync(elsewhere, EmailKinds.MagicLink);
        Assert.Contains($"{factory.PublicBaseUrl}/t/{tenant.Slug}{EmailLinkPaths.MagicLink}?token=", other.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("phish", other.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvitationsAndAddressChecks_PointAtTheTenantsPrimaryDomain()
    {
        var factory = fixture.Admin;
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var domain = $"id-{Guid.NewGuid().ToString("N")[..10]}.acme.example";
        var added = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/custom-domains", new { domain }), 201))["data"]!;
        fixture.Dns.Publish(added["dnsRecords"]!);
        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/custom-domains/{added["id"]}/verify", null));

        // Verified but not primary: links stay on the deployment's host.
        var before = $"before@{tenant.Slug}.example.com";
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = before }), 201);
        Assert.Contains($"{factory.PublicBaseUrl}/t/{tenant.Slug}{EmailLinkPaths.Invitation}?token=",
            (await fixture.MailToAsync(before, EmailKinds.Invitation)).Text, StringComparison.Ordinal);

        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/custom-domains/{added["id"]}/primary", null));
        var invited = $"invited@{tenant.Slug}.example.com";
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = invited }), 201);
        Assert.Contains($"http://{domain}{EmailLinkPaths.Invitation}?token=", (await fixture.MailToAsync(invited, EmailKinds.Invitation)).Text, StringComparison.Ordinal);

        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { emailVerificationRequired = true } }));
        var registered = $"registered@{tenant.Slug}.example.com";
        await factory.CreateUserAsync(tenant, registered, "a password 1234", "Reg");
        Assert.Contains($"http://{domain}{EmailLinkPaths.EmailVerification}?token=",
            (await fixture.MailToAsync(registered, EmailKinds.EmailVerification)).Text, StringComparison.Ordinal);
    }
}
