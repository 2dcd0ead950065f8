using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Api;
using TenantInvitations.Audit;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Events;

namespace TenantInvitations.Members;

internal sealed record MemberModel(long UserId, string Email, string? DisplayName, MemberRole Role, DateTime JoinedAt);

// The member.added event's data: the member, and the invitation they accepted.
internal sealed record AddedMemberModel(long UserId, string Email, string? DisplayName, MemberRole Role, DateTime JoinedAt, long InvitationId);

// The member.role_changed event's data: the member after the change, and the role before it.
internal sealed record RoleChangedMemberModel(long UserId, string Email, string? DisplayName, MemberRole Role, DateTime JoinedAt, MemberRole PreviousRole);

internal sealed record ChangeRoleRequest([property: Required] MemberRole? Role) : IRequestBody;

internal static class MembersApi
{
    public static void MapMembers(this IEndpointRouteBuilder app)
    {
        var members = app.MapTenantAdminGroup("/tenant/{tenantId}/admin/user").WithTags("Members");
        members.MapGet("", ListMembers).WithName("ListMembers").ProducesFailures(404)
            .WithSummary("Lists members, longest-standing first")
            .WithDescription("The next page is linked in a `Link: <…>; rel=\"next\"` header.");
        members.MapPut("/role", ChangeRole).WithName("ChangeMemberRole").ProducesFailures(404, 409)
            .WithSummary("Changes a member's role")
            .WithDescription("`id` is the member's userId. Only an Owner (or a platform admin) may grant the Owner role or change an Owner's role. Demoting the last Owner is 409 LastOwner.");
        members.MapDelete("", RemoveMember).WithName("RemoveMember").ProducesFailures(404, 409)
            .WithSummary("Removes a member")
            .WithDescription("`id` is the member's userId. Only an Owner (or a platform admin) may remove an Owner. Removing the last Owner is 409 LastOwner. The removed member loses access at once.");
    }

    internal static async Task<Results<Ok<Envelope<MemberModel[]>>, Failure>> ListMembers(
        long tenantId, string? after, int? limit, HttpContext http, AppDbContext db, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var page = Page.Parse(limit, after, problems);
        if (problems.Count > 0)
        {
            return Failure.Validation(problems);
        }
        var query = db.Memberships.AsNoTracking();
        if (page.After is { } cursor)
        {
            // The same shape as the other cursors (members have no index on joined_at to bound, unlike invitations and audit).
            query = query.Where(m => m.JoinedAt >= cursor.At && (m.JoinedAt > cursor.At || m.UserId > cursor.Id));
        }
        var rows = await query.OrderBy(m => m.JoinedAt).ThenBy(m => m.UserId).Take(page.Limit + 1)
            .Select(m => new MemberModel(m.UserId, m.User.Email, m.User.DisplayName, m.Role, m.JoinedAt))
            .ToListAsync(cancellationToken);
        return ApiResults.Ok(page.Finish(http, rows, m => new Cursor(m.JoinedAt, m.UserId)));
    }

