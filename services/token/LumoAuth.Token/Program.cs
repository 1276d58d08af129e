using LumoAuth.Messaging;
using LumoAuth.ServiceDefaults;
using LumoAuth.Token.Data;
using LumoAuth.Token.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddTenantServices();
builder.AddServiceDatabase<TokenDbContext>(ServiceNames.TokenDb);
builder.AddMessaging<TokenDbContext>();
builder.AddTokenService();

var app = builder.Build();

if (await app.RunMigrationsIfRequestedAsync<TokenDbContext>(args))
{
    return;
}

app.UseServiceDefaults();
app.UseTokenServer();

app.MapTokenServiceEndpoints();
app.MapDefaultEndpoints();

await app.RunAsync();

public partial class Program;
