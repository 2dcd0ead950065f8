using System.Diagnostics.Metrics;

namespace TenantInvitations.Operations;

// The service's own instruments, in the meter "TenantInvitations". Prometheus sees them under the names docs/operations.md
// lists: dots become underscores, a counter gains `_total`, a unit of seconds `_seconds`. Labels hold a kind of thing
// (an event type, a reason, an outcome), never an email address, a token or a tenant id.
internal static class AppMetrics
{
    public const string MeterName = "TenantInvitations";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Events = Meter.CreateCounter<long>("invitation.events", "{event}",
        "Events written to the feed, by type, counted as their change is saved.");

    private static readonly Counter<long> ResendRefusals = Meter.CreateCounter<long>("invitation.resend_refusals", "{refusal}",
        "Resends refused by a rule: cooldown, daily_cap, quota (the tenant's hourly emails) or not_pending.");

    private static readonly Counter<long> EmailDeliveries = Meter.CreateCounter<long>("email.deliveries", "{attempt}",
        "Email delivery attempts recorded, by outcome: sent, retry (failed, to be tried again) or failed (given up).");

    private static readonly Histogram<double> EmailLatency = Meter.CreateHistogram("email.delivery_latency", "s",
        "From an email's queuing to the mail server accepting it.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400] });

    private static readonly Counter<long> WebhookDeliveries = Meter.CreateCounter<long>("webhook.deliveries", "{attempt}",
        "Webhook delivery attempts recorded, by outcome: succeeded, retry (failed, to be tried again) or failed (given up).");

    public static void EventWritten(string type) => Events.Add(1, new KeyValuePair<string, object?>("type", type));

    public static void ResendRefused(string reason) => ResendRefusals.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public static void EmailDelivery(string outcome) => EmailDeliveries.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public static void EmailDelivered(TimeSpan sinceQueued) => EmailLatency.Record(Math.Max(0, sinceQueued.TotalSeconds));

    public static void WebhookDelivery(string outcome) => WebhookDeliveries.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
}
