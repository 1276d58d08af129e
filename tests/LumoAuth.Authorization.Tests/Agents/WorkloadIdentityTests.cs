using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Authorization.Tests.Agents;

/// <summary>
/// Workload identity federation: an agent proves who it is with the token its platform gave it (Kubernetes, AWS, Google,
/// Azure, any OpenID Connect issuer), exchanged at the token endpoint for an access token of its own client without any
/// secret — only when the issuer's keys sign it, it is current, and its audience and claims pin that agent's workload.
/// The issuers are a local https site serving discovery documents and key sets.
/// </summary>
public sealed class WorkloadIdentityTests(AgentsSuite suite) : IClassFixture<AgentsSuite>
{
    private const string TokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange";
    private const string JwtType = "urn:ietf:params:oauth:token-type:jwt";
    private const string Audience = "https://lumoauth.test/agents";

    [Fact]
    public async Task AKubernetesPod_ExchangesItsServiceAccountToken_WithoutASecret_AndIsDescribedAtUserInfo()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var cluster = Issuer.Start(suite.Issuers, "k8s");
        using var admin = suite.AdminClientFor(tenant);
        var created = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new
        {
            name = "Researcher",
            identityType = "workload_identity",
            capabilities = new[] { "documents:read" },
            budgetPolicy = new { maxApiCallsPerHour = 100 },
            workloadIdentity = new { provider = "kubernetes", issuer = cluster.Url, audience = Audience, @namespace = "agents", serviceAccount = "researcher" },
        }), 201))["data"]!;
        var agentId = created["id"]!.GetValue<string>();
        var clientId = created["clientId"]!.GetValue<string>();
        Assert.Equal("workload_identity", created["identityType"]!.GetValue<string>());
        // No secret: the platform's token stands for it.
        Assert.Null(created["clientSecret"]);
        Assert.Equal("kubernetes", created["workloadIdentity"]!["provider"]!.GetValue<string>());
        Assert.Equal("researcher", created["workloadIdentity"]!["serviceAccount"]!.GetValue<string>());

        var podToken = cluster.Token(new() { ["sub"] = "system:serviceaccount:agents:researcher", ["aud"] = new[] { Audience } });
        var answer = await ApiAssert.OkAsync(await ExchangeAsync(tenant, podToken, "kubernetes"));
        Assert.Equal("urn:ietf:params:oauth:token-type:access_token", answer["issued_token_type"]!.GetValue<string>());
        Assert.Equal("Bearer", answer["token_type"]!.GetValue<string>());
        // No longer than the pod's token (10 minutes here), though the client's tokens may live an hour.
        Assert.InRange(answer["expires_in"]!.GetValue<int>(), 540, 600);
        var accessToken = answer["access_token"]!.GetValue<string>();
        var issued = new JsonWebToken(accessToken);
        Assert.Equal("at+jwt", issued.Typ);
        Assert.Equal(clientId, issued.Subject);
        Assert.Equal(clientId, issued.GetClaim("client_id").Value);
        Assert.Equal(agentId, issued.GetClaim("agent_id").Value);
        Assert.Equal("Researcher", issued.GetClaim("agent_name").Value);
        Assert.Equal("kubernetes:system:serviceaccount:agents:researcher", issued.GetClaim("workload_identity").Value);

        // The token is the agent's own: the agent endpoints take it, and userinfo describes the agent.
        using (var asAgent = suite.AgentClient(accessToken))
        {
            var me = await ApiAssert.OkAsync(await asAgent.GetAsync($"{tenant.Api}/agents/me"));
            Assert.Equal(agentId, me["identity"]!["id"]!.GetValue<string>());
        }

        var info = await UserInfoAsync(tenant, accessToken);
        Assert.Equal(clientId, info["sub"]!.GetValue<string>());
        Assert.Equal(agentId, info["agent_id"]!.GetValue<string>());
        Assert.Equal("agent", info["identity_type"]!.GetValue<string>());
        Assert.Equal("Researcher", info["name"]!.GetValue<string>());
        Assert.Equal("kubernetes:system:serviceaccount:agents:researcher", info["workload_identity"]!.GetValue<string>());
        Assert.Equal(["documents:read"], info["capabilities"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal(tenant.Slug, info["tenant"]!.GetValue<string>());
        Assert.Equal(100, info["budget_policy"]!["max_api_calls_per_hour"]!.GetValue<int>());

        // Every way the token can be wrong is the documented 401.
        await FailsAsync(tenant, cluster.Token(new() { ["sub"] = "system:serviceaccount:agents:researcher", ["aud"] = new[] { "https://elsewhere.test" } }), "kubernetes", "audience");
        await FailsAsync(tenant, cluster.Token(new() { ["sub"] = "system:serviceaccount:agents:intruder", ["aud"] = new[] { Audience } }), "kubernetes", "No agent");
        await FailsAsync(tenant, cluster.Token(new() { ["sub"] = "system:serviceaccount:other:researcher", ["aud"] = new[] { Audience } }), "kubernetes", "No agent");
        await FailsAsync(tenant, cluster.Token(new() { ["sub"] = "system:serviceaccount:agents:researcher", ["aud"] = Audience }, lifetime: TimeSpan.FromMinutes(-5)), "kubernetes", "expired");
        await FailsAsync(tenant, cluster.Token(new() { ["sub"] = "system:serviceaccount:agents:researcher", ["aud"] = Audience }, expires: false), "kubernetes", "expiry");
        await FailsAsync(tenant, Issuer.Unpublished(cluster.Url).Token(new() { ["sub"] = "system:serviceaccount:agents:researcher", ["aud"] = Audience }), "kubernetes", "signature");
        await FailsAsync(tenant, cluster.HmacToken(new() { ["sub"] = "system:serviceaccount:agents:researcher", ["aud"] = Audience }), "kubernetes", "asymmetric");
        await FailsAsync(tenant, Issuer.Unpublished("https://127.0.0.1:1/unknown").Token(new() { ["sub"] = "x", ["aud"] = Audience }), "kubernetes", "issuer");
        // The right token named as another platform's finds no trust.
        await FailsAsync(tenant, podToken, "aws", "issuer");
        await FailsAsync(tenant, "not-a-jwt", "kubernetes", "JWT");
        // Another tenant trusts nothing of this cluster: the same token is nothing there.
        await FailsAsync(await suite.Admin.CreateTenantAsync(), podToken, "kubernetes", "issuer");

        // The request's own mistakes are invalid_request (and friends), before any token is looked at.
        await ErrorAsync(await ExchangeAsync(tenant, podToken, null), 400, "invalid_request");
        await ErrorAsync(await ExchangeAsync(tenant, podToken, "mainframe"), 400, "invalid_request");
        await ErrorAsync(await ExchangeAsync(tenant, podToken, "kubernetes", new() { ["client_secret"] = "guess" }), 400, "invalid_request");
        await ErrorAsync(await ExchangeAsync(tenant, podToken, "kubernetes", new() { ["actor_token"] = podToken, ["actor_token_type"] = JwtType }), 400, "invalid_request");
        await ErrorAsync(await ExchangeAsync(tenant, podToken, "kubernetes", new() { ["resource"] = "https://api.example.com" }), 400, "invalid_target");
        await ErrorAsync(await ExchangeAsync(tenant, podToken, "kubernetes", new() { ["requested_token_type"] = "urn:ietf:params:oauth:token-type:id_token" }), 400, "invalid_request");
        await ErrorAsync(await ExchangeAsync(tenant, podToken, "kubernetes", new() { ["scope"] = "admin:write" }), 400, "invalid_scope");
        await ErrorAsync(await ExchangeAsync(tenant, podToken, "kubernetes", new() { ["client_id"] = "agt_someone_else" }), 400, "invalid_request");
        await ErrorAsync(await ExchangeAsync(tenant, new string('a', 20_000), "kubernetes"), 400, "invalid_request");
        using (var repeated = await SendAsync(tenant, $"grant_type={Uri.EscapeDataString(TokenExchange)}&subject_token_type={Uri.EscapeDataString(JwtType)}&subject_issuer=kubernetes&subject_issuer=aws&subject_token={podToken}"))
        {
            await ErrorAsync(repeated, 400, "invalid_request");
        }

        // Another agent that names a key set of its own for the same issuer cannot vouch for this agent's workload.
        var impostor = Issuer.Start(suite.Issuers, "impostor-" + Guid.NewGuid().ToString("N")[..6]);
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new
        {
            name = "Impostor",
            identityType = "workload_identity",
            workloadIdentity = new { provider = "kubernetes", issuer = cluster.Url, jwksUri = impostor.KeysUrl, audience = Audience, @namespace = "agents", serviceAccount = "impostor" },
        }), 201);
        await FailsAsync(tenant, impostor.As(cluster.Url).Token(new() { ["sub"] = "system:serviceaccount:agents:researcher", ["aud"] = Audience }), "kubernetes", "No agent");

        // Disabled, the agent gets nothing for its workload; enabled, it does again.
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { isActive = false }));
        await FailsAsync(tenant, podToken, "kubernetes", "disabled");
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { isActive = true }));
        await ApiAssert.OkAsync(await ExchangeAsync(tenant, podToken, "kubernetes"));

        // Moved to another service account, the old one's tokens stop working at once.
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new
        {
            workloadIdentity = new { provider = "kubernetes", issuer = cluster.Url, audience = Audience, @namespace = "agents", serviceAccount = "researcher-v2" },
        }));
        await FailsAsync(tenant, podToken, "kubernetes", "No agent");
        await ApiAssert.OkAsync(await ExchangeAsync(tenant, cluster.Token(new() { ["sub"] = "system:serviceaccount:agents:researcher-v2", ["aud"] = Audience }), "kubernetes"));

        // Deleted, its token says nothing more at userinfo.
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{tenant.Api}/admin/agents/{agentId}")).StatusCode);
        using var http = suite.Token.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{tenant.Api}/oauth/userinfo");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var gone = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, gone.StatusCode);
        await FailsAsync(tenant, podToken, "kubernetes", "issuer");
    }

    [Fact]
    public async Task EachPlatform_IsPinnedByItsOwnClaims()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.AdminClientFor(tenant);
        var aws = Issuer.Start(suite.Issuers, "aws");
        var gcp = Issuer.Start(suite.Issuers, "gcp", ecdsa: true);
        var azure = Issuer.Start(suite.Issuers, "azure");
        // An issuer without discovery: the agent names its key set.
        var oidc = Issuer.Start(suite.Issuers, "oidc", discovery: false);
        const string role = "arn:aws:iam::123456789012:role/reporting-agent";
        const string serviceAccount = "reporter@analytics-prod.iam.gserviceaccount.com";
        var directory = Guid.NewGuid().ToString();
        var managedIdentity = Guid.NewGuid().ToString();

        async Task<string> AgentAsync(string name, object workload)
        {
            var created = await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new { name, identityType = "workload_identity", workloadIdentity = workload }), 201);
            return created["data"]!["clientId"]!.GetValue<string>();
        }

        var awsClient = await AgentAsync("AWS", new { provider = "aws", issuer = aws.Url, audience = Audience, roleArn = role });
        var gcpClient = await AgentAsync("GCP", new { provider = "gcp", issuer = gcp.Url, audience = Audience, serviceAccountEmail = "Reporter@analytics-prod.iam.gserviceaccount.com", projectId = "analytics-prod" });
        var azureClient = await AgentAsync("Azure", new { provider = "azure", issuer = azure.Url, audience = Audience, tenantId = directory, clientId = managedIdentity });
        var oidcClient = await AgentAsync("OIDC", new { provider = "oidc", issuer = oidc.Url, jwksUri = oidc.KeysUrl, audience = Audience, subject = "svc-reporting" });

        async Task IssuedToAsync(string expectedClient, string token, string provider)
        {
            var answer = await ApiAssert.OkAsync(await ExchangeAsync(tenant, token, provider));
            Assert.Equal(expectedClient, new JsonWebToken(answer["access_token"]!.GetValue<string>()).Subject);
        }

        // AWS outbound identity federation: the role in sub.
        await IssuedToAsync(awsClient, aws.Token(new() { ["sub"] = role, ["aud"] = Audience }), "aws");
        await FailsAsync(tenant, aws.Token(new() { ["sub"] = "arn:aws:iam::123456789012:role/other", ["aud"] = Audience }), "aws", "No agent");

        // Google: a verified e-mail of the service account (its sub is a number).
        await IssuedToAsync(gcpClient, gcp.Token(new() { ["sub"] = "1234567890", ["email"] = serviceAccount, ["email_verified"] = true, ["aud"] = Audience }), "gcp");
        await FailsAsync(tenant, gcp.Token(new() { ["sub"] = "1234567890", ["email"] = serviceAccount, ["email_verified"] = false, ["aud"] = Audience }), "gcp", "No agent");
        await FailsAsync(tenant, gcp.Token(new() { ["sub"] = "1234567890", ["email"] = "else@analytics-prod.iam.gserviceaccount.com", ["email_verified"] = true, ["aud"] = Audience }), "gcp", "No agent");

        // Azure: the directory in tid, the managed identity in azp (v2) or appid (v1).
        await IssuedToAsync(azureClient, azure.Token(new() { ["sub"] = "object-id", ["tid"] = directory, ["azp"] = managedIdentity, ["aud"] = Audience }), "azure");
        await IssuedToAsync(azureClient, azure.Token(new() { ["sub"] = "object-id", ["tid"] = directory, ["appid"] = managedIdentity, ["aud"] = Audience }), "azure");
        await FailsAsync(tenant, azure.Token(new() { ["sub"] = "object-id", ["tid"] = Guid.NewGuid().ToString(), ["azp"] = managedIdentity, ["aud"] = Audience }), "azure", "No agent");

        // Any OpenID Connect issuer: the subject, with keys from the named key set.
        await IssuedToAsync(oidcClient, oidc.Token(new() { ["sub"] = "svc-reporting", ["aud"] = Audience }), "oidc");
        await FailsAsync(tenant, oidc.Token(new() { ["sub"] = "svc-other", ["aud"] = Audience }), "oidc", "No agent");
        Assert.Equal(0, suite.Issuers.Requests("/oidc/.well-known/openid-configuration"));

        // An issuer whose discovery document names someone else is not believed (OIDC Discovery §4.3).
        var liar = Issuer.Start(suite.Issuers, "liar");
        suite.Issuers.Serve("/liar/.well-known/openid-configuration", new SiteAnswer(JsonSerializer.Serialize(new { issuer = "https://evil.example", jwks_uri = liar.KeysUrl })));
        await AgentAsync("Liar", new { provider = "oidc", issuer = liar.Url, audience = Audience, subject = "svc" });
        await ErrorAsync(await ExchangeAsync(tenant, liar.Token(new() { ["sub"] = "svc", ["aud"] = Audience }), "oidc"), 503, "temporarily_unavailable");
    }

    [Fact]
    public async Task WorkloadIdentities_AreChecked_AndOneWorkloadAnswersForOneAgent()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.AdminClientFor(tenant);
        const string issuer = "https://127.0.0.1:9/cluster";

        async Task InvalidAsync(object body, string field)
        {
            var error = await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", body), 400, "validation_error");
            Assert.Contains(field, error.ToJsonString(), StringComparison.Ordinal);
        }

        object Workload(object workload) => new { name = "W" + Guid.NewGuid().ToString("N")[..8], identityType = "workload_identity", workloadIdentity = workload };

        await InvalidAsync(new { name = "None", identityType = "workload_identity" }, "workloadIdentity");
        await InvalidAsync(Workload(new { provider = "mainframe", audience = Audience }), "workloadIdentity.provider");
        await InvalidAsync(Workload(new { provider = "kubernetes", issuer, audience = Audience, serviceAccount = "a" }), "workloadIdentity.namespace");
        await InvalidAsync(Workload(new { provider = "kubernetes", issuer, @namespace = "agents", serviceAccount = "a" }), "workloadIdentity.audience");
        await InvalidAsync(Workload(new { provider = "kubernetes", audience = Audience, @namespace = "agents", serviceAccount = "a" }), "workloadIdentity.issuer");
        await InvalidAsync(Workload(new { provider = "kubernetes", issuer = "http://cluster.example", audience = Audience, @namespace = "agents", serviceAccount = "a" }), "workloadIdentity.issuer");
        await InvalidAsync(Workload(new { provider = "kubernetes", issuer, audience = Audience, @namespace = "Agents!", serviceAccount = "a" }), "workloadIdentity.namespace");
        await InvalidAsync(Workload(new { provider = "kubernetes", issuer, audience = Audience, @namespace = "agents", serviceAccount = "a", roleArn = "arn:aws:iam::123456789012:role/x" }), "workloadIdentity.roleArn");
        await InvalidAsync(Workload(new { provider = "aws", issuer, audience = Audience, roleArn = "arn:aws:iam::123:role/x" }), "workloadIdentity.roleArn");
        await InvalidAsync(Workload(new { provider = "gcp", audience = Audience, serviceAccountEmail = "svc@other.iam.gserviceaccount.com", projectId = "analytics-prod" }), "workloadIdentity.projectId");
        await InvalidAsync(Workload(new { provider = "azure", audience = Audience, tenantId = "contoso", clientId = Guid.NewGuid() }), "workloadIdentity.tenantId");
        await InvalidAsync(Workload(new { provider = "oidc", issuer, audience = Audience }), "workloadIdentity.subject");
        await InvalidAsync(Workload(new { provider = "oidc", issuer, jwksUri = "https://127.0.0.1:9/keys?x=1", audience = Audience, subject = "s" }), "workloadIdentity.jwksUri");
        // An unknown field (AWS's region, a misspelt pin) is refused, never ignored.
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents",
            Workload(new { provider = "aws", issuer, audience = Audience, roleArn = "arn:aws:iam::123456789012:role/x", region = "eu-west-1" })), 400, "invalid_request");
        await InvalidAsync(new { name = "Keyed", workloadIdentity = new { provider = "oidc", issuer, audience = Audience, subject = "s" } }, "workloadIdentity");

        // Google's and Azure's issuers are implied.
        var google = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents",
            Workload(new { provider = "gcp", audience = Audience, serviceAccountEmail = "svc@analytics-prod.iam.gserviceaccount.com" })), 201))["data"]!;
        Assert.Equal("https://accounts.google.com", google["workloadIdentity"]!["issuer"]!.GetValue<string>());
        var directory = Guid.NewGuid();
        var azure = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents",
            Workload(new { provider = "azure", audience = Audience, tenantId = directory, clientId = Guid.NewGuid() })), 201))["data"]!;
        Assert.Equal($"https://sts.windows.net/{directory}/", azure["workloadIdentity"]!["issuer"]!.GetValue<string>());

        // One workload, one agent: a second agent for it is a conflict, also by a change.
        var pod = new { provider = "kubernetes", issuer, audience = Audience, @namespace = "agents", serviceAccount = "worker" };
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", Workload(pod)), 201);
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", Workload(pod with { })), 409, "duplicate_resource");
        var other = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", Workload(pod with { serviceAccount = "helper" })), 201))["data"]!;
        await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{other["id"]}", new { workloadIdentity = pod }), 409, "duplicate_resource");

        // Only workload agents have one.
        var keyed = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new { name = "Keyed" }), 201))["data"]!;
        Assert.Null(keyed["workloadIdentity"]);
        await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{keyed["id"]}", new { workloadIdentity = pod with { serviceAccount = "keyed" } }), 400, "validation_error");

        // Another tenant may trust the same workload for an agent of its own.
        var elsewhere = await suite.Admin.CreateTenantAsync();
        using var elsewhereAdmin = suite.AdminClientFor(elsewhere);
        await ApiAssert.OkAsync(await elsewhereAdmin.PostAsJsonAsync($"{elsewhere.Api}/admin/agents", Workload(pod)), 201);
    }

    [Fact]
    public async Task APlatformThatRotatesItsKey_IsFollowed_AndTheRetiredKeySignsNothingMore()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var name = "rotating-" + Guid.NewGuid().ToString("N")[..8];
        var before = Issuer.Start(suite.Issuers, name);
        using var admin = suite.AdminClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new
        {
            name = "Rotating", identityType = "workload_identity",
            workloadIdentity = new { provider = "oidc", issuer = before.Url, audience = Audience, subject = "workload-7" },
        }), 201);
        Dictionary<string, object> Claims() => new() { ["sub"] = "workload-7", ["aud"] = Audience };
        await ApiAssert.OkAsync(await ExchangeAsync(tenant, before.Token(Claims()), "oidc"));

        // The platform publishes a new key set with only its new key (the same issuer and keys URL): a token with the new
        // key's id makes the key set be fetched again, and the old key, gone from it, is no longer believed.
        var after = Issuer.Start(suite.Issuers, name);
        // Key sets are never fetched twice within 30 s (a flood of made-up key ids must not become a flood of fetches).
        suite.Token.Clock.Advance(LumoAuth.ServiceDefaults.Security.OpenIdProviders.RefetchFloor);
        await ApiAssert.OkAsync(await ExchangeAsync(tenant, after.Token(Claims()), "oidc"));
        await FailsAsync(tenant, before.Token(Claims()), "oidc", "signature");
    }

    private async Task FailsAsync(TestTenant tenant, string subjectToken, string provider, string because)
    {
        using var response = await ExchangeAsync(tenant, subjectToken, provider);
        var body = await ErrorAsync(response, 401, "workload_identity_failed");
        Assert.Contains(because, body["error_description"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<JsonObject> ErrorAsync(HttpResponseMessage response, int status, string error)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(error, body["error"]!.GetValue<string>());
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        return body;
    }

    private Task<HttpResponseMessage> ExchangeAsync(TestTenant tenant, string subjectToken, string? provider, Dictionary<string, string>? extra = null)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = TokenExchange, ["subject_token"] = subjectToken, ["subject_token_type"] = JwtType };
        if (provider is not null)
        {
            form["subject_issuer"] = provider;
        }

        foreach (var (name, value) in extra ?? [])
        {
            form[name] = value;
        }

        return SendAsync(tenant, new FormUrlEncodedContent(form));
    }

    private Task<HttpResponseMessage> SendAsync(TestTenant tenant, string rawForm) =>
        SendAsync(tenant, new StringContent(rawForm, System.Text.Encoding.ASCII, "application/x-www-form-urlencoded"));

    private async Task<HttpResponseMessage> SendAsync(TestTenant tenant, HttpContent content)
    {
        using var http = suite.Token.CreateClient();
        return await http.PostAsync($"{tenant.Api}/oauth/token", content);
    }

    private async Task<JsonNode> UserInfoAsync(TestTenant tenant, string accessToken)
    {
        using var http = suite.Token.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{tenant.Api}/oauth/userinfo");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return await ApiAssert.OkAsync(await http.SendAsync(request));
    }

    /// <summary>A platform that signs workload tokens, published on the site under <c>/{name}</c>.</summary>
    private sealed class Issuer
    {
        private static readonly JsonWebTokenHandler Tokens = new() { SetDefaultTimesOnTokenCreation = false };
        private readonly SigningCredentials _credentials;

        private Issuer(string url, string keysUrl, SigningCredentials credentials) => (Url, KeysUrl, _credentials) = (url, keysUrl, credentials);

        public string Url { get; }

        public string KeysUrl { get; }

        public static Issuer Start(HttpsSite site, string name, bool ecdsa = false, bool discovery = true)
        {
            SecurityKey key = ecdsa
                ? new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = Guid.NewGuid().ToString("N") }
                : new RsaSecurityKey(RSA.Create(2048)) { KeyId = Guid.NewGuid().ToString("N") };
            var jwk = key is ECDsaSecurityKey ec ? JsonWebKeyConverter.ConvertFromECDsaSecurityKey(ec) : JsonWebKeyConverter.ConvertFromRSASecurityKey((RsaSecurityKey)key);
            var publicJwk = new Dictionary<string, object?> { ["kty"] = jwk.Kty, ["kid"] = jwk.Kid, ["use"] = "sig" };
            if (ecdsa)
            {
                (publicJwk["crv"], publicJwk["x"], publicJwk["y"]) = (jwk.Crv, jwk.X, jwk.Y);
            }
            else
            {
                (publicJwk["n"], publicJwk["e"]) = (jwk.N, jwk.E);
            }

            var keysUrl = site.Serve($"/{name}/keys", new SiteAnswer(JsonSerializer.Serialize(new { keys = new[] { publicJwk } })));
            var url = site.Origin + "/" + name;
            if (discovery)
            {
                site.Serve($"/{name}/.well-known/openid-configuration", new SiteAnswer(JsonSerializer.Serialize(new { issuer = url, jwks_uri = keysUrl })));
            }

            return new Issuer(url, keysUrl, new SigningCredentials(key, ecdsa ? SecurityAlgorithms.EcdsaSha256 : SecurityAlgorithms.RsaSha256));
        }

        /// <summary>Signs with this issuer's key, naming <paramref name="url"/> as the issuer.</summary>
        public Issuer As(string url) => new(url, KeysUrl, _credentials);

        /// <summary>Signs as <paramref name="url"/> with a key nobody published.</summary>
        public static Issuer Unpublished(string url) =>
            new(url, url + "/keys", new SigningCredentials(new RsaSecurityKey(RSA.Create(2048)) { KeyId = Guid.NewGuid().ToString("N") }, SecurityAlgorithms.RsaSha256));

        /// <param name="lifetime">Until expiry from now (ten minutes unless said).</param>
        /// <param name="expires">False for a token without <c>exp</c> (a legacy service account secret).</param>
        public string Token(Dictionary<string, object> claims, TimeSpan? lifetime = null, bool expires = true) =>
            Tokens.CreateToken(Payload(claims, expires ? lifetime ?? TimeSpan.FromMinutes(10) : null), _credentials, new Dictionary<string, object> { ["typ"] = "JWT" });

        /// <summary>"Signed" with HMAC, the key being the issuer's public key set as text (the classic confusion attack).</summary>
        public string HmacToken(Dictionary<string, object> claims) =>
            Tokens.CreateToken(Payload(claims, TimeSpan.FromMinutes(10)), new SigningCredentials(new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(KeysUrl.PadRight(64, 'k'))), SecurityAlgorithms.HmacSha256));

        private string Payload(Dictionary<string, object> claims, TimeSpan? lifetime)
        {
            var now = DateTimeOffset.UtcNow;
            var payload = new Dictionary<string, object>(claims) { ["iss"] = Url, ["iat"] = now.AddMinutes(-1).ToUnixTimeSeconds() };
            if (lifetime is { } until)
            {
                payload["exp"] = now.Add(until).ToUnixTimeSeconds();
            }

            return JsonSerializer.Serialize(payload);
        }
    }
}
