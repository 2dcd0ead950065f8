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

    private static Failure Refusal(DateTime oldestCounted, int emailsPerHour, DateTime now) =>
        Failure.RateLimited(oldestCounted + Hour - now, $"This tenant has sent its {emailsPerHour} emails for this hour.");
}
