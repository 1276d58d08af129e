using System.ComponentModel.DataAnnotations;

namespace LumoAuth.Admin.Features.Webhooks;

/// <summary>Webhook delivery settings (section <c>Webhooks</c>).</summary>
public sealed class WebhookOptions
{
    public const string SectionName = "Webhooks";

    /// <summary>
    /// Development only: lets webhooks target loopback, private and link-local addresses (and plain http).
    /// Off in production, where such URLs are refused at creation and at connection time.
    /// </summary>
    public bool AllowPrivateTargets { get; set; }

    /// <summary>Attempts per delivery before it is given up (docs: 5, over about an hour).</summary>
    [Range(1, 20)]
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Delay before the first retry; each further retry waits four times longer (30 s, 2 min, 8 min, 32 min).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A receiver slower than this has failed the attempt (docs: 30 s).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Failed attempts in a row after which the webhook is switched off.</summary>
    [Range(1, 1000)]
    public int DisableAfterConsecutiveFailures { get; set; } = 20;

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// After a rotation, how long deliveries are signed with the previous secret too (a second <c>v1=</c> in
    /// <c>X-Lumo-Signature-256</c>), so receivers can switch secrets without failed deliveries.
    /// </summary>
    public TimeSpan SecretRotationOverlap { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Attempts in flight at once in one replica (each is an outgoing HTTP request, mostly waiting).</summary>
    [Range(1, 1024)]
    public int MaxConcurrentDeliveries { get; set; } = 32;

    /// <summary>
    /// Attempts in flight at once for one tenant, and for one webhook: a slow or hanging receiver holds this many
    /// sending slots at most, and every other tenant's deliveries keep leaving.
    /// </summary>
    [Range(1, 1024)]
    public int MaxConcurrentPerTenant { get; set; } = 8;

    /// <inheritdoc cref="MaxConcurrentPerTenant"/>
    [Range(1, 1024)]
    public int MaxConcurrentPerWebhook { get; set; } = 4;

    /// <summary>No retry waits longer than this, however many attempts are allowed (base 4 outgrows any calendar by the 18th).</summary>
    public static readonly TimeSpan LongestRetryDelay = TimeSpan.FromHours(24);

    /// <summary>How long a delivery waits after its <paramref name="attemptsMade"/>th failed attempt (exponential, base 4, at most a day).</summary>
    public TimeSpan RetryDelayAfter(int attemptsMade)
    {
        var factor = Math.Pow(4, Math.Clamp(attemptsMade - 1, 0, 30));
        return RetryBaseDelay.TotalSeconds * factor >= LongestRetryDelay.TotalSeconds ? LongestRetryDelay : RetryBaseDelay * factor;
    }
}
