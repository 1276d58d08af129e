using LumoAuth.ServiceDefaults;

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
            .WithLoopbackUrls()
            .WithSharedSettings(settings)
            .WithReference(infra.Redis).WithReference(infra.RabbitMq)
            .WithHttpHealthCheck("/health");
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

    public static IResourceBuilder<ProjectResource> WithSharedSettings(this IResourceBuilder<ProjectResource> project, DeploymentSettings settings) =>
        project
            .WithEnvironment("LumoAuth__PublicBaseUrl", settings.PublicBaseUrl)
            .WithEnvironment("LumoAuth__InternalKey", settings.InternalKey)
            .WithEnvironment("LumoAuth__PlatformKey", settings.PlatformKey)
            .WithEnvironment("LumoAuth__KeyEncryptionKey", settings.KeyEncryptionKey)
            .WithEnvironment("LumoAuth__Region", settings.Region)
            .WithEnvironment("Messaging__Prefix", settings.MessagingPrefix);

    /// <summary>Services listen on 127.0.0.1 only (not <c>localhost</c>, which also opens [::1]).</summary>
    public static IResourceBuilder<ProjectResource> WithLoopbackUrls(this IResourceBuilder<ProjectResource> project)
    {
        var http = project.GetEndpoint("http");
        return project.WithEnvironment("ASPNETCORE_URLS", ReferenceExpression.Create($"http://127.0.0.1:{http.Property(EndpointProperty.TargetPort)}"));
    }
}
