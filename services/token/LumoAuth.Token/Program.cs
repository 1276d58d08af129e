using LumoAuth.Messaging;
using LumoAuth.ServiceDefaults;
using LumoAuth.Token.Data;
using LumoAuth.Token.Extensions;
using LumoAuth.Token.Messaging;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddTenantServices();
builder.AddServiceDatabase<TokenDbContext>(ServiceNames.TokenDb);
builder.AddMessaging<TokenDbContext>(TokenConsumers.Register);
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
