using LumoAuth.Authorization;
using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Features.Relationships;
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
app.MapDefaultEndpoints();

await app.RunAsync();

public partial class Program;
