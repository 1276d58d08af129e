using System.Collections.Immutable;
using System.Security.Claims;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Clients;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Resource indicators (RFC 8707). A request may name the APIs it wants a token for (<c>resource</c>, repeatable) at
/// the authorization, PAR, device authorization and token endpoints; each must be an absolute URI without fragment and registered for the
/// client (its <c>audienceUris</c>, exact or prefix, or the tenant's own API) or be one of the tenant's MCP servers that
/// admits the client (<see cref="McpResources"/>), and at the token endpoint a code or
/// refresh token's request may only narrow what the grant holds. The access token's <c>aud</c> is then the named
/// resources; without any, it stays the tenant's API. Errors are <c>invalid_target</c> in the docs' words.
/// </summary>
public static class ResourceIndicators
{
    public const string InvalidTarget = "invalid_target";
    private const string Malformed = "Resource URI must be an absolute URI without fragment";

    /// <summary>The first problem with the named resources for this client, or null.</summary>
    private static async ValueTask<string?> ProblemAsync(
        ClientCache clients, McpResources mcp, TenantInfo tenant, string? clientId, ImmutableArray<string> resources, IReadOnlyList<string> tenantIssuers, CancellationToken cancellationToken)
    {
        if (resources.IsDefaultOrEmpty)
        {
            return null;
        }

        if (resources.FirstOrDefault(r => !AudienceMatchings.IsResourceUri(r)) is not null)
        {
            return Malformed;
        }

        // An unknown client is OpenIddict's to refuse, in its own words.
        if (await clients.SettingsAsync(tenant, clientId, cancellationToken) is not { } client)
        {
            return null;
        }

        // What the client did not register may still be one of the tenant's MCP servers that admits it.
        foreach (var unregistered in resources.Where(r => !AudienceMatchings.Admits(client, r, tenantIssuers)))
        {
            if (await mcp.ProblemAsync(tenant.Id, clientId, unregistered, cancellationToken) is { } problem)
            {
                return problem;
            }
        }

        return null;
    }

