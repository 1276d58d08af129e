using System.Security.Claims;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// The OAuth clients of agents whose identity is client credentials, made and removed for the agents service (which
/// owns agents). They are ordinary confidential machine clients of the tenant — the Admin API shows and rotates them —
/// with the client-credentials grant and token exchange (so an agent can be the actor of a delegation).
/// </summary>
public static class AgentClientEndpoints
{
    public static IEndpointRouteBuilder MapAgentClientEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost(InternalRoutes.AgentClients, CreateAsync).RequireAuthorization(Policies.Internal).WithName("InternalCreateAgentClient").WithTags("Internal");
        app.MapDelete(InternalRoutes.AgentClients + "/{clientId}", DeleteAsync).RequireAuthorization(Policies.Internal).WithName("InternalDeleteAgentClient").WithTags("Internal");
        app.MapPut(InternalRoutes.AgentClients + "/{clientId}/active", SetActiveAsync).RequireAuthorization(Policies.Internal).WithName("InternalSetAgentClientActive").WithTags("Internal");
        app.MapGet(InternalRoutes.AgentClients + "/{clientId}", GetSettingsAsync).RequireAuthorization(Policies.Internal).WithName("InternalGetAgentClientSettings").WithTags("Internal");
        app.MapPut(InternalRoutes.AgentClients + "/{clientId}/settings", UpdateSettingsAsync).RequireAuthorization(Policies.Internal).WithName("InternalUpdateAgentClientSettings").WithTags("Internal");
        return app;
    }

    /// <summary>
    /// The agents service manages its agents' clients whatever scopes an administrator gave them since (the Admin API asks
    /// for full write to touch a client holding administering scopes; the agents service checked its own caller).
    /// </summary>
    private static readonly ClaimsPrincipal AgentsService = new(new ClaimsIdentity([new Claim(LumoClaims.Scope, "admin:write")], "internal"));

    /// <summary>
    /// Scopes and lifetime come from the agent registry's administrator, who may give administering scopes only with full
    /// write, as at the Admin API (the agents service tells which).
    /// </summary>
    private static readonly ClaimsPrincipal AgentsAdministrator = new(new ClaimsIdentity([new Claim(LumoClaims.Scope, "admin:agents")], "internal"));

    private static ClaimsPrincipal Caller(bool fullWrite) => fullWrite ? AgentsService : AgentsAdministrator;

    /// <summary>The client's problems under the agent registry's field names (<c>allowedScopes</c>, <c>tokenLifetime</c>).</summary>
    private static IResult AsAgentFields(LumoAuth.ServiceDefaults.Errors.RequestValidator validator) =>
        ApiErrors.Validation(validator.FirstProblems
            .GroupBy(p => p.Field == "accessTokenLifetime" ? "tokenLifetime" : p.Field)
            .ToDictionary(g => g.Key, g => g.Select(p => p.Problem).ToArray(), StringComparer.Ordinal));

    public static async Task<IResult> GetSettingsAsync(
        string clientId, Guid tenantId, string tenantSlug, [AsParameters] ClientEndpoints.ClientServices services, TenantDirectory tenants, CancellationToken cancellationToken)
    {
        if (await EnterAsync(clientId, services.Tenant, tenants, tenantId, tenantSlug, cancellationToken) is { } unconfirmed)
        {
            return unconfirmed;
        }

        return await ClientEndpoints.FindAsync(services, clientId, tracked: false, cancellationToken) is { } row
            ? TypedResults.Ok(SettingsOf(ClientMapping.Read(row)))
            : ApiErrors.NotFound("Agent client");
    }

    public static async Task<IResult> UpdateSettingsAsync(
        string clientId, AgentClientSettingsRequest request, [AsParameters] ClientEndpoints.ClientServices services, TenantDirectory tenants,
        CancellationToken cancellationToken)
    {
        if (await EnterAsync(clientId, services.Tenant, tenants, request.TenantId, request.TenantSlug, cancellationToken) is { } unconfirmed)
        {
            return unconfirmed;
        }

        if (await ClientEndpoints.FindAsync(services, clientId, tracked: true, cancellationToken) is not { } row)
        {
            return ApiErrors.NotFound("Agent client");
        }

        var current = ClientMapping.Read(row);
        var change = new ClientRequest(null, null, null, null, null, null, null, null, request.AllowedScopes, null, null, request.TokenLifetime, null);
        if (ClientValidation.ValidateUpdate(change, current, services.Options.Value.AllowPrivateLogoutTargets, out var validator) is not { } client)
        {
            return AsAgentFields(validator);
        }

        if (ClientEndpoints.RefuseAdministering(Caller(request.FullWrite), current, client) is { } refused)
        {
            return refused;
        }

        return await ClientEndpoints.SaveUpdateAsync(row, clientId, current, client, services, cancellationToken) ?? TypedResults.Ok(SettingsOf(client));
    }

    private static AgentClientSettings SettingsOf(ClientSettings client) => new(client.Scopes, client.AccessTokenLifetime);

    /// <summary>As the Admin API deactivates a client (its tokens voided first) or reactivates it.</summary>
    public static async Task<IResult> SetActiveAsync(
        string clientId, AgentClientStateRequest request, [AsParameters] ClientEndpoints.ClientServices services, TenantDirectory tenants, CancellationToken cancellationToken)
    {
        if (await EnterAsync(clientId, services.Tenant, tenants, request.TenantId, request.TenantSlug, cancellationToken) is { } unconfirmed)
        {
            return unconfirmed;
        }

        var change = new ClientRequest(null, null, null, null, null, null, null, null, null, null, request.IsActive, null, null);
        return await ClientEndpoints.UpdateClient(clientId, change, services, AgentsService, cancellationToken);
    }

    public static async Task<IResult> CreateAsync(
        AgentClientRequest request, [AsParameters] ClientEndpoints.ClientServices services, TenantDirectory tenants, CancellationToken cancellationToken)
    {
        if (await EnterTenantAsync(services.Tenant, tenants, request.TenantId, request.TenantSlug, cancellationToken) is { } unconfirmed)
        {
            return unconfirmed;
        }

        var name = string.IsNullOrWhiteSpace(request.Name) ? "Agent" : request.Name.Trim();
        var settings = new ClientRequest(
            $"{name[..Math.Min(name.Length, 180)]} (agent)", $"The OAuth client of agent {request.AgentId}", ClientKinds.Machine, true, null, null, null,
            [GrantTypes.ClientCredentials, GrantTypes.TokenExchange], request.AllowedScopes, null, true, request.TokenLifetime, null);
        if (ClientValidation.ValidateNew(settings, services.Options.Value.AllowPrivateLogoutTargets, out var validator) is not { } client)
        {
            return AsAgentFields(validator);
        }

        if (ClientEndpoints.RefuseAdministering(Caller(request.FullWrite), client) is { } refused)
        {
            return refused;
        }

        var clientId = AgentClientRequest.ClientIdFor(request.AgentId);
        if (await services.Applications.FindByClientIdAsync(clientId, cancellationToken) is not null)
        {
            return ApiErrors.Duplicate("The agent has an OAuth client already");
        }

        var (_, secret) = await ClientEndpoints.CreateAsync(client, services, cancellationToken, clientId);
        return TypedResults.Ok(new AgentClientResponse(clientId, secret!) { Settings = SettingsOf(client) });
    }

    /// <summary>As the Admin API deletes a client: its tokens voided first, then the client and what it holds.</summary>
    public static async Task<IResult> DeleteAsync(
        string clientId, Guid tenantId, string tenantSlug, [AsParameters] ClientEndpoints.ClientServices services, TenantDirectory tenants,
        CancellationToken cancellationToken)
    {
        if (await EnterAsync(clientId, services.Tenant, tenants, tenantId, tenantSlug, cancellationToken) is { } unconfirmed)
        {
            return unconfirmed;
        }

        var result = await ClientEndpoints.DeleteClient(clientId, services, AgentsService, cancellationToken);
        // Already gone is gone: the agents service may ask again after a failure.
        return result is IStatusCodeHttpResult { StatusCode: StatusCodes.Status404NotFound } ? TypedResults.NoContent() : result;
    }

    /// <summary>Only agents' clients are the agents service's to manage (else 404), in the tenant the call names (<see cref="EnterTenantAsync"/>).</summary>
    private static Task<IResult?> EnterAsync(string clientId, TenantContext context, TenantDirectory tenants, Guid tenantId, string slug, CancellationToken cancellationToken) =>
        clientId.StartsWith(AgentClientRequest.ClientIdPrefix, StringComparison.Ordinal)
            ? EnterTenantAsync(context, tenants, tenantId, slug, cancellationToken)
            : Task.FromResult<IResult?>(ApiErrors.NotFound("Agent client"));

    /// <summary>
    /// Internal calls carry no tenant path: the tenant is named in the request and set for this request's services. A
    /// slug that does not (or no longer) name that tenant is 409, never the 404 of a client that is gone, so the agents
    /// service does not take an unconfirmed tenant for a deleted client.
    /// </summary>
    private static async Task<IResult?> EnterTenantAsync(TenantContext context, TenantDirectory tenants, Guid tenantId, string slug, CancellationToken cancellationToken)
    {
        if (await tenants.FindAsync(tenantId, slug, cancellationToken) is not { } tenant)
        {
            return ApiErrors.Create(StatusCodes.Status409Conflict, "tenant_mismatch", "The slug does not name this tenant");
        }

        context.Set(tenant);
        return null;
    }
}
