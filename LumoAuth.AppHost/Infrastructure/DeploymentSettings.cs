using System.Security.Cryptography;

using LumoAuth.ServiceDefaults.Security;
using Microsoft.Extensions.Configuration;

namespace LumoAuth.AppHost.Infrastructure;

/// <summary>
/// Settings shared by every service. Development secrets are generated once and kept in the ignored
/// <c>.lumoauth/</c> folder, so restarts keep working keys; production sets them as parameters.
/// </summary>
public sealed record DeploymentSettings(
    int GatewayPort, string PublicBaseUrl, string Region, string InternalKey, string GatewayKey, string PlatformKey, bool SeedDemo, string StateDirectory,
    string MessagingPrefix, string KeyEncryptionKey, IReadOnlyList<string> PreviousKeyEncryptionKeys)
{
    public static DeploymentSettings Load(IDistributedApplicationBuilder builder)
    {
        var config = builder.Configuration;
        var port = config.GetValue("LumoAuth:GatewayPort", 8080);
        var state = Path.Combine(RepositoryRoot(builder), ".lumoauth", "apphost");
        Directory.CreateDirectory(state);
        return new DeploymentSettings(
            port,
            config["LumoAuth:PublicBaseUrl"] ?? $"http://127.0.0.1:{port}",
            config["LumoAuth:Region"] ?? "us",
            config["LumoAuth:InternalKey"] ?? StoredSecret(state, "internal-key"),
            config["LumoAuth:GatewayKey"] ?? StoredSecret(state, "gateway-key"),
            config["LumoAuth:PlatformKey"] ?? StoredSecret(state, "platform-key"),
            config.GetValue("LumoAuth:SeedDemo", builder.Environment.EnvironmentName == "Development"),
            state,
            config["LumoAuth:MessagingPrefix"] ?? "lumoauth",
            config["LumoAuth:KeyEncryptionKey"] ?? StoredSecret(state, "key-encryption-key"),
            KeyEncryptionKeys.PreviousSecrets(config));
    }

    public static string RepositoryRoot(IDistributedApplicationBuilder builder) =>
        Path.GetFullPath(Path.Combine(builder.AppHostDirectory, ".."));

    public static string StoredSecret(string directory, string name, string prefix = "")
    {
        var path = Path.Combine(directory, name);
        if (!File.Exists(path))
        {
            File.WriteAllText(path, prefix + Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant());
        }

        return File.ReadAllText(path).Trim();
    }
}
