using LumoAuth.Admin;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.ApiKeys;
using LumoAuth.Admin.Features.AuditLogs;
using LumoAuth.Admin.Features.Internal;
using LumoAuth.Admin.Features.Tenants;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Messaging;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddAdminService();

var app = builder.Build();
if (await app.RunMigrationsIfRequestedAsync<AdminDbContext>(args))
{
    return;
}

app.UseServiceDefaults();
app.UseAuthentication();
app.UseAuthorization();

app.MapPlatformTenantEndpoints();
app.MapUserEndpoints();
app.MapApiKeyEndpoints();
app.MapAuditLogEndpoints();
app.MapInternalEndpoints();
app.MapDefaultEndpoints();

await app.RunAsync();

public partial class Program;
