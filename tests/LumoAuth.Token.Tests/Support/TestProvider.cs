using System.Security.Cryptography;
using System.Text.Json;
using LumoAuth.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests.Support;

/// <summary>An OpenID provider on the suite's site: discovery, keys, a token endpoint answering the next code, and ID tokens to present elsewhere.</summary>
public sealed class TestProvider
{
    /// <summary>Our client at the provider: the audience of its ID tokens.</summary>
    public const string ClientId = "lumo-at-idp";

    private static readonly JsonWebTokenHandler Tokens = new() { SetDefaultTimesOnTokenCreation = false };
    private readonly HttpsSite? _site;
    private readonly string _path;
    private readonly SigningCredentials _credentials;

    private TestProvider(HttpsSite? site, string issuer, string path, SigningCredentials credentials) => (_site, Issuer, _path, _credentials) = (site, issuer, path, credentials);

    public string Issuer { get; }

    public static TestProvider Start(HttpsSite site, string name)
    {
        var key = new RsaSecurityKey(RSA.Create(2048)) { KeyId = Guid.NewGuid().ToString("N") };
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(key);
        var issuer = $"{site.Origin}/{name}";
        site.Serve($"/{name}/keys", new SiteAnswer(JsonSerializer.Serialize(new { keys = new[] { new { kty = "RSA", use = "sig", kid = jwk.Kid, n = jwk.N, e = jwk.E } } })));
        site.Serve($"/{name}/.well-known/openid-configuration", new SiteAnswer(JsonSerializer.Serialize(new
        {
            issuer, authorization_endpoint = issuer + "/authorize", token_endpoint = issuer + "/token", jwks_uri = issuer + "/keys",
        })));
        return new TestProvider(site, issuer, "/" + name, new SigningCredentials(key, SecurityAlgorithms.RsaSha256));
    }

    /// <summary>Signs as <paramref name="issuer"/> with a key it never published.</summary>
    public static TestProvider Unpublished(string issuer) =>
        new(null, issuer, string.Empty, new SigningCredentials(new RsaSecurityKey(RSA.Create(2048)) { KeyId = Guid.NewGuid().ToString("N") }, SecurityAlgorithms.RsaSha256));

    /// <summary>The token endpoint's answer to the next code: an ID token with <paramref name="claims"/> (issuer, audience and times filled in unless given).</summary>
    public void AnswerCode(Dictionary<string, object> claims, TestProvider? signer = null) =>
        _site!.Serve($"{_path}/token", new SiteAnswer(JsonSerializer.Serialize(new { access_token = "upstream-access", token_type = "Bearer", id_token = IdToken(claims, signer) })));

    /// <summary>An ID token with <paramref name="claims"/> (issuer, audience and times filled in unless given), signed by this provider's key or <paramref name="signer"/>'s.</summary>
    public string IdToken(Dictionary<string, object> claims, TestProvider? signer = null)
    {
        var now = DateTimeOffset.UtcNow;
        var payload = new Dictionary<string, object>
        {
            ["iss"] = Issuer, ["aud"] = ClientId, ["iat"] = now.ToUnixTimeSeconds(), ["exp"] = now.AddMinutes(5).ToUnixTimeSeconds(),
        };
        foreach (var (name, value) in claims)
        {
            payload[name] = value;
        }

        return Tokens.CreateToken(JsonSerializer.Serialize(payload), (signer ?? this)._credentials);
    }
}