    internal static async Task<Results<Ok<Envelope<MemberModel>>, Failure>> ChangeRole(
        long tenantId, long id, ChangeRoleRequest request, Caller caller, AppDbContext db, IdGenerator ids, TimeProvider clock,
        CancellationToken cancellationToken)
    {
        if (request.Role is not { } role || !Enum.IsDefined(role))
        {
            return Failure.Validation("The role field is required and must be Owner, Admin or Member.");
        }
        var member = await db.Memberships.AsNoTracking().Include(m => m.User).FirstOrDefaultAsync(m => m.UserId == id, cancellationToken);
        if (member is null)
        {
            return Failure.NotFound("The member");
        }
        if ((role == MemberRole.Owner || member.Role == MemberRole.Owner) && !caller.CanManageOwners)
        {
            return Failure.Forbidden("Only an Owner may grant the Owner role or change an Owner's role.");
        }
        var now = clock.UtcNow();
        var auditId = await ids.NextAsync(cancellationToken);
        var eventId = await ids.NextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.LockTenantAsync(tenantId, cancellationToken);
        if (await RecheckCallerAsync(db, caller, cancellationToken) is not { } current)
        {
            return Failure.Forbidden("You may no longer manage members in this tenant.");
        }
        caller = current;
        // The role as it is now, under the lock: another change may have landed since the read above.
        if (await RoleAsync(db, id, cancellationToken) is not { } previous)
        {
            return Failure.NotFound("The member");
        }
        // The guards are in the update itself: an Owner is only changed by someone who may, and only demoted while another Owner remains.
        var canManageOwners = caller.CanManageOwners;
        var changed = await db.Memberships
            .Where(m => m.UserId == id && (canManageOwners || m.Role != MemberRole.Owner)
                && (role == MemberRole.Owner || m.Role != MemberRole.Owner || db.Memberships.Count(o => o.Role == MemberRole.Owner) > 1))
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.Role, role), cancellationToken);
        if (changed == 0)
        {
            return WhyUnchanged(previous, caller, "demote");
        }
        db.AuditEvents.Add(AuditEvent.Record(auditId, caller, "member.role_changed", tenantId, "member", id, now, $"{previous} to {role}"));
        if (previous != role)
        {
            EventLog.Add(db, eventId, EventTypes.MemberRoleChanged, tenantId, caller,
                new RoleChangedMemberModel(member.UserId, member.User.Email, member.User.DisplayName, role, member.JoinedAt, previous), now);
        }
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return ApiResults.Ok(new MemberModel(member.UserId, member.User.Email, member.User.DisplayName, role, member.JoinedAt));
    }

    internal static async Task<Results<Ok<Envelope<MemberModel>>, Failure>> RemoveMember(
        long tenantId, long id, Caller caller, AppDbContext db, IdGenerator ids, TimeProvider clock, CancellationToken cancellationToken)
    {
        var member = await db.Memberships.AsNoTracking().Include(m => m.User).FirstOrDefaultAsync(m => m.UserId == id, cancellationToken);
        if (member is null)
        {
            return Failure.NotFound("The member");
        }
        if (member.Role == MemberRole.Owner && !caller.CanManageOwners)
        {
            return Failure.Forbidden("Only an Owner may remove an Owner.");
        }
        var now = clock.UtcNow();
        var auditId = await ids.NextAsync(cancellationToken);
        var eventId = await ids.NextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.LockTenantAsync(tenantId, cancellationToken);
        if (await RecheckCallerAsync(db, caller, cancellationToken) is not { } current)
        {
            return Failure.Forbidden("You may no longer manage members in this tenant.");
        }
        caller = current;
        if (await RoleAsync(db, id, cancellationToken) is not { } was)
        {
            return Failure.NotFound("The member");
        }
        var canManageOwners = caller.CanManageOwners;
        var removed = await db.Memberships
            .Where(m => m.UserId == id && (canManageOwners || m.Role != MemberRole.Owner)
                && (m.Role != MemberRole.Owner || db.Memberships.Count(o => o.Role == MemberRole.Owner) > 1))
            .ExecuteDeleteAsync(cancellationToken);
        if (removed == 0)
        {
            return WhyUnchanged(was, caller, "remove");
        }
        db.AuditEvents.Add(AuditEvent.Record(auditId, caller, "member.removed", tenantId, "member", id, now, $"was {was}"));
        var removedModel = new MemberModel(member.UserId, member.User.Email, member.User.DisplayName, was, member.JoinedAt);
        EventLog.Add(db, eventId, EventTypes.MemberRemoved, tenantId, caller, removedModel, now);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return ApiResults.Ok(removedModel);
    }

    // The caller's own role, read again under the tenant lock: another Owner may have demoted or removed them while this
    // request waited, and they must not act with the rights they had a moment ago.
    private static async Task<Caller?> RecheckCallerAsync(AppDbContext db, Caller caller, CancellationToken cancellationToken)
    {
        if (caller.IsPlatformAdmin)
        {
            return caller;
        }
        var role = await TenantAdmin.ReadRoleAsync(db, caller, cancellationToken);
        return Membership.IsManager(role) ? caller with { Role = role } : null;
    }

    // The member's role, or null when they are gone. Read under the tenant lock, it holds until the transaction ends.
    private static Task<MemberRole?> RoleAsync(AppDbContext db, long id, CancellationToken cancellationToken) =>
        db.Memberships.Where(m => m.UserId == id).Select(m => (MemberRole?)m.Role).FirstOrDefaultAsync(cancellationToken);

    // The guarded change touched nothing though the member is there (with this role, under the lock): they became an Owner
    // the caller may not change, or they are the last Owner.
    private static Failure WhyUnchanged(MemberRole role, Caller caller, string verb) =>
        role == MemberRole.Owner && !caller.CanManageOwners
            ? Failure.Forbidden("Only an Owner may change or remove an Owner.")
            : LastOwner(verb);

    private static Failure LastOwner(string verb) =>
        Failure.Conflict(ErrorCode.LastOwner, $"You cannot {verb} the last Owner of the tenant. Make someone else an Owner first.");
}
