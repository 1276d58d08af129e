using LumoAuth.Authorization.Engine.Tests.Conformance;
using LumoAuth.Authorization.Storage;
using LumoAuth.Contracts.Internal;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Xunit.Abstractions;

namespace LumoAuth.Authorization.Tests.Conformance;

/// <summary>
/// The same OpenFGA conformance suites (and our YAML-form cases) as the engine tests, run against the
/// PostgreSQL store: tuples written through the service's batch writer (changelog, revision, outbox) and
/// read back through the Npgsql reader. Each case gets a tenant id of its own, so cases cannot see each other.
/// </summary>
public sealed class PostgresConformanceTests(AuthorizationSuite suite, ITestOutputHelper output) : IClassFixture<AuthorizationSuite>
{
    /// <summary>Assertions known to differ on PostgreSQL, keyed "file|test|kind", each with its reason. None today.</summary>
    private static readonly Dictionary<string, string> KnownDifferences = new(StringComparer.Ordinal);

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var testCase in ConformanceFile.Cases.Concat(ConformanceFile.ProductCases))
        {
            data.Add(testCase.File, testCase.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Conformance_OnPostgres(string file, string name)
    {
        var tenant = new TenantInfo(Guid.NewGuid(), "conformance", "Conformance", TenantStatuses.Active, "us");
        var store = new PostgresTupleStore(
            suite.Authorization.Services.GetRequiredService<IServiceScopeFactory>(),
            suite.Authorization.Services.GetRequiredService<NpgsqlDataSource>(),
            tenant);
        var outcomes = await ConformanceRunner.RunAsync(ConformanceFile.Find(file, name), store);

        Assert.NotEmpty(outcomes);
        var unexpected = new List<string>();
        foreach (var group in outcomes.GroupBy(o => o.Kind))
        {
            var key = $"{file}|{name}|{group.Key}";
            var failures = group.Where(o => !o.Passed).ToList();
            if (KnownDifferences.TryGetValue(key, out var reason))
            {
                output.WriteLine($"known difference ({reason}):");
                failures.ForEach(f => output.WriteLine("  " + f.Description));
                if (failures.Count == 0)
                {
                    unexpected.Add($"{key} is listed as a known difference but now passes: remove it from the list");
                }

                continue;
            }

            unexpected.AddRange(failures.Select(f => f.Description));
        }

        Assert.True(unexpected.Count == 0, string.Join(Environment.NewLine, unexpected));
    }
}
