using LumoAuth.Admin.Security;
using LumoAuth.Testing;
using Microsoft.AspNetCore.Hosting;

namespace LumoAuth.Admin.Tests;

/// <summary>Production refuses to hash passwords more weakly than recommended unless told so on purpose; elsewhere it only warns.</summary>
public sealed class PasswordHashingOptionsTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private sealed class Environment(string name) : Microsoft.Extensions.Hosting.IHostEnvironment
    {
        public string EnvironmentName { get; set; } = name;

        public string ApplicationName { get; set; } = "admin";

        public string ContentRootPath { get; set; } = "/";

        public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = new Microsoft.Extensions.FileProviders.NullFileProvider();
    }

    [Theory]
    [InlineData("Production", 100_000, false, true)]
    [InlineData("Production", 100_000, true, false)]
    [InlineData("Production", PasswordHashingOptions.RecommendedIterations, false, false)]
    [InlineData("Development", 1_000, false, false)]
    [InlineData("Staging", 1_000, false, false)]
    [InlineData("Development", 0, true, true)]
    public void Iterations_BelowTheRecommendation_AreRefusedInProductionOnly_UnlessAllowed(string environment, int iterations, bool allowed, bool refused) =>
        Assert.Equal(refused, new PasswordHashingOptions { Iterations = iterations, AllowBelowRecommended = allowed }.Problem(new Environment(environment)) is not null);

    [Fact]
    public void AProductionHost_WithTheTestsLowIterations_DoesNotStart()
    {
        using var production = factory.WithWebHostBuilder(builder => builder.UseEnvironment("Production"));
        var error = Assert.ThrowsAny<Exception>(() => production.Services);
        Assert.Contains("Admin:PasswordHashing", error.ToString(), StringComparison.Ordinal);
    }
}
