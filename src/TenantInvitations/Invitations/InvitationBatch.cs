using Microsoft.EntityFrameworkCore;
using TenantInvitations.Api;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Email;
using TenantInvitations.Members;
using TenantInvitations.Tenants;

namespace TenantInvitations.Invitations;

// What became of one row of a bulk request or an import.
[System.ComponentModel.Description("Created (invited; its email is queued), AlreadyInvited (a pending invitation for the address exists, or an earlier row has it), AlreadyMember, Invalid (the row's values, or an address outside the tenant's allowed domains), Forbidden (an Owner row from an Admin) or RateLimited (over the tenant's hourly email quota).")]
internal enum BulkRowStatus { Created, AlreadyInvited, AlreadyMember, Invalid, Forbidden, RateLimited }

// One row to decide: the create it asks for, and what was already wrong with it before its values could be read (a role that
// is no role, a number that is no number).
internal sealed record BatchRow(CreateInvitationRequest Request, IReadOnlyList<string> Problems)
{
    // A row whose fields arrive as text (a CSV line, or JSON whose role is any string): empty means "not given".
    public static BatchRow FromText(string? email, string? role, string? expiresInDays, string? message, string? locale)
    {
        var problems = new List<string>();
        MemberRole? parsedRole = null;
        if (!string.IsNullOrWhiteSpace(role))
        {
            if (StrictEnum.TryParse<MemberRole>(role.Trim(), out var known))
            {
                parsedRole = known;
            }
            else
            {
                problems.Add("The role field must be Owner, Admin or Member.");
            }
        }
        int? days = null;
        if (!string.IsNullOrWhiteSpace(expiresInDays))
        {
            if (int.TryParse(expiresInDays.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed))
            {
                days = parsed;
            }
            else
            {
                problems.Add($"The expiresInDays field must be a whole number from 1 to {Limits.MaxValidityDays}.");
            }
        }
        return new BatchRow(new CreateInvitationRequest(email, parsedRole, days, string.IsNullOrEmpty(message) ? null : message,
            string.IsNullOrWhiteSpace(locale) ? null : locale.Trim()), problems);
    }
}

// A row's decision: Created and AlreadyInvited carry the invitation, every other status the error a single create would answer.
internal readonly record struct BatchOutcome(BulkRowStatus Status, Invitation? Invitation, ApiError? Error);

// Many creates decided at once by the rules of a single create (POST .../invitation), in that order: the row's values, an
// Owner only by an Owner, the tenant's allowed domains, already a member, already invited, and the hourly email quota. The
// members and pending invitations of every address are read in two set-based queries, and the Created rows are added to the
// context to be saved together. Used by the bulk endpoint and by the import job, inside the tenant's lock, so no create on
// any node can invite the same address or spend the same quota in between.
internal static class InvitationBatch
{
    // The quota, for a batch that stops at it (an import waits for more) or refuses the rows over it (bulk: RateLimited).
    public sealed record Quota(int Left, Func<int, Task<ApiError>>? RefuseOver);

