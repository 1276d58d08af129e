using LumoAuth.Gateway;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddGateway();

var app = builder.Build();
app.UseServiceDefaults(resolveTenants: false,
    acceptForwardedClientCertificates: app.Configuration.GetValue<bool>(LumoAuth.Gateway.Forwarding.ClientCertificateForwarding.TrustSetting));
// Before routing (hence the explicit UseRouting): a tenant's own domain is routed, blocked and rate-limited as its /t/{slug} path.
app.UseMiddleware<LumoAuth.Gateway.CustomDomains.CustomDomainRouting>();
app.UseMiddleware<InternalPathBlocker>();
app.UseMiddleware<LumoAuth.Gateway.RateLimiting.EdgeRateLimitMiddleware>();
app.UseRouting();
app.MapReverseProxy();
app.MapDefaultEndpoints();

await app.RunAsync();

public partial class Program;
