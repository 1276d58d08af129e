using LumoAuth.ServiceDefaults.Hosting;

namespace LumoAuth.Messaging.Inbox;

/// <summary>How long inbox rows are kept (section <c>Messaging:Inbox</c>); <see cref="InboxHousekeeping"/> deletes older ones.</summary>
public sealed class InboxOptions
{
    public const string SectionName = "Messaging:Inbox";

    /// <summary>
    /// A redelivery after the row is gone would run the effect again. Once a row has committed, its message comes again only
    /// when something failed after it: the ack was lost, the publisher's relay could not delete its outbox row, or a consumer
    /// writing a row per recipient failed on a later one and is retried — through an outage, for as long as the outage retry
    /// goes on (<see cref="OutageRetryOptions.LongestSpan"/>, about 35 days). Forty days outlast that, at the cost of a few
    /// more rows (only consumers with outside effects — mail, SMS, links for existing accounts — write them). The host does
    /// not start with a retention that is not longer than the outage retry's span.
    /// </summary>
    [TimeSpanRange("1.00:00:00", "3650.00:00:00")]
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(40);
}
