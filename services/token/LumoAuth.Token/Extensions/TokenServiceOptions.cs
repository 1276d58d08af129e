using System.ComponentModel.DataAnnotations;
using LumoAuth.ServiceDefaults.Hosting;

namespace LumoAuth.Token.Extensions;

/// <summary>Token-service settings (section <c>Token</c>).</summary>
public sealed class TokenServiceOptions
{
    public const string SectionName = "Token";

    /// <summary>
    /// How long a rotated refresh token may still be redeemed once more (two concurrent refreshes by one client). A
    /// second extra use within it, or any use after it, is reuse: the whole grant is revoked (RFC 9700 §4.14.2,
    /// <c>RefreshTokenReuseOnce</c>). Short on purpose.
    /// </summary>
    [Range(0, 60)]
    public int RefreshTokenReuseLeewaySeconds { get; set; } = 10;

    /// <summary>
    /// Whether back-channel logout may call loopback and private addresses. Off in production: a tenant's client
    /// registration must not make this service call into the deployment's own network (SSRF). Local development and
    /// tests turn it on for receivers on 127.0.0.1.
    /// </summary>
    public bool AllowPrivateLogoutTargets { get; set; }

    /// <summary>
    /// How long a hosted page waits for its tenant's settings from admin before it goes on without them (a plain page,
    /// no registration). Short, so a slow admin slows a sign-in only this much; a test run on a loaded machine raises it.
    /// </summary>
    [TimeSpanRange("00:00:00.100", "00:01:00")]
    public TimeSpan SettingsLookupTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long issuing a token waits for the user's roles from the authorization service before it leaves the roles claims out.</summary>
    [TimeSpanRange("00:00:00.100", "00:01:00")]
    public TimeSpan RolesLookupTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The device flow's polling interval (RFC 8628 §3.2): told to devices, and a faster poll is <c>slow_down</c>.</summary>
    [Range(1, 60)]
    public int DevicePollingIntervalSeconds { get; set; } = 5;

    /// <summary>How often a CIBA client may poll for its <c>auth_req_id</c> (CIBA Core §7.3 <c>interval</c>; the docs: 5 s).</summary>
    [Range(1, 60)]
    public int CibaPollingIntervalSeconds { get; set; } = 5;

    /// <summary>
    /// Whether DPoP proofs at the token endpoint must carry a nonce this server issued (RFC 9449 §8), which limits a
    /// proof made in advance on a compromised client to the nonce's lifetime. Clients learn the nonce from a
    /// <c>use_dpop_nonce</c> answer's <c>DPoP-Nonce</c> header, and every token answer to a proof carries a fresh one.
    /// </summary>
    public bool RequireDPoPNonce { get; set; }
}
