using System.Security.Claims;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Protocol;
using Microsoft.AspNetCore;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Features.Token;

/// <summary>
/// An agent's OAuth client gets a token only while the agent may call at all: from an address of its allow-list and within
/// its budget (the agents service judges, and counts the request as one of the agent's calls). Checked once the client has
/// authenticated, so nobody else's request can spend an agent's budget, and before anything is claimed or issued (a JIT
/// task's approval included). Refusals: 403 <c>access_denied</c>, 429 <c>budget_exceeded</c> with <c>Retry-After</c>; the
/// agents service unreachable, 503 <c>temporarily_unavailable</c> (the allow-list is a control, not a preference). A token
/// it lets through names the agent (<c>agent_id</c>, <c>agent_name</c>), as the verdict does.
/// </summary>
public static class AgentTokenGate
{
    private const string RetryAfterProperty = "lumo:agent_retry_after";
    private const string RefusedProperty = "lumo:agent_refused";

    private const string PassedProperty = "lumo:agent_passed";

    /// <summary>The agents service's verdict on a token request by an agent's client (with the agent it names when allowed).</summary>
    public static async Task<AgentTokenVerdict> PassAsync(AgentDirectory agents, Guid tenantId, string clientId, HttpContext http) =>
        await agents.PassTokenRequestAsync(new AgentTokenRequest(tenantId, clientId, http.Connection.RemoteIpAddress?.ToString()), http.RequestAborted)
            ?? new AgentTokenVerdict(true);

    /// <summary>The agent the gate let this token request through for; null for other clients and when no agent owns it.</summary>
    public static AgentTokenVerdict? PassedOf(HttpContext http) =>
        http.Features.Get<OpenIddictServerAspNetCoreFeature>()?.Transaction?.Properties.TryGetValue(PassedProperty, out var value) == true
            ? value as AgentTokenVerdict
            : null;

    /// <summary>The agent's id and name in its token (the docs' agent token carries <c>agent_name</c>), when the verdict names one.</summary>
    public static void Name(ClaimsIdentity identity, AgentTokenVerdict? verdict)
    {
        if (verdict is { AgentId: { } id })
        {
            identity.SetClaim(LumoClaims.AgentId, id.ToString());
            identity.SetClaim(LumoClaims.AgentName, verdict.AgentName);
        }
    }

    /// <summary>The same refusal outside OpenIddict's pipeline (the workload exchange answers on its own).</summary>
    public static IResult Answer(AgentTokenVerdict refusal, HttpResponse response)
    {
        if (refusal.RetryAfter is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return ProtocolErrors.Json(refusal.Error ?? Errors.AccessDenied, refusal.Description ?? "The agent may not have a token now.", refusal.Status);
    }

    public sealed class Check(AgentDirectory agents, TenantContext tenant) : IOpenIddictServerHandler<ProcessAuthenticationContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessAuthenticationContext>()
                .UseScopedHandler<Check>()
                // Once the client has proven itself, whichever way (its secret or its certificate is checked last).
                .SetOrder(Math.Max(OpenIddictServerHandlers.ValidateClientSecret.Descriptor.Order, OpenIddictServerHandlers.ValidateClientCertificate.Descriptor.Order) + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ProcessAuthenticationContext context)
        {
            if (context.EndpointType != OpenIddictServerEndpointType.Token || !AgentDirectory.IsAgentClient(context.ClientId) || !tenant.HasTenant
                || context.Transaction.GetHttpRequest()?.HttpContext is not { } http)
            {
                return;
            }

            AgentTokenVerdict verdict;
            try
            {
                verdict = await PassAsync(agents, tenant.TenantId, context.ClientId!, http);
            }
            catch (DependencyUnavailableException)
            {
                context.Transaction.Properties[RefusedProperty] = StatusCodes.Status503ServiceUnavailable;
                context.Reject(Errors.TemporarilyUnavailable, "The agent's allow-list and budget cannot be checked right now; try again.");
                return;
            }

            if (verdict.Allowed)
            {
                // The token endpoint names the agent in the token (Name).
                context.Transaction.Properties[PassedProperty] = verdict;
                return;
            }

            context.Transaction.Properties[RefusedProperty] = verdict.Status;
            if (verdict.RetryAfter is { } seconds)
            {
                context.Transaction.Properties[RetryAfterProperty] = seconds;
            }

            context.Reject(verdict.Error ?? Errors.AccessDenied, verdict.Description);
        }
    }

    /// <summary>The gate's refusals keep the agents service's status (403, 429 with <c>Retry-After</c>, 503).</summary>
    public sealed class Statuses : IOpenIddictServerHandler<ApplyTokenResponseContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyTokenResponseContext>()
                .UseSingletonHandler<Statuses>()
                .SetOrder(OpenIddictServerAspNetCoreHandlers.AttachHttpResponseCode<ApplyTokenResponseContext>.Descriptor.Order + 2)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ApplyTokenResponseContext context)
        {
            if (context.Transaction.Properties.TryGetValue(RefusedProperty, out var status) && status is int code
                && context.Transaction.GetHttpRequest()?.HttpContext.Response is { } response)
            {
                response.StatusCode = code;
                if (context.Transaction.Properties.TryGetValue(RetryAfterProperty, out var retry) && retry is int seconds)
                {
                    response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            return ValueTask.CompletedTask;
        }
    }
}
