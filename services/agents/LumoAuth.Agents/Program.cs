// The agent registry, workload federation, delegation, JIT, AAuth, MCP and Ask land here (DESIGN §3);
// for now the service runs with the shared tenancy, authentication and health endpoints.
var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddTenantServices();

var app = builder.Build();
app.UseServiceDefaults();
app.UseAuthentication();
app.UseAuthorization();
app.MapDefaultEndpoints();

await app.RunAsync();

public partial class Program;
