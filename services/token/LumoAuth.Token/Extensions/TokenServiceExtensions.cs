using LumoAuth.Token.Features.Jit;
using LumoAuth.Messaging;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Geo;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Token.Data;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.AAuth;
using LumoAuth.Token.Features.AccountPages;
using LumoAuth.Token.Features.Authorize;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Ciba;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Features.Device;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using LumoAuth.Token.Features.Logout;
using LumoAuth.Token.Features.Registration;
using LumoAuth.Token.Features.UserInfo;
using LumoAuth.Token.Features.Keys;
using LumoAuth.Token.Features.Scopes;
using LumoAuth.Token.Features.Sessions;
using LumoAuth.Token.Features.Tokens;
using LumoAuth.Token.Features.Cors;
using LumoAuth.Token.Features.Token;
using LumoAuth.Token.Keys;
using LumoAuth.Token.Protocol;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Core;
using OpenIddict.Server;

namespace LumoAuth.Token.Extensions;

public static class TokenServiceExtensions
{
    /// <summary>
    /// Everything the token service registers: OpenIddict per tenant (flows, endpoints, our ordered handlers), keys,
    /// the client cache, the hosted pages (session cookie, CSRF, login throttling), revocation in Redis, audit batching.
    /// </summary>
    public static IHostApplicationBuilder AddTokenService(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;

        // Data Protection protects tenant private keys at rest; the key ring lives in the token database (so every
        // replica shares it), each ring key encrypted with the deployment's key-encryption key.
        builder.AddDatabaseKeyRing<TokenDbContext>("LumoAuth.Token");

        // Revoked stateless access tokens, shared with every service's bearer validation.
        builder.AddRedisAccessTokenDenyList();

        // Hosted pages: the SSO session cookie, CSRF tokens, login throttling, and the users and roles they need.
        services.AddAuthentication().AddSessionCookie();
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "lumo_csrf";
            o.FormFieldName = "__csrf";
        });
        services.AddOptions<Microsoft.AspNetCore.Antiforgery.AntiforgeryOptions>().Configure<IOptions<LumoAuth.ServiceDefaults.LumoAuthOptions>>((o, lumo) =>
            o.Cookie.SecurePolicy = SessionCookie.SecurePolicyFor(lumo.Value));
        services.AddLoginRateLimit();
        services.AddScoped<SessionStore>();
        services.AddScoped<TrustedDevices>();
        services.AddGeoIp();
        services.AddSingleton<FailedSignInThrottle>();
        services.AddScoped<SessionRevocation>();
        services.AddScoped<Features.Consents.ApplicationAccess>();
        services.AddHostedService<LumoAuth.Token.Features.Housekeeping.TokenStoreHousekeeping>();
        services.AddScoped<FrontchannelLogout>();
        services.AddSingleton<UserAccessTokenIndex>();
        // Back-channel logout and CIBA pings call clients' servers (short timeouts); Client ID Metadata Documents are fetched
        // from wherever a client_id points (a user's sign-in waits; a site that fails keeps its stored copy a while instead).
        static bool AllowPrivate(IServiceProvider sp) => sp.GetRequiredService<IOptions<TokenServiceOptions>>().Value.AllowPrivateLogoutTargets;
        services.AddOutsideTargetClient(
            ClientCallbacks.HttpClientName, c => (c.Timeout, c.MaxResponseContentBufferSize) = (TimeSpan.FromSeconds(5), ClientCallbacks.MaxAnswerBytes), AllowPrivate);
        services.AddSingleton<ClientCallbacks>();
        services.AddOutsideTargetClient(ClientMetadataDocuments.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(10), AllowPrivate);
        // Request objects a client published at a registered request_uri (a user's sign-in waits; bounded in time and size).
        services.AddOutsideTargetClient(RequestObjectReferences.HttpClientName, c => c.Timeout = RequestObjectReferences.FetchTimeout, AllowPrivate);
        services.AddSingleton<ClientMetadataDocuments>();
        // Workload issuers' discovery documents and key sets (only of issuers an agent trusts).
        services.AddOpenIdProviders(AllowPrivate);
        services.AddSingleton<UserDirectory>();
        services.AddSingleton<FederatedLogins>();
        // One attempt each: a sign-in page does not wait out retries for its buttons, and a ticket is spent by its first
        // redemption (a retry after a lost answer would find it gone).
