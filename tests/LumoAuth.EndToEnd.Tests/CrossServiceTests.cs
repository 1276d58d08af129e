using System.Net;
using System.Text.Json.Nodes;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Testing;

namespace LumoAuth.EndToEnd.Tests;

/// <summary>Flows that cross services by events, driven through the gateway only.</summary>
[Collection(SuiteCollection.Name)]
public sealed class CrossServiceTests(SuiteFixture suite)
{
    [Fact]
    public async Task GroupRole_ReachesItsMembers_AndLeavesWithADeletedUser()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);

        // admin: a user and a group
        using var user = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/users", new { email = "member@example.com" }, key);
        var userId = (await ApiAssert.OkAsync(user, 201))["data"]!["id"]!.GetValue<string>();
        using var group = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/groups", new { name = "Engineers" }, key);
        var groupId = (await ApiAssert.OkAsync(group, 201))["data"]!["id"]!.GetValue<string>();

        // authorization: a permission, a role holding it, and the role given to the group
        using var permission = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/permissions", new { name = "Read documents", slug = "document.read" }, key);
        await ApiAssert.OkAsync(permission, 201);
        using var role = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/roles", new { name = "Reader", slug = "reader", permissions = new[] { "document.read" } }, key);
        await ApiAssert.OkAsync(role, 201);
        using var groupRoles = await suite.SendAsync(HttpMethod.Put, $"{tenant.Api}/admin/groups/{groupId}/roles", new { roles = new[] { "reader" } }, key);
        await ApiAssert.OkAsync(groupRoles);

        async Task<bool> AllowedAsync()
        {
            using var check = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/authz/check", new { permission = "document.read", subject = userId }, key);
            return (await ApiAssert.OkAsync(check))["allowed"]!.GetValue<bool>();
        }

        Assert.False(await AllowedAsync());

        // admin: membership → GroupMembershipChanged → authorization honours the group's role
        using var members = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/groups/{groupId}/members", new { userIds = new[] { userId } }, key);
        Assert.True(members.IsSuccessStatusCode, await members.Content.ReadAsStringAsync());
        await ApiAssert.EventuallyAsync(async () => await AllowedAsync() ? "allowed" : null, TimeSpan.FromSeconds(30));

        // admin: deleting the user → UserDeleted → the user's access goes with it
        using var deleted = await suite.SendAsync(HttpMethod.Delete, $"{tenant.Api}/admin/users/{userId}", configure: key);
        Assert.True(deleted.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.OK, await deleted.Content.ReadAsStringAsync());
        await ApiAssert.EventuallyAsync(async () => await AllowedAsync() ? null : "denied", TimeSpan.FromSeconds(30));
    }

    /// <summary>A custom scope's claim takes the user's attribute from admin into the token service's access token, all through the gateway.</summary>
    [Fact]
    public async Task ACustomScopesClaim_CarriesAUsersAttributeFromAdminIntoTheirAccessToken()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        var (email, password) = await suite.CreateUserAsync(tenant, "Carol");
        using var attributes = await suite.SendAsync(HttpMethod.Put, $"{tenant.Api}/admin/users/{email}/attributes", new { costCentre = "CC-42" }, key);
        await ApiAssert.OkAsync(attributes);
        using var scope = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/scopes", new
        {
            name = "finance", description = "Your cost centre", claims = new[] { new { name = "cost_centre", attribute = "costCentre", tokens = new[] { "access_token" } } },
        }, key);
        await ApiAssert.OkAsync(scope, 201);

        var token = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(await suite.UserAccessTokenAsync(tenant, email, password, "openid finance"));
        Assert.Equal("CC-42", token.GetPayloadValue<string>("cost_centre"));
    }

    /// <summary>A user's consents are listed and taken away through the gateway; the application's token then stops working at another service.</summary>
    [Fact]
    public async Task AUsersConsent_IsListedAndRevokedThroughTheGateway_AndTheTokenStopsWorking()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        var (email, password) = await suite.CreateUserAsync(tenant, "Cora");
        var accessToken = await suite.UserAccessTokenAsync(tenant, email, password);
        using var user = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users/{email}", configure: key);
        var userId = (await ApiAssert.OkAsync(user))["data"]!["id"]!.GetValue<string>();

        using var listed = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users/{userId}/consents", configure: key);
        var clientId = (await ApiAssert.OkAsync(listed))["data"]![0]!["clientId"]!.GetValue<string>();
        var tuple = new { @object = "document:1", relation = "viewer", user = "user:a" };
        using var before = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", tuple, SuiteFixture.Bearer(accessToken));
        using var revoked = await suite.SendAsync(HttpMethod.Delete, $"{tenant.Api}/admin/users/{userId}/consents/{clientId}", configure: key);
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);

        // Another service refuses the application's access token from now on (the deny-list), whatever it answered before.
        await ApiAssert.EventuallyAsync(async () =>
        {
            using var after = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", tuple, SuiteFixture.Bearer(accessToken));
            return after.StatusCode == HttpStatusCode.Unauthorized ? "refused" : null;
        });
        Assert.NotEqual(HttpStatusCode.Unauthorized, before.StatusCode);
    }

    /// <summary>An attribute the tenant declares at admin is asked on the token service's registration page and kept at admin.</summary>
    [Fact]
    public async Task ADeclaredAttribute_IsAskedAtRegistration_AndKeptOnTheUser_ThroughTheGateway()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        using var settings = await suite.SendAsync(HttpMethod.Patch, $"{tenant.Api}/admin/settings", new
        {
            userProfile = new
            {
                attributes = new object[]
                {
                    new { name = "team", label = "Team", required = true, onRegistration = true },
                    new { name = "floor", label = "Floor", type = "integer", min = 1, max = 99, onRegistration = true },
                    new { name = "skills", label = "Skills", multiValued = true, onRegistration = true },
                },
            },
        }, key);
        await ApiAssert.OkAsync(settings);

        using var browser = suite.Browser();
        var email = $"reg-{Guid.NewGuid():N}"[..12] + "@example.com";
        async Task<HttpResponseMessage> RegisterAsync(string floor)
        {
            var form = HostedForms.HiddenFields(await browser.GetStringAsync($"/t/{tenant.Slug}/register"));
            form["email"] = email;
            form["password"] = "Br4nd-New-Passw0rd!";
            form["attr_team"] = "Platform";
            form["attr_floor"] = floor;
            form["attr_skills"] = "go\r\nrust\r\ngo";
            return await browser.PostAsync($"/t/{tenant.Slug}/register", new FormUrlEncodedContent(form));
        }

        // A typed attribute's value is checked on the page, in the person's words, before admin is asked.
        using (var refused = await RegisterAsync("0"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("Floor must be at least 1.", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var registered = await RegisterAsync("12");
        Assert.True(registered.StatusCode is HttpStatusCode.OK or HttpStatusCode.SeeOther, await registered.Content.ReadAsStringAsync());

        using var attributes = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users/{email}/attributes", configure: key);
        var kept = (await ApiAssert.OkAsync(attributes))["data"]!["attributes"]!;
        Assert.Equal("Platform", kept["team"]!.GetValue<string>());
        Assert.Equal(12, kept["floor"]!.GetValue<long>());
        Assert.Equal(["go", "rust"], kept["skills"]!.AsArray().Select(v => v!.GetValue<string>()));

        // SCIM's discovery lists the declarations to the tenant's own provisioning key, and keeps them from anyone else.
        const string profile = "urn:ietf:params:scim:schemas:extension:lumoauth:1.0:Profile";
        using var schema = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/scim/v2/Schemas/{profile}", configure: SuiteFixture.Bearer(tenant.ApiKey));
        Assert.Equal(["team", "floor", "skills"], (await ApiAssert.OkAsync(schema))["attributes"]!.AsArray().Select(a => a!["name"]!.GetValue<string>()));
        using var anonymous = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/scim/v2/Schemas/{profile}");
        Assert.Empty((await ApiAssert.OkAsync(anonymous))["attributes"]!.AsArray());
    }

    /// <summary>
    /// A native application's authorization request through the gateway, signed in on the hosted login page: the page the
    /// authorization endpoint shows next (terms, profile completion or consent).
    /// </summary>
    private async Task<string> SignInToAuthorizeAsync(HttpClient browser, TestTenant tenant, string email, string password)
    {
        const string loopback = "http://127.0.0.1:7777/callback";
        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients", new
        {
            name = "Hosted pages app", applicationType = "native", redirectUris = new[] { loopback }, grantTypes = new[] { "authorization_code" }, allowedScopes = new[] { "openid" },
        }, SuiteFixture.ApiKey(tenant.ApiKey));
        var clientId = (await ApiAssert.OkAsync(created, 201))["data"]!["clientId"]!.GetValue<string>();
        var authorize = Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString($"{tenant.Api}/oauth/authorize", new Dictionary<string, string?>
        {
            ["response_type"] = "code", ["client_id"] = clientId, ["redirect_uri"] = loopback, ["scope"] = "openid", ["state"] = "s",
            ["code_challenge"] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", ["code_challenge_method"] = "S256",
        });

        using var toLogin = await browser.GetAsync(authorize);
        var login = HostedForms.HiddenFields(await browser.GetStringAsync(toLogin.Headers.Location!.OriginalString));
        login["email"] = email;
        login["password"] = password;
        using var signedIn = await browser.PostAsync($"/t/{tenant.Slug}/login", new FormUrlEncodedContent(login));
        using var next = await browser.GetAsync(signedIn.Headers.Location!.OriginalString);
        return await next.Content.ReadAsStringAsync();
    }

    /// <summary>
    /// A required attribute declared at admin after the account was made is asked for by the token service's authorization
    /// endpoint before consent, in its group, and the value lands back at admin.
    /// </summary>
    [Fact]
    public async Task AMissingRequiredAttribute_IsAskedBeforeConsent_AndKeptAtAdmin_ThroughTheGateway()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        var (email, password) = await suite.CreateUserAsync(tenant, "Pia");
        using var settings = await suite.SendAsync(HttpMethod.Patch, $"{tenant.Api}/admin/settings", new
        {
            userProfile = new
            {
                groups = new[] { new { name = "work", label = "At work", description = "Your employer asked for these." } },
                attributes = new object[] { new { name = "cost_centre", label = "Cost centre", required = true, pattern = "CC-[0-9]{2}", group = "work" } },
            },
        }, key);
        await ApiAssert.OkAsync(settings);
        using var browser = suite.Browser();
        var profile = await SignInToAuthorizeAsync(browser, tenant, email, password);
        Assert.Contains("profile_decision", profile, StringComparison.Ordinal);
        Assert.Contains("<legend>At work</legend>", profile, StringComparison.Ordinal);

        async Task<string> SaveAsync(string page, string value)
        {
            var form = HostedForms.HiddenPairs(page).Append(new("profile_decision", "save")).Append(new("attr_cost_centre", value));
            using var answer = await browser.PostAsync($"{tenant.Api}/oauth/authorize", new FormUrlEncodedContent(form));
            return await answer.Content.ReadAsStringAsync();
        }

        // A value that does not fit the declaration's pattern is refused on the page, before admin is asked.
        profile = await SaveAsync(profile, "marketing");
        Assert.Contains("Cost centre is not in the expected form.", profile, StringComparison.Ordinal);
        Assert.Contains("consent_decision", await SaveAsync(profile, "CC-42"), StringComparison.Ordinal);

        using var attributes = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users/{email}/attributes", configure: key);
        Assert.Equal("CC-42", (await ApiAssert.OkAsync(attributes))["data"]!["attributes"]!["cost_centre"]!.GetValue<string>());
    }

    /// <summary>Terms of service set at admin are asked for by the token service's hosted pages, and the acceptance lands back at admin.</summary>
    [Fact]
    public async Task TermsOfService_SetAtAdmin_AreAcceptedOnTheHostedPage_AndRecordedAtAdmin()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        using var settings = await suite.SendAsync(HttpMethod.Patch, $"{tenant.Api}/admin/settings",
            new { termsOfService = new { url = "https://legal.example.com/terms", version = "2026-12" } }, key);
        await ApiAssert.OkAsync(settings);
        var (email, password) = await suite.CreateUserAsync(tenant, "Tess");
        using var browser = suite.Browser();
        var terms = await SignInToAuthorizeAsync(browser, tenant, email, password);
        Assert.Contains("terms_decision", terms, StringComparison.Ordinal);
        var accept = HostedForms.HiddenPairs(terms).Append(new("terms_decision", "accept"));
        using var consent = await browser.PostAsync($"{tenant.Api}/oauth/authorize", new FormUrlEncodedContent(accept));
        Assert.Contains("consent_decision", await consent.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var user = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users/{email}", configure: key);
        Assert.Equal("2026-12", (await ApiAssert.OkAsync(user))["data"]!["termsAcceptedVersion"]!.GetValue<string>());
    }

    /// <summary>
    /// An agent across the real processes: registered at the agents service (its database migrated by the AppHost), its
    /// role written at the authorization service, its key answered by /agents/me and the Ask API, its answer in admin's
    /// audit log, and its deletion taking its role away by event.
    /// </summary>
    [Fact]
    public async Task Agent_IsRegistered_AsksWithItsKey_IsAudited_AndLosesItsRoleWhenDeleted()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        using var permission = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/permissions", new { name = "Search the web", slug = "web.search" }, key);
        await ApiAssert.OkAsync(permission, 201);
        using var role = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/roles", new { name = "Researcher", slug = "researcher", permissions = new[] { "web.search" } }, key);
        await ApiAssert.OkAsync(role, 201);

        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/agents", new { name = "Scout", type = "ai_assistant", roles = new[] { "researcher" } }, key);
        var agent = (await ApiAssert.OkAsync(created, 201))["data"]!;
        var agentId = agent["id"]!.GetValue<string>();
        var agentKey = SuiteFixture.Bearer(agent["apiKey"]!.GetValue<string>());

        using var me = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/agents/me", configure: agentKey);
        Assert.Equal(agentId, (await ApiAssert.OkAsync(me))["identity"]!["id"]!.GetValue<string>());
        using var asked = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/agents/ask", new { action = "web.search" }, agentKey);
        var answer = await ApiAssert.OkAsync(asked);
        Assert.True(answer["allowed"]!.GetValue<bool>());
        var auditId = answer["audit_id"]!.GetValue<string>();
        await ApiAssert.EventuallyAsync(async () =>
        {
            using var entry = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/audit-logs/{auditId}", configure: key);
            return entry.StatusCode == HttpStatusCode.OK ? "audited" : null;
        }, TimeSpan.FromSeconds(30));

        async Task<bool> AllowedAsync()
        {
            using var check = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/authz/check", new { permission = "web.search", subject = $"agent:{agentId}" }, key);
            return (await ApiAssert.OkAsync(check))["allowed"]!.GetValue<bool>();
        }

        Assert.True(await AllowedAsync());
        using var deleted = await suite.SendAsync(HttpMethod.Delete, $"{tenant.Api}/admin/agents/{agentId}", configure: key);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var gone = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/agents/me", configure: agentKey);
        await ApiAssert.ErrorAsync(gone, 401, "invalid_token");
        await ApiAssert.EventuallyAsync(async () => await AllowedAsync() ? null : "denied", TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// JIT and MCP across the real processes: the agents service has the token service sign a JIT token, which the token
    /// service's introspection takes until the task completes; and the token service reads an MCP server from the agents
    /// service to bind a client-credentials token to it.
    /// </summary>
    /// <summary>
    /// AAuth across the real gateway: agents and resources registered with the agents service, a resource token and a
    /// person's consent on the token service's page, the code exchanged by the agent's signed request, and an auth token
    /// the tenant's published keys verify.
    /// </summary>
    [Fact]
    public async Task AAuth_AgentGetsAPersonsConsent_AndAKeyBoundAuthToken_ThroughTheGateway()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        var (email, password) = await suite.CreateUserAsync(tenant, "Alice");
        using var agent = AAuthParty.Ed25519("https://mail-agent.example.com");
        using var resource = AAuthParty.P256("https://mail.example.com");
        const string callback = "https://mail-agent.example.com/callback";
        using (var registered = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/aauth/agents",
            new { name = "Mail agent", identifier = agent.Identifier, jwks = agent.Jwks, allowedScopes = new[] { "email:read" }, redirectUris = new[] { callback } }, key))
        {
            await ApiAssert.OkAsync(registered, 201);
        }

        using (var registered = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/aauth/resources",
            new { name = "Mail", identifier = resource.Identifier, jwks = resource.Jwks, supportedScopes = new[] { "email:read" }, authLevel = "authorized" }, key))
        {
            await ApiAssert.OkAsync(registered, 201);
        }

        using var discovered = await suite.Gateway.GetAsync($"/t/{tenant.Slug}/.well-known/aauth-issuer");
        var metadata = await ApiAssert.OkAsync(discovered);
        var issuer = metadata["issuer"]!.GetValue<string>();
        var agentEndpoint = metadata["agent_token_endpoint"]!.GetValue<string>();
        using var resourceAnswer = await suite.Gateway.SendAsync(resource.SignedPost(metadata["resource_token_endpoint"]!.GetValue<string>(),
            new { resource_identifier = resource.Identifier, audience = issuer }, standard: true, bearer: resource.Identifier));
        var resourceToken = (await ApiAssert.OkAsync(resourceAnswer))["resource_token"]!.GetValue<string>();

        using var asked = await suite.Gateway.SendAsync(agent.SignedPost(agentEndpoint, new { request_type = "auth", resource_token = resourceToken, scope = "email:read", state = "s1" }));
        Assert.Equal(HttpStatusCode.Unauthorized, asked.StatusCode);
        var required = JsonNode.Parse(await asked.Content.ReadAsStringAsync())!;
        var authUrl = new Uri(required["auth_url"]!.GetValue<string>());

        // The person: to the sign-in page and back, then Allow.
        using var browser = suite.Browser();
        using var toLogin = await browser.GetAsync(authUrl.PathAndQuery);
        var login = HostedForms.HiddenFields(await browser.GetStringAsync(toLogin.Headers.Location!.OriginalString));
        login["email"] = email;
        login["password"] = password;
        using var signedIn = await browser.PostAsync($"/t/{tenant.Slug}/login", new FormUrlEncodedContent(login));
        var page = await browser.GetStringAsync(signedIn.Headers.Location!.OriginalString);
        Assert.Contains("Mail agent wants to access Mail", page, StringComparison.Ordinal);
        var decision = HostedForms.HiddenFields(page);
        decision["aauth_decision"] = "accept";
        using var decided = await browser.PostAsync($"/t/{tenant.Slug}/aauth/authorize", new FormUrlEncodedContent(decision));
        var back = decided.Headers.Location!;
        Assert.StartsWith(callback + "?", back.AbsoluteUri, StringComparison.Ordinal);
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(back.Query);
        Assert.Equal("s1", query["state"].ToString());

        using var exchanged = await suite.Gateway.SendAsync(agent.SignedPost(agentEndpoint,
            new { request_type = "code", code = query["code"].ToString(), request_token = required["request_token"]!.GetValue<string>() }));
        var tokens = await ApiAssert.OkAsync(exchanged);
        var jwks = new Microsoft.IdentityModel.Tokens.JsonWebKeySet(await suite.Gateway.GetStringAsync(issuer + "/.well-known/jwks.json"));
        var verified = await new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().ValidateTokenAsync(tokens["access_token"]!.GetValue<string>(),
            new Microsoft.IdentityModel.Tokens.TokenValidationParameters
            {
                ValidIssuer = issuer, ValidAudience = resource.Identifier, IssuerSigningKeys = jwks.GetSigningKeys(), ValidTypes = ["auth+jwt"],
            });
        Assert.True(verified.IsValid, verified.Exception?.Message);
        var authToken = (Microsoft.IdentityModel.JsonWebTokens.JsonWebToken)verified.SecurityToken;
        Assert.Equal(agent.Thumbprint, authToken.GetPayloadValue<System.Text.Json.JsonElement>("cnf").GetProperty("jkt").GetString());
        Assert.Equal("email:read", authToken.GetPayloadValue<string>("scope"));
    }

    [Fact]
    public async Task JitTokens_AndMcpBoundTokens_CrossTheAgentsAndTokenServices()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/agents", new { name = "Worker" }, key);
        var agentKey = SuiteFixture.Bearer((await ApiAssert.OkAsync(created, 201))["data"]!["apiKey"]!.GetValue<string>());
        using var task = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/jit/task", new { name = "e2e" }, agentKey);
        var taskId = (await ApiAssert.OkAsync(task, 201))["task_id"]!.GetValue<string>();
        using var asked = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/jit/request",
            new { task_id = taskId, authorization_details = new { type = "file_access", actions = new[] { "read" } } }, agentKey);
        var tokenUrl = (await ApiAssert.OkAsync(asked))["token_url"]!.GetValue<string>();
        using var issued = await suite.SendAsync(HttpMethod.Post, tokenUrl, configure: agentKey);
        var jitToken = (await ApiAssert.OkAsync(issued))["access_token"]!.GetValue<string>();

        var (clientId, secret, _) = await suite.ClientTokenAsync(tenant);
        async Task<bool> ActiveAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/oauth/introspect")
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = jitToken, ["client_id"] = clientId, ["client_secret"] = secret }),
            };
            using var response = await suite.Gateway.SendAsync(request);
            return (await ApiAssert.OkAsync(response))["active"]!.GetValue<bool>();
        }

        Assert.True(await ActiveAsync());
        using var completed = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/jit/task/{taskId}/complete", configure: agentKey);
        await ApiAssert.OkAsync(completed);
        Assert.False(await ActiveAsync());

        using var server = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/mcp-servers",
            new { name = "Search", resource_uri = "https://mcp.example.com/search", token_lifetime = 300 }, key);
        await ApiAssert.OkAsync(server, 201);
        using var bound = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/oauth/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = secret, ["resource"] = "https://mcp.example.com/search",
            }),
        };
        using var boundResponse = await suite.Gateway.SendAsync(bound);
        var granted = await ApiAssert.OkAsync(boundResponse);
        Assert.InRange(granted["expires_in"]!.GetValue<int>(), 290, 300);
        var aud = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(granted["access_token"]!.GetValue<string>()).Audiences;
        Assert.Equal(["https://mcp.example.com/search"], aud);
    }

    /// <summary>
    /// The scope-based JIT design across the gateway: the agent's own token opens a task of scopes at the agents service,
    /// a person approves the critical one, and the token service exchanges the agent's token naming <c>jit_task_id</c>
    /// after asking the agents service to claim the approval.
    /// </summary>
    [Fact]
    public async Task AJitTaskOfScopes_IsApprovedAtTheAgentsService_AndExchangedAtTheTokenService()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/agents",
            new { name = "Payer", identityType = "client_credentials", capabilities = new[] { "payment:*" }, tokenLifetime = 900 }, key);
        var agent = (await ApiAssert.OkAsync(created, 201))["data"]!;
        Assert.Equal(900, agent["tokenLifetime"]!.GetValue<int>());
        var clientId = agent["clientId"]!.GetValue<string>();
        var secret = agent["clientSecret"]!.GetValue<string>();
        async Task<HttpResponseMessage> TokenAsync(Dictionary<string, string> form)
        {
            form["client_id"] = clientId;
            form["client_secret"] = secret;
            using var request = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/oauth/token") { Content = new FormUrlEncodedContent(form) };
            return await suite.Gateway.SendAsync(request);
        }

        using var own = await TokenAsync(new() { ["grant_type"] = "client_credentials" });
        var ownToken = (await ApiAssert.OkAsync(own))["access_token"]!.GetValue<string>();
        // The agent's own token names it, as the docs' agent token does.
        var ownJwt = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(ownToken);
        Assert.Equal("Payer", ownJwt.GetClaim("agent_name").Value);
        // The lifetime given through the agent registry is its client's (held by the token service).
        Assert.Equal(900, (ownJwt.ValidTo - ownJwt.IssuedAt).TotalSeconds);
        var asAgent = SuiteFixture.Bearer(ownToken);
        using var task = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/jit/task",
            new { task_description = "Pay the invoice", required_scopes = new[] { "payment:write" }, duration = 120 }, asAgent);
        var opened = await ApiAssert.OkAsync(task, 201);
        Assert.Equal("pending", opened["status"]!.GetValue<string>());
        var taskId = opened["task_id"]!.GetValue<string>();
        var approvalUrl = opened["approval_url"]!.GetValue<string>();
        using var approved = await suite.SendAsync(HttpMethod.Post, approvalUrl + "/approve", configure: key);
        await ApiAssert.OkAsync(approved);
        using var status = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/jit/status/{taskId}", configure: asAgent);
        Assert.Equal("approved", (await ApiAssert.OkAsync(status))["status"]!.GetValue<string>());

        using var exchanged = await TokenAsync(new()
        {
            ["grant_type"] = "urn:ietf:params:oauth:grant-type:token-exchange",
            ["subject_token"] = ownToken,
            ["subject_token_type"] = "urn:ietf:params:oauth:token-type:access_token",
            ["scope"] = "payment:write",
            ["jit_task_id"] = taskId,
        });
        var answer = await ApiAssert.OkAsync(exchanged);
        Assert.Equal("payment:write", answer["scope"]!.GetValue<string>());
        Assert.InRange(answer["expires_in"]!.GetValue<int>(), 100, 120);
        var jwt = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(answer["access_token"]!.GetValue<string>());
        Assert.Equal(taskId, jwt.GetPayloadValue<string>("task_id"));
        Assert.Equal("payment:write", jwt.GetPayloadValue<string>("scope"));
    }

    /// <summary>
    /// A SCIM delete of a group (soft, the default) takes its roles from its members at once; provisioning the group again
    /// with the same name gives the old members nothing.
    /// </summary>
    [Fact]
    public async Task ScimGroupSoftDelete_TakesTheGroupsRolesFromItsMembers()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        using var user = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/users", new { email = "scim-member@example.com" }, key);
        var userId = (await ApiAssert.OkAsync(user, 201))["data"]!["id"]!.GetValue<string>();
        using var permission = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/permissions", new { name = "Read reports", slug = "report.read" }, key);
        await ApiAssert.OkAsync(permission, 201);
        using var role = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/roles", new { name = "Analyst", slug = "analyst", permissions = new[] { "report.read" } }, key);
        await ApiAssert.OkAsync(role, 201);
        var scimGroup = new { schemas = new[] { "urn:ietf:params:scim:schemas:core:2.0:Group" }, displayName = "Analysts", members = new[] { new { value = userId } } };
        using var group = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/scim2.0/Groups", scimGroup, SuiteFixture.Bearer(tenant.ApiKey));
        var groupId = (await ApiAssert.OkAsync(group, 201))["id"]!.GetValue<string>();
        using var groupRoles = await suite.SendAsync(HttpMethod.Put, $"{tenant.Api}/admin/groups/{groupId}/roles", new { roles = new[] { "analyst" } }, key);
        await ApiAssert.OkAsync(groupRoles);

        async Task<bool> AllowedAsync()
        {
            using var check = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/authz/check", new { permission = "report.read", subject = userId }, key);
            return (await ApiAssert.OkAsync(check))["allowed"]!.GetValue<bool>();
        }

        await ApiAssert.EventuallyAsync(async () => await AllowedAsync() ? "allowed" : null, TimeSpan.FromSeconds(30));

        using var deleted = await suite.SendAsync(HttpMethod.Delete, $"{tenant.Api}/scim2.0/Groups/{groupId}", configure: SuiteFixture.Bearer(tenant.ApiKey));
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await ApiAssert.EventuallyAsync(async () => await AllowedAsync() ? null : "denied", TimeSpan.FromSeconds(30));

        using var again = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/scim2.0/Groups",
            new { schemas = new[] { "urn:ietf:params:scim:schemas:core:2.0:Group" }, displayName = "Analysts" }, SuiteFixture.Bearer(tenant.ApiKey));
        await ApiAssert.OkAsync(again, 201);
        Assert.False(await AllowedAsync());
    }

    [Fact]
    public async Task RevokedAccessToken_IsRefusedByAnotherService()
    {
        var tenant = await suite.CreateTenantAsync();
        var (clientId, secret, token) = await suite.ClientTokenAsync(tenant);
        var tuple = new { @object = "document:1", relation = "viewer", user = "user:a" };
        using var before = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", tuple, SuiteFixture.Bearer(token));
        await ApiAssert.OkAsync(before);

        using var revoke = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/oauth/revoke")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["token"] = token, ["token_type_hint"] = "access_token", ["client_id"] = clientId, ["client_secret"] = secret,
            }),
        };
        using var revoked = await suite.Gateway.SendAsync(revoke);
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);

        // The deny-list is shared through Redis: the authorization service refuses the token at once.
        using var after = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", tuple, SuiteFixture.Bearer(token));
        await ApiAssert.ErrorAsync(after, 401, "invalid_token");

        // Redis goes down: every service decides from its copy of the deny-list, refreshed every few seconds
        // (three refresh periods are waited for, so the copies hold this revocation even if a loaded run delays one), and
        // still refuses the token.
        await Task.Delay(3 * DenyListMirror.Refresher.Interval + TimeSpan.FromSeconds(1));
        await TestInfrastructure.InfraAsync("stop", "redis");
        try
        {
            using var duringOutage = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", tuple, SuiteFixture.Bearer(token));
            await ApiAssert.ErrorAsync(duringOutage, 401, "invalid_token");
        }
        finally
        {
            // Redis restarts: the revocation is still there once the services have reconnected.
            await TestInfrastructure.InfraAsync("start", "redis");
        }

        await ApiAssert.EventuallyAsync(async () =>
        {
            using var again = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", tuple, SuiteFixture.Bearer(token));
            return again.StatusCode == HttpStatusCode.Unauthorized ? "refused" : null;
        }, TimeSpan.FromSeconds(30));
        using var introspect = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/oauth/introspect")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token, ["client_id"] = clientId, ["client_secret"] = secret }),
        };
        using var introspected = await suite.Gateway.SendAsync(introspect);
        Assert.Contains("\"active\":false", (await introspected.Content.ReadAsStringAsync()).Replace(" ", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);

        // The revocation is in admin's audit log, done by the client, among token events.
        var entry = await ApiAssert.EventuallyAsync(async () =>
        {
            using var page = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/audit-logs?action=token_revoked&targetId={clientId}", configure: SuiteFixture.ApiKey(tenant.ApiKey));
            return (await ApiAssert.OkAsync(page))["data"]!.AsArray().FirstOrDefault();
        }, TimeSpan.FromSeconds(30));
        Assert.Equal("token_management", entry!["category"]!.GetValue<string>());
        Assert.Equal(clientId, entry["actor"]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task SigningKeyRotatedWithoutGrace_StopsTheOldKeyInAnotherServiceAtOnce_AndTheNewKeyWorksThere()
    {
        var tenant = await suite.CreateTenantAsync();
        var (_, _, oldToken) = await suite.ClientTokenAsync(tenant);
        var tuple = new { @object = "document:1", relation = "viewer", user = "user:a" };
        using (var before = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", tuple, SuiteFixture.Bearer(oldToken)))
        {
            await ApiAssert.OkAsync(before); // the authorization service now holds the key set for five minutes
        }

        // A compromised key: rotated with no grace, so it leaves the published set now.
        using var rotated = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/signing-keys/rotate", new { gracePeriodHours = 0 }, SuiteFixture.ApiKey(tenant.ApiKey));
        await ApiAssert.OkAsync(rotated);

        // SigningKeyRotated evicts the authorization service's copy well before its five minutes are up.
        await ApiAssert.EventuallyAsync(async () =>
        {
            using var after = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", tuple, SuiteFixture.Bearer(oldToken));
            return after.StatusCode == HttpStatusCode.Unauthorized ? "refused" : null;
        }, TimeSpan.FromSeconds(30));

        var (_, _, newToken) = await suite.ClientTokenAsync(tenant);
        using var fresh = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", tuple, SuiteFixture.Bearer(newToken));
        await ApiAssert.OkAsync(fresh);
    }

    [Fact]
    public async Task AnotherTenantsApiKey_IsRefusedByEveryService()
    {
        var a = await suite.CreateTenantAsync();
        var b = await suite.CreateTenantAsync();
        var foreignKey = SuiteFixture.ApiKey(b.ApiKey);
        foreach (var (method, path) in new[]
                 {
                     (HttpMethod.Get, $"{a.Api}/admin/users"),
                     (HttpMethod.Get, $"{a.Api}/admin/groups"),
                     (HttpMethod.Get, $"{a.Api}/admin/audit-logs"),
                     (HttpMethod.Get, $"{a.Api}/admin/clients"),
                     (HttpMethod.Get, $"{a.Api}/admin/roles"),
                     (HttpMethod.Post, $"{a.Api}/zanzibar/check"),
                 })
        {
            using var response = await suite.SendAsync(method, path, method == HttpMethod.Post ? new { @object = "doc:1", relation = "viewer", user = "user:x" } : null, foreignKey);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }

    [Fact]
    public async Task BrowserClient_CorsPreflightAndAnswer_PassTheGateway_ForItsOwnTenantOnly()
    {
        var tenant = await suite.CreateTenantAsync();
        var other = await suite.CreateTenantAsync();
        const string origin = "https://spa.e2e.example.com";
        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients",
            new { name = "spa", applicationType = "spa", redirectUris = new[] { origin + "/cb" }, allowedOrigins = new[] { origin } },
            SuiteFixture.ApiKey(tenant.ApiKey));
        var clientId = (await ApiAssert.OkAsync(created, 201))["data"]!["clientId"]!.GetValue<string>();

        void Preflight(HttpRequestMessage r)
        {
            r.Headers.Add("Origin", origin);
            r.Headers.Add("Access-Control-Request-Method", "POST");
        }

        using (var allowed = await suite.SendAsync(HttpMethod.Options, $"{tenant.Api}/oauth/token", configure: Preflight))
        {
            Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
            Assert.Equal(origin, allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        }

        using (var foreign = await suite.SendAsync(HttpMethod.Options, $"{other.Api}/oauth/token", configure: Preflight))
        {
            Assert.False(foreign.Headers.Contains("Access-Control-Allow-Origin"));
        }

        using var answer = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/oauth/token", configure: r =>
        {
            r.Headers.Add("Origin", origin);
            r.Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "authorization_code", ["client_id"] = clientId, ["code"] = "forged",
                ["redirect_uri"] = origin + "/cb", ["code_verifier"] = new string('v', 43),
            });
        });
        Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
        Assert.Equal(origin, answer.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Fact]
    public async Task DPoPBoundToken_IssuedThroughTheGateway_IsAcceptedByAnotherServiceOnlyWithAFreshProofByItsKey()
    {
        var tenant = await suite.CreateTenantAsync();
        var (clientId, secret, _) = await suite.ClientTokenAsync(tenant);
        using var key = new DPoPKey();
        var tokenUrl = $"{suite.BaseUrl}{tenant.Api}/oauth/token";
        using var tokenRequest = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/oauth/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = secret,
            }),
        };
        tokenRequest.Headers.Add("DPoP", key.Proof("POST", tokenUrl));
        using var issued = await suite.Gateway.SendAsync(tokenRequest);
        var tokens = System.Text.Json.Nodes.JsonNode.Parse(await issued.Content.ReadAsStringAsync())!;
        Assert.True(issued.StatusCode == HttpStatusCode.OK, tokens.ToJsonString());
        Assert.Equal("DPoP", tokens["token_type"]!.GetValue<string>());
        var token = tokens["access_token"]!.GetValue<string>();

        var path = $"{tenant.Api}/zanzibar/check";
        var tuple = new { @object = "document:1", relation = "viewer", user = "user:a" };
        Action<HttpRequestMessage> Present(string scheme, string? proof) => r =>
        {
            r.Headers.Authorization = new(scheme, token);
            if (proof is not null)
            {
                r.Headers.Add("DPoP", proof);
            }
        };

        using var withProof = await suite.SendAsync(HttpMethod.Post, path, tuple, Present("DPoP", key.Proof("POST", suite.BaseUrl + path, token)));
        using var asBearer = await suite.SendAsync(HttpMethod.Post, path, tuple, Present("Bearer", null));
        using var otherKey = new DPoPKey();
        using var wrongKey = await suite.SendAsync(HttpMethod.Post, path, tuple, Present("DPoP", otherKey.Proof("POST", suite.BaseUrl + path, token)));

        await ApiAssert.OkAsync(withProof);
        await ApiAssert.ErrorAsync(asBearer, 401, "invalid_token");
        await ApiAssert.ErrorAsync(wrongKey, 401, "invalid_dpop_proof");
    }

    [Fact]
    public async Task MutualTlsClient_AuthenticatesWithItsCertificateAtTheGateway_AndItsTokenWorksOnlyWithThatCertificate()
    {
        var tenant = await suite.CreateTenantAsync();
        using var certificate = TestCertificates.Client("sensor-fleet");
        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients",
            new { name = "Sensor fleet", isConfidential = true, grantTypes = new[] { "client_credentials" }, jwks = TestCertificates.Jwks(certificate) },
            SuiteFixture.ApiKey(tenant.ApiKey));
        var clientId = (await ApiAssert.OkAsync(created, 201))["data"]!["clientId"]!.GetValue<string>();
        using var discovery = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/.well-known/openid-configuration");
        var metadata = await ApiAssert.OkAsync(discovery);
        Assert.True(metadata["tls_client_certificate_bound_access_tokens"]!.GetValue<bool>());
        Assert.Contains("self_signed_tls_client_auth", metadata["token_endpoint_auth_methods_supported"]!.AsArray().Select(m => m!.GetValue<string>()));

        // self_signed_tls_client_auth (RFC 8705 §2.2): the certificate is the credential; no secret is sent.
        using var mtls = suite.MutualTls(certificate);
        var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["client_id"] = clientId };
        using var issued = await mtls.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(form));
        var token = (await ApiAssert.OkAsync(issued))["access_token"]!.GetValue<string>();
        var jwt = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(token);
        var confirmation = System.Text.Json.Nodes.JsonNode.Parse(jwt.GetClaim("cnf").Value)!;
        var thumbprint = Microsoft.AspNetCore.WebUtilities.Base64UrlTextEncoder.Encode(System.Security.Cryptography.SHA256.HashData(certificate.RawData));
        Assert.Equal(thumbprint, confirmation["x5t#S256"]!.GetValue<string>());
        // Introspection tells a resource server what to check (RFC 8705 §3.2).
        using var introspected = await mtls.PostAsync($"{tenant.Api}/oauth/introspect",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token, ["client_id"] = clientId }));
        var introspection = await ApiAssert.OkAsync(introspected);
        Assert.True(introspection["active"]!.GetValue<bool>());
        Assert.Equal(thumbprint, introspection["cnf"]!["x5t#S256"]!.GetValue<string>());

        // Another certificate, or none, does not authenticate the client.
        using var stranger = TestCertificates.Client("stranger");
        using var strangerClient = suite.MutualTls(stranger);
        using var refused = await strangerClient.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using var noCertificate = suite.MutualTls(null);
        using var anonymous = await noCertificate.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(form));
        Assert.Contains(anonymous.StatusCode, new[] { HttpStatusCode.BadRequest, HttpStatusCode.Unauthorized });

        // Another service accepts the token only over mutual TLS with the same certificate (RFC 8705 §3); a
        // Client-Cert header a caller makes up is dropped by the gateway.
        var path = $"{tenant.Api}/zanzibar/check";
        var tuple = new { @object = "document:1", relation = "viewer", user = "user:a" };
        HttpRequestMessage Check()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = System.Net.Http.Json.JsonContent.Create(tuple) };
            request.Headers.Authorization = new("Bearer", token);
            return request;
        }

        using (var bound = await mtls.SendAsync(Check()))
        {
            await ApiAssert.OkAsync(bound);
        }

        using (var otherCertificate = await strangerClient.SendAsync(Check()))
        {
            await ApiAssert.ErrorAsync(otherCertificate, 401, "invalid_token");
        }

        using var forged = Check();
        forged.Headers.TryAddWithoutValidation("Client-Cert", ":" + Convert.ToBase64String(certificate.RawData) + ":");
        using (var plain = await suite.Gateway.SendAsync(forged))
        {
            await ApiAssert.ErrorAsync(plain, 401, "invalid_token");
        }
    }

    [Fact]
    public async Task PublicClientOverMutualTls_GetsTokensBoundToItsOwnCertificate()
    {
        var tenant = await suite.CreateTenantAsync();
        var (email, password) = await suite.CreateUserAsync(tenant, "Erin");

        // A native app (public): mutual TLS cannot authenticate it, but its own self-signed certificate binds its tokens.
        const string loopback = "http://127.0.0.1:7777/callback";
        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients", new
        {
            name = "Field app", applicationType = "native", redirectUris = new[] { loopback },
            grantTypes = new[] { "authorization_code", "refresh_token" }, allowedScopes = new[] { "openid", "offline_access" },
        }, SuiteFixture.ApiKey(tenant.ApiKey));
        var clientId = (await ApiAssert.OkAsync(created, 201))["data"]!["clientId"]!.GetValue<string>();

        // The user's browser, over plain HTTP through the gateway.
        var verifier = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var challenge = Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier))).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var authorize = Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString($"{tenant.Api}/oauth/authorize", new Dictionary<string, string?>
        {
            ["response_type"] = "code", ["client_id"] = clientId, ["redirect_uri"] = loopback, ["scope"] = "openid offline_access",
            ["state"] = "s1", ["code_challenge"] = challenge, ["code_challenge_method"] = "S256",
        });
        var code = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery((await suite.SignInAndConsentAsync(tenant, authorize, email, password)).Query)["code"].ToString();

        // The app redeems the code over mutual TLS with its own self-signed certificate.
        using var certificate = TestCertificates.Client("field-app-install-1");
        using var mtls = suite.MutualTls(certificate);
        using var redeemed = await mtls.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = loopback, ["client_id"] = clientId, ["code_verifier"] = verifier,
        }));
        var tokens = await ApiAssert.OkAsync(redeemed);
        var accessToken = tokens["access_token"]!.GetValue<string>();
        Assert.Contains("x5t#S256", new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(accessToken).GetClaim("cnf").Value, StringComparison.Ordinal);

        // Its access token works at another service only with the same certificate.
        HttpRequestMessage Check()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/zanzibar/check")
            {
                Content = System.Net.Http.Json.JsonContent.Create(new { @object = "document:1", relation = "viewer", user = "user:a" }),
            };
            request.Headers.Authorization = new("Bearer", accessToken);
            return request;
        }

        using (var bound = await mtls.SendAsync(Check()))
        {
            await ApiAssert.OkAsync(bound);
        }

        using (var plain = await suite.Gateway.SendAsync(Check()))
        {
            await ApiAssert.ErrorAsync(plain, 401, "invalid_token");
        }

        // At the token service's own userinfo too.
        HttpRequestMessage UserInfo() => new(HttpMethod.Get, $"{tenant.Api}/oauth/userinfo") { Headers = { Authorization = new("Bearer", accessToken) } };
        using (var boundUserInfo = await mtls.SendAsync(UserInfo()))
        {
            Assert.NotNull((await ApiAssert.OkAsync(boundUserInfo))["sub"]);
        }

        using (var plainUserInfo = await suite.Gateway.SendAsync(UserInfo()))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, plainUserInfo.StatusCode);
            Assert.Contains("invalid_token", await plainUserInfo.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Its refresh token too (RFC 8705 §4): another certificate, or none, cannot redeem it; its own can.
        var refresh = new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = tokens["refresh_token"]!.GetValue<string>(), ["client_id"] = clientId };
        using var stranger = TestCertificates.Client("someone-else");
        using var strangerClient = suite.MutualTls(stranger);
        using (var otherCertificate = await strangerClient.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(refresh)))
        {
            Assert.True(otherCertificate.StatusCode == HttpStatusCode.BadRequest, await otherCertificate.Content.ReadAsStringAsync());
            Assert.Contains("invalid_grant", await otherCertificate.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var withoutCertificate = await suite.Gateway.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(refresh)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, withoutCertificate.StatusCode);
        }

        using var refreshed = await mtls.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(refresh));
        var renewed = await ApiAssert.OkAsync(refreshed);
        // The rotated refresh token stays bound.
        refresh["refresh_token"] = renewed["refresh_token"]!.GetValue<string>();
        using (var rotatedElsewhere = await strangerClient.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(refresh)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, rotatedElsewhere.StatusCode);
        }
    }

    [Fact]
    public async Task PkiMutualTlsClient_IsKnownByItsAuthorityAndSubject_AtTheGateway()
    {
        var tenant = await suite.CreateTenantAsync();
        using var authority = TestCertificates.Authority("Example Issuing CA");
        using var otherAuthority = TestCertificates.Authority("Some Other CA");
        using var certificate = TestCertificates.IssuedBy(authority, "CN=payments-service,O=Example Corp");
        using var otherSubject = TestCertificates.IssuedBy(authority, "CN=reporting-service,O=Example Corp");
        using var otherIssuer = TestCertificates.IssuedBy(otherAuthority, "CN=payments-service,O=Example Corp");
        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients", new
        {
            name = "Payments", isConfidential = true, grantTypes = new[] { "client_credentials" },
            // The DN as a person would type it: spacing and case differ from the certificate's.
            tlsClientAuthSubjectDn = "cn=payments-service, o=Example Corp",
            tlsClientCertificateAuthorities = new[] { authority.ExportCertificatePem() },
        }, SuiteFixture.ApiKey(tenant.ApiKey));
        var client = (await ApiAssert.OkAsync(created, 201))["data"]!;
        var clientId = client["clientId"]!.GetValue<string>();
        Assert.Equal(Convert.ToBase64String(authority.RawData), client["tlsClientCertificateAuthorities"]![0]!.GetValue<string>());
        using var discovery = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/.well-known/oauth-authorization-server");
        Assert.Contains("tls_client_auth", (await ApiAssert.OkAsync(discovery))["token_endpoint_auth_methods_supported"]!.AsArray().Select(m => m!.GetValue<string>()));

        async Task<HttpResponseMessage> TokenWith(System.Security.Cryptography.X509Certificates.X509Certificate2 presented)
        {
            using var http = suite.MutualTls(presented);
            return await http.PostAsync($"{tenant.Api}/oauth/token",
                new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["client_id"] = clientId }));
        }

        using var issued = await TokenWith(certificate);
        var token = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken((await ApiAssert.OkAsync(issued))["access_token"]!.GetValue<string>());
        Assert.Contains(Microsoft.AspNetCore.WebUtilities.Base64UrlTextEncoder.Encode(System.Security.Cryptography.SHA256.HashData(certificate.RawData)),
            token.GetClaim("cnf").Value, StringComparison.Ordinal);
        using var wrongSubject = await TokenWith(otherSubject);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongSubject.StatusCode);
        using var wrongIssuer = await TokenWith(otherIssuer);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongIssuer.StatusCode);
    }

    [Fact]
    public async Task DelegatedToken_FromATokenExchangeThroughTheGateway_IsAcceptedByAnotherService_NamingItsActor()
    {
        const string exchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
        const string accessTokenType = "urn:ietf:params:oauth:token-type:access_token";
        var tenant = await suite.CreateTenantAsync();

        async Task<(string ClientId, string Secret, string Token)> DelegatingClientAsync(string name)
        {
            using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients",
                new { name, applicationType = "m2m", grantTypes = new[] { "client_credentials", exchangeGrant }, allowedScopes = new[] { "documents.read", "zanzibar.write" } },
                SuiteFixture.ApiKey(tenant.ApiKey));
            var client = (await ApiAssert.OkAsync(created, 201))["data"]!;
            var (id, secret) = (client["clientId"]!.GetValue<string>(), client["secret"]!.GetValue<string>());
            using var issued = await suite.Gateway.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials", ["client_id"] = id, ["client_secret"] = secret, ["scope"] = "documents.read zanzibar.write",
            }));
            return (id, secret, (await ApiAssert.OkAsync(issued))["access_token"]!.GetValue<string>());
        }

        var service = await DelegatingClientAsync("orders service");
        var worker = await DelegatingClientAsync("worker");
        using var exchanged = await suite.Gateway.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = exchangeGrant, ["client_id"] = service.ClientId, ["client_secret"] = service.Secret,
            ["subject_token"] = service.Token, ["subject_token_type"] = accessTokenType,
            ["actor_token"] = worker.Token, ["actor_token_type"] = accessTokenType,
        }));
        var delegated = (await ApiAssert.OkAsync(exchanged))["access_token"]!.GetValue<string>();
        var claims = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(delegated);
        Assert.Equal(service.ClientId, claims.Subject);
        Assert.Equal(worker.ClientId, claims.GetPayloadValue<System.Text.Json.JsonElement>("act").GetProperty("sub").GetString());

        var tuple = new { @object = "document:1", relation = "viewer", user = "user:a" };
        using var check = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", tuple, SuiteFixture.Bearer(delegated));
        await ApiAssert.OkAsync(check);

        // What the delegated token does is audited with who it was done for and who did it (principal.actor_chain).
        using var write = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/write", new { writes = new[] { tuple } }, SuiteFixture.Bearer(delegated));
        await ApiAssert.OkAsync(write);
        System.Text.Json.Nodes.JsonNode? entry = null;
        for (var attempt = 0; attempt < 150 && entry is null; attempt++)
        {
            using var audit = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/audit-logs?action=relationships_written", configure: SuiteFixture.ApiKey(tenant.ApiKey));
            entry = (await ApiAssert.OkAsync(audit))["data"]!.AsArray().FirstOrDefault();
            if (entry is null)
            {
                await Task.Delay(200);
            }
        }

        Assert.NotNull(entry);
        Assert.Equal($"client:{service.ClientId}", entry["principal"]!["subject"]!.GetValue<string>());
        Assert.Equal([$"client:{worker.ClientId}"], entry["principal"]!["actor_chain"]!.AsArray().Select(a => a!.GetValue<string>()));
    }

    [Fact]
    public async Task BackchannelAuthentication_ThroughTheGateway_UserApprovesOnTheHostedPage_ClientRedeems()
    {
        const string cibaGrant = "urn:openid:params:grant-type:ciba";
        var tenant = await suite.CreateTenantAsync();
        var email = $"carol-{Guid.NewGuid():N}"[..14] + "@example.com";
        const string password = "Corr3ct-Horse-Battery!";
        // Created with a role (ADM-02): the token issued moments later carries it.
        using (var user = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/users", new { email, password, name = "Carol", roles = new[] { "user" } }, SuiteFixture.ApiKey(tenant.ApiKey)))
        {
            Assert.Equal("user", (await ApiAssert.OkAsync(user, 201))["data"]!["roles"]!.AsArray().Single()!["slug"]!.GetValue<string>());
        }

        var (client, PostAsync) = await suite.BasicClientAsync(tenant,
            new { name = "Help desk", applicationType = "web", grantTypes = new[] { cibaGrant }, allowedScopes = new[] { "openid", "profile" } });

        using var started = await PostAsync("oauth/bc-authorize", new() { ["scope"] = "openid profile", ["login_hint"] = email, ["binding_message"] = "Ticket 93" });
        var authReqId = (await ApiAssert.OkAsync(started))["auth_req_id"]!.GetValue<string>();

        // The user's browser, through the gateway: the approval page sends it to the login page and back.
        using var browser = suite.Browser();
        using var toLogin = await browser.GetAsync($"/t/{tenant.Slug}/ciba");
        var loginUrl = toLogin.Headers.Location!.OriginalString;
        var loginPage = await browser.GetStringAsync(loginUrl);
        var login = HostedForms.HiddenFields(loginPage);
        login["email"] = email;
        login["password"] = password;
        using var signedIn = await browser.PostAsync($"/t/{tenant.Slug}/login", new FormUrlEncodedContent(login));
        Assert.Equal($"/t/{tenant.Slug}/ciba", signedIn.Headers.Location?.OriginalString);
        var approval = await browser.GetStringAsync($"/t/{tenant.Slug}/ciba");
        Assert.Contains("Ticket 93", approval, StringComparison.Ordinal);
        var decision = HostedForms.HiddenFields(approval);
        decision["ciba_decision"] = "accept";
        using var approved = await browser.PostAsync($"/t/{tenant.Slug}/ciba", new FormUrlEncodedContent(decision));
        Assert.Contains("approved", await approved.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var redeemed = await PostAsync("oauth/token", new() { ["grant_type"] = cibaGrant, ["auth_req_id"] = authReqId });
        var tokens = await ApiAssert.OkAsync(redeemed);
        var idToken = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(tokens["id_token"]!.GetValue<string>());
        Assert.Equal(client["clientId"]!.GetValue<string>(), idToken.Audiences.Single());
        Assert.True(Guid.TryParse(idToken.Subject, out _));
        var accessToken = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(tokens["access_token"]!.GetValue<string>());
        Assert.Contains("user", accessToken.Claims.Where(c => c.Type == "roles").Select(c => c.Value));

        // The request reached admin's audit log over RabbitMQ (the tenant's notification channel listens there too).
        var logged = false;
        for (var attempt = 0; attempt < 150 && !logged; attempt++)
        {
            using var audit = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/audit-logs?action=ciba_authentication_requested", configure: SuiteFixture.ApiKey(tenant.ApiKey));
            logged = (await ApiAssert.OkAsync(audit))["data"]!.AsArray().Count > 0;
            if (!logged)
            {
                await Task.Delay(200);
            }
        }

        Assert.True(logged, "no ciba_authentication_requested audit entry");
    }

    [Fact]
    public async Task MetadataDocumentClient_ThroughTheGateway_IsFetchedAndSignsAUserIn()
    {
        var tenant = await suite.CreateTenantAsync();
        var (email, password) = await suite.CreateUserAsync(tenant, "Dora");

        using (var enabled = await suite.SendAsync(HttpMethod.Put, $"{tenant.Api}/admin/settings",
            new { clientRegistration = new { clientIdMetadataDocumentsEnabled = true } }, SuiteFixture.ApiKey(tenant.ApiKey)))
        {
            await ApiAssert.OkAsync(enabled);
        }

        const string redirectUri = "https://agent.example.com/callback";
        var path = $"/agents/{Guid.NewGuid():N}/client.json";
        var clientId = suite.Site.Origin + path;
        suite.Site.Serve(path, new SiteAnswer(System.Text.Json.JsonSerializer.Serialize(new
        {
            client_id = clientId, client_name = "Research Agent", redirect_uris = new[] { redirectUri }, token_endpoint_auth_method = "none",
        })));
        using var discovery = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/.well-known/oauth-authorization-server");
        Assert.True((await ApiAssert.OkAsync(discovery))["client_id_metadata_document_supported"]!.GetValue<bool>());

        // The user's browser through the gateway: authorize → login → authorize → consent → back to the agent.
        var verifier = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var challenge = Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier))).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var authorize = Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString($"{tenant.Api}/oauth/authorize", new Dictionary<string, string?>
        {
            ["response_type"] = "code", ["client_id"] = clientId, ["redirect_uri"] = redirectUri, ["scope"] = "openid",
            ["state"] = "s1", ["code_challenge"] = challenge, ["code_challenge_method"] = "S256",
        });
        using var browser = suite.Browser();
        using var toLogin = await browser.GetAsync(authorize);
        Assert.Equal(HttpStatusCode.SeeOther, toLogin.StatusCode);
        var login = HostedForms.HiddenFields(await browser.GetStringAsync(toLogin.Headers.Location!.OriginalString));
        login["email"] = email;
        login["password"] = password;
        using var signedIn = await browser.PostAsync($"/t/{tenant.Slug}/login", new FormUrlEncodedContent(login));
        using var consent = await browser.GetAsync(signedIn.Headers.Location!.OriginalString);
        var consentPage = await consent.Content.ReadAsStringAsync();
        Assert.Contains("Research Agent", consentPage, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1", consentPage, StringComparison.Ordinal);
        var decision = HostedForms.HiddenPairs(consentPage).Where(p => p.Key != "consent_decision").Append(new("consent_decision", "accept"));
        using var decided = await browser.PostAsync($"{tenant.Api}/oauth/authorize", new FormUrlEncodedContent(decision));
        var back = decided.Headers.Location!;
        Assert.StartsWith(redirectUri, back.AbsoluteUri, StringComparison.Ordinal);
        var code = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(back.Query)["code"].ToString();

        using var redeemed = await suite.Gateway.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = redirectUri, ["client_id"] = clientId, ["code_verifier"] = verifier,
        }));
        var accessToken = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken((await ApiAssert.OkAsync(redeemed))["access_token"]!.GetValue<string>());
        Assert.Equal(clientId, accessToken.GetClaim("client_id").Value);
        Assert.Equal(1, suite.Site.Requests(path));
    }

    /// <summary>
    /// Sign-in with an OpenID Connect provider across the real processes: the provider added at federation, the hosted
    /// login page (token) offering it, federation's redirect and callback (the provider is the suite's https site), admin
    /// making the account, token opening the session from federation's ticket, and the link in the user's data export.
    /// </summary>
    [Fact]
    public async Task OidcProvider_SignsANewPersonIn_AcrossTheGatewayAndServices_AndTheLinkIsExported()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        var idp = $"/idp-{Guid.NewGuid():N}"[..13];
        var issuer = suite.Site.Origin + idp;
        var signing = new Microsoft.IdentityModel.Tokens.RsaSecurityKey(System.Security.Cryptography.RSA.Create(2048)) { KeyId = "k1" };
        var jwk = Microsoft.IdentityModel.Tokens.JsonWebKeyConverter.ConvertFromRSASecurityKey(signing);
        suite.Site.Serve(idp + "/.well-known/openid-configuration", new SiteAnswer(System.Text.Json.JsonSerializer.Serialize(new
        {
            issuer, authorization_endpoint = issuer + "/authorize", token_endpoint = issuer + "/token", jwks_uri = issuer + "/keys",
        })));
        suite.Site.Serve(idp + "/keys", new SiteAnswer(System.Text.Json.JsonSerializer.Serialize(new { keys = new[] { new { kty = "RSA", kid = "k1", use = "sig", n = jwk.N, e = jwk.E } } })));
        using var added = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/social-providers",
            new { type = "oidc", name = "Acme SSO", clientId = "lumo", clientSecret = "idp-secret", issuerUrl = issuer }, key);
        var providerId = (await ApiAssert.OkAsync(added, 201))["data"]!["id"]!.GetValue<string>();

        using var browser = suite.Browser();
        var loginPage = await browser.GetStringAsync($"/t/{tenant.Slug}/login");
        Assert.Contains("Continue with Acme SSO", loginPage, StringComparison.Ordinal);
        using var start = await browser.GetAsync($"/t/{tenant.Slug}/auth/social/{providerId}");
        var toProvider = start.Headers.Location!;
        Assert.StartsWith(issuer + "/authorize", toProvider.AbsoluteUri, StringComparison.Ordinal);
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(toProvider.Query);

        var email = $"sso-{Guid.NewGuid():N}"[..12] + "@example.com";
        var now = DateTimeOffset.UtcNow;
        var idToken = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["iss"] = issuer, ["aud"] = "lumo", ["sub"] = "acme-42", ["email"] = email, ["email_verified"] = true, ["name"] = "Sso Person",
            ["nonce"] = query["nonce"].ToString(), ["iat"] = now.ToUnixTimeSeconds(), ["exp"] = now.AddMinutes(5).ToUnixTimeSeconds(),
        }), new Microsoft.IdentityModel.Tokens.SigningCredentials(signing, "RS256"));
        suite.Site.Serve(idp + "/token", new SiteAnswer(System.Text.Json.JsonSerializer.Serialize(new { access_token = "a", token_type = "Bearer", id_token = idToken })));

        using var callback = await browser.GetAsync($"/t/{tenant.Slug}/auth/social/{providerId}/callback?code=c&state={Uri.EscapeDataString(query["state"].ToString())}");
        Assert.True(callback.StatusCode == HttpStatusCode.Redirect, await callback.Content.ReadAsStringAsync());
        using var landed = await browser.GetAsync(callback.Headers.Location!.OriginalString);
        Assert.Contains("You are signed in", await landed.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var users = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users?search={Uri.EscapeDataString(email)}", configure: key);
        var userId = Assert.Single((await ApiAssert.OkAsync(users))["data"]!.AsArray())!["id"]!.GetValue<string>();
        using var exported = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/gdpr/data-export", new { userId }, key);
        var bundle = (await ApiAssert.OkAsync(exported))["data"]!;
        Assert.Empty(bundle["unavailable"]!.AsArray());
        var link = Assert.Single(bundle["socialLinks"]!.AsArray())!;
        Assert.Equal("Acme SSO", link["provider"]!.GetValue<string>());
        Assert.Equal("acme-42", link["subject"]!.GetValue<string>());
        Assert.Equal("federated", Assert.Single(bundle["sessions"]!.AsArray())!["authMethod"]!.GetValue<string>());
    }

    /// <summary>
    /// Sign in with Apple across the real processes: Apple's answer is posted cross-site to federation through the gateway,
    /// kept there until the browser comes back by GET with its binding cookie, and the code is exchanged with a client
    /// secret federation signed with the tenant's key; the name Apple posted beside the code is the new account's.
    /// </summary>
    [Fact]
    public async Task Apple_PostsItsAnswerThroughTheGateway_AndANewPersonSignsIn()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        var issuer = suite.Site.Origin + SuiteFixture.AppleIssuerPath;
        var signing = new Microsoft.IdentityModel.Tokens.RsaSecurityKey(System.Security.Cryptography.RSA.Create(2048)) { KeyId = Guid.NewGuid().ToString("N") };
        var jwk = Microsoft.IdentityModel.Tokens.JsonWebKeyConverter.ConvertFromRSASecurityKey(signing);
        suite.Site.Serve(SuiteFixture.AppleIssuerPath + "/.well-known/openid-configuration", new SiteAnswer(System.Text.Json.JsonSerializer.Serialize(new
        {
            issuer, authorization_endpoint = issuer + "/auth/authorize", token_endpoint = issuer + "/auth/token", jwks_uri = issuer + "/auth/keys",
        })));
        suite.Site.Serve(SuiteFixture.AppleIssuerPath + "/auth/keys", new SiteAnswer(System.Text.Json.JsonSerializer.Serialize(new { keys = new[] { new { kty = "RSA", kid = signing.KeyId, use = "sig", n = jwk.N, e = jwk.E } } })));
        using var appleKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        using var added = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/social-providers",
            new { type = "apple", clientId = "com.example.e2e", teamId = "E2ETEAM123", keyId = "E2EKEY1234", privateKey = appleKey.ExportPkcs8PrivateKeyPem() }, key);
        var providerId = (await ApiAssert.OkAsync(added, 201))["data"]!["id"]!.GetValue<string>();

        using var browser = suite.Browser();
        Assert.Contains("Continue with Apple", await browser.GetStringAsync($"/t/{tenant.Slug}/login"), StringComparison.Ordinal);
        using var start = await browser.GetAsync($"/t/{tenant.Slug}/auth/social/{providerId}");
        var toApple = start.Headers.Location!;
        Assert.StartsWith(issuer + "/auth/authorize", toApple.AbsoluteUri, StringComparison.Ordinal);
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(toApple.Query);
        Assert.Equal("form_post", query["response_mode"].ToString());

        var email = $"ap-{Guid.NewGuid():N}"[..11] + "@privaterelay.appleid.com";
        var now = DateTimeOffset.UtcNow;
        var idToken = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["iss"] = issuer, ["aud"] = "com.example.e2e", ["sub"] = "000999.e2e", ["email"] = email, ["email_verified"] = "true", ["is_private_email"] = "true",
            ["nonce"] = query["nonce"].ToString(), ["iat"] = now.ToUnixTimeSeconds(), ["exp"] = now.AddMinutes(5).ToUnixTimeSeconds(),
        }), new Microsoft.IdentityModel.Tokens.SigningCredentials(signing, "RS256"));
        suite.Site.Serve(SuiteFixture.AppleIssuerPath + "/auth/token", new SiteAnswer(System.Text.Json.JsonSerializer.Serialize(new { access_token = "a", token_type = "Bearer", id_token = idToken })));

        using var posted = await browser.PostAsync($"/t/{tenant.Slug}/auth/social/{providerId}/callback", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["code"] = "c", ["state"] = query["state"].ToString(), ["user"] = """{"name":{"firstName":"Eve","lastName":"Endtoend"}}""",
        }));
        Assert.True(posted.StatusCode == HttpStatusCode.SeeOther, await posted.Content.ReadAsStringAsync());
        using var callback = await browser.GetAsync(posted.Headers.Location!.OriginalString);
        Assert.True(callback.StatusCode == HttpStatusCode.Redirect, await callback.Content.ReadAsStringAsync());
        using var landed = await browser.GetAsync(callback.Headers.Location!.OriginalString);
        Assert.Contains("You are signed in", await landed.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var secret = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(suite.Site.LastRequest(SuiteFixture.AppleIssuerPath + "/auth/token")!.Body)["client_secret"].ToString();
        Assert.Equal("E2ETEAM123", new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(secret).Issuer);
        using var users = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users?search={Uri.EscapeDataString(email)}", configure: key);
        Assert.Equal("Eve Endtoend", Assert.Single((await ApiAssert.OkAsync(users))["data"]!.AsArray())!["name"]!.GetValue<string>());
    }

    /// <summary>
    /// LDAP sign-in across the real processes: a directory added at federation through the gateway (LDAPS to the test
    /// OpenLDAP server), the token service's form, federation binding as the entry and asking admin for a new user with the
    /// directory's default role, and the authorization service setting the roles the entry's groups map to at every sign-in:
    /// a person taken out of the group loses its role (and the role of the group it is in) at their next sign-in, and a role an
    /// administrator gave stays.
    /// </summary>
    [Fact]
    public async Task LdapDirectory_SignsAPersonIn_ThroughTheGateway_AndItsGroupsGiveAndTakeRoles()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        foreach (var slug in new[] { "staff", "operator", "auditor", "engineer" })
        {
            using var role = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/roles", new { name = slug, slug }, key);
            await ApiAssert.OkAsync(role, 201);
        }

        var uid = "e2e" + Guid.NewGuid().ToString("N")[..10];
        var person = TestDirectory.AddPerson(uid, "Directory-Pa55!", mail: $"{uid}@corp.example.com", givenName: "Grace", surname: "Hopper");
        var operators = TestDirectory.AddGroup("ops-" + uid, person);
        // Engineering holds the operators' group: its role reaches the person through it.
        var engineering = TestDirectory.AddGroup("eng-" + uid, operators);
        using var added = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/ldap-providers", new
        {
            name = "Corporate directory", host = TestDirectory.Host, port = TestDirectory.TlsPort, useTls = true, baseDn = TestDirectory.People,
            bindDn = TestDirectory.RootDn, bindPassword = TestDirectory.RootPassword, defaultRoles = new[] { "staff" }, nestedGroups = true,
            groupRoles = new[] { new { group = operators, roles = new[] { "operator" } }, new { group = engineering, roles = new[] { "engineer" } } },
        }, key);
        var providerId = (await ApiAssert.OkAsync(added, 201))["data"]!["id"]!.GetValue<string>();

        async Task SignInAsync()
        {
            using var browser = suite.Browser();
            var loginPage = await browser.GetStringAsync($"/t/{tenant.Slug}/login");
            Assert.Contains($"/t/{tenant.Slug}/login/ldap/{providerId}", loginPage, StringComparison.Ordinal);
            using var form = await browser.GetAsync($"/t/{tenant.Slug}/login/ldap/{providerId}");
            var html = await form.Content.ReadAsStringAsync();
            var fields = HostedForms.HiddenFields(html);
            (fields["username"], fields["password"]) = (uid, "Directory-Pa55!");
            using var signedIn = await browser.PostAsync($"/t/{tenant.Slug}/login/ldap/{providerId}", new FormUrlEncodedContent(fields));
            var answer = await signedIn.Content.ReadAsStringAsync();
            Assert.True(signedIn.StatusCode == HttpStatusCode.OK && answer.Contains("You are signed in", StringComparison.Ordinal), $"{signedIn.StatusCode}: {answer}");
        }

        async Task<string[]> RolesAsync(string userId)
        {
            using var roles = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users/{userId}/roles", configure: key);
            return [.. (await ApiAssert.OkAsync(roles))["data"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()).Order()];
        }

        await SignInAsync();
        using var users = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users?search={uid}", configure: key);
        var userId = Assert.Single((await ApiAssert.OkAsync(users))["data"]!.AsArray())!["id"]!.GetValue<string>();
        Assert.Equal(["engineer", "operator", "staff"], await RolesAsync(userId));

        // An administrator's own grant stays; the group's role leaves with the membership, at the next sign-in.
        using (var granted = await suite.SendAsync(HttpMethod.Put, $"{tenant.Api}/admin/users/{userId}/roles", new { roles = new[] { "operator", "staff", "auditor" } }, key))
        {
            await ApiAssert.OkAsync(granted);
        }

        TestDirectory.Replace(operators, "member", TestDirectory.RootDn);
        await SignInAsync();
        Assert.Equal(["auditor", "staff"], await RolesAsync(userId));
    }

    /// <summary>
    /// An LDAP import across the real processes: federation lists the directory (paged, nested groups), admin makes the
    /// users before anyone signs in, the authorization service gives the roles their groups map to — and takes them when
    /// the person leaves the group or the directory.
    /// </summary>
    [Fact]
    public async Task LdapImport_MakesUsersBeforeTheySignIn_WithTheRolesTheirGroupsMapTo_AndTakesThemWhenTheyLeave()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        using (var role = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/roles", new { name = "Engineer", slug = "engineer" }, key))
        {
            await ApiAssert.OkAsync(role, 201);
        }

        var suffix = Guid.NewGuid().ToString("N")[..10];
        var unit = TestDirectory.AddUnit("import-" + suffix);
        var (ada, bob) = ("ada" + suffix, "bob" + suffix);
        var adaDn = TestDirectory.AddPerson(ada, "Directory-Pa55!", mail: $"{ada}@corp.example.com", under: unit);
        var bobDn = TestDirectory.AddPerson(bob, "Directory-Pa55!", mail: $"{bob}@corp.example.com", under: unit);
        var team = TestDirectory.AddGroup("team-" + suffix, adaDn, bobDn);
        var engineering = TestDirectory.AddGroup("eng-" + suffix, team);
        using var added = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/ldap-providers", new
        {
            name = "Corporate directory", host = TestDirectory.Host, port = TestDirectory.TlsPort, useTls = true, baseDn = unit,
            bindDn = TestDirectory.RootDn, bindPassword = TestDirectory.RootPassword, nestedGroups = true,
            groupRoles = new[] { new { group = engineering, roles = new[] { "engineer" } } },
        }, key);
        var providerId = (await ApiAssert.OkAsync(added, 201))["data"]!["id"]!.GetValue<string>();

        async Task<System.Text.Json.Nodes.JsonNode> SyncAsync()
        {
            using var synced = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/ldap-providers/{providerId}/sync", configure: key);
            return (await ApiAssert.OkAsync(synced))["data"]!;
        }

        async Task<string[]> RolesAsync(string uid)
        {
            using var users = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users?search={uid}", configure: key);
            var userId = Assert.Single((await ApiAssert.OkAsync(users))["data"]!.AsArray())!["id"]!.GetValue<string>();
            using var roles = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users/{userId}/roles", configure: key);
            return [.. (await ApiAssert.OkAsync(roles))["data"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>())];
        }

        var first = await SyncAsync();
        Assert.True(first["ok"]!.GetValue<bool>(), first.ToJsonString());
        Assert.Equal(2, first["created"]!.GetValue<int>());
        Assert.Equal(["engineer"], await RolesAsync(ada));
        Assert.Equal(["engineer"], await RolesAsync(bob));

        // Bob leaves the team; Ada leaves the company.
        TestDirectory.Replace(team, "member", bobDn);
        TestDirectory.Replace(team, "member", TestDirectory.RootDn);
        TestDirectory.Delete(adaDn);
        var second = await SyncAsync();
        Assert.Equal((1, 1, 0), (second["found"]!.GetValue<int>(), second["vanished"]!.GetValue<int>(), second["failed"]!.GetValue<int>()));
        Assert.Empty(await RolesAsync(ada));
        Assert.Empty(await RolesAsync(bob));
    }

    /// <summary>
    /// SAML single sign-on across the real processes: a SAML app added at federation through the gateway, an AuthnRequest
    /// (HTTP-Redirect) sending the browser to the token service's login page, federation asking token about the new
    /// session and admin about the user, and a signed response for the app's ACS that verifies with the metadata's key.
    /// </summary>
    [Fact]
    public async Task SamlApp_SignsAUserIn_AcrossTheGatewayAndServices_WithASignedAssertion()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        var (email, password) = await suite.CreateUserAsync(tenant, "Sam");
        using (var added = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/saml-apps",
                   new { name = "Wiki", entityId = "https://wiki.example.test", acsUrl = "https://wiki.example.test/acs", sloUrl = "https://wiki.example.test/slo" }, key))
        {
            await ApiAssert.OkAsync(added, 201);
        }

        using var browser = suite.Browser();
        var metadata = new System.Xml.XmlDocument();
        metadata.LoadXml(await browser.GetStringAsync($"/t/{tenant.Slug}/saml/idp/metadata"));
        using var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(
            Convert.FromBase64String(metadata.GetElementsByTagName("X509Certificate", "http://www.w3.org/2000/09/xmldsig#")[0]!.InnerText));

        var request = "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" "
                      + $"ID=\"_{Guid.NewGuid():N}\" Version=\"2.0\" IssueInstant=\"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ}\"><saml:Issuer>https://wiki.example.test</saml:Issuer></samlp:AuthnRequest>";
        using var deflated = new MemoryStream();
        using (var deflate = new System.IO.Compression.DeflateStream(deflated, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
        {
            deflate.Write(System.Text.Encoding.UTF8.GetBytes(request));
        }

        using var toLogin = await browser.GetAsync($"/t/{tenant.Slug}/saml/idp/sso?SAMLRequest={Uri.EscapeDataString(Convert.ToBase64String(deflated.ToArray()))}&RelayState=home");
        Assert.True(toLogin.StatusCode == HttpStatusCode.Redirect, await toLogin.Content.ReadAsStringAsync());
        var login = HostedForms.HiddenFields(await browser.GetStringAsync(toLogin.Headers.Location!.OriginalString));
        login["email"] = email;
        login["password"] = password;
        using var signedIn = await browser.PostAsync($"/t/{tenant.Slug}/login", new FormUrlEncodedContent(login));
        using var answer = await browser.GetAsync(signedIn.Headers.Location!.OriginalString);
        var fields = HostedForms.HiddenFields(await answer.Content.ReadAsStringAsync());
        Assert.Equal("home", fields["RelayState"]);

        var response = new System.Xml.XmlDocument { PreserveWhitespace = true };
        response.LoadXml(System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(fields["SAMLResponse"])));
        var signature = new System.Security.Cryptography.Xml.SignedXml(response);
        signature.LoadXml((System.Xml.XmlElement)response.DocumentElement!.GetElementsByTagName("Signature", "http://www.w3.org/2000/09/xmldsig#")[0]!);
        Assert.True(signature.CheckSignature(certificate, verifySignatureOnly: true));
        Assert.Equal(email, response.GetElementsByTagName("NameID", "urn:oasis:names:tc:SAML:2.0:assertion")[0]!.InnerText);
        Assert.Equal("https://wiki.example.test", response.GetElementsByTagName("Audience", "urn:oasis:names:tc:SAML:2.0:assertion")[0]!.InnerText);

        // Signing out at the token service signs the browser out of the app too: federation's signed LogoutRequest to its
        // logout URL, framed by the signed-out page.
        var logoutForm = HostedForms.HiddenFields(await browser.GetStringAsync($"{tenant.Api}/oauth/logout"));
        logoutForm["logout_confirmed"] = "yes";
        using var signedOut = await browser.PostAsync($"{tenant.Api}/oauth/logout", new FormUrlEncodedContent(logoutForm));
        var page = await signedOut.Content.ReadAsStringAsync();
        Assert.Contains("src=\"https://wiki.example.test/slo?SAMLRequest=", page, StringComparison.Ordinal);
        Assert.Contains("frame-src https://wiki.example.test", string.Join(' ', signedOut.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SamlAssertion_OfTheTenantsIdp_IsExchangedThroughTheGateway_ForTheLinkedUsersToken_WhichAnotherServiceAccepts()
    {
        const string exchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
        const string saml = "urn:oasis:names:tc:SAML:2.0:assertion";
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        var (email, password) = await suite.CreateUserAsync(tenant, "Ada");
        using var idpKey = System.Security.Cryptography.RSA.Create(2048);
        using var idpCertificate = new System.Security.Cryptography.X509Certificates.CertificateRequest(
                "CN=corp-idp", idpKey, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        using (var idp = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/identity-providers", new
               {
                   type = "saml", name = "Corp", entityId = "https://corp-idp.example.test", ssoUrl = "https://corp-idp.example.test/sso",
                   certificate = idpCertificate.ExportCertificatePem(), autoLinkUsers = true, allowTokenExchange = true,
               }, key))
        {
            await ApiAssert.OkAsync(idp, 201);
        }

        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients",
            new { name = "backend", applicationType = "m2m", grantTypes = new[] { "client_credentials", exchangeGrant }, allowedScopes = new[] { "documents.read" } }, key);
        var client = (await ApiAssert.OkAsync(created, 201))["data"]!;
        using var discovery = await suite.Gateway.GetAsync($"{tenant.Api}/.well-known/openid-configuration");
        var tokenEndpoint = (await ApiAssert.OkAsync(discovery))["token_endpoint"]!.GetValue<string>();

        // The IdP's bare assertion for the token endpoint (RFC 7522), naming the tenant's existing user by address.
        var now = DateTime.UtcNow;
        var assertion = new System.Xml.XmlDocument { PreserveWhitespace = true };
        assertion.LoadXml(
            $"<saml:Assertion xmlns:saml=\"{saml}\" ID=\"_{Guid.NewGuid():N}\" Version=\"2.0\" IssueInstant=\"{now:yyyy-MM-ddTHH:mm:ssZ}\"><saml:Issuer>https://corp-idp.example.test</saml:Issuer>"
            + $"<saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\">{email}</saml:NameID><saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">"
            + $"<saml:SubjectConfirmationData NotOnOrAfter=\"{now.AddMinutes(5):yyyy-MM-ddTHH:mm:ssZ}\" Recipient=\"{tokenEndpoint}\"/></saml:SubjectConfirmation></saml:Subject>"
            + $"<saml:Conditions NotBefore=\"{now.AddMinutes(-1):yyyy-MM-ddTHH:mm:ssZ}\" NotOnOrAfter=\"{now.AddMinutes(5):yyyy-MM-ddTHH:mm:ssZ}\"><saml:AudienceRestriction><saml:Audience>{tokenEndpoint}</saml:Audience>"
            + "</saml:AudienceRestriction></saml:Conditions></saml:Assertion>");
        var signed = new System.Security.Cryptography.Xml.SignedXml(assertion) { SigningKey = idpKey };
        signed.SignedInfo!.CanonicalizationMethod = System.Security.Cryptography.Xml.SignedXml.XmlDsigExcC14NTransformUrl;
        signed.SignedInfo.SignatureMethod = System.Security.Cryptography.Xml.SignedXml.XmlDsigRSASHA256Url;
        var reference = new System.Security.Cryptography.Xml.Reference("#" + assertion.DocumentElement!.GetAttribute("ID")) { DigestMethod = System.Security.Cryptography.Xml.SignedXml.XmlDsigSHA256Url };
        reference.AddTransform(new System.Security.Cryptography.Xml.XmlDsigEnvelopedSignatureTransform());
        reference.AddTransform(new System.Security.Cryptography.Xml.XmlDsigExcC14NTransform());
        signed.AddReference(reference);
        signed.ComputeSignature();
        assertion.DocumentElement.InsertAfter(assertion.ImportNode(signed.GetXml(), true), assertion.DocumentElement.FirstChild);

        using var exchanged = await suite.Gateway.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = exchangeGrant, ["client_id"] = client["clientId"]!.GetValue<string>(), ["client_secret"] = client["secret"]!.GetValue<string>(),
            ["subject_token"] = System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes(assertion.OuterXml)),
            ["subject_token_type"] = "urn:ietf:params:oauth:token-type:saml2", ["scope"] = "documents.read",
        }));
        var token = (await ApiAssert.OkAsync(exchanged))["access_token"]!.GetValue<string>();

        // The user's own token (a password sign-in) names the same person: the address linked the IdP account to them.
        var own = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(await suite.UserAccessTokenAsync(tenant, email, password));
        Assert.Equal(own.Subject, new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(token).Subject);

        // Another service takes it as the user's.
        using var check = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check",
            new { @object = "document:1", relation = "viewer", user = "user:a" }, SuiteFixture.Bearer(token));
        await ApiAssert.OkAsync(check);
    }

    [Fact]
    public async Task Passkey_AddedAndUsedThroughTheGateway_SignsInWithoutAPassword()
    {
        var tenant = await suite.CreateTenantAsync();
        var (email, password) = await suite.CreateUserAsync(tenant, "Pia");

        async Task<System.Text.Json.JsonElement> OptionsAsync(HttpClient browser, string kind)
        {
            using var response = await browser.PostAsync($"/t/{tenant.Slug}/webauthn/{kind}/options", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
            return System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        }

        Task<HttpResponseMessage> AnswerAsync(HttpClient browser, string kind, System.Text.Json.Nodes.JsonObject answer) =>
            browser.PostAsync($"/t/{tenant.Slug}/webauthn/{kind}", new StringContent(answer.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));

        using var passkey = new SoftwarePasskey();
        var origin = suite.Gateway.BaseAddress!.GetLeftPart(UriPartial.Authority);
        using (var browser = suite.Browser())
        {
            var login = HostedForms.HiddenFields(await browser.GetStringAsync($"/t/{tenant.Slug}/login"));
            login["email"] = email;
            login["password"] = password;
            using (await browser.PostAsync($"/t/{tenant.Slug}/login", new FormUrlEncodedContent(login)))
            {
            }

            using var registered = await AnswerAsync(browser, "register", passkey.Create(await OptionsAsync(browser, "register"), origin));
            await ApiAssert.OkAsync(registered, 201);
        }

        using var device = suite.Browser();
        using var signedIn = await AnswerAsync(device, "authenticate", passkey.Get(await OptionsAsync(device, "authenticate"), origin));
        Assert.True((await ApiAssert.OkAsync(signedIn))["signedIn"]!.GetValue<bool>());
    }

    [Fact]
    public async Task InvitationWithARole_AcceptedOnTheHostedPage_GivesTheNewUserThatRole()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        using (var permission = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/permissions", new { name = "Read reports", slug = "report.read" }, key))
        {
            await ApiAssert.OkAsync(permission, 201);
        }

        using (var role = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/roles", new { name = "Analyst", slug = "analyst", permissions = new[] { "report.read" } }, key))
        {
            await ApiAssert.OkAsync(role, 201);
        }

        // admin: the invitation names a role that exists and one that does not (deleted since, say)
        const string email = "analyst@example.com";
        using var invited = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/invitations", new { email, roles = new[] { "analyst", "gone" } }, key);
        var invitationId = Guid.Parse((await ApiAssert.OkAsync(invited, 201))["data"]!["id"]!.GetValue<string>());
        var token = "tok_" + Guid.NewGuid().ToString("N");
        await using (var db = new Npgsql.NpgsqlConnection(suite.DatabaseOf(ServiceNames.AdminDb)))
        {
            await db.OpenAsync();
            await using var update = new Npgsql.NpgsqlCommand("""UPDATE invitations SET "TokenHash" = @hash WHERE "Id" = @id""", db);
            update.Parameters.AddWithValue("hash", LumoAuth.Admin.Features.Credentials.TokenRedemptionEndpoints.HashOf(token));
            update.Parameters.AddWithValue("id", invitationId);
            Assert.Equal(1, await update.ExecuteNonQueryAsync());
        }

        // token: the invitee sets a password on the hosted page → admin creates the user → authorization assigns the role
        using var browser = suite.Browser();
        var page = $"/t/{tenant.Slug}{LumoAuth.Contracts.Internal.EmailLinkPaths.Invitation}";
        var form = HostedForms.HiddenFields(await browser.GetStringAsync($"{page}?token={token}"));
        form["name"] = "Ana Analyst";
        form["password"] = form["confirm"] = "Analyst-Passw0rd-2026!";
        using var accepted = await browser.PostAsync(page, new FormUrlEncodedContent(form));
        Assert.True(accepted.StatusCode == HttpStatusCode.OK, await accepted.Content.ReadAsStringAsync());

        using var users = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users?search={email}", configure: key);
        var userId = (await ApiAssert.OkAsync(users))["data"]!.AsArray().Single()!["id"]!.GetValue<string>();
        var roles = await ApiAssert.EventuallyAsync(async () =>
        {
            using var response = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users/{userId}/roles", configure: key);
            var data = (await ApiAssert.OkAsync(response))["data"]!;
            return data["roles"]!.AsArray().Count > 0 ? data : null;
        }, TimeSpan.FromSeconds(30));
        Assert.Equal(["analyst"], roles["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
        using var check = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/authz/check", new { permission = "report.read", subject = userId }, key);
        Assert.True((await ApiAssert.OkAsync(check))["allowed"]!.GetValue<bool>());

        // The role's creation and its assignment are in admin's audit log (role_created, user_role_assigned).
        async Task<System.Text.Json.Nodes.JsonObject> AuditedAsync(string query) => await ApiAssert.EventuallyAsync(async () =>
        {
            using var page = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/audit-logs?{query}", configure: key);
            return (await ApiAssert.OkAsync(page))["data"]!.AsArray().FirstOrDefault()?.AsObject();
        }, TimeSpan.FromSeconds(30));
        var roleCreated = await AuditedAsync("action=role_created");
        Assert.Equal(("role", "analyst"), (roleCreated["target"]!["type"]!.GetValue<string>(), roleCreated["metadata"]!["slug"]!.GetValue<string>()));
        var assigned = await AuditedAsync($"action=user_role_assigned&targetId={userId}");
        Assert.Equal("analyst", assigned["metadata"]!["role"]!.GetValue<string>());
        Assert.Equal("authorization", assigned["category"]!.GetValue<string>());
    }

    [Fact]
    public async Task GdprExport_GathersSessionsAndRolesFromTheOtherServices_AndErasureSignsTheUserOut()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        const string email = "subject@example.com";
        const string password = "Subject-Passw0rd-2026!";
        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/users", new { email, password }, key);
        var userId = (await ApiAssert.OkAsync(created, 201))["data"]!["id"]!.GetValue<string>();
        using (var permission = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/permissions", new { name = "Read ledger", slug = "ledger.read" }, key))
        {
            await ApiAssert.OkAsync(permission, 201);
        }

        using (var role = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/roles", new { name = "Auditor", slug = "auditor", permissions = new[] { "ledger.read" } }, key))
        {
            await ApiAssert.OkAsync(role, 201);
        }

        using (var assigned = await suite.SendAsync(HttpMethod.Put, $"{tenant.Api}/admin/users/{userId}/roles", new { roles = new[] { "auditor" } }, key))
        {
            await ApiAssert.OkAsync(assigned);
        }

        // The user signs in on the hosted page: a session at the token service.
        using var browser = suite.Browser();
        var login = HostedForms.HiddenFields(await browser.GetStringAsync($"/t/{tenant.Slug}/login"));
        login["email"] = email;
        login["password"] = password;
        using (var signedIn = await browser.PostAsync($"/t/{tenant.Slug}/login", new FormUrlEncodedContent(login)))
        {
            Assert.True(signedIn.StatusCode == HttpStatusCode.OK, await signedIn.Content.ReadAsStringAsync());
        }

        using var exported = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/gdpr/data-export", new { userId }, key);
        var bundle = (await ApiAssert.OkAsync(exported))["data"]!;
        Assert.Empty(bundle["unavailable"]!.AsArray());
        var session = Assert.Single(bundle["sessions"]!.AsArray())!;
        Assert.False(string.IsNullOrEmpty(session["ipAddress"]?.GetValue<string>()));
        Assert.Equal("password", session["authMethod"]!.GetValue<string>());
        Assert.Equal(["auditor"], bundle["roles"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
        Assert.Contains("ledger.read", bundle["roles"]!["permissions"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Equal(["permissions", "roles"], bundle["roles"]!.AsObject().Select(p => p.Key).Order());
        Assert.NotNull(bundle["consents"]!.AsArray());

        // Erasure: the user is gone everywhere — signed out at the token service, no roles at the authorization service.
        using var erased = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/gdpr/data-deletion", new { userId = email }, key);
        Assert.StartsWith("erased_", (await ApiAssert.OkAsync(erased))["data"]!["erasedAs"]!.GetValue<string>());
        await ApiAssert.EventuallyAsync(async () =>
        {
            using var sessions = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/sessions?userId={userId}", configure: key);
            return (await ApiAssert.OkAsync(sessions))["data"]!.AsArray().Count == 0 ? "signed out" : null;
        }, TimeSpan.FromSeconds(30));
        await ApiAssert.EventuallyAsync(async () =>
        {
            using var check = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/authz/check", new { permission = "ledger.read", subject = userId }, key);
            return (await ApiAssert.OkAsync(check))["allowed"]!.GetValue<bool>() ? null : "denied";
        }, TimeSpan.FromSeconds(30));
    }
    /// <summary>
    /// SCIM's /Me can change the password and sign-in names, so it takes the user's own password (HTTP Basic): an access
    /// token of the user, which every application they signed in to holds, is refused, and changes nothing.
    /// </summary>
    [Fact]
    public async Task ScimMe_WithAUsersAccessToken_IsRefused_WithTheirPasswordWorks()
    {
        var tenant = await suite.CreateTenantAsync();
        var (email, password) = await suite.CreateUserAsync(tenant, "Mia");
        var token = await suite.UserAccessTokenAsync(tenant, email, password);
        var patch = new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" },
            Operations = new[] { new { op = "replace", path = "password", value = "Taken-Over-Password-1!" } },
        };

        using (var read = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/scim2.0/Me", configure: SuiteFixture.Bearer(token)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, read.StatusCode);
        }

        using (var takeOver = await suite.SendAsync(HttpMethod.Patch, $"{tenant.Api}/scim2.0/Me", patch, SuiteFixture.Bearer(token)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, takeOver.StatusCode);
            Assert.Contains("HTTP Basic", await takeOver.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // The password is unchanged: the user still signs in with it, here as /Me with Basic.
        var basic = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{email}:{password}")));
        using var me = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/scim2.0/Me", configure: r => r.Headers.Authorization = basic);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Contains(email, await me.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// A SCIM delete (soft, the default) switches the user off: the token service ends their sessions and denies their
    /// access tokens. Redis is down when the event arrives, so the tokens cannot be denied then: the event is tried again
    /// until Redis is back, and the token is refused after all.
    /// </summary>
    [Fact]
    public async Task ScimSoftDelete_SignsTheUserOut_EvenWithRedisDownWhenTheEventArrives()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        var (email, password) = await suite.CreateUserAsync(tenant, "Dee");
        var token = await suite.UserAccessTokenAsync(tenant, email, password);
        var tuple = new { @object = "document:1", relation = "viewer", user = "user:a" };
        using (var users = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users?search={Uri.EscapeDataString(email)}", configure: key))
        {
            var userId = Assert.Single((await ApiAssert.OkAsync(users))["data"]!.AsArray())!["id"]!.GetValue<string>();
            // Another service, which knows nothing of the user's state but the shared deny-list, takes the token.
            using var before = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", tuple, SuiteFixture.Bearer(token));
            await ApiAssert.OkAsync(before);

            await TestInfrastructure.InfraAsync("stop", "redis");
            try
            {
                using var deleted = await suite.SendAsync(HttpMethod.Delete, $"{tenant.Api}/scim2.0/Users/{userId}", configure: SuiteFixture.Bearer(tenant.ApiKey));
                Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
                // The token service has handled the event as far as it could: the session ended, the tokens not yet denied.
                await ApiAssert.EventuallyAsync(async () =>
                {
                    using var sessions = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/sessions?userId={userId}", configure: key);
                    return (await ApiAssert.OkAsync(sessions))["data"]!.AsArray().Count == 0 ? "signed out" : null;
                }, TimeSpan.FromSeconds(30));
            }
            finally
            {
                await TestInfrastructure.InfraAsync("start", "redis");
            }
        }

        await ApiAssert.EventuallyAsync(async () =>
        {
            using var after = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", tuple, SuiteFixture.Bearer(token));
            return after.StatusCode == HttpStatusCode.Unauthorized ? "refused" : null;
        }, TimeSpan.FromSeconds(120));
    }
}
