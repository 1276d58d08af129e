using LumoAuth.Authorization;
using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Features.Abac;
using LumoAuth.Authorization.Features.AuthZen;
using LumoAuth.Authorization.Features.Checks;
using LumoAuth.Authorization.Features.Rbac;
using LumoAuth.Authorization.Features.Relationships;
using LumoAuth.Authorization.Features.Schema;
using LumoAuth.Messaging;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddAuthorizationService();

var app = builder.Build();
if (await app.RunMigrationsIfRequestedAsync<AuthorizationDbContext>(args))
{
    return;
}

app.UseServiceDefaults();
app.UseAuthentication();
app.UseAuthorization();

app.MapRelationshipEndpoints();
app.MapCheckEndpoints();
app.MapSchemaEndpoints();
app.MapRoleEndpoints();
app.MapPermissionEndpoints();
app.MapAssignmentEndpoints();
app.MapRoleHoldersEndpoints();
app.MapAuthzEndpoints();
app.MapAbacAdminEndpoints();
app.MapAbacCheckEndpoints();
app.MapAuthZenEndpoints();
app.MapDefaultEndpoints();

await app.RunAsync();

public partial class Program;
