using LumoAuth.Testing;

namespace LumoAuth.Token.Tests.Support;

/// <summary>
/// One <see cref="TokenSuite"/> for test classes that only create tenants of their own and never cut admin off: each suite
/// starts an admin and a token service, which on two cores costs more than the tests themselves, so these share one
/// (and run one after another, as a collection does).
/// </summary>
[RunsLong(270)]
[CollectionDefinition(Name)]
public sealed class SharedTokenSuite : ICollectionFixture<TokenSuite>
{
    public const string Name = "Shared token suite";
}
