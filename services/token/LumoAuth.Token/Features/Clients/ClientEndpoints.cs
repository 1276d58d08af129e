using System.Text.Json;
using LumoAuth.Contracts.Clients;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Protocol;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Clients;

/// <summary>Tenant Admin API for OAuth clients: <c>/t/{slug}/api/v1/admin/clients</c>.</summary>
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
        return app;
    }

    public sealed record ClientServices(TokenDbContext Db, TokenApplicationManager Applications, TenantContext Tenant, ClientCache Cache, TimeProvider Time);

    public static async Task<IResult> CreateClient(CreateClientRequest request, [AsParameters] ClientServices services, CancellationToken cancellationToken)
    {
        if (ClientValidation.Validate(request, out var errors) is not { } client)
        {
            return ApiErrors.Validation(errors);
        }

        var tenantId = services.Tenant.TenantId;
        var clientId = Guid.NewGuid().ToString();
        var secret = client.IsConfidential ? ClientSecrets.Generate() : null;
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientType = client.IsConfidential ? ClientTypes.Confidential : ClientTypes.Public,
            ApplicationType = ApplicationTypes.Web,
            ConsentType = ConsentTypes.Explicit,
            DisplayName = client.Name,
        };
        descriptor.Permissions.UnionWith(ClientPermissions.For(client.GrantTypes, client.Scopes));
        foreach (var uri in client.RedirectUris)
        {
            descriptor.RedirectUris.Add(new Uri(uri, UriKind.Absolute));
        }

        if (!client.IsConfidential)
        {
            descriptor.Requirements.Add(Requirements.Features.ProofKeyForCodeExchange);
        }

        var application = new TokenApplication
        {
            TenantId = tenantId,
            Description = client.Description,
            CreatedAt = services.Time.GetUtcNow(),
        };
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

        // The uniqueness check above looked the id up and may have cached "not found".
        services.Cache.Evict(tenantId, clientId);

        var response = new CreatedClientResponse(
            application.Id, clientId, secret, client.Name, client.Description, client.IsConfidential,
            client.GrantTypes, client.Scopes, client.RedirectUris, application.CreatedAt);
        return Results.Json(new DataResponse<CreatedClientResponse>(response, "OAuth client created successfully"), statusCode: StatusCodes.Status201Created);
    }

    public static async Task<IResult> ListClients(int? page, int? limit, [AsParameters] ClientServices services, CancellationToken cancellationToken)
    {
        var paging = PageRequest.From(page, limit);
        var tenantId = services.Tenant.TenantId;
        var query = services.Db.Applications.AsNoTracking().Where(a => a.TenantId == tenantId);
        var total = await query.CountAsync(cancellationToken);
        var rows = await query.OrderByDescending(a => a.CreatedAt).ThenBy(a => a.Id)
            .Skip(paging.Skip).Take(paging.Limit)
            .ToListAsync(cancellationToken);
        return Results.Ok(new PagedResponse<ClientResponse>(rows.Select(ToResponse).ToList(), PageMeta.For(paging, total)));
    }

    public static async Task<IResult> GetClient(string clientId, [AsParameters] ClientServices services, CancellationToken cancellationToken)
    {
        var tenantId = services.Tenant.TenantId;
        var row = await services.Db.Applications.AsNoTracking()
            .FirstOrDefaultAsync(a => a.TenantId == tenantId && a.ClientId == clientId, cancellationToken);
        return row is null
            ? ApiErrors.NotFound("Client")
            : Results.Ok(new DataResponse<ClientResponse>(ToResponse(row)));
    }

    private static ClientResponse ToResponse(TokenApplication row)
    {
        var permissions = ReadList(row.Permissions);
        return new ClientResponse(
            row.Id,
            row.ClientId ?? string.Empty,
            row.DisplayName ?? string.Empty,
            row.Description,
            row.ClientType == ClientTypes.Confidential,
            ClientPermissions.GrantTypesOf(permissions),
            ClientPermissions.ScopesOf(permissions).Order(StringComparer.Ordinal).ToList(),
            ReadList(row.RedirectUris),
            IsActive: true,
            row.CreatedAt);
    }

    private static List<string> ReadList(string? json) =>
        string.IsNullOrEmpty(json) ? [] : JsonSerializer.Deserialize<List<string>>(json) ?? [];
}
