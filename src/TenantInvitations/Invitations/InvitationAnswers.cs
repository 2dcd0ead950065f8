using Microsoft.EntityFrameworkCore;
using TenantInvitations.Api;
using TenantInvitations.Audit;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Events;
using TenantInvitations.Members;

namespace TenantInvitations.Invitations;

// Accepting and declining by token, shared by the JSON endpoints and the accept page. These are the only lookups across
// tenants, and only by token hash. Each answer is one guarded SaveChanges; of racing answers exactly one wins.
internal static class InvitationAnswers
{
    public static Failure? TokenProblem(string? token) => token switch
    {
        null or "" => Failure.Validation("The token is required."),
        _ when !InvitationToken.IsWellFormed(token) => Failure.Validation($"The token must be the {InvitationToken.Length}-character code from the invitation link."),
        _ => null,
    };

    // The invitation whose current token this is; a token a resend replaced is 410, one never issued is 404.
    public static async Task<(Invitation? Invitation, Failure? Failure)> FindAsync(AppDbContext db, string token, CancellationToken cancellationToken)
    {
        var hash = InvitationToken.Hash(token);
        var invitation = await db.Invitations.IgnoreQueryFilters().FirstOrDefaultAsync(i => i.TokenHash == hash, cancellationToken);
        if (invitation is not null)
        {
            return (invitation, null);
        }
        return await db.SupersededTokens.AnyAsync(s => s.Hash == hash, cancellationToken)
            ? (null, Failure.Gone(ErrorCode.InvitationSuperseded, "A newer invitation was sent. Use the link in the latest email."))
            : (null, Failure.NotFound("The invitation"));
    }

    public static Task<(AcceptedInvitationModel? Accepted, Failure? Failure)> AcceptAsync(
        AppDbContext db, IdGenerator ids, Caller caller, string token, InvitationOptions rules, TimeProvider clock, CancellationToken cancellationToken) =>
        Concurrency.Retry.ExecuteAsync<(AcceptedInvitationModel?, Failure?)>(async ct =>
        {
            db.ChangeTracker.Clear();
            var now = clock.UtcNow();
            var (invitation, failure) = await FindAnswerableAsync(db, token, now, ct);
            if (failure is not null)
            {
                return (null, failure);
            }
            if (caller.IsAuthenticated && caller.NormalizedEmail != invitation.NormalizedEmail)
            {
                return (null, EmailMismatch(caller.NormalizedEmail is null
                    ? "Your sign-in has no verified email, so it cannot accept an invitation sent to an address."
                    : "This invitation was sent to a different email address than the one you are signed in with."));
            }
            var user = caller.IsAuthenticated ? await db.Users.FirstOrDefaultAsync(u => u.Subject == caller.Subject, ct) : null;
            user ??= await db.Users.FirstOrDefaultAsync(u => u.NormalizedEmail == invitation.NormalizedEmail, ct);
            if (user is null)
            {
                user = new User { Id = await ids.NextAsync(ct), Email = invitation.Email, NormalizedEmail = invitation.NormalizedEmail, Subject = caller.Subject, CreatedAt = now };
                db.Users.Add(user);
            }
            else
            {
                if (caller.IsAuthenticated && user.Subject != caller.Subject)
                {
                    if (user.Subject is not null)
                    {
                        return (null, EmailMismatch("This email address is already linked to a different sign-in."));
                    }
                    user.Subject = caller.Subject; // the first sign-in of someone who joined through an email link
                }
                if (await db.Memberships.IgnoreQueryFilters().AnyAsync(m => m.TenantId == invitation.TenantId && m.UserId == user.Id, ct))
                {
                    // A racing accept of this very invitation may have made the membership since it was read.
                    var current = await db.Invitations.IgnoreQueryFilters().Where(i => i.Id == invitation.Id).Select(i => i.Status).SingleAsync(ct);
                    return (null, current == InvitationStatus.Pending ? NewInvitation.AlreadyMember() : Outcome.NotPending(current).ToFailure());
                }
            }
            invitation.Accept(user.Id, now);
            db.Memberships.Add(new Membership { TenantId = invitation.TenantId, UserId = user.Id, Role = invitation.Role, JoinedAt = now });
            // Without a bearer, the token proved the invited mailbox: that address is who acted.
            var actor = caller with { Email = caller.Email ?? invitation.Email };
            db.AuditEvents.Add(AuditEvent.Record(await ids.NextAsync(ct), actor,
                "invitation.accepted", invitation.TenantId, "invitation", invitation.Id, now, $"user {user.Id} joined as {invitation.Role}"));
            EventLog.Add(db, await ids.NextAsync(ct), EventTypes.InvitationAccepted, invitation.TenantId, actor, invitation.ToModel(now, rules), now);
            EventLog.Add(db, await ids.NextAsync(ct), EventTypes.MemberAdded, invitation.TenantId, actor,
                new AddedMemberModel(user.Id, user.Email, user.DisplayName, invitation.Role, now, invitation.Id), now);
            await db.SaveChangesAsync(ct);
            return (new AcceptedInvitationModel(invitation.TenantId, user.Id, invitation.Role), null);
        }, cancellationToken).AsTask();

    public static Task<(Invitation? Declined, Failure? Failure)> DeclineAsync(
        AppDbContext db, IdGenerator ids, Caller caller, string token, InvitationOptions rules, TimeProvider clock, CancellationToken cancellationToken) =>
        Concurrency.Retry.ExecuteAsync<(Invitation?, Failure?)>(async ct =>
        {
            db.ChangeTracker.Clear();
            var now = clock.UtcNow();
            var (invitation, failure) = await FindAnswerableAsync(db, token, now, ct);
            if (failure is not null)
            {
                return (null, failure);
            }
            invitation.Decline(now);
            var actor = caller with { Email = caller.Email ?? invitation.Email };
            db.AuditEvents.Add(AuditEvent.Record(await ids.NextAsync(ct), actor, "invitation.declined", invitation.TenantId, "invitation", invitation.Id, now));
            EventLog.Add(db, await ids.NextAsync(ct), EventTypes.InvitationDeclined, invitation.TenantId, actor, invitation.ToModel(now, rules), now);
            await db.SaveChangesAsync(ct);
            return (invitation, null);
        }, cancellationToken).AsTask();

    // The invitation behind a current token, if it can still be accepted or declined.
    private static async Task<(Invitation Invitation, Failure? Failure)> FindAnswerableAsync(AppDbContext db, string token, DateTime now, CancellationToken cancellationToken)
    {
        var (invitation, failure) = await FindAsync(db, token, cancellationToken);
        if (failure is not null)
        {
            return (null!, failure);
        }
        return invitation!.CanRespond(now) is { IsOk: false } refused ? (invitation, refused.ToFailure()) : (invitation, null);
    }

    private static Failure EmailMismatch(string message) => new(StatusCodes.Status403Forbidden, new ApiError(ErrorCode.EmailMismatch, message, []));
}
