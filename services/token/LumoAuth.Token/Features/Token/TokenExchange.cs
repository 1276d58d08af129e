using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Protocol;
using Microsoft.AspNetCore;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Features.Token;

/// <summary>
/// Delegation by token exchange (RFC 8693): a client holding a subject's access token, and enabled for the
/// token-exchange grant, gets a token for the same subject that names the actor in an <c>act</c> claim — the outermost
/// <c>act</c> is the current actor, nested ones the actors before it (§4.1). The actor is the client of the actor
/// token, which must be enabled for delegation too. Scopes only narrow (subject ∩ actor), lifetimes only shorten, and a
/// chain holds at most <see cref="MaxDepth"/> actors. The requester must be the client the subject token was issued to,
/// or its current actor, so nobody exchanges a token that was not given to them; a bound subject or actor token only by the
/// holder of its key or certificate.
/// </summary>
public static class TokenExchange
{
    public const int MaxDepth = 3;
    public const string ActClaim = "act";
    public const string DelegationNotAllowed = "delegation_not_allowed";
    public const string DelegationDepthExceeded = "delegation_depth_exceeded";
    public const string InsufficientScope = "insufficient_scope";
    public const string UnsupportedTokenType = "unsupported_token_type";

    private const string DecisionProperty = "lumo:token_exchange";

    /// <summary>What the policy decided, for the endpoint to issue.</summary>
    public sealed record Decision(
        ClaimsPrincipal Subject, string? Actor, JsonObject? PriorActors, IReadOnlyList<string> Scopes, DateTimeOffset? SubjectExpiresAt, TimeSpan RequesterLifetime);

    /// <summary>Null when the requester may use <paramref name="token"/>; otherwise what it is bound to, for the refusal.</summary>
    internal static string? HeldByRequester(ClaimsPrincipal token, ValidateTokenRequestContext context)
    {
        var confirmation = token.GetClaim(Claims.Confirmation);
        if (!ForwardedClientCertificateMiddleware.MayPresent(confirmation, context.Transaction.GetHttpRequest()?.HttpContext.Connection.ClientCertificate))
        {
            return "bound to a client certificate: send the request over mutual TLS with it";
        }

        return DPoPProofValidator.BoundThumbprint(confirmation) is { } bound && !DPoPProofValidator.SameKey(bound, DPoPBinding.ThumbprintOf(context.Transaction))
            ? "DPoP-bound: send a DPoP proof by its key"
            : null;
    }

    /// <summary>The chain of actors of a token's <c>act</c> claim, current first.</summary>
    public static List<string> ActorsOf(string? act)
    {
        var actors = new List<string>();
        var node = ParseAct(act);
        while (node is not null && actors.Count <= MaxDepth)
        {
            if (node["sub"]?.GetValueKind() == JsonValueKind.String)
            {
                actors.Add(node["sub"]!.GetValue<string>());
            }

            node = node["act"] as JsonObject;
        }

        return actors;
    }

