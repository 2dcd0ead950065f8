using Microsoft.EntityFrameworkCore;
using TenantInvitations.Api;
using TenantInvitations.Data;

namespace TenantInvitations.Email;

// A tenant sends at most emailsPerHour emails in any hour; the outbox is the record of what was sent.
internal static class EmailQuota
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    // The 429 when the context's tenant has used its quota, or null. One index seek finds the emailsPerHour-th most
    // recent email of the hour; the quota frees up when that one is an hour old.
    private static async Task<Failure?> CheckAsync(AppDbContext db, int emailsPerHour, DateTime now, CancellationToken cancellationToken)
    {
        var hourAgo = now - Hour;
        var oldestCounted = await db.OutboxMessages
            .Where(m => m.CreatedAt > hourAgo)
            .OrderByDescending(m => m.CreatedAt)
            .Skip(emailsPerHour - 1)
            .Select(m => (DateTime?)m.CreatedAt)
            .FirstOrDefaultAsync(cancellationToken);
        return oldestCounted is { } at
            ? Failure.RateLimited(at + Hour - now, $"This tenant has sent its {emailsPerHour} emails for this hour.")
            : null;
    }

    // Saves the context's changes, which queue emails, only while the quota allows. The check and the insert happen in one
    // transaction under the tenant's lock, so racing requests on any node can't together overshoot the quota. Take ids
    // before calling it: on SQLite a new block of ids is reserved on another connection, which would wait behind this lock.
    public static async Task<Failure?> SaveWithinAsync(AppDbContext db, long tenantId, int emailsPerHour, DateTime now, CancellationToken cancellationToken)
    {
        using var writer = await SqliteWriters.EnterAsync(db, cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.LockTenantAsync(tenantId, cancellationToken);
        if (await CheckAsync(db, emailsPerHour, now, cancellationToken) is { } overQuota)
        {
            return overQuota;
        }
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return null;
    }
}
