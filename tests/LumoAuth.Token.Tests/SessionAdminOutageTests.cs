using System.Net;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>This token service has no admin to ask (its user directory is unreachable).</summary>
public sealed class SessionAdminOutageTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    [Fact]
    public async Task UserSessions_WhenTheUserDirectoryIsUnreachable_Are503_NotA404()
    {
        using var admin = factory.AdminClient(factory.Acme);
        var path = $"/t/{factory.Acme.Slug}/api/v1/admin/users/{Guid.NewGuid()}/sessions";

        await HttpAssert.EnvelopeAsync(await admin.GetAsync(path), HttpStatusCode.ServiceUnavailable, "service_unavailable");
        await HttpAssert.EnvelopeAsync(await admin.DeleteAsync(path), HttpStatusCode.ServiceUnavailable, "service_unavailable");
    }
}
