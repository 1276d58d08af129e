using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Jit;
using LumoAuth.Token.Protocol;
using Microsoft.AspNetCore;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Features.Token;

/// <summary>
/// The API reference's scope-based JIT design ends at this endpoint: an agent's OAuth client exchanges its own access
/// token, naming <c>jit_task_id</c>, for a JIT token with the scopes a person (or the risk rules) approved for the task.
/// This is not a delegation: nobody else's token is exchanged and no <c>act</c> is added, so the delegation rules (and
/// <c>delegate:on_behalf</c>) do not apply. The agents service, which owns tasks, checks and claims the approval; the token
/// is the same JIT token its own fetch gets (subject the task, revoked with it), with the scopes.
/// </summary>
public sealed class JitTaskExchange(AgentDirectory agents, TenantContext tenant)
{
    public const string TaskParameter = "jit_task_id";
    private const string GrantProperty = "lumo:jit_exchange";

    public static bool IsJit(OpenIddictRequest request) => request.IsTokenExchangeGrantType() && request.HasParameter(TaskParameter);

    /// <summary>Decides once OpenIddict has authenticated the client and validated the subject token; rejects, or keeps the grant for the endpoint.</summary>
    public async ValueTask DecideAsync(ValidateTokenRequestContext context)
    {
        var requester = context.ClientId;
        var subject = context.SubjectTokenPrincipal;
        var refusal =
            !AgentDirectory.IsAgentClient(requester) ? (Errors.InvalidRequest, "jit_task_id is taken from an agent's own OAuth client only.")
            : context.Request.ActorToken is not null ? (Errors.InvalidRequest, "A JIT exchange names no actor_token: the agent asks for itself.")
            : context.Request.Resources is { Length: > 0 } || context.Request.Audiences is { Length: > 0 }
                ? (Errors.InvalidTarget, "JIT tokens are issued for the tenant's API only: send no resource or audience.")
            : subject is null || subject.GetClaim(Claims.ClientId) != requester || subject.GetClaim(Claims.Subject) != requester || subject.HasClaim(c => c.Type == TokenExchange.ActClaim)
                ? (Errors.InvalidRequest, "The subject token must be the agent's own access token (its client's, for itself).")
            : TokenExchange.HeldByRequester(subject, context) is { } binding ? (Errors.InvalidGrant, $"The subject token is {binding}.")
            : DPoPBinding.ThumbprintOf(context.Transaction) is not null ? (Errors.InvalidRequest, "JIT tokens are bearer tokens: send no DPoP proof.")
            : (string?)context.Request[TaskParameter] is not { Length: > 0 and <= 64 } ? (Errors.InvalidRequest, "jit_task_id must be a task id (task_…).")
            : ((string, string)?)null;
        if (refusal is { } refused)
        {
            context.Reject(refused.Item1, refused.Item2);
            return;
        }

        if (!tenant.HasTenant)
        {
            context.Reject(Errors.InvalidRequest, "The task cannot be checked outside its tenant.");
            return;
        }

        var request = new JitExchangeRequest(tenant.TenantId, tenant.Slug, requester!, (string)context.Request[TaskParameter]!, [.. context.Request.GetScopes()]);
        JitExchangeAnswer? answer;
        try
        {
            answer = await agents.ClaimJitTaskAsync(request, context.CancellationToken);
        }
        catch (DependencyUnavailableException)
        {
            context.Reject(Errors.TemporarilyUnavailable, "The task cannot be checked right now: the agents service cannot be reached; try again.");
            return;
        }

        if (answer?.Token is not { } token)
        {
            context.Reject(answer?.Error ?? Errors.InvalidGrant, answer?.ErrorDescription ?? "The task cannot be exchanged.");
            return;
        }

        context.Transaction.Properties[GrantProperty] = token;
    }

    /// <summary>The grant <see cref="DecideAsync"/> kept for this request; null when it did not decide one.</summary>
    public static JitTokenRequest? GrantOf(HttpContext http) =>
        http.Features.Get<OpenIddictServerAspNetCoreFeature>()?.Transaction?.Properties.TryGetValue(GrantProperty, out var value) == true ? value as JitTokenRequest : null;

    /// <summary>Signs the claimed grant and answers as any token endpoint does (no-store, the scopes named).</summary>
    public static async Task<IResult> IssueAsync(HttpContext http, JitTokenRequest grant, TenantInfo tenantInfo)
    {
        var services = http.RequestServices;
        var options = services.GetRequiredService<TenantServerOptionsMonitor>().ForRequest(http);
        var (token, _) = JitTokenEndpoints.Sign(grant, tenantInfo, options, services.GetRequiredService<TimeProvider>());
        await ClientCredentialsFastPath.WriteResponseAsync(http.Response, token, grant.LifetimeSeconds, string.Join(' ', grant.Scopes ?? []), TokenTypeIdentifiers.AccessToken);
        return Results.Empty;
    }
}