    private static JsonObject? ParseAct(string? act)
    {
        if (string.IsNullOrEmpty(act))
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(act) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Checks a token-exchange request once OpenIddict has authenticated the client and validated both tokens.</summary>
    public sealed class Policy(
        TokenApplicationManager applications, AgentDirectory agents, LumoAuth.ServiceDefaults.Tenancy.TenantContext tenant, ExternalSubjectExchange externalSubjects,
        JitTaskExchange jitTasks)
        : IOpenIddictServerHandler<ValidateTokenRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
                .UseScopedHandler<Policy>()
                .SetOrder(OpenIddictServerHandlers.Exchange.ValidateAuthentication.Descriptor.Order + 600)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidateTokenRequestContext context)
        {
            var external = ExternalSubjectExchange.IsExternal(context.Request);
            if (!context.Request.IsTokenExchangeGrantType() || (context.SubjectTokenPrincipal is null && !external))
            {
                return;
            }

            var requester = context.ClientId;
            var requesterApplication = requester is null ? null : await applications.FindByClientIdAsync(requester, context.CancellationToken);
            if (requesterApplication is null || !await MayDelegateAsync(requesterApplication, context.CancellationToken))
            {
                context.Reject(DelegationNotAllowed, "This client is not enabled for delegation (token exchange).");
                return;
            }

            // An agent asking for its task's approved scopes is not delegating: its own rules apply.
            if (JitTaskExchange.IsJit(context.Request))
            {
                await jitTasks.DecideAsync(context);
                return;
            }

            // An agent's client that requests (acting further on a token it is the actor of) is held to the same rules as
            // one named as actor: active, and able to act for others.
            if (AgentDirectory.IsAgentClient(requester) && await AgentRefusalAsync(requester!, context) is { } refusedAgent)
            {
                context.Reject(refusedAgent.Error, refusedAgent.Description);
                return;
            }

            // An outside subject token (ExternalSubjectExchange) is looked at last, once every other rule held: its use is
            // final (used once; its first use may make the user it names). Any client enabled for the grant may present one.
            var subject = context.SubjectTokenPrincipal;
            var subjectAct = subject?.GetClaim(ActClaim);
            var priorActors = ActorsOf(subjectAct);
            if (subject is not null && requester != subject.GetClaim(Claims.ClientId) && (priorActors.Count == 0 || requester != priorActors[0]))
            {
                context.Reject(Errors.InvalidRequest, "The subject token was not issued to this client, and this client is not its current actor.");
                return;
            }

            // A bound subject token is exchanged only by the holder of its key or certificate (the DPoP proof was checked just before).
            if (subject is not null && HeldByRequester(subject, context) is { } subjectBinding)
            {
                context.Reject(Errors.InvalidGrant, $"The subject token is {subjectBinding}.");
                return;
            }

            string? actor = null;
            if (context.ActorTokenPrincipal is { } actorToken)
            {
                // A bearer actor token may be handed on (its holder may use it anyway); a bound one names its actor only
                // when the requester proves that it is that actor's key or certificate.
                if (HeldByRequester(actorToken, context) is { } actorBinding)
                {
                    context.Reject(Errors.InvalidGrant, $"The actor token is {actorBinding}.");
                    return;
                }

                actor = actorToken.GetClaim(Claims.ClientId) ?? actorToken.GetClaim(Claims.Subject);
                if (actor is null || await applications.FindByClientIdAsync(actor, context.CancellationToken) is not { } actorApplication
                    || !await MayDelegateAsync(actorApplication, context.CancellationToken))
                {
                    context.Reject(DelegationNotAllowed, "The actor is not a client enabled for delegation (token exchange).");
                    return;
                }

                // An agent acts for others only with the capability to (and while it is active).
                if (AgentDirectory.IsAgentClient(actor) && await AgentRefusalAsync(actor, context) is { } refusedActor)
                {
                    context.Reject(refusedActor.Error, refusedActor.Description);
                    return;
                }

                if (priorActors.Count + 1 > MaxDepth)
                {
                    context.Reject(DelegationDepthExceeded, $"A delegation chain holds at most {MaxDepth} actors.");
                    return;
                }
            }

            // Refused rather than dropped: the client learns at once that it gets neither an ID
            // token nor a refresh token. Unasked, they are left out of the default below.
            var requested = context.Request.GetScopes();
            if (requested.FirstOrDefault(s => !IsDelegable(s)) is { } notDelegated)
            {
                context.Reject(Errors.InvalidScope, $"The scope '{notDelegated}' is not delegated: a token exchange issues an access token only.");
                return;
            }

            // Scopes only narrow: what the subject holds (an outside subject: what the client may have) and, with an actor,
            // what the actor holds too.
            var allowed = (subject?.GetScopes() ?? await externalSubjects.ScopesAsync(requesterApplication, context.CancellationToken))
                .Where(IsDelegable).ToHashSet(StringComparer.Ordinal);
            if (context.ActorTokenPrincipal is { } actorPrincipal)
            {
                allowed.IntersectWith(actorPrincipal.GetScopes());
            }

            if (requested.FirstOrDefault(s => !allowed.Contains(s)) is { } tooWide)
            {
                context.Reject(InsufficientScope, $"The scope '{tooWide}' is more than the subject and the actor both hold.");
                return;
            }

            var scopes = requested.IsEmpty ? allowed.Order(StringComparer.Ordinal).ToArray() : requested.ToArray();
            if (subject is null)
            {
                if (await externalSubjects.ResolveAsync(context, scopes) is not { } outsider)
                {
                    return;
                }

                context.SubjectTokenPrincipal = subject = outsider;
            }

            context.Transaction.Properties[DecisionProperty] = new Decision(subject, actor, ParseAct(subjectAct), scopes, subject.GetExpirationDate(),
                TimeSpan.FromSeconds(ClientMapping.Read(requesterApplication).AccessTokenLifetime));
        }

        /// <summary>
        /// openid and offline_access are never delegated: OpenIddict would answer them with an ID token and a refresh token,
        /// neither of which names the actor, so the delegation would outlive its access token as plain impersonation.
        /// </summary>
        private static bool IsDelegable(string scope) => scope is not (OpenIddictConstants.Scopes.OpenId or OpenIddictConstants.Scopes.OfflineAccess);

