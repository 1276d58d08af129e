using MassTransit;

namespace LumoAuth.Authorization.Tests;

/// <summary>
/// MassTransit names a consumer's queue after its class, under one prefix for every service: two services with consumers
/// of the same class name would share a queue, and each would take the other's messages. (It happened once: the agents
/// service's RoleDeleted consumer had the authorization service's name.)
/// </summary>
public sealed class ConsumerQueueNameTests
{
    [Fact]
    public void NoTwoServices_HaveConsumersOfTheSameName()
    {
        var services = new[]
        {
            typeof(LumoAuth.Agents.Data.AgentsDbContext).Assembly,
            typeof(Data.AuthorizationDbContext).Assembly,
            typeof(LumoAuth.Token.Data.TokenDbContext).Assembly,
            typeof(LumoAuth.Admin.Data.AdminDbContext).Assembly,
            typeof(LumoAuth.Federation.Data.FederationDbContext).Assembly,
        };
        var consumers = services
            .SelectMany(assembly => assembly.GetTypes()
                .Where(t => t is { IsClass: true, IsAbstract: false } && t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IConsumer<>)))
                .Select(t => (Service: assembly.GetName().Name, t.Name)))
            .ToList();

        Assert.True(consumers.Count > 20, $"found only {consumers.Count} consumers");
        var shared = consumers.GroupBy(c => c.Name).Where(g => g.Select(c => c.Service).Distinct().Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(c => c.Service))}").ToList();
        Assert.Empty(shared);
    }
}
