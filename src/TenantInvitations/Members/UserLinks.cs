using Microsoft.EntityFrameworkCore;
using TenantInvitations.Audit;
using TenantInvitations.Auth;
using TenantInvitations.Data;

namespace TenantInvitations.Members;

internal static class UserLinks
{
    // Someone who joined through an email link has no sub yet. The first sign-in with that verified email becomes
    // theirs, so no other sign-in can claim the user afterwards. That is a change to who the member is, so it is audited
    // in each tenant the user belongs to, in the same transaction.
    public static async Task LinkAsync(AppDbContext db, Caller caller, IdGenerator ids, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (caller.Subject is not { } subject || caller.NormalizedEmail is not { } email)
        {
            return;
        }
        var user = await db.Users.Where(u => u.NormalizedEmail == email && u.Subject == null).Select(u => (long?)u.Id).FirstOrDefaultAsync(cancellationToken);
        if (user is not { } userId)
        {
            return;
        }
        // Ids before the transaction: on SQLite a new block is reserved on another connection, which would wait behind it.
        var tenants = await db.Memberships.IgnoreQueryFilters().Where(m => m.UserId == userId).Select(m => m.TenantId).ToListAsync(cancellationToken);
        var auditIds = new List<long>();
        foreach (var _ in tenants)
        {
            auditIds.Add(await ids.NextAsync(cancellationToken));
        }
        try
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var linked = await db.Users
                .Where(u => u.Id == userId && u.Subject == null && !db.Users.Any(other => other.Subject == subject))
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.Subject, subject), cancellationToken);
            if (linked == 0)
            {
                return;
            }
            var now = clock.UtcNow();
            for (var i = 0; i < tenants.Count; i++)
            {
                db.AuditEvents.Add(AuditEvent.Record(auditIds[i], caller, "user.linked", tenants[i], "member", userId, now,
                    "first sign-in of a user who joined by email link"));
            }
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception exception) when (Storage.IsUniqueViolation(exception))
        {
            // a concurrent request linked this sign-in a moment ago
        }
    }
}