        /// <summary>Why an agent's client may not take part in a delegation, or null when it may.</summary>
        private async ValueTask<(string Error, string Description)?> AgentRefusalAsync(string clientId, ValidateTokenRequestContext context)
        {
            if (!tenant.HasTenant)
            {
                return (DelegationNotAllowed, "The agent cannot be checked outside its tenant.");
            }

            var agent = await agents.FindAsync(tenant.TenantId, clientId, context.CancellationToken);
            return agent is not { IsActive: true } ? (DelegationNotAllowed, "The agent is disabled or gone.")
                : !agent.MayDelegate ? (AgentDirectory.CapabilityDenied, "The agent lacks the capability delegate:on_behalf.")
                : null;
        }

        private async ValueTask<bool> MayDelegateAsync(TokenApplication application, CancellationToken cancellationToken) =>
            application.IsActive
            && await applications.HasPermissionAsync(application, Permissions.Prefixes.GrantType + GrantTypes.TokenExchange, cancellationToken);
    }

    /// <summary>
    /// Only access tokens are exchanged; other types get the documented <c>unsupported_token_type</c>. Only access tokens
    /// are issued: asking for another type (a refresh or ID token would not carry <c>act</c>) is <c>invalid_request</c>, the
    /// code RFC 8693 §2.2.2 gives a request that is not valid (<c>invalid_target</c> is for <c>resource</c>/<c>audience</c>).
    /// </summary>
    public sealed class SupportedTokenTypes : IOpenIddictServerHandler<ValidateTokenRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
                .UseSingletonHandler<SupportedTokenTypes>()
                .SetOrder(OpenIddictServerHandlers.Exchange.ValidateTokenExchangeParameters.Descriptor.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateTokenRequestContext context)
        {
            if (context.Request.IsTokenExchangeGrantType()
                && ((Unsupported(context.Request.SubjectTokenType) && !ExternalSubjectExchange.IsExternal(context.Request))
                    || (context.Request.ActorToken is not null && Unsupported(context.Request.ActorTokenType))))
            {
                context.Reject(UnsupportedTokenType,
                    $"Subject tokens are access tokens ({TokenTypeIdentifiers.AccessToken}), SAML 2.0 assertions ({ExternalSubjectTypes.Saml2}) or an outside provider's ID tokens (with subject_issuer); actor tokens are access tokens.");
            }
            else if (context.Request.IsTokenExchangeGrantType() && Unsupported(context.Request.RequestedTokenType))
            {
                context.Reject(Errors.InvalidRequest, "Only access tokens (urn:ietf:params:oauth:token-type:access_token) are issued by token exchange.");
            }

            return ValueTask.CompletedTask;
        }

        private static bool Unsupported(string? type) => type is not null && type != TokenTypeIdentifiers.AccessToken;
    }

    /// <summary>
    /// OpenIddict's check that the code, refresh token or device code was issued to the requesting client, kept for those;
    /// for a token exchange the subject and actor tokens follow the policy's rules instead.
    /// </summary>
    public sealed class AuthorizedPartyOutsideExchanges : IOpenIddictServerHandler<ValidateTokenRequestContext>
    {
        private readonly OpenIddictServerHandlers.Exchange.ValidateAuthorizedParty _builtIn = new();

        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
                .UseSingletonHandler<AuthorizedPartyOutsideExchanges>()
                .SetOrder(OpenIddictServerHandlers.Exchange.ValidateAuthorizedParty.Descriptor.Order)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateTokenRequestContext context) =>
            context.Request.IsTokenExchangeGrantType() ? ValueTask.CompletedTask : _builtIn.HandleAsync(context);
    }

    /// <summary>What the policy decided for this request; null when it did not see it.</summary>
    public static Decision? DecisionOf(HttpContext http) =>
        http.Features.Get<OpenIddictServerAspNetCoreFeature>()?.Transaction?.Properties.TryGetValue(DecisionProperty, out var value) == true ? value as Decision : null;

    /// <summary>The token the decision allows: the subject's identity, narrowed, with the actor chain and a lifetime no longer than the subject token's.</summary>
    public static ClaimsPrincipal Issue(Decision decision, TimeProvider time)
    {
        var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Name, Claims.Role);
        foreach (var claim in decision.Subject.Claims.Where(c => IsIdentityClaim(c.Type)))
        {
            identity.AddClaim(claim.Clone());
        }

        identity.SetScopes(decision.Scopes);
        identity.SetAudiences(decision.Subject.GetAudiences());
        identity.SetAuthorizationId(decision.Subject.GetAuthorizationId());
        var chain = decision.PriorActors;
        if (decision.Actor is not null)
        {
            chain = chain is null ? new JsonObject { ["sub"] = decision.Actor } : new JsonObject { ["sub"] = decision.Actor, ["act"] = chain };
        }

        if (chain is not null)
        {
            identity.SetClaim(ActClaim, JsonSerializer.SerializeToElement(chain));
        }

        identity.SetDestinations(static _ => [Destinations.AccessToken]);
        // The requesting client's own lifetime, and never beyond the token it came from. Set here, it is the lifetime:
        // OpenIddict reads the client's setting only when the principal carries none.
        var lifetime = decision.RequesterLifetime;
        if (decision.SubjectExpiresAt is { } expiresAt && expiresAt - time.GetUtcNow() is var remaining && remaining > TimeSpan.Zero && remaining < lifetime)
        {
            lifetime = remaining;
        }

        identity.SetAccessTokenLifetime(lifetime);

        return new ClaimsPrincipal(identity);
    }

    /// <summary>Who the subject is, as its token says; protocol claims (issuer, times, client, scope, confirmation, actors) are set anew.</summary>
    private static bool IsIdentityClaim(string type) =>
        type is not (Claims.Issuer or Claims.Audience or Claims.ExpiresAt or Claims.IssuedAt or Claims.NotBefore or Claims.JwtId
            or Claims.ClientId or Claims.Scope or Claims.Confirmation or ActClaim or Claims.AuthorizedParty)
        && !type.StartsWith("oi_", StringComparison.Ordinal);

    /// <summary>Introspection names a delegated token's actors as the token does (RFC 8693 §4.1).</summary>
    public sealed class IntrospectActors : IOpenIddictServerHandler<HandleIntrospectionRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleIntrospectionRequestContext>()
                .UseSingletonHandler<IntrospectActors>()
                .SetOrder(OpenIddictServerHandlers.Introspection.AttachApplicationClaims.Descriptor.Order + 800)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleIntrospectionRequestContext context)
        {
            if (ParseAct(context.GenericTokenPrincipal?.GetClaim(ActClaim)) is { } chain)
            {
                context.Claims[ActClaim] = JsonSerializer.SerializeToElement(chain);
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// An exchange without <c>scope</c> gets a default (subject ∩ actor), which the answer must then name (RFC 6749 §5.1);
    /// OpenIddict leaves it out for exchanges, and <see cref="AlwaysNameTheGrantedScope"/> knows only the requested one.
    /// </summary>
    public sealed class NameTheDefaultScope : IOpenIddictServerHandler<ApplyTokenResponseContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyTokenResponseContext>()
                .UseSingletonHandler<NameTheDefaultScope>()
                .SetOrder(AlwaysNameTheGrantedScope.Descriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ApplyTokenResponseContext context)
        {
            if (!string.IsNullOrEmpty(context.Response.AccessToken) && string.IsNullOrEmpty(context.Response.Scope)
                && context.Transaction.Properties.TryGetValue(DecisionProperty, out var value) && value is Decision { Scopes.Count: > 0 } decision)
            {
                context.Response.Scope = string.Join(' ', decision.Scopes);
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>The documented statuses: delegation refusals are 403, and a chain too long names its limit.</summary>
    public sealed class ErrorStatuses : IOpenIddictServerHandler<ApplyTokenResponseContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyTokenResponseContext>()
                .UseSingletonHandler<ErrorStatuses>()
                .SetOrder(OpenIddictServerAspNetCoreHandlers.AttachHttpResponseCode<ApplyTokenResponseContext>.Descriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ApplyTokenResponseContext context)
        {
            if (context.Request?.IsTokenExchangeGrantType() != true || context.Transaction.GetHttpRequest() is not { } request)
            {
                return ValueTask.CompletedTask;
            }

            // A client that may not use the grant is a client not allowed to delegate.
            if (context.Response.Error == Errors.UnauthorizedClient)
            {
                context.Response.Error = DelegationNotAllowed;
                context.Response.ErrorDescription = "This client is not enabled for delegation (token exchange).";
                context.Response.ErrorUri = null;
            }

            if (context.Response.Error is DelegationNotAllowed or DelegationDepthExceeded or AgentDirectory.CapabilityDenied)
            {
                request.HttpContext.Response.StatusCode = StatusCodes.Status403Forbidden;
            }
            else if (context.Response.Error == Errors.TemporarilyUnavailable)
            {
                request.HttpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            }

            if (context.Response.Error == DelegationDepthExceeded)
            {
                context.Response["max_depth"] = MaxDepth;
            }

            return ValueTask.CompletedTask;
        }
    }
}
