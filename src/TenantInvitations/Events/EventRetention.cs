using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TenantInvitations.Data;

namespace TenantInvitations.Events;

// Deletes events older than Events:RetentionDays, with their webhook deliveries, in small batches so no request waits
// long behind it. It records the furthest feed position it deleted: a cursor behind it may have missed an event, and the
// feed refuses it (docs/events.md). Every node runs it; batches are idempotent.
internal sealed class EventRetention(
    IDbContextFactory<AppDbContext> contexts, TimeProvider clock, IOptions<EventOptions> options,
    IHostApplicationLifetime lifetime, ILogger<EventRetention> logger) : PeriodicWork(lifetime, logger)
{
    public const int BatchSize = 500;

    protected override string Name => "event retention";
    protected override TimeSpan Interval => options.Value.RetentionInterval;
    // Lets requests through between batches.
    protected override TimeSpan BetweenBatches => TimeSpan.FromMilliseconds(50);

    public override async Task<bool> RunBatchAsync(CancellationToken cancellationToken) => await DeleteBatchAsync(cancellationToken) == BatchSize;

    // Deletes up to one batch of the oldest events past retention; returns how many.
    public async Task<int> DeleteBatchAsync(CancellationToken cancellationToken)
    {
        var cutoff = clock.UtcNow().AddDays(-options.Value.RetentionDays);
        await using var db = contexts.CreateDbContext();
        var old = await db.Events.IgnoreQueryFilters().AsNoTracking()
            .Where(e => e.OccurredAt < cutoff).OrderBy(e => e.OccurredAt).Take(BatchSize)
            .Select(e => new { e.Id, e.Position }).ToListAsync(cancellationToken);
        if (old.Count == 0)
        {
            return 0;
        }
        var ids = old.Select(e => e.Id).ToList();
        var furthest = old.Select(e => new FeedCursor(e.Position ?? 0, e.Id)).Max();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.WebhookDeliveries.IgnoreQueryFilters().Where(d => ids.Contains(d.EventId)).ExecuteDeleteAsync(cancellationToken);
        await db.Events.IgnoreQueryFilters().Where(e => ids.Contains(e.Id)).ExecuteDeleteAsync(cancellationToken);
        // Only ever forward: another node may have deleted further already.
        await db.EventMarks
            .Where(m => m.Name == EventMark.RetentionDeleted
                && (m.Position < furthest.Position || (m.Position == furthest.Position && m.EventId < furthest.Id)))
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.Position, furthest.Position).SetProperty(m => m.EventId, furthest.Id), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return old.Count;
    }
}