#pragma warning disable EXTEXP0001 // marked for evaluation; the one way to take the defaults' resilience off one client
        services.AddHttpClient(LumoAuth.ServiceDefaults.Http.InternalClients.Federation).RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        services.AddScoped<ProviderButtons>();
        services.AddScoped<Features.Token.ExternalSubjectExchange>();
        services.AddSingleton<AccountLinkClient>();
        services.AddSingleton<PendingTerms>();
        services.AddSingleton<PendingProfile>();
        services.AddSingleton<ApprovalSteps>();
        services.AddSingleton<RolesDirectory>();
        services.TryAddSingleton<IMcpResourceSource, AgentsMcpResourceSource>();
        services.AddSingleton<McpResources>();
        services.AddSingleton<AgentDirectory>();
        services.AddScoped<JitTaskExchange>();
        services.AddSingleton<UserClaims>();
        services.AddSingleton<AdministratorGuard>();
        services.AddSingleton<HostedPageSettingsCache>();

        services.AddSingleton<TenantKeyStore>();
        services.AddSingleton<ClientCache>();
        services.AddSingleton<Features.Scopes.ScopeClaimsCache>();
        services.AddSingleton<ClientKeySets>();
        services.AddSingleton<SectorIdentifiers>();
        services.AddSingleton<DPoPBinding.DPoPNonces>();
        services.AddSingleton<ClientAssertionReplays>();
        services.AddSingleton<BackchannelClientAuthentication>();
        services.Replace(ServiceDescriptor.Singleton<IJwksSource, LocalJwksSource>());
        // Issued access tokens travel as one AccessTokensIssued message per tenant and batch.
        services.AddEventBatcher<TokenDbContext>(RecordAccessTokenIssued.Combine);

        // OpenIddict logs whole requests and responses; its logger masks what it leaves in clear (RedactedProtocolLog).
        services.AddSingleton<ILogger<OpenIddictServerDispatcher>, RedactedProtocolLog>();
        services.AddOpenIddict()
            .AddCore(core =>
            {
                core.UseEntityFrameworkCore()
                    .UseDbContext<TokenDbContext>()
                    .ReplaceDefaultEntities<TokenApplication, TokenAuthorization, TokenScope, TokenToken, Guid>();
                core.ReplaceApplicationManager<TokenApplication, TokenApplicationManager>();
                core.ReplaceTokenManager<TokenToken, TokenTokenManager>();
                // Our manager caches clients per tenant; OpenIddict's per-request entity cache adds nothing.
                core.DisableEntityCaching();
            })
            .AddServer(server =>
            {
                // Endpoints: relative, no leading slash, so they resolve under the tenant's PathBase.
                server.SetConfigurationEndpointUris(".well-known/openid-configuration", ".well-known/oauth-authorization-server")
                    .SetJsonWebKeySetEndpointUris(".well-known/jwks.json")
                    .SetTokenEndpointUris("oauth/token")
                    .SetIntrospectionEndpointUris("oauth/introspect")
                    .SetRevocationEndpointUris("oauth/revoke")
                    .SetAuthorizationEndpointUris("oauth/authorize")
                    .SetPushedAuthorizationEndpointUris("oauth/par")
                    .SetDeviceAuthorizationEndpointUris("oauth/device_authorization")
                    .SetEndUserVerificationEndpointUris("oauth/device")
                    .SetUserInfoEndpointUris("oauth/userinfo")
                    .SetEndSessionEndpointUris("oauth/logout");

                // Flows. Codes are single use (a replay revokes the grant's tokens); refresh tokens rotate, and
                // reuse after a short leeway (two concurrent refreshes) revokes the grant (RFC 9700 §4.14).
                server.AllowClientCredentialsFlow()
                    .AllowAuthorizationCodeFlow()
                    .AllowRefreshTokenFlow()
                    .AllowDeviceAuthorizationFlow()
                    .AllowTokenExchangeFlow()
                    .AllowCustomFlow(CibaDelivery.GrantType);
                // Delegation (RFC 8693, TokenExchange): access tokens in, access tokens out. A refresh or ID token out
                // would carry the user without the act claim.
                server.Configure(o =>
                {
                    o.SubjectTokenTypes.Clear();
                    o.SubjectTokenTypes.Add(OpenIddictConstants.TokenTypeIdentifiers.AccessToken);
                    // Outside subjects (ExternalSubjectExchange): SAML 2.0 assertions of the tenant's IdPs and ID tokens of its
                    // OpenID providers, checked by federation. Our own ID tokens stay refused (TokenExchange.SupportedTokenTypes).
                    o.SubjectTokenTypes.Add(LumoAuth.Contracts.Internal.ExternalSubjectTypes.Saml2);
                    o.SubjectTokenTypes.Add(LumoAuth.Contracts.Internal.ExternalSubjectTypes.Saml2AsDocumented);
                    o.SubjectTokenTypes.Add(LumoAuth.Contracts.Internal.ExternalSubjectTypes.IdToken);
                    o.SubjectTokenTypes.Add(LumoAuth.Contracts.Internal.ExternalSubjectTypes.Jwt);
                    o.ActorTokenTypes.Clear();
                    o.ActorTokenTypes.Add(OpenIddictConstants.TokenTypeIdentifiers.AccessToken);
                    o.RequestedTokenTypes.Clear();
                    o.RequestedTokenTypes.Add(OpenIddictConstants.TokenTypeIdentifiers.AccessToken);
                    o.DefaultRequestedTokenType = OpenIddictConstants.TokenTypeIdentifiers.AccessToken;
                });
                // Mutual TLS (RFC 8705): the gateway forwards the client certificate (ServiceDefaults'
                // ForwardedClientCertificateMiddleware). A confidential client whose JWKS holds its certificate (x5c)
                // may authenticate with it (self_signed_tls_client_auth), and any certificate that passes binds the
                // access token to itself (cnf.x5t#S256), which every service's bearer validation then asks for.
                server.EnableSelfSignedTlsClientAuthentication();
                // tls_client_auth (PKI): trust anchors and subject are each client's own (TlsClientAuth); the server-wide
                // root OpenIddict asks for is a placeholder that can issue nothing.
                server.EnablePublicKeyInfrastructureTlsClientAuthentication(TlsClientAuth.PlaceholderRoot());
                server.UseClientCertificateBoundAccessTokens();
                // The implicit and hybrid response types the docs list (inventory C-07), only for clients whose grant
                // types include implicit (ClientPermissions); "none" checks a session and issues nothing.
                server.AllowImplicitFlow()
                    .AllowHybridFlow()
                    .AllowNoneFlow();
                // The longest RFC 6749 §4.1.2 recommends, and what the docs state.
                server.SetAuthorizationCodeLifetime(TimeSpan.FromMinutes(10));
                // The docs' hour (OpenIddict's default is 20 minutes); no client or tenant setting changes it.
                server.SetIdentityTokenLifetime(TimeSpan.FromHours(1));
                // A pushed request's request_uri (RFC 9126) lives as long as the docs say (600 s, inventory C-10), and
                // is redeemed when the authorization endpoint answers with a code; until then the user may sign in.
                server.Configure(o => o.RequestTokenLifetime = TimeSpan.FromMinutes(10));
                // Device flow (RFC 8628, TOK-07/08): codes live 600 s; user codes are eight letters of the docs'
                // base-20 set (no vowels, nothing ambiguous), shown as XXXX-XXXX.
                server.SetDeviceCodeLifetime(TimeSpan.FromMinutes(10))
                    .SetUserCodeLifetime(TimeSpan.FromMinutes(10))
                    .SetUserCodeCharset([.. DeviceCodes.UserCodeCharset.Select(c => c.ToString())])
                    .SetUserCodeLength(8)
                    .SetUserCodeDisplayFormat("{0}{1}{2}{3}-{4}{5}{6}{7}");

                // Scopes are per client (scp: permissions), checked by the token and authorization endpoints
                // with invalid_scope; the standard ones are advertised.
                server.DisableScopeValidation()
                    .IgnoreScopePermissions()
                    .RegisterScopes(ScopeNames.OpenId, ScopeNames.Profile, ScopeNames.Email, ScopeNames.Address, ScopeNames.Phone, ScopeNames.OfflineAccess);

                // claims_supported (OIDC Discovery §3): what our ID tokens, access tokens and userinfo can carry.
                server.RegisterClaims(
                    OpenIddictConstants.Claims.Name, OpenIddictConstants.Claims.GivenName, OpenIddictConstants.Claims.FamilyName,
                    OpenIddictConstants.Claims.PreferredUsername, OpenIddictConstants.Claims.Picture, OpenIddictConstants.Claims.Locale, OpenIddictConstants.Claims.UpdatedAt, OpenIddictConstants.Claims.Email,
                    OpenIddictConstants.Claims.EmailVerified, OpenIddictConstants.Claims.PhoneNumber, OpenIddictConstants.Claims.PhoneNumberVerified, OpenIddictConstants.Claims.Address,
                    OpenIddictConstants.Claims.AuthenticationTime, OpenIddictConstants.Claims.AuthenticationMethodReference,
                    OpenIddictConstants.Claims.AuthenticationContextReference, SessionCookie.SessionIdClaim, OpenIddictConstants.Claims.ClientId,
                    OpenIddictConstants.Claims.Scope, OpenIddictConstants.Claims.JwtId, LumoClaims.TenantId, LumoClaims.Tenant,
                    UserClaims.RolesClaim, UserClaims.PermissionsClaim, UserClaims.GroupsClaim);

                // prompt=create (OpenID Connect Prompt Create): advertised per tenant by TenantSettingsInDiscovery.
                server.RegisterPromptValues(RegistrationEndpoints.PromptCreate);

                // Requirements: PKCE per client (mandatory for public ones, inventory C-06), S256 or plain.
                server.Configure(o => o.CodeChallengeMethods.Add(OpenIddictConstants.CodeChallengeMethods.Plain));

                // Credentials: per tenant, swapped in by TenantServerOptionsMonitor. RFC 9068 JWTs are signed, not encrypted.
                server.DisableAccessTokenEncryption();

                // Extensions.
                server.AddEventHandler(PinBaseUriToIssuer.Descriptor);
                server.AddEventHandler(TenantSettingsInDiscovery.Descriptor)
                    .AddEventHandler(AdvertiseLogoutSupport.Descriptor)
                    .AddEventHandler(CustomScopesInDiscovery.Descriptor);
                server.AddEventHandler(StatelessClientCredentialsTokens.Descriptor);
                server.AddEventHandler(RecordAccessTokenIssued.Descriptor)
                    .AddEventHandler(IndexUserAccessTokens.Descriptor);
                server.AddEventHandler(RefuseRevokedAccessTokens.Descriptor)
                    .AddEventHandler(RefreshTokenReuseOnce.Descriptor);
                server.AddEventHandler(RedirectVerifiableAuthorizationErrors.Descriptor)
                    .AddEventHandler(AuthorizationErrorPage.Descriptor)
                    .AddEventHandler(EndSessionErrorPage.Descriptor)
                    .AddEventHandler(EndUserVerificationErrorPage.Descriptor)
                    .AddEventHandler(UserInfoErrorsAsJson.Descriptor);
                server.AddEventHandler(PkceFailuresAreInvalidGrant.Descriptor);
                server.AddEventHandler(PushedRequestTime.Descriptor)
                    .AddEventHandler(PushedRequestsRequired.Descriptor);
                server.AddEventHandler(DeviceRequestScopes.Descriptor)
                    .AddEventHandler(DevicePollingInterval.Descriptor)
                    .AddEventHandler(DevicePollingTooFast.Descriptor);
                // OpenIddict's own proof-of-possession check knows only certificate-bound tokens (cnf.x5t#S256) and throws on a
                // DPoP binding. Ours are checked by CertificateBoundRefreshTokens (refresh tokens), DPoPBinding (both kinds at
                // userinfo, DPoP at the token endpoint) and TokenExchange (subject and actor tokens).
                server.RemoveEventHandler(OpenIddictServerHandlers.Protection.ValidateProofOfPossession.Descriptor);
                server.AddEventHandler(DPoPBinding.CheckTokenRequestProof.Descriptor)
                    .AddEventHandler(DPoPBinding.CheckAuthorizationKeyParameter.Descriptor)
                    .AddEventHandler(DPoPBinding.BindPushedRequests.Descriptor)
                    .AddEventHandler(DPoPBinding.BindIssuedTokens.Descriptor)
                    .AddEventHandler(DPoPBinding.DPoPTokenType.Descriptor)
                    .AddEventHandler(DPoPBinding.IntrospectBinding.Descriptor)
                    .AddEventHandler(DPoPBinding.ExtractDPoPAccessToken.Descriptor)
                    .AddEventHandler(DPoPBinding.CheckUserInfoProof.Descriptor)
                    .AddEventHandler(DPoPBinding.DPoPChallengeAtUserInfo.Descriptor)
                    .AddEventHandler(DPoPBinding.AdvertiseDPoP.Descriptor);
                server.AddEventHandler(CertificateBoundRefreshTokens.Bind.Descriptor)
                    .AddEventHandler(CertificateBoundRefreshTokens.Check.Descriptor);
                // Resource indicators (RFC 8707): per-client audience URIs, checked by ResourceIndicators instead of
                // OpenIddict's server-wide resource list and exact per-client permissions.
                server.DisableResourceValidation()
                    .IgnoreResourcePermissions();
                server.AddEventHandler(ResourceIndicators.CheckRequested.AuthorizationDescriptor)
                    .AddEventHandler(ResourceIndicators.CheckRequested.PushedDescriptor)
                    .AddEventHandler(ResourceIndicators.CheckRequested.TokenDescriptor)
                    .AddEventHandler(ResourceIndicators.CheckRequested.DeviceDescriptor)
                    .AddEventHandler(ResourceIndicators.DeviceGrantResources.Descriptor)
                    .AddEventHandler(ResourceIndicators.WithinTheGrant.Descriptor)
                    .AddEventHandler(ResourceIndicators.Audiences.Descriptor)
                    .AddEventHandler(McpResources.RequirePkce.AuthorizationDescriptor)
                    .AddEventHandler(McpResources.RequirePkce.PushedDescriptor)
                    .AddEventHandler(McpResources.Lifetime.Descriptor)
                    .AddEventHandler(ResourceIndicators.Advertise.Descriptor);
                server.AddEventHandler(RegisteredClientAuthentication.Descriptor)
                    .AddEventHandler(AgentTokenGate.Check.Descriptor)
                    .AddEventHandler(AgentTokenGate.Statuses.Descriptor)
                    .AddEventHandler(Fapi2Baseline.PkceWithS256.Descriptor);
                // A pushed request meets the authorization endpoint's own rules at the push (RFC 9126 §2.1).
                server.AddEventHandler(AuthorizationRequestRules.AtPush.Descriptor);
                server.AddEventHandler(ClaimsRequest.Check.AuthorizationDescriptor).AddEventHandler(ClaimsRequest.Check.PushedDescriptor);
                // Rich Authorization Requests (RFC 9396).
                server.AddEventHandler(AuthorizationDetails.Check.AuthorizationDescriptor)
                    .AddEventHandler(AuthorizationDetails.Check.PushedDescriptor)
                    .AddEventHandler(AuthorizationDetails.Check.TokenDescriptor)
                    .AddEventHandler(AuthorizationDetails.Check.DeviceDescriptor)
                    .AddEventHandler(AuthorizationDetails.InTokenResponses.Descriptor)
                    .AddEventHandler(AuthorizationDetails.InIntrospection.Descriptor)
                    .AddEventHandler(AuthorizationDetails.Advertise.Descriptor);
                // FAPI 2.0 Message Signing: signed requests (RFC 9101, JAR) and signed responses (JARM), for any client
                // that uses them, required of clients on the fapi2_advanced profile.
                server.AddEventHandler(RequestObjectReferences.Fetch.Descriptor)
                    .AddEventHandler(SignedRequestObjects.Unpack.AuthorizationDescriptor)
                    .AddEventHandler(SignedRequestObjects.Unpack.PushedDescriptor)
                    .AddEventHandler(SignedRequestObjects.Required.AuthorizationDescriptor)
                    .AddEventHandler(SignedRequestObjects.Required.PushedDescriptor)
                    .AddEventHandler(SignedRequestObjects.Advertise.Descriptor);
                server.Configure(o => o.ResponseModes.UnionWith(SignedAuthorizationResponses.Modes));
                server.AddEventHandler(SignedAuthorizationResponses.NoTokensInQuery.Descriptor)
                    .AddEventHandler(SignedAuthorizationResponses.Sign.Descriptor)
                    .AddEventHandler(SignedAuthorizationResponses.Advertise.Descriptor);
                server.AddEventHandler(SignedIntrospectionResponses.Sign.Descriptor);
                server.AddEventHandler(ClientSigning.IdentityTokens.Descriptor)
                    .AddEventHandler(ClientSigning.FapiAccessTokens.Descriptor)
                    .AddEventHandler(ClientSigning.Advertise.Descriptor)
                    .AddEventHandler(PairwiseSubjects.InIdentityTokens.Descriptor)
                    .AddEventHandler(PairwiseSubjects.InHints.Descriptor)
                    .AddEventHandler(PairwiseSubjects.Advertise.Descriptor)
                    .AddEventHandler(EncryptedResponses.Advertise.Descriptor);
                server.AddEventHandler(EncryptedRequests.DecryptIdTokenHints.AuthorizationDescriptor)
                    .AddEventHandler(EncryptedRequests.DecryptIdTokenHints.EndSessionDescriptor)
                    .AddEventHandler(EncryptedRequests.PublishKey.Descriptor)
                    .AddEventHandler(EncryptedRequests.Advertise.Descriptor);
                server.RemoveEventHandler(OpenIddictServerHandlers.Exchange.ValidateAuthorizedParty.Descriptor)
                    .AddEventHandler(TokenExchange.AuthorizedPartyOutsideExchanges.Descriptor);
                server.AddEventHandler(TokenExchange.SupportedTokenTypes.Descriptor)
                    .AddEventHandler(TokenExchange.Policy.Descriptor)
                    .AddEventHandler(TokenExchange.ErrorStatuses.Descriptor)
                    .AddEventHandler(TokenExchange.NameTheDefaultScope.Descriptor)
                    .AddEventHandler(TokenExchange.IntrospectActors.Descriptor)
                    .AddEventHandler(ExternalSubjectExchange.LeaveOutsideTokensToFederation.Descriptor);
                server.AddEventHandler(CibaDiscovery.Descriptor);
                server.AddEventHandler(AuthenticationLevels.Advertise.Descriptor);
                server.AddEventHandler(RecordSecurityEvents.Descriptor);
                server.AddEventHandler(UserInfoTokenErrorsInDocsWords.Descriptor);
                server.AddEventHandler(AlwaysNameTheGrantedScope.Descriptor);
                server.AddEventHandler(ScopeBeyondTheGrantIsInvalidScope.Descriptor);
                server.AddEventHandler(FreshClientAssertionKeys.Descriptor);
                server.AddEventHandler(RejectReplayedClientAssertions.Descriptor)
                    .AddEventHandler(ClientAssertionFailuresAreInvalidClient.Descriptor);
                server.RemoveEventHandler(OpenIddictServerHandlers.Introspection.ValidateAuthorizedParty.Descriptor)
                    .AddEventHandler(IntrospectionAuthorizedParty.Descriptor)
                    .AddEventHandler(IntrospectionScopes.Descriptor)
                    .AddEventHandler(IntrospectionUsername.Descriptor)
                    // Answers about credentials are never cached (as token responses, RFC 6749 §5.1).
                    .AddEventHandler(OpenIddict.Server.AspNetCore.OpenIddictServerAspNetCoreHandlers.AttachCacheControlHeader<OpenIddictServerEvents.ApplyIntrospectionResponseContext>.Descriptor)
                    .AddEventHandler(OpenIddict.Server.AspNetCore.OpenIddictServerAspNetCoreHandlers.AttachCacheControlHeader<OpenIddictServerEvents.ApplyRevocationResponseContext>.Descriptor);
                server.RemoveEventHandler(OpenIddictServerHandlers.Revocation.RevokeToken.Descriptor)
                    .AddEventHandler(RevokeTokens.Descriptor);

                // Host: TLS ends at the gateway; the issuer is pinned per tenant, never taken from the request.
                server.UseAspNetCore()
                    .EnableTokenEndpointPassthrough()
                    .EnableAuthorizationEndpointPassthrough()
                    .EnableUserInfoEndpointPassthrough()
                    .EnableEndSessionEndpointPassthrough()
                    .EnableEndUserVerificationEndpointPassthrough()
                    .DisableTransportSecurityRequirement();
            });

        services.AddOptions<TokenServiceOptions>().BindConfiguration(TokenServiceOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IConfigureOptions<OpenIddictServerOptions>>(sp => new ConfigureOptions<OpenIddictServerOptions>(o =>
            o.RefreshTokenReuseLeeway = TimeSpan.FromSeconds(sp.GetRequiredService<IOptions<TokenServiceOptions>>().Value.RefreshTokenReuseLeewaySeconds)));

        // Endpoints and handlers take our managers by their own types; they are the ones OpenIddict resolves, too.
        services.AddScoped(sp => (TokenApplicationManager)sp.GetRequiredService<OpenIddictApplicationManager<TokenApplication>>());
        services.AddScoped(sp => (TokenTokenManager)sp.GetRequiredService<OpenIddictTokenManager<TokenToken>>());
        services.AddSingleton<TenantServerOptionsMonitor>();
        services.Replace(ServiceDescriptor.Singleton<IOptionsMonitor<OpenIddictServerOptions>>(sp => sp.GetRequiredService<TenantServerOptionsMonitor>()));
        return builder;
    }

    /// <summary>
    /// Routing, then the tenant PathBase rewrite, then CORS for browser clients, then the client-credentials fast
    /// path, then the tenant's page languages, then security headers and 303 redirects for everything else, then authentication (OpenIddict) and
    /// authorization — in that order.
    /// </summary>
    public static WebApplication UseTokenServer(this WebApplication app)
    {
        app.UseRouting();
        app.UseMiddleware<TenantPathMiddleware>();
        app.UseMiddleware<ClientCors>();
        app.UseMiddleware<ClientCredentialsFastPath>();
        app.UseMiddleware<WorkloadTokenExchange>();
        app.UseMiddleware<TenantLanguages>();
        app.UseMiddleware<BrowserSecurityHeaders>();
        app.UseMiddleware<SeeOtherRedirects>();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        return app;
    }

    public static WebApplication MapTokenServiceEndpoints(this WebApplication app)
    {
        app.MapTokenEndpoints();
        app.MapClientEndpoints();
        app.MapDynamicRegistrationEndpoints();
        app.MapScopeEndpoints();
        app.MapSigningKeyEndpoints();
        app.MapAuthorizeEndpoints();
        app.MapDeviceVerificationEndpoints();
        app.MapBackchannelAuthenticationEndpoints();
        app.MapCibaApprovalEndpoints();
        app.MapAAuthConsentEndpoints();
        app.MapUserInfoEndpoints();
        app.MapLoginEndpoints();
        app.MapExternalLoginEndpoints();
        app.MapLdapLoginEndpoints();
        app.MapMagicLinkEndpoints();
        app.MapPasskeyEndpoints();
        app.MapRegistrationEndpoints();
        app.MapAccountPages();
        app.MapSessionEndpoints();
        app.MapUserSessionDataEndpoints();
        app.MapBrowserSessionEndpoints();
        app.MapTrustedDeviceEndpoints();
        app.MapMfaAccountPage();
        app.MapSessionsAccountPage();
        app.MapApplicationsAccountPage();
        Features.Localization.SentenceEndpoints.MapSentenceEndpoints(app);
        app.MapLinkedAccountsPage();
        app.MapPasswordAccountPage();
        app.MapProfileAccountPage();
        app.MapAdminTokenEndpoints();
        Features.Consents.ConsentEndpoints.MapConsentEndpoints(app);
        app.MapJitTokenEndpoints();
        app.MapAAuthTokenEndpoints();
        app.MapAgentClientEndpoints();
        app.MapLogoutEndpoints();
        app.MapLanguageChoice();
        return app;
    }
}
