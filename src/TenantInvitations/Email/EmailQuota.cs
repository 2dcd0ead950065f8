using Microsoft.EntityFrameworkCore;
using TenantInvitations.Api;
using TenantInvitations.Data;

namespace TenantInvitations.Email;

// A tenant sends at most emailsPerHour emails in any hour; the outbox is the record of what was sent.
internal static class EmailQuota
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    // The 429 when the tenant has used its quota, or null: one query for the tenant's limit and its last hour of emails.
    // The wait ends when the oldest email of the hour leaves it.
    public static async Task<Failure?> CheckAsync(AppDbContext db, long tenantId, int defaultPerHour, DateTime now, CancellationToken cancellationToken)
    {
        var hourAgo = now - Hour;
        var usage = await db.Tenants.Where(t => t.Id == tenantId).Select(t => new
        {
            Limit = t.EmailsPerHour ?? defaultPerHour,
            Sent = db.OutboxMessages.Count(m => m.CreatedAt > hourAgo),
            Oldest = db.OutboxMessages.Where(m => m.CreatedAt > hourAgo).Min(m => (DateTime?)m.CreatedAt),
        }).FirstOrDefaultAsync(cancellationToken);
        return usage is { Oldest: { } oldest } && usage.Sent >= usage.Limit
            ? Failure.RateLimited(oldest + Hour - now, $"This tenant has sent its {usage.Limit} emails for this hour.")
            : null;
    }
}
