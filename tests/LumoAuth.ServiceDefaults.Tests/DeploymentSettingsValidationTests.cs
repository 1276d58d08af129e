using LumoAuth.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>A deployment setting that cannot work stops the process at start, naming the setting, rather than failing requests later.</summary>
public sealed class DeploymentSettingsValidationTests
{
    private static LumoAuthOptions Resolve(bool service, params (string Key, string Value)[] settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = "127.0.0.1:1,abortConnect=false",
        });
        builder.Configuration.AddInMemoryCollection(settings.ToDictionary(s => s.Key, s => (string?)s.Value));
        builder.AddServiceDefaults();
        if (service)
        {
            builder.AddTenantServices();
        }

        using var host = builder.Build();
        return host.Services.GetRequiredService<IOptions<LumoAuthOptions>>().Value;
    }

    [Theory]
    [InlineData("https://auth.example.com:84430")]
    [InlineData("ftp://auth.example.com")]
    [InlineData("https://auth.example.com?x")]
    [InlineData("https://auth.example.com/#x")]
    [InlineData("auth.example.com")]
    public void PublicBaseUrl_ThatIsNoHttpUrl_IsRefused(string value)
    {
        var refused = Assert.Throws<OptionsValidationException>(() => Resolve(false, ("LumoAuth:PublicBaseUrl", value)));
        Assert.Contains("LumoAuth:PublicBaseUrl", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://auth.example.com")]
    [InlineData("https://auth.example.com/")]
    [InlineData("https://example.com/auth")]
    [InlineData("http://127.0.0.1:8080")]
    public void PublicBaseUrl_ThatIsAnHttpUrl_IsTaken(string value) =>
        Assert.Equal(value, Resolve(false, ("LumoAuth:PublicBaseUrl", value)).PublicBaseUrl);

    [Fact]
    public void InternalKey_IsRequiredOfTheServices_NotOfTheGateway()
    {
        Assert.Equal(string.Empty, Resolve(false).InternalKey);

        var refused = Assert.Throws<OptionsValidationException>(() => Resolve(true));
        Assert.Contains("LumoAuth:InternalKey", refused.Message, StringComparison.Ordinal);
        Assert.Throws<OptionsValidationException>(() => Resolve(true, ("LumoAuth:InternalKey", new string('k', 31))));
        Assert.Equal(64, Resolve(true, ("LumoAuth:InternalKey", new string('k', 64))).InternalKey.Length);
    }
}
