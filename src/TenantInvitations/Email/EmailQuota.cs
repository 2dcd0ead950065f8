using Microsoft.EntityFrameworkCore;
using TenantInvitations.Api;
using TenantInvitations.Data;

namespace TenantInvitations.Email;

// A tenant sends at most emailsPerHour emails in any hour (a sliding hour); the outbox is the record of what was sent.
// The emailsPerHour-th most recent email of the hour, found by one index seek, blocks the next; the quota frees up when
// that one is an hour old. The check and the change commit together under the tenant's lock, so racing requests on any
// node can't together overshoot the quota.
internal static class EmailQuota
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    // Commits the context's changes, which queue emails, only while the quota allows; otherwise the 429, and nothing changed.
    // PostgreSQL: one round trip (OneRoundTrip), the lock held only while the server runs it. SQLite: the one writer's
    // transaction. Take ids before calling it: on SQLite a new block of ids is reserved on another connection, which would
    // wait behind this transaction.
    public static async Task<Failure?> CommitWithinAsync(AppDbContext db, long tenantId, int emailsPerHour, DateTime now, CancellationToken cancellationToken)
    {
        var hourAgo = now - Hour;
        if (db.Database.IsNpgsql())
        {
            var blocker = await OneRoundTrip.CommitAsync<DateTime>(db, tenantId, """
                SELECT created_at FROM outbox_messages
                WHERE tenant_id = {0} AND created_at > {1}
                ORDER BY created_at DESC OFFSET {2} LIMIT 1
                """, [hourAgo, emailsPerHour - 1], cancellationToken);
            return blocker is { } at ? Refusal(at, emailsPerHour, now) : null;
        }

        using var writer = await SqliteWriters.EnterAsync(db, cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var oldestCounted = await db.OutboxMessages
            .Where(m => m.CreatedAt > hourAgo)
            .OrderByDescending(m => m.CreatedAt)
            .Skip(emailsPerHour - 1)
            .Select(m => (DateTime?)m.CreatedAt)
            .FirstOrDefaultAsync(cancellationToken);
        if (oldestCounted is { } counted)
        {
            return Refusal(counted, emailsPerHour, now);
        }
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return null;
    }

    // For a batch, inside the tenant's lock (Storage.LockTenantAsync): how many emails the tenant may still send in this hour,
    // keeping `reserve` of them for others.
    public static async Task<int> LeftAsync(AppDbContext db, long tenantId, int emailsPerHour, int reserve, DateTime now, CancellationToken cancellationToken)
    {
        var hourAgo = now - Hour;
        var sent = await db.OutboxMessages.IgnoreQueryFilters().CountAsync(m => m.TenantId == tenantId && m.CreatedAt > hourAgo, cancellationToken);
        return Math.Max(0, emailsPerHour - reserve - sent);
    }

    // When fewer than `limit` emails will be in the tenant's sliding hour: the limit-th most recent email then turns an hour
    // old. `unsaved` emails are about to be queued now, ahead of those saved. Now, if the hour holds fewer already.
    public static async Task<DateTime> FreeAtAsync(AppDbContext db, long tenantId, int limit, int unsaved, DateTime now, CancellationToken cancellationToken)
    {
        var position = limit - unsaved;
        if (position <= 0)
        {
            return now + Hour;
        }
        var hourAgo = now - Hour;
        var counted = await db.OutboxMessages.IgnoreQueryFilters()
            .Where(m => m.TenantId == tenantId && m.CreatedAt > hourAgo)
            .OrderByDescending(m => m.CreatedAt)
            .Skip(position - 1)
            .Select(m => (DateTime?)m.CreatedAt)
            .FirstOrDefaultAsync(cancellationToken);
        return counted is { } at ? at + Hour : now;
    }

    // A batch row over the quota: the 429's error, for a tenant that may send again at `next`.
    public static ApiError RefusalError(DateTime freeAt, int emailsPerHour, DateTime now) => Refusal(freeAt - Hour, emailsPerHour, now).Error;

    private static Failure Refusal(DateTime oldestCounted, int emailsPerHour, DateTime now) =>
        Failure.RateLimited(oldestCounted + Hour - now, $"This tenant has sent its {emailsPerHour} emails for this hour.");
}
