using LumoAuth.Gateway;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddGateway();

var app = builder.Build();
app.UseServiceDefaults(resolveTenants: false,
    acceptForwardedClientCertificates: app.Configuration.GetValue<bool>(LumoAuth.Gateway.Forwarding.ClientCertificateForwarding.TrustSetting));
app.UseMiddleware<InternalPathBlocker>();
app.UseMiddleware<LumoAuth.Gateway.RateLimiting.EdgeRateLimitMiddleware>();
app.MapReverseProxy();
app.MapDefaultEndpoints();

await app.RunAsync();

public partial class Program;
