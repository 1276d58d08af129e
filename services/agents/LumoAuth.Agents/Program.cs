using LumoAuth.Agents;
using LumoAuth.Agents.Data;
using LumoAuth.Agents.Features.AAuth;
using LumoAuth.Agents.Features.Jit;
using LumoAuth.Agents.Features.Mcp;
using LumoAuth.Agents.Features.Registry;
using LumoAuth.Agents.Features.Runtime;
using LumoAuth.Messaging;

// The agent registry, the Ask API and JIT permissions and MCP server authorization; AAuth; workload federation and delegation land here next (DESIGN §3).
var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddAgentsService();

var app = builder.Build();
if (await app.RunMigrationsIfRequestedAsync<AgentsDbContext>(args))
{
    return;
}

app.UseServiceDefaults();
app.UseAuthentication();
app.UseAuthorization();

app.MapAgentEndpoints();
app.MapAgentLookupEndpoints();
app.MapAgentRuntimeEndpoints();
app.MapJitEndpoints();
app.MapJitExchangeEndpoints();
app.MapJitApprovalEndpoints();
app.MapMcpServerEndpoints();
app.MapAAuthEndpoints();
app.MapAAuthRegistrationEndpoints();
app.MapDefaultEndpoints();

await app.RunAsync();

public partial class Program;
