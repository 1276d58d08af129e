using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LumoAuth.AppHost.Infrastructure;

/// <summary>
/// Development only: once the gateway is ready, creates a <c>demo</c> tenant through the public API
/// (admin user, API key, a confidential client), keeps its one-time secrets in <c>.lumoauth/apphost/demo.json</c>
/// and logs how to call it, reading them from there.
/// </summary>
public static class DemoTenant
{
    private const string Slug = "demo";
    private static readonly string[] ClientCredentialsOnly = ["client_credentials"];

    public static void Configure(IDistributedApplicationBuilder builder, IResourceBuilder<ProjectResource> gateway, DeploymentSettings settings)
    {
        builder.Eventing.Subscribe<ResourceReadyEvent>(gateway.Resource, async (@event, cancellationToken) =>
        {
            var logger = @event.Services.GetRequiredService<ILoggerFactory>().CreateLogger("LumoAuth.Demo");
            try
            {
                var file = Path.Combine(settings.StateDirectory, "demo.json");
                var demo = await EnsureAsync(settings, file, cancellationToken);
                logger.LogInformation("{Instructions}", Instructions(settings.PublicBaseUrl, file, demo));
            }
            catch (Exception ex) when (ex is HttpRequestException or JsonException or InvalidOperationException)
            {
                logger.LogWarning(ex, "Seeding the demo tenant failed");
            }
        });
    }

    private static async Task<JsonObject> EnsureAsync(DeploymentSettings settings, string file, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = new Uri(settings.PublicBaseUrl) };
        http.DefaultRequestHeaders.Add("X-Platform-Key", settings.PlatformKey);

        using var existing = await http.GetAsync(new Uri($"/api/v1/tenants/{Slug}", UriKind.Relative), cancellationToken);
        if (existing.StatusCode == HttpStatusCode.OK && File.Exists(file))
        {
            return JsonNode.Parse(await File.ReadAllTextAsync(file, cancellationToken))!.AsObject();
        }

        if (existing.StatusCode == HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"Tenant '{Slug}' exists but {file} is gone; delete .lumoauth/apphost/servers to start afresh.");
        }

        var password = DeploymentSettings.StoredSecret(settings.StateDirectory, "demo-admin-password");
        using var created = await http.PostAsJsonAsync(new Uri("/api/v1/tenants", UriKind.Relative), new
        {
            slug = Slug, name = "Demo", adminEmail = "admin@demo.example.com", adminPassword = password, adminName = "Demo Admin",
        }, cancellationToken);
        created.EnsureSuccessStatusCode();
        var tenant = (await created.Content.ReadFromJsonAsync<JsonObject>(cancellationToken))!["data"]!;
        var apiKey = tenant["apiKey"]!["key"]!.GetValue<string>();

        using var clientRequest = new HttpRequestMessage(HttpMethod.Post, $"/t/{Slug}/api/v1/admin/clients")
        {
            Content = JsonContent.Create(new { name = "Demo M2M client", isConfidential = true, grantTypes = ClientCredentialsOnly }),
        };
        clientRequest.Headers.Add("X-API-Key", apiKey);
        using var client = await http.SendAsync(clientRequest, cancellationToken);
        client.EnsureSuccessStatusCode();
        var clientData = (await client.Content.ReadFromJsonAsync<JsonObject>(cancellationToken))!["data"]!;

        var demo = new JsonObject
        {
            ["tenant"] = Slug,
            ["adminEmail"] = "admin@demo.example.com",
            ["adminPassword"] = password,
            ["apiKey"] = apiKey,
            ["clientId"] = clientData["clientId"]!.GetValue<string>(),
            ["clientSecret"] = clientData["secret"]!.GetValue<string>(),
        };
        await File.WriteAllTextAsync(file, demo.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), cancellationToken);
        return demo;
    }

    // The secrets stay in the file (logs are collected and kept); the commands read them from it.
    private static string Instructions(string baseUrl, string file, JsonObject demo) => $$"""

        LumoAuth is up. Demo tenant '{{demo["tenant"]}}': its admin password, API key and client secret are in {{file}}.
          secret() { sed -n "s/.*\"$1\": \"\(.*\)\".*/\1/p" '{{file}}'; }
          curl -H "X-API-Key: $(secret apiKey)" {{baseUrl}}/t/demo/api/v1/admin/users
          curl -u "{{demo["clientId"]}}:$(secret clientSecret)" -d grant_type=client_credentials {{baseUrl}}/t/demo/api/v1/oauth/token
          curl {{baseUrl}}/t/demo/api/v1/.well-known/openid-configuration
        """;
}
