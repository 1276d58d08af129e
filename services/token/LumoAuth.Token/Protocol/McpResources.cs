using System.Collections.Immutable;
using System.Net.Http.Json;
using LumoAuth.Contracts.Agents;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Caching;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Tenancy;
using MassTransit;
using Microsoft.Extensions.Caching.Memory;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// The tenant's MCP servers as protected resources (the agents service registers them): a <c>resource</c> naming one is
/// admitted for the clients it allows (all when it lists none) though no client registered it, the authorization request
/// must use PKCE with S256, and the access token is bound to it (<c>aud</c>) for its <c>token_lifetime</c>. Read from the
/// agents service and cached briefly; a change there evicts the cache by event.
/// </summary>
public sealed partial class McpResources(IMcpResourceSource source, IMemoryCache cache, TimeProvider time, ILogger<McpResources> logger)
{
    private static readonly TimeSpan Valid = TimeSpan.FromSeconds(30);

    private readonly ReadThroughCache<IReadOnlyList<McpResource>> _resources = new(cache, time, _ => Valid)
    {
        StaleIfError = TimeSpan.FromMinutes(10),
        ServedStale = (_, exception) => LogServedStale(logger, exception),
    };

    /// <summary>The tenant's active OAuth-protected MCP servers. Throws <see cref="DependencyUnavailableException"/> when the agents service cannot say.</summary>
    public async ValueTask<IReadOnlyList<McpResource>> OfAsync(Guid tenantId, CancellationToken cancellationToken)
    {
        try
        {
            return await _resources.GetAsync(KeyFor(tenantId), (source, tenantId), static state => state.source.ListAsync(state.tenantId, CancellationToken.None), cancellationToken);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("MCP resources cannot be read: the agents service cannot be reached.", exception);
        }
    }

    public async ValueTask<McpResource?> FindAsync(Guid tenantId, string resource, CancellationToken cancellationToken) =>
        (await OfAsync(tenantId, cancellationToken)).FirstOrDefault(r => string.Equals(r.ResourceUri, resource, StringComparison.Ordinal));

    public void Evict(Guid tenantId) => _resources.Remove(KeyFor(tenantId));

    /// <summary>The resources that may be MCP servers: the tenant's own API (any of its issuers) never is, and costs no lookup.</summary>
    private static IEnumerable<string> NotTheTenantsApi(IEnumerable<string> resources, IReadOnlyList<string> issuers) =>
        resources.Where(r => !issuers.Contains(r.TrimEnd('/'), StringComparer.Ordinal));

    /// <summary>Forgets every tenant's, for when eviction events may have been missed.</summary>
    public void Clear() => _resources.Clear();

    private static string KeyFor(Guid tenantId) => $"mcp-resources:{tenantId:N}";

    [LoggerMessage(Level = LogLevel.Warning, Message = "The agents service could not be asked for MCP resources; using the last answer")]
    private static partial void LogServedStale(ILogger logger, Exception exception);

    /// <summary>
    /// The problem with <paramref name="resource"/> for <paramref name="clientId"/> when the client did not register it: null
    /// when it is one of the tenant's MCP servers that admits the client.
    /// </summary>
    public async ValueTask<string?> ProblemAsync(Guid tenantId, string? clientId, string resource, CancellationToken cancellationToken) =>
        await FindAsync(tenantId, resource, cancellationToken) switch
        {
            null => $"Resource '{resource}' is not registered for this client",
            { AllowedClientIds.Count: > 0 } server when clientId is null || !server.AllowedClientIds.Contains(clientId, StringComparer.Ordinal) =>
                $"The client may not obtain tokens for the MCP server '{resource}'",
            _ => null,
        };

