using System.Security.Claims;
using LumoAuth.Contracts.Clients;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Extensions;
using LumoAuth.Token.Features.Scopes;
using LumoAuth.Token.Protocol;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;

namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// Tenant Admin API for OAuth clients: <c>/t/{slug}/api/v1/admin/clients</c>, with the documented alias
/// <c>/admin/oauth-clients</c> (inventory C-19) served by the same handlers.
/// </summary>
public static class ClientEndpoints
{
    public static IEndpointRouteBuilder MapClientEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin/clients")
            .RequireAuthorization(Policies.TenantAdmin)
            .WithTags("Clients");
        group.MapPost("/", CreateClient).WithName("CreateClient");
        group.MapGet("/", ListClients).WithName("ListClients");
        group.MapGet("/{clientId}", GetClient).WithName("GetClient");
        group.MapPut("/{clientId}", UpdateClient).WithName("UpdateClient");
        group.MapDelete("/{clientId}", DeleteClient).WithName("DeleteClient");
        group.MapPost("/{clientId}/rotate-secret", RotateSecret).WithName("RotateClientSecret");

        var alias = app.MapGroup("/t/{tenantSlug}/api/v1/admin/oauth-clients")
            .RequireAuthorization(Policies.TenantAdmin)
            .WithTags("Clients");
        alias.MapPost("/", CreateClient);
        alias.MapGet("/", ListClients);
        alias.MapGet("/{clientId}", GetClient);
        alias.MapPut("/{clientId}", UpdateClient);
        alias.MapDelete("/{clientId}", DeleteClient);
        alias.MapPost("/{clientId}/secret", RotateSecret);
        alias.MapPost("/{clientId}/rotate-secret", RotateSecret);
        return app;
    }

    public sealed record ClientServices(
        TokenDbContext Db, TokenApplicationManager Applications, TenantContext Tenant, ClientCache Cache, TimeProvider Time, RedisAccessTokenDenyList DenyList,
        IOptions<TokenServiceOptions> Options, ClientKeySets KeySets, SectorIdentifiers Sectors);

    public static async Task<IResult> CreateClient(ClientRequest request, [AsParameters] ClientServices services, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        var allowPrivate = services.Options.Value.AllowPrivateLogoutTargets;
        var keys = await services.KeySets.ForRegistrationAsync(request, current: null, allowPrivate, cancellationToken);
        var sector = await services.Sectors.ForRegistrationAsync(request, current: null, allowPrivate, cancellationToken);
        if (ClientValidation.ValidateNew(request, allowPrivate, out var validator, keys, sector) is not { } client)
        {
            return validator.ToResult();
        }

        if (RefuseAdministering(caller, client) is { } refused)
        {
            return refused;
        }

        var (application, secret) = await CreateAsync(client, services, cancellationToken);
        return Results.Json(
            new DataResponse<CreatedClientResponse>(ClientMapping.ToCreatedResponse(application, secret), "OAuth client created successfully"),
            statusCode: StatusCodes.Status201Created);
    }

    /// <summary>Stores a validated client with a new id (and secret, for a confidential one), raising <c>ClientCreated</c>.</summary>
    /// <param name="clientId">The id to give it (an agent's client); a new one when null.</param>
    /// <param name="withSecret">
    /// Whether a confidential client gets a secret: always through the Admin API (clearing a registered key method lets the
    /// client use it); not in a dynamic registration held to its keys, which nothing could ever let it use.
    /// </param>
    /// <param name="registrationTokenHash">A dynamic registration's access token (RFC 7592), hashed, kept with the client.</param>
    public static async Task<(TokenApplication Application, string? Secret)> CreateAsync(
        ClientSettings client, ClientServices services, CancellationToken cancellationToken, string? clientId = null, bool withSecret = true,
        string? registrationTokenHash = null)
    {
        var tenantId = services.Tenant.TenantId;
        clientId ??= Guid.NewGuid().ToString();
        var secret = client.IsConfidential && withSecret ? ClientSecrets.Generate() : null;
        var descriptor = new OpenIddictApplicationDescriptor { ClientId = clientId };
        if (registrationTokenHash is not null)
        {
            descriptor.Properties[DynamicRegistrationEndpoints.RegistrationTokenProperty] = System.Text.Json.JsonSerializer.SerializeToElement(registrationTokenHash);
        }

        var application = new TokenApplication { TenantId = tenantId, CreatedAt = services.Time.GetUtcNow() };
        ClientMapping.Apply(client, descriptor, application);
        await services.Applications.PopulateAsync(application, descriptor, cancellationToken);

        // Committed by the store's SaveChanges together with the client.
        services.Db.AddEvent(new ClientCreated(clientId, client.Name, client.IsConfidential, client.GrantTypes) { TenantId = tenantId });
        if (secret is null)
        {
            await services.Applications.CreateAsync(application, cancellationToken);
        }
        else
        {
            await services.Applications.CreateAsync(application, secret, cancellationToken);
        }

        // The uniqueness check looked the id up and may have cached "not found".
        services.Cache.Evict(tenantId, clientId);
        return (application, secret);
    }

    public static async Task<IResult> ListClients(
        int? page, int? limit, string? search, string? sortBy, string? sortDir, [AsParameters] ClientServices services, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Optional("search", search);
        var order = ListOrder.Check(validation, sortBy, sortDir, ["createdAt", "name", "clientId", "updatedAt"], newestFirst: true);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var paging = PageRequest.From(page, limit);
        var tenantId = services.Tenant.TenantId;
        var query = services.Db.Applications.AsNoTracking().Where(a => a.TenantId == tenantId);
        if (!string.IsNullOrWhiteSpace(search))
        {
            var pattern = LikePatterns.Containing(search);
            query = query.Where(a => EF.Functions.ILike(a.ClientId!, pattern, LikePatterns.Escape)
                || (a.DisplayName != null && EF.Functions.ILike(a.DisplayName, pattern, LikePatterns.Escape))
                || (a.Description != null && EF.Functions.ILike(a.Description, pattern, LikePatterns.Escape)));
        }

        var total = await query.CountAsync(cancellationToken);
        var ordered = order.Key switch
        {
            "name" => order.Apply(query, a => a.DisplayName),
            "clientId" => order.Apply(query, a => a.ClientId),
            "updatedAt" => order.Apply(query, a => a.UpdatedAt),
            _ => order.Apply(query, a => a.CreatedAt),
        };
        var rows = await ordered.ThenBy(a => a.Id)
            .Skip(paging.Skip).Take(paging.Limit)
            .ToListAsync(cancellationToken);
        return Results.Ok(new PagedResponse<ClientResponse>(rows.Select(ClientMapping.ToResponse).ToList(), PageMeta.For(paging, total)));
    }

    public static async Task<IResult> GetClient(string clientId, [AsParameters] ClientServices services, CancellationToken cancellationToken)
    {
        clientId = FromPath(clientId);
        var row = await FindAsync(services, clientId, tracked: false, cancellationToken);
        return row is null
            ? ApiErrors.NotFound("Client")
            : Results.Ok(new DataResponse<ClientResponse>(ClientMapping.ToResponse(row)));
    }

    public static async Task<IResult> UpdateClient(string clientId, ClientRequest request, [AsParameters] ClientServices services, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        clientId = FromPath(clientId);
        if (await FindAsync(services, clientId, tracked: true, cancellationToken) is not { } row)
        {
            return ApiErrors.NotFound("Client");
        }

        var current = ClientMapping.Read(row);
        var allowPrivate = services.Options.Value.AllowPrivateLogoutTargets;
        var keys = await services.KeySets.ForRegistrationAsync(request, current, allowPrivate, cancellationToken);
        var sector = await services.Sectors.ForRegistrationAsync(request, current, allowPrivate, cancellationToken);
        if (ClientValidation.ValidateUpdate(request, current, allowPrivate, out var validator, keys, sector) is not { } client)
        {
            return validator.ToResult();
        }

        if (RefuseAdministering(caller, current, client) is { } refused)
        {
            return refused;
        }

        return await SaveUpdateAsync(row, clientId, current, client, services, cancellationToken)
            ?? Results.Ok(new DataResponse<ClientResponse>(ClientMapping.ToResponse(row), "OAuth client updated successfully"));
    }

    /// <summary>Writes validated settings over the client's; null once saved, else the answer (a conflict, Redis out).</summary>
    internal static async Task<IResult?> SaveUpdateAsync(
        TokenApplication row, string clientId, ClientSettings current, ClientSettings client, ClientServices services, CancellationToken cancellationToken)
    {
        // A public client never keeps a secret; a client turned confidential gets one (shown by rotate-secret).
        var descriptor = new OpenIddictApplicationDescriptor();
        await services.Applications.PopulateAsync(descriptor, row, cancellationToken);
        ClientMapping.Apply(client, descriptor, row);
        if (!client.IsConfidential)
        {
            descriptor.ClientSecret = null;
        }

        // Deactivated: its tokens are void, including those replicas still holding it active issue meanwhile. Reactivated:
        // the cut-off comes back to now, so the tokens it gets from now on are accepted (earlier ones stay void).
        var activeChanges = current.IsActive != client.IsActive;
        if (activeChanges
            && await VoidAccessTokensAsync(services, clientId, client.IsActive ? ClientTokenCutOff.Reactivated : ClientTokenCutOff.Deactivated) is { } unavailable)
        {
            return unavailable;
        }

        await services.Applications.PopulateAsync(row, descriptor, cancellationToken);
        row.UpdatedAt = services.Time.GetUtcNow();
        services.Db.AddEvent(new ClientUpdated(clientId) { TenantId = services.Tenant.TenantId });
        var saved = false;
        try
        {
            if (client.IsConfidential && !current.IsConfidential)
            {
                await services.Applications.UpdateAsync(row, ClientSecrets.Generate(), cancellationToken);
            }
            else
            {
                await services.Applications.UpdateAsync(row, cancellationToken);
            }

            saved = true;
        }
        catch (OpenIddictExceptions.ConcurrencyException)
        {
            return ChangedConcurrently("The client");
        }
        finally
        {
            if (activeChanges && !saved)
            {
                // The client kept its state, so its cut-off goes back to match it: an active client's new tokens pass.
                await VoidAccessTokensAsync(services, clientId, current.IsActive ? ClientTokenCutOff.Reactivated : ClientTokenCutOff.Deactivated);
            }
        }

        services.Cache.Evict(services.Tenant.TenantId, clientId);
        return null;
    }

    public static async Task<IResult> DeleteClient(string clientId, [AsParameters] ClientServices services, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        clientId = FromPath(clientId);
        if (await FindAsync(services, clientId, tracked: true, cancellationToken) is not { } row)
        {
            return ApiErrors.NotFound("Client");
        }

        if (RefuseAdministering(caller, ClientMapping.Read(row)) is { } refused)
        {
            return refused;
        }

        return await DeleteAsync(row, clientId, services, caller, cancellationToken);
    }

    /// <summary>Deletes the client and voids its tokens: 204, or the answer why not.</summary>
    internal static async Task<IResult> DeleteAsync(TokenApplication row, string clientId, ClientServices services, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        // OpenIddict's store removes the client's stored tokens (codes, refresh tokens) and authorizations in the
        // same transaction; its stateless access tokens are voided for every service first.
        if (await VoidAccessTokensAsync(services, clientId, ClientTokenCutOff.Deactivated) is { } unavailable)
        {
            return unavailable;
        }

        // Its tokens are void by now, so a change another request made to the row meanwhile (an update, a rotation) does not
        // stop the deletion the caller asked for: it is tried once more on the row as it is now. Such a change surfaces as
        // OpenIddict's concurrency check or as PostgreSQL refusing the serializable transaction its store deletes in.
        IResult? result = null;
        try
        {
            result = await DeleteVoidedClientAsync(row, clientId, services, caller, cancellationToken);
            return result;
        }
        finally
        {
            if (result is not NoContent && await FindAsync(services, clientId, tracked: false, CancellationToken.None) is { } kept
                && ClientMapping.Read(kept).IsActive)
            {
                // Not deleted, and active: its cut-off goes back to now, so its new tokens pass again.
                await VoidAccessTokensAsync(services, clientId, ClientTokenCutOff.Reactivated);
            }
        }
    }

    private static async Task<IResult> DeleteVoidedClientAsync(
        TokenApplication row, string clientId, ClientServices services, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            services.Db.AddEvent(new ClientDeleted(clientId) { TenantId = services.Tenant.TenantId });
            try
            {
                await services.Applications.DeleteAsync(row, cancellationToken);
                break;
            }
            catch (Exception ex) when (attempt == 1 && DatabaseFailures.IsConcurrentChange(ex))
            {
                services.Db.ChangeTracker.Clear();
                if (await FindAsync(services, clientId, tracked: true, cancellationToken) is not { } current)
                {
                    // The other request deleted it: the outcome the caller asked for.
                    break;
                }

                if (RefuseAdministering(caller, ClientMapping.Read(current)) is { } refusedNow)
                {
                    return refusedNow;
                }

                row = current;
            }
            catch (Exception ex) when (DatabaseFailures.IsConcurrentChange(ex))
            {
                return ChangedConcurrently("The client");
            }
        }

        services.Cache.Evict(services.Tenant.TenantId, clientId);
        return Results.NoContent();
    }

    public static async Task<IResult> RotateSecret(string clientId, [AsParameters] ClientServices services, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        clientId = FromPath(clientId);
        if (await FindAsync(services, clientId, tracked: true, cancellationToken) is not { } row)
        {
            return ApiErrors.NotFound("Client");
        }

        if (RefuseAdministering(caller, ClientMapping.Read(row)) is { } refused)
        {
            return refused;
        }

        if (row.ClientType != OpenIddictConstants.ClientTypes.Confidential)
        {
            return ApiErrors.BadRequest(ErrorCodes.InvalidRequest, "A public client has no secret to rotate");
        }

        var secret = ClientSecrets.Generate();
        row.UpdatedAt = services.Time.GetUtcNow();
        services.Db.AddEvent(new ClientUpdated(clientId) { TenantId = services.Tenant.TenantId });
        try
        {
            await services.Applications.UpdateAsync(row, secret, cancellationToken);
        }
        catch (OpenIddictExceptions.ConcurrencyException)
        {
            return ChangedConcurrently("The client");
        }

        services.Cache.Evict(services.Tenant.TenantId, clientId);
        return Results.Ok(new DataResponse<RotatedSecretResponse>(new RotatedSecretResponse(clientId, secret), "Client secret rotated successfully"));
    }

    /// <summary>Another request changed the row first (two rotations at once, an update racing a scope's deletion): the caller retries.</summary>
    public static IResult ChangedConcurrently(string what) =>
        ApiErrors.Create(StatusCodes.Status409Conflict, ErrorCodes.InvalidRequest, $"{what} was changed by another request at the same time; retry");

    /// <summary>
    /// A client allowed an administering scope (Admin API, relationship store) is an administrator's credential: its
    /// client-credentials tokens carry those scopes. A key scoped to clients must not make one, widen one to them, take
    /// its secret, point its redirects elsewhere or remove it; that needs a full admin write scope.
    /// </summary>
    internal static IResult? RefuseAdministering(ClaimsPrincipal caller, params ClientSettings[] states) =>
        states.Any(c => c.Scopes.Any(ScopeNames.IsPrivileged)) && !AdminScopeHandler.HasFullWrite(caller)
            ? ApiErrors.NeedsFullWrite("Managing a client allowed admin or relationship-store scopes")
            : null;

    /// <summary>
    /// Voids the client's stateless access tokens for every service's bearer validation, not only introspection.
    /// Written before the change commits: with Redis down the change is refused, never applied without it. (Secret
    /// rotation does not come here: the docs promise rotation without downtime, so issued tokens stay valid.)
    /// </summary>
    private static async Task<IResult?> VoidAccessTokensAsync(ClientServices services, string clientId, ClientTokenCutOff cutOff)
    {
        try
        {
            await cutOff.WriteAsync(services.DenyList, services.Tenant.TenantId, clientId);
            return null;
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or StackExchange.Redis.RedisTimeoutException)
        {
            return ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable,
                "Token revocation is unavailable right now; the client was not changed. Try again shortly.");
        }
    }

    // A metadata document's client id is a URL, which a path carries only percent-encoded (and %2F stays encoded).
    private static string FromPath(string clientId) =>
        clientId.Contains('%', StringComparison.Ordinal) ? Uri.UnescapeDataString(clientId) : clientId;

    internal static Task<TokenApplication?> FindAsync(ClientServices services, string clientId, bool tracked, CancellationToken cancellationToken)
    {
        var tenantId = services.Tenant.TenantId;
        var query = tracked ? services.Db.Applications : services.Db.Applications.AsNoTracking();
        return query.FirstOrDefaultAsync(a => a.TenantId == tenantId && a.ClientId == clientId, cancellationToken);
    }
}
