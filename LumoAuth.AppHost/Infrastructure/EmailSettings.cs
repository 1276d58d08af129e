namespace LumoAuth.AppHost.Infrastructure;

public static class EmailSettings
{
    private static readonly string[] PlainKeys = ["Host", "Port", "Sender", "Security", "UserName", "Timeout"];

    /// <summary>
    /// Optional: hands the AppHost's <c>Email</c> section to the service (no section, no mail delivery). The
    /// SMTP password travels only as the secret parameter <c>email-password</c> (<c>Parameters:email-password</c>).
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithEmailSettings(this IResourceBuilder<ProjectResource> project, IDistributedApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection("Email");
        foreach (var key in PlainKeys)
        {
            if (section[key] is { Length: > 0 } value)
            {
                project.WithEnvironment($"Email__{key}", value);
            }
        }

        if (!string.IsNullOrEmpty(builder.Configuration["Parameters:email-password"]))
        {
            project.WithEnvironment("Email__Password", builder.AddParameter("email-password", secret: true));
        }

        return project;
    }
}
