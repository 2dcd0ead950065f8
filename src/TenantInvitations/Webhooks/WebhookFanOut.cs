using Microsoft.EntityFrameworkCore;
using TenantInvitations.Data;
using TenantInvitations.Events;

namespace TenantInvitations.Webhooks;

// Turns the feed into deliveries: reads it like any consumer, from a mark kept in the database, so no event is missed or
// fanned out twice, and makes one delivery per subscribed, enabled endpoint registered before the event became visible.
// One node at a time holds the mark (a row lock on PostgreSQL, the one writer on SQLite); the others skip the round.
internal sealed class WebhookFanOut(IDbContextFactory<AppDbContext> contexts, IdGenerator ids, TimeProvider clock)
{
    public const int BatchSize = 500;

    // Returns whether more events may be waiting (it moved over a full batch, or must look again), so the caller runs it again
    // at once rather than after its poll interval: a backlog of events made before any endpoint was registered went through
    // at one batch a second, and held the first deliveries of the benchmark's webhook drain back by 10 s.
    public async Task<bool> RunAsync(CancellationToken cancellationToken)
    {
        await using var db = contexts.CreateDbContext();
        // A look first, outside the transaction: how many deliveries the next batch makes, so their ids are taken beforehand
        // (see EmailQuota); the transaction then checks that nothing moved meanwhile.
        var mark = await EventsApi.MarkAsync(db, EventMark.WebhooksFannedOut, cancellationToken);
        var batch = await NextBatchAsync(db, mark, cancellationToken);
        // The mark moves only over events: an empty round writes nothing (its own write would be one more transaction to pass).
        if (batch.Count == 0)
        {
            return false;
        }
        var deliveryIds = new Queue<long>();
        for (var i = Pairs(batch, await EndpointsAsync(db, cancellationToken)).Count; i > 0; i--)
        {
            deliveryIds.Enqueue(await ids.NextAsync(cancellationToken));
        }

        using var writer = await SqliteWriters.EnterAsync(db, cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var held = await LockMarkAsync(db, skipLocked: true, cancellationToken);
        if (held is null || held.Cursor != mark)
        {
            return false; // another node is at it, or was first: the next round starts from where it got to
        }
        // The endpoints as of now, under the mark: one registered meanwhile takes its events from here.
        var pairs = Pairs(batch, await EndpointsAsync(db, cancellationToken));
        if (pairs.Count > deliveryIds.Count)
        {
            return true; // an endpoint came in since the look: the next round counts it
        }
        var now = clock.UtcNow();
        foreach (var (e, endpoint) in pairs)
        {
            db.WebhookDeliveries.Add(WebhookDelivery.For(deliveryIds.Dequeue(), endpoint, e, now));
        }
        held.Position = batch[^1].Position!.Value;
        held.EventId = batch[^1].Id;
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return batch.Count == BatchSize;
    }

    // The fan-out's mark, locked until the transaction ends; null when another node holds it and skipLocked is set.
    public static async Task<EventMark?> LockMarkAsync(AppDbContext db, bool skipLocked, CancellationToken cancellationToken) =>
        db.Database.IsNpgsql()
            ? await db.EventMarks.FromSqlRaw(skipLocked
                    ? "SELECT * FROM event_marks WHERE name = {0} FOR UPDATE SKIP LOCKED"
                    : "SELECT * FROM event_marks WHERE name = {0} FOR UPDATE", EventMark.WebhooksFannedOut)
                .SingleOrDefaultAsync(cancellationToken)
            : await db.EventMarks.SingleAsync(m => m.Name == EventMark.WebhooksFannedOut, cancellationToken);

    // The next events after the mark that are final (see EventsApi.VisibleBelowAsync), without their data.
    private static async Task<List<Event>> NextBatchAsync(AppDbContext db, FeedCursor mark, CancellationToken cancellationToken)
    {
        var visibleBelow = await EventsApi.VisibleBelowAsync(db, cancellationToken);
        return await db.Events.IgnoreQueryFilters().AsNoTracking()
            .Where(e => e.Position < visibleBelow && e.Type != EventTypes.WebhookTest)
            .Where(e => e.Position >= mark.Position && (e.Position > mark.Position || e.Id > mark.Id))
            .OrderBy(e => e.Position).ThenBy(e => e.Id).Take(BatchSize)
            .Select(e => new Event
            {
                Id = e.Id, Type = e.Type, TenantId = e.TenantId, OccurredAt = e.OccurredAt, TraceId = e.TraceId, Position = e.Position, Data = "",
            })
            .ToListAsync(cancellationToken);
    }

    private static Task<List<WebhookEndpoint>> EndpointsAsync(AppDbContext db, CancellationToken cancellationToken) =>
        db.WebhookEndpoints.IgnoreQueryFilters().AsNoTracking().Where(e => e.Enabled).ToListAsync(cancellationToken);

    // Each event with each endpoint that takes it: its tenant's (or a platform endpoint), subscribed to its type, and registered
    // before the event became visible.
    private static List<(Event Event, WebhookEndpoint Endpoint)> Pairs(List<Event> batch, List<WebhookEndpoint> endpoints) =>
    [
        .. batch.SelectMany(e => endpoints
            .Where(w => (w.TenantId is null || w.TenantId == e.TenantId) && w.Receives(e.Type) && e.Position >= w.FromPosition)
            .Select(w => (e, w))),
    ];
}
