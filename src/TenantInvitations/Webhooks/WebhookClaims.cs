using Microsoft.EntityFrameworkCore;
using TenantInvitations.Data;

namespace TenantInvitations.Webhooks;

// How a node claims due deliveries with a lease (like the email outbox), and reserves their send times on the endpoint's row.
internal static class WebhookClaims
{
    // Due deliveries, at most PerEndpoint per endpoint so one busy receiver can't fill the node, skipping rows another node is
    // claiming right now. Only the oldest room x PerEndpoint due rows (a range of the due index) are ranked, and the picked
    // rows are locked by id: each step is materialized, so the plan can't re-run the ranking per row. The nested form it
    // replaced (IN over IN over the ranking of the whole backlog) took 15 s for one claim of a backlog of 4,500, found by
    // the benchmark's webhook drain. The picked ids are looked up by key (= ANY of an array): as a join, on statistics
    // taken while the table was small, the plan walked the due index and compared every row with every pick (14 ms a
    // claim at a backlog of 8,000, auto_explain). The row lock re-checks the row as committed (a claim that committed meanwhile fails
    // it), so the conditions stand where the lock is taken. An endpoint at its share is left out before the window is
    // taken, so a long backlog of one can't hide the others.
    public static async Task<List<long>> OnPostgresAsync(AppDbContext db, Guid node, DateTime now, DateTime leaseEnds, int room, long[] busy) =>
        await db.Database.SqlQuery<long>($"""
            WITH oldest AS MATERIALIZED (
                SELECT id, endpoint_id, next_attempt_at FROM webhook_deliveries
                WHERE status IN ('Pending', 'Retrying') AND next_attempt_at <= {now}
                    AND (locked_until IS NULL OR locked_until <= {now}) AND endpoint_id <> ALL({busy})
                ORDER BY next_attempt_at
                LIMIT {room * WebhookOptions.PerEndpoint}),
            picked AS MATERIALIZED (
                SELECT id FROM (
                    SELECT id, next_attempt_at, row_number() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at, id) AS nth FROM oldest
                ) ranked
                WHERE nth <= {WebhookOptions.PerEndpoint}
                ORDER BY next_attempt_at
                LIMIT {room}),
            locked AS MATERIALIZED (
                SELECT d.id FROM webhook_deliveries AS d
                WHERE d.id = ANY(ARRAY(SELECT id FROM picked))
                    AND d.status IN ('Pending', 'Retrying') AND d.next_attempt_at <= {now} AND (d.locked_until IS NULL OR d.locked_until <= {now})
                FOR UPDATE OF d SKIP LOCKED)
            UPDATE webhook_deliveries SET locked_until = {leaseEnds}, locked_by = {node}
            FROM locked WHERE webhook_deliveries.id = locked.id
            RETURNING webhook_deliveries.id AS "Value"
            """).ToListAsync(CancellationToken.None);

    // SQLite has one writer at a time, so the conditional update alone decides; the per-endpoint share is picked beforehand.
    public static async Task<List<long>> OnSqliteAsync(AppDbContext db, Guid node, DateTime now, DateTime leaseEnds, int room, long[] busy)
    {
        var cancellationToken = CancellationToken.None;
        var due = db.WebhookDeliveries.IgnoreQueryFilters()
            .Where(d => (d.Status == WebhookDeliveryStatus.Pending || d.Status == WebhookDeliveryStatus.Retrying) && d.NextAttemptAt <= now
                && (d.LockedUntil == null || d.LockedUntil <= now));
        var candidates = await due.Where(d => !busy.Contains(d.EndpointId)).OrderBy(d => d.NextAttemptAt).ThenBy(d => d.Id)
            .Select(d => new { d.Id, d.EndpointId }).Take(room * WebhookOptions.PerEndpoint).ToListAsync(cancellationToken);
        var picked = candidates.GroupBy(c => c.EndpointId).SelectMany(g => g.Take(WebhookOptions.PerEndpoint)).Take(room).Select(c => c.Id).ToList();
        if (picked.Count == 0)
        {
            return [];
        }
        using var writer = await SqliteWriters.EnterAsync(db, cancellationToken);
        await due.Where(d => picked.Contains(d.Id))
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.LockedUntil, leaseEnds).SetProperty(d => d.LockedBy, node), cancellationToken);
        return await db.WebhookDeliveries.IgnoreQueryFilters().Where(d => d.LockedBy == node && d.LockedUntil == leaseEnds && picked.Contains(d.Id))
            .Select(d => d.Id).ToListAsync(cancellationToken);
    }

    // The pace across nodes: reserves `count` consecutive slots of 1/MaxPerSecondPerEndpoint s on each endpoint's row, from now
    // or from where earlier reservations (of any node) end, and answers each endpoint's first slot (UTC ticks). On PostgreSQL
    // one statement for every endpoint of the round (one per endpoint and round cost a commit per delivery at 8 busy
    // endpoints); SQLite, in process, takes them one by one. Both have UPDATE ... RETURNING.
    public static async Task<Dictionary<long, long>> ReservePaceAsync(AppDbContext db, Dictionary<long, int> counts, int perSecond, TimeProvider wall)
    {
        var cancellationToken = CancellationToken.None;
        var interval = TimeSpan.TicksPerSecond / perSecond;
        var now = wall.GetUtcNow().UtcTicks;
        var ends = new Dictionary<long, long>();
        if (counts.Count == 0)
        {
            return ends;
        }
        if (db.Database.IsNpgsql())
        {
            var (ids, slots) = (counts.Keys.ToArray(), counts.Values.ToArray());
            var rows = await db.Database.SqlQuery<PaceEnd>($"""
                UPDATE webhook_endpoints AS e
                SET next_send_ticks = (CASE WHEN e.next_send_ticks > {now} THEN e.next_send_ticks ELSE {now} END) + r.n * {interval}
                FROM unnest({ids}, {slots}) AS r(id, n)
                WHERE e.id = r.id
                RETURNING e.id AS "Id", e.next_send_ticks AS "End"
                """).ToListAsync(cancellationToken);
            ends = rows.ToDictionary(r => r.Id, r => r.End);
        }
        else
        {
            using var writer = await SqliteWriters.EnterAsync(db, cancellationToken);
            foreach (var (id, count) in counts)
            {
                var end = await db.Database.SqlQuery<long>($"""
                    UPDATE webhook_endpoints SET next_send_ticks = (CASE WHEN next_send_ticks > {now} THEN next_send_ticks ELSE {now} END) + {count * interval}
                    WHERE id = {id}
                    RETURNING next_send_ticks AS "Value"
                    """).ToListAsync(cancellationToken);
                if (end.Count == 1)
                {
                    ends[id] = end[0];
                }
            }
        }
        // An endpoint deleted meanwhile has no row: its slots start now (its deliveries are gone with it).
        return counts.ToDictionary(c => c.Key, c => (ends.TryGetValue(c.Key, out var end) ? end : now + c.Value * interval) - c.Value * interval);
    }

    private sealed record PaceEnd(long Id, long End);
}