    /// <summary>Checks the named resources before OpenIddict's own resource checks, for each endpoint that takes them.</summary>
    public sealed class CheckRequested(ClientCache clients, McpResources mcp, TenantContext tenant, IOptions<LumoAuthOptions> lumoOptions) :
        IOpenIddictServerHandler<ValidateAuthorizationRequestContext>,
        IOpenIddictServerHandler<ValidatePushedAuthorizationRequestContext>,
        IOpenIddictServerHandler<ValidateTokenRequestContext>,
        IOpenIddictServerHandler<ValidateDeviceAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor AuthorizationDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateAuthorizationRequestContext>()
                .UseScopedHandler<CheckRequested>()
                .SetOrder(OpenIddictServerHandlers.Authentication.ValidateResourceParameter.Descriptor.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public static OpenIddictServerHandlerDescriptor PushedDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidatePushedAuthorizationRequestContext>()
                .UseScopedHandler<CheckRequested>()
                .SetOrder(OpenIddictServerHandlers.Authentication.ValidatePushedResourceParameter.Descriptor.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public static OpenIddictServerHandlerDescriptor TokenDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
                .UseScopedHandler<CheckRequested>()
                .SetOrder(OpenIddictServerHandlers.Exchange.ValidateResourceParameter.Descriptor.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        // OpenIddict has no resource check of its own at the device authorization endpoint: this is the only one.
        public static OpenIddictServerHandlerDescriptor DeviceDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateDeviceAuthorizationRequestContext>()
                .UseScopedHandler<CheckRequested>()
                .SetOrder(OpenIddictServerHandlers.Device.ValidateDeviceAuthentication.Descriptor.Order + 2)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidateDeviceAuthorizationRequestContext context) =>
            Reject(context, await ProblemAsync(context.ClientId ?? context.Request.ClientId, context.Request.GetResources(), context.CancellationToken));

        public async ValueTask HandleAsync(ValidateAuthorizationRequestContext context) =>
            Reject(context, await ProblemAsync(context.ClientId ?? context.Request.ClientId, context.Request.GetResources(), context.CancellationToken));

        public async ValueTask HandleAsync(ValidatePushedAuthorizationRequestContext context) =>
            Reject(context, await ProblemAsync(context.ClientId ?? context.Request.ClientId, context.Request.GetResources(), context.CancellationToken));

        public async ValueTask HandleAsync(ValidateTokenRequestContext context) =>
            Reject(context, await ProblemAsync(context.ClientId ?? context.Request.ClientId, context.Request.GetResources(), context.CancellationToken));

        // The tenant's own API, under any of its hosts' issuers, is always a valid resource.
        private ValueTask<string?> ProblemAsync(string? clientId, ImmutableArray<string> resources, CancellationToken cancellationToken) =>
            tenant.Tenant is not { } info ? ValueTask.FromResult<string?>(null)
                : ResourceIndicators.ProblemAsync(clients, mcp, info, clientId, resources, lumoOptions.Value.IssuersOf(info), cancellationToken);

        private static void Reject(BaseValidatingContext context, string? problem)
        {
            if (problem is not null)
            {
                context.Reject(InvalidTarget, problem);
            }
        }
    }

    /// <summary>A code, device code or refresh token's request may only narrow the resources its grant holds (RFC 8707 §2.2).</summary>
    public sealed class WithinTheGrant : IOpenIddictServerHandler<ValidateTokenRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
                .UseSingletonHandler<WithinTheGrant>()
                .SetOrder(OpenIddictServerHandlers.Exchange.ValidateAuthentication.Descriptor.Order + 700)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateTokenRequestContext context)
        {
            var requested = context.Request.GetResources();
            if (!requested.IsDefaultOrEmpty && (context.AuthorizationCodePrincipal ?? context.DeviceCodePrincipal ?? context.RefreshTokenPrincipal) is { } grant
                && !requested.All(grant.GetResources().Contains))
            {
                context.Reject(InvalidTarget, "Requested resources must be a subset of granted resources");
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// The resources and authorization details (RFC 9396) a device asks for become its grant's: OpenIddict does not carry
    /// them from the device authorization request into the device and user codes, so they are put on the principal both are
    /// made from (the verification page shows the details from the user code).
    /// </summary>
    public sealed class DeviceGrantResources : IOpenIddictServerHandler<ProcessSignInContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
                .UseSingletonHandler<DeviceGrantResources>()
                .SetOrder(Math.Min(OpenIddictServerHandlers.PrepareDeviceCodePrincipal.Descriptor.Order, OpenIddictServerHandlers.PrepareUserCodePrincipal.Descriptor.Order) - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ProcessSignInContext context)
        {
            if (context.EndpointType != OpenIddictServerEndpointType.DeviceAuthorization || context.Principal is not { Identity: ClaimsIdentity identity } principal)
            {
                return ValueTask.CompletedTask;
            }

            if (context.Request.GetResources() is { IsDefaultOrEmpty: false } resources)
            {
                principal.SetResources(resources);
            }

            AuthorizationDetails.Attach(identity, AuthorizationDetails.Checked(context.Request));

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>The access token is for the named resources, else for what the grant holds, else (unchanged) the tenant's API.</summary>
    public sealed class Audiences : IOpenIddictServerHandler<ProcessSignInContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
                .UseSingletonHandler<Audiences>()
                .SetOrder(OpenIddictServerHandlers.GenerateAccessToken.Descriptor.Order - 600)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ProcessSignInContext context)
        {
            if (SignInAccessToken.Principal(context) is not { } accessToken)
            {
                return ValueTask.CompletedTask;
            }

            var requested = context.Request?.GetResources() ?? [];
            var granted = context.Principal?.GetResources() ?? [];
            var audiences = context.EndpointType == OpenIddictServerEndpointType.Token && !requested.IsDefaultOrEmpty ? requested
                : !granted.IsDefaultOrEmpty ? granted
                : default;
            if (!audiences.IsDefaultOrEmpty)
            {
                accessToken.SetAudiences(audiences);
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Discovery says resource indicators are understood (the docs' <c>resource_indicators_supported</c>).</summary>
    public sealed class Advertise : IOpenIddictServerHandler<HandleConfigurationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
                .UseSingletonHandler<Advertise>()
                .SetOrder(OpenIddictServerHandlers.Discovery.AttachPromptValues.Descriptor.Order + 4)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleConfigurationRequestContext context)
        {
            context.Metadata["resource_indicators_supported"] = true;
            return ValueTask.CompletedTask;
        }
    }
}
