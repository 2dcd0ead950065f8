using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Data;
using TenantInvitations.Email;
using TenantInvitations.Webhooks;

namespace TenantInvitations.Operations;

// The queue gauges: emails waiting in the outbox, how long the oldest has waited, webhook deliveries waiting. Read when
// scraped (or exported), at most once a second whatever the number of gauges or readers: one snapshot of two small
// queries serves all three. While the database can't answer, the gauges report nothing rather than a false zero.
internal sealed class QueueGauges
{
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(1);

    private readonly IDbContextFactory<AppDbContext> contexts;
    private readonly TimeProvider clock;
    private readonly ILogger<QueueGauges> logger;
    private readonly Lock gate = new();
    private (long? Started, Snapshot? Value) last;

    private sealed record Snapshot(long OutboxQueued, double OldestAgeSeconds, long WebhooksQueued);

    public QueueGauges(IMeterFactory meters, IDbContextFactory<AppDbContext> contexts, TimeProvider clock, ILogger<QueueGauges> logger)
    {
        (this.contexts, this.clock, this.logger) = (contexts, clock, logger);
        var meter = meters.Create(AppMetrics.MeterName);
        meter.CreateObservableGauge("outbox.queued", () => Read(s => s.OutboxQueued), "{email}",
            "Emails waiting in the outbox: not yet accepted by the mail server nor given up.");
        meter.CreateObservableGauge("outbox.oldest_age", () => Read(s => s.OldestAgeSeconds), "s",
            "How long the oldest email still waiting in the outbox has waited since it was queued; 0 when none waits.");
        meter.CreateObservableGauge("webhook.queued", () => Read(s => s.WebhooksQueued), "{delivery}",
            "Webhook deliveries waiting for their first attempt or a retry.");
    }

    private IEnumerable<Measurement<T>> Read<T>(Func<Snapshot, T> pick) where T : struct =>
        Current() is { } snapshot ? [new Measurement<T>(pick(snapshot))] : [];

    private Snapshot? Current()
    {
        lock (gate)
        {
            if (last.Started is { } started && clock.GetElapsedTime(started) < Fresh)
            {
                return last.Value;
            }
            var now = clock.GetTimestamp();
            try
            {
                using var db = contexts.CreateDbContext();
                var outbox = db.OutboxMessages.IgnoreQueryFilters().AsNoTracking().Where(m => m.Status == OutboxStatus.Queued)
                    .GroupBy(m => 1).Select(g => new { Count = g.LongCount(), Oldest = g.Min(m => m.CreatedAt) }).FirstOrDefault();
                var webhooks = db.WebhookDeliveries.IgnoreQueryFilters()
                    .LongCount(d => d.Status == WebhookDeliveryStatus.Pending || d.Status == WebhookDeliveryStatus.Retrying);
                var age = outbox is null ? 0 : Math.Max(0, (clock.UtcNow() - outbox.Oldest).TotalSeconds);
                last = (now, new Snapshot(outbox?.Count ?? 0, age, webhooks));
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                logger.LogDebug(exception, "The queue gauges could not be read.");
                last = (now, null);
            }
            return last.Value;
        }
    }
}
