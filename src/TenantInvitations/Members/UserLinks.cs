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
        try
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var linked = await db.Users
                .Where(u => u.NormalizedEmail == email && u.Subject == null && !db.Users.Any(other => other.Subject == subject))
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.Subject, subject), cancellationToken);
            if (linked == 0)
            {
                return;
            }
            var user = await db.Users.Where(u => u.Subject == subject).Select(u => u.Id).SingleAsync(cancellationToken);
            var tenants = await db.Memberships.IgnoreQueryFilters().Where(m => m.UserId == user).Select(m => m.TenantId).ToListAsync(cancellationToken);
            var now = clock.UtcNow();
            foreach (var tenantId in tenants)
            {
                db.AuditEvents.Add(AuditEvent.Record(await ids.NextAsync(cancellationToken), caller, "user.linked", tenantId, "member", user, now,
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