    /// <summary>Authorization (and PAR) requests for an MCP server must use PKCE with S256 (MCP authorization).</summary>
    public sealed class RequirePkce(McpResources resources, TenantContext tenant, Microsoft.Extensions.Options.IOptions<LumoAuth.ServiceDefaults.LumoAuthOptions> lumoOptions) :
        IOpenIddictServerHandler<ValidateAuthorizationRequestContext>, IOpenIddictServerHandler<ValidatePushedAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor AuthorizationDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateAuthorizationRequestContext>()
                .UseScopedHandler<RequirePkce>()
                .SetOrder(ResourceIndicators.CheckRequested.AuthorizationDescriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public static OpenIddictServerHandlerDescriptor PushedDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidatePushedAuthorizationRequestContext>()
                .UseScopedHandler<RequirePkce>()
                .SetOrder(ResourceIndicators.CheckRequested.PushedDescriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidateAuthorizationRequestContext context)
        {
            if (await ProblemAsync(context.Request) is { } problem)
            {
                context.Reject(Errors.InvalidRequest, problem);
            }
        }

        public async ValueTask HandleAsync(ValidatePushedAuthorizationRequestContext context)
        {
            if (await ProblemAsync(context.Request) is { } problem)
            {
                context.Reject(Errors.InvalidRequest, problem);
            }
        }

        private async ValueTask<string?> ProblemAsync(OpenIddictRequest request)
        {
            var named = request.GetResources();
            if (named.IsDefaultOrEmpty || !tenant.HasTenant || request.CodeChallengeMethod == CodeChallengeMethods.Sha256)
            {
                return null;
            }

            // The tenant's own API is never an MCP server; for anything else, not knowing the servers refuses (503), since
            // a client may have registered a server's URI itself and would otherwise skip the rule.
            foreach (var resource in NotTheTenantsApi(named, lumoOptions.Value.IssuersOf(tenant.Tenant!)))
            {
                if (await resources.FindAsync(tenant.TenantId, resource, CancellationToken.None) is not null)
                {
                    return "MCP servers require PKCE with S256 (code_challenge and code_challenge_method=S256)";
                }
            }

            return null;
        }
    }

    /// <summary>
    /// An access token bound to MCP servers lives no longer than the shortest <c>token_lifetime</c> among them (nor than its
    /// client's lifetime). The tenant's own API is never an MCP server, so a token for it asks nothing; and when the
    /// servers cannot be read, the token keeps its client's lifetime rather than fail.
    /// </summary>
    public sealed class Lifetime(McpResources resources, TenantContext tenant, Microsoft.Extensions.Options.IOptions<LumoAuth.ServiceDefaults.LumoAuthOptions> lumoOptions)
        : IOpenIddictServerHandler<ProcessSignInContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
                .UseScopedHandler<Lifetime>()
                .SetOrder(ResourceIndicators.Audiences.Descriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ProcessSignInContext context)
        {
            if (SignInAccessToken.Principal(context) is not { } accessToken || !tenant.HasTenant
                || accessToken.GetAudiences() is not { IsDefaultOrEmpty: false } audiences || accessToken.GetCreationDate() is not { } created)
            {
                return;
            }

            int? shortest = null;
            try
            {
                foreach (var audience in NotTheTenantsApi(audiences, lumoOptions.Value.IssuersOf(tenant.Tenant!)))
                {
                    if (await resources.FindAsync(tenant.TenantId, audience, context.CancellationToken) is { } server)
                    {
                        shortest = Math.Min(shortest ?? int.MaxValue, server.TokenLifetime);
                    }
                }
            }
            catch (DependencyUnavailableException)
            {
                return;
            }

            if (shortest is { } seconds && created + TimeSpan.FromSeconds(seconds) is var bound && (accessToken.GetExpirationDate() is not { } expires || bound < expires))
            {
                accessToken.SetExpirationDate(bound);
            }
        }
    }
}

/// <summary>Where the tenant's MCP servers come from: the agents service's internal API, elsewhere a test's own list.</summary>
public interface IMcpResourceSource
{
    Task<IReadOnlyList<McpResource>> ListAsync(Guid tenantId, CancellationToken cancellationToken);
}

public sealed class AgentsMcpResourceSource(IHttpClientFactory httpClientFactory) : IMcpResourceSource
{
    public async Task<IReadOnlyList<McpResource>> ListAsync(Guid tenantId, CancellationToken cancellationToken) =>
        await httpClientFactory.CreateClient(InternalClients.Agents).GetFromJsonAsync<List<McpResource>>(McpResource.Route(tenantId), cancellationToken) ?? [];
}

/// <summary>Forgets a tenant's MCP resources on this replica when one of its servers changes.</summary>
public sealed class McpResourcesEvictionConsumer(McpResources resources) : IConsumer<McpServerChanged>
{
    public Task Consume(ConsumeContext<McpServerChanged> context)
    {
        if (context.Message.TenantId is { } tenantId)
        {
            resources.Evict(tenantId);
        }

        return Task.CompletedTask;
    }
}
