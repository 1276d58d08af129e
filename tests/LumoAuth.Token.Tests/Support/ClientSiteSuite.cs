using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Testing;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Protocol;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.Tests.Support;

/// <summary>
/// A token service that fetches what clients publish (Client ID Metadata Documents, key sets, sector documents) from a local
/// https site it trusts, with a clock the test moves.
/// </summary>
public sealed class ClientSiteSuite : TokenSuite
{
    public HttpsSite Site { get; } = new();

    public MovableClock Clock { get; } = new();

    protected override IDictionary<string, string?> TokenSettings => new Dictionary<string, string?> { ["Token:AllowPrivateLogoutTargets"] = "true" };

    protected override Task BeforeTokenAsync() => Site.StartAsync();

    protected override void ConfigureTokenServices(IServiceCollection services)
    {
        UseClock(services, Clock);
        services.AddHttpClient(ClientMetadataDocuments.HttpClientName).ConfigurePrimaryHttpMessageHandler(Site.TrustingHandler);
        services.AddHttpClient(OpenIdProviders.HttpClientName).ConfigurePrimaryHttpMessageHandler(Site.TrustingHandler);
        services.AddHttpClient(RequestObjectReferences.HttpClientName).ConfigurePrimaryHttpMessageHandler(Site.TrustingHandler);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Site.DisposeAsync();
    }
}
