using Microsoft.EntityFrameworkCore;
using TenantInvitations.Auth;
using TenantInvitations.Data;

namespace TenantInvitations.Members;

internal static class UserLinks
{
    // Someone who joined through an email link has no sub yet. The first sign-in with that verified email becomes
    // theirs, so no other sign-in can claim the user afterwards.
    public static async Task LinkAsync(AppDbContext db, Caller caller, CancellationToken cancellationToken)
    {
        if (caller.Subject is not { } subject || caller.NormalizedEmail is not { } email)
        {
            return;
        }
        try
        {
            await db.Users
                .Where(u => u.NormalizedEmail == email && u.Subject == null && !db.Users.Any(other => other.Subject == subject))
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.Subject, subject), cancellationToken);
        }
        catch (Exception exception) when (Storage.IsUniqueViolation(exception))
        {
            // a concurrent request linked this sign-in a moment ago
        }
    }
}
