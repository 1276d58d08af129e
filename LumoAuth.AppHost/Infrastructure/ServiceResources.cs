using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Hosting;

namespace LumoAuth.AppHost.Infrastructure;

public static class ServiceResources
{
    /// <summary>
    /// A LumoAuth service: its own database (migrated by a one-shot run of the same project with
    /// <c>--migrate</c> before the service starts), Redis, RabbitMQ and the shared settings.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddLumoService<TProject>(
        this IDistributedApplicationBuilder builder, string name, string? database, Infrastructure infra, DeploymentSettings settings)
        where TProject : IProjectMetadata, new()
    {
        var service = builder.AddProject<TProject>(name, o => o.ExcludeLaunchProfile = true)
            .WithHttpEndpoint(name: "http")
            // HTTP/2 for the gateway's forwarded requests, HTTP/1.1 on "http" for everyone else (see Http2Port).
            .WithHttpEndpoint(name: Http2Port.EndpointName)
            .WithLoopbackUrls(http2Port: true)
            .WithSharedSettings(settings)
            .WithReference(infra.Redis).WithReference(infra.RabbitMq)
            .WithHttpHealthCheck("/health", endpointName: "http");
        infra.WaitForServers(service);

        if (database is not null)
        {
            var db = infra.Database(database);
            var migrate = builder.AddProject<TProject>($"{name}-migrate", o => o.ExcludeLaunchProfile = true)
                .WithArgs("--migrate")
                .WithSharedSettings(settings)
                .WithReference(db).WithReference(infra.Redis).WithReference(infra.RabbitMq);
            infra.WaitForServers(migrate);
            service.WithReference(db).WaitForCompletion(migrate);
        }

        return service;
    }

    public static IResourceBuilder<ProjectResource> WithSharedSettings(this IResourceBuilder<ProjectResource> project, DeploymentSettings settings)
    {
        project
            .WithEnvironment("LumoAuth__PublicBaseUrl", settings.PublicBaseUrl)
            .WithEnvironment("LumoAuth__InternalKey", Secret(project, "internal-key", settings.InternalKey))
            .WithEnvironment("LumoAuth__PlatformKey", Secret(project, "platform-key", settings.PlatformKey))
            .WithEnvironment("LumoAuth__KeyEncryptionKey", Secret(project, "key-encryption-key", settings.KeyEncryptionKey))
            .WithEnvironment("LumoAuth__Region", settings.Region)
            .WithEnvironment("Messaging__Prefix", settings.MessagingPrefix);

        // During a key-encryption key rotation (docs/architecture.md, "Secrets at rest").
        for (var i = 0; i < settings.PreviousKeyEncryptionKeys.Count; i++)
        {
            project.WithEnvironment($"LumoAuth__PreviousKeyEncryptionKeys__{i}",
                Secret(project, $"previous-key-encryption-key-{i}", settings.PreviousKeyEncryptionKeys[i]));
        }

        return project;
    }

    /// <summary>The keys travel as secret parameters (one each, shared by every service), which the dashboard masks.</summary>
    private static IResourceBuilder<ParameterResource> Secret(IResourceBuilder<ProjectResource> project, string name, string value) =>
        Secret(project.ApplicationBuilder, name, value);

    /// <inheritdoc cref="Secret(IResourceBuilder{ProjectResource}, string, string)"/>
    public static IResourceBuilder<ParameterResource> Secret(IDistributedApplicationBuilder builder, string name, string value)
    {
        return builder.Resources.OfType<ParameterResource>().FirstOrDefault(p => p.Name == name) is { } existing
            ? builder.CreateResourceBuilder(existing)
            : builder.AddParameter(name, value, secret: true);
    }

    /// <summary>
    /// Services listen on 127.0.0.1 only (not <c>localhost</c>, which also opens [::1]); with <paramref name="http2Port"/>
    /// also on their h2c endpoint's port, which they are told to keep for HTTP/2.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithLoopbackUrls(this IResourceBuilder<ProjectResource> project, bool http2Port = false)
    {
        var http = project.GetEndpoint("http").Property(EndpointProperty.TargetPort);
        if (!http2Port)
        {
            return project.WithEnvironment("ASPNETCORE_URLS", ReferenceExpression.Create($"http://127.0.0.1:{http}"));
        }

        var h2c = project.GetEndpoint(Http2Port.EndpointName).Property(EndpointProperty.TargetPort);
        return project
            .WithEnvironment("ASPNETCORE_URLS", ReferenceExpression.Create($"http://127.0.0.1:{http};http://127.0.0.1:{h2c}"))
            .WithEnvironment(Http2Port.Setting.Replace(":", "__", StringComparison.Ordinal), ReferenceExpression.Create($"{h2c}"));
    }
}