    // Decides rows in order until the quota runs out (when Quota.RefuseOver is null), and returns one outcome per row decided.
    // ids must hold IdsPerInvitation for every row that may be created.
    public static async Task<List<BatchOutcome>> DecideAsync(AppDbContext db, Queue<long> ids, EmailOutbox outbox, Tenant tenant, Caller caller,
        IReadOnlyList<BatchRow> rows, InvitationOptions rules, Quota quota, string auditDetails, DateTime now, CancellationToken cancellationToken)
    {
        // Each row's values, then the addresses that pass them, read in two queries.
        var normalized = new string?[rows.Count];
        var problems = new List<string>[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            problems[i] = [.. rows[i].Problems, .. NewInvitation.Validate(rows[i].Request)];
            if (problems[i].Count == 0)
            {
                normalized[i] = EmailAddress.Normalize(rows[i].Request.Email!);
            }
        }
        var addresses = normalized.OfType<string>().Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var members = (await MembersAmong(db, addresses).Select(m => m.User.NormalizedEmail)
            .ToListAsync(cancellationToken)).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var pending = (await PendingAmong(db, addresses).AsNoTracking().ToListAsync(cancellationToken))
            .ToDictionary(i => i.NormalizedEmail, StringComparer.OrdinalIgnoreCase);

        var outcomes = new List<BatchOutcome>(rows.Count);
        var left = quota.Left;
        var created = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            var request = rows[i].Request;
            var role = request.Role ?? MemberRole.Member;
            if (problems[i].Count > 0)
            {
                outcomes.Add(Refused(BulkRowStatus.Invalid, Failure.Validation(problems[i])));
            }
            else if (role == MemberRole.Owner && !caller.CanManageOwners)
            {
                outcomes.Add(Refused(BulkRowStatus.Forbidden, Failure.Forbidden("Only an Owner may invite an Owner.")));
            }
            else if (tenant.RejectsDomainOf(normalized[i]!))
            {
                outcomes.Add(Refused(BulkRowStatus.Invalid,
                    Failure.Validation($"This tenant only invites addresses at: {string.Join(", ", tenant.AllowedEmailDomains)}.")));
            }
            else if (members.Contains(normalized[i]!))
            {
                outcomes.Add(Refused(BulkRowStatus.AlreadyMember, NewInvitation.AlreadyMember()));
            }
            // An earlier row of the batch that made or found an invitation for the address counts as pending too.
            else if (pending.TryGetValue(normalized[i]!, out var existing))
            {
                outcomes.Add(new BatchOutcome(BulkRowStatus.AlreadyInvited, existing, NewInvitation.AlreadyInvited(existing.Id).Error));
            }
            else if (left == 0)
            {
                if (quota.RefuseOver is null)
                {
                    break; // the rest waits for the quota
                }
                outcomes.Add(new BatchOutcome(BulkRowStatus.RateLimited, null, await quota.RefuseOver(created)));
            }
            else
            {
                var invitation = NewInvitation.Add(db, ids, outbox, tenant, request.Email!.Trim(), role,
                    request.ExpiresInDays ?? tenant.InvitationValidityDays ?? rules.DefaultValidityDays, request.Message,
                    request.Locale ?? tenant.DefaultLocale, caller, auditDetails, rules, now);
                pending[normalized[i]!] = invitation;
                left--;
                created++;
                outcomes.Add(new BatchOutcome(BulkRowStatus.Created, invitation, null));
            }
        }
        return outcomes;
    }

    // The tenant's memberships and pending invitations of these addresses, each through its index on the normalized address
    // (on PostgreSQL the list goes as citext[]: see PostgresStorage.CitextArray). The tenant's query filter applies to both.
    private static IQueryable<Membership> MembersAmong(AppDbContext db, List<string> addresses) => db.Database.IsNpgsql()
        ? db.Memberships.Where(m => db.Users.FromSql($"SELECT * FROM users WHERE normalized_email = ANY({PostgresStorage.CitextArray(addresses)})")
            .Select(u => u.Id).Contains(m.UserId))
        : db.Memberships.Where(m => addresses.Contains(m.User.NormalizedEmail));

    private static IQueryable<Invitation> PendingAmong(AppDbContext db, List<string> addresses) => (db.Database.IsNpgsql()
        ? db.Invitations.FromSql($"SELECT * FROM invitations WHERE status = 'Pending' AND normalized_email = ANY({PostgresStorage.CitextArray(addresses)})")
        : db.Invitations.Where(i => i.Status == InvitationStatus.Pending && addresses.Contains(i.NormalizedEmail))).TagWith(PendingTag);

    // Names the batch's read of pending invitations in its SQL, where the command log (and a test holding it) finds it.
    public const string PendingTag = "invitation batch: pending invitations of the addresses";

    private static BatchOutcome Refused(BulkRowStatus status, Failure failure) => new(status, null, failure.Error);
}
