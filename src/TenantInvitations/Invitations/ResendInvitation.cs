using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TenantInvitations.Api;
using TenantInvitations.Audit;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Email;
using TenantInvitations.Events;
using TenantInvitations.Members;
using TenantInvitations.Operations;

namespace TenantInvitations.Invitations;

// The seed endpoint: PUT /tenant/{tenantId}/admin/user/invitation/resend?id=N. Rule 1 runs in the group filter; rule 2 on
// the role read by this handler's first query, with the invitation (TenantAdmin.AdmitAsync). On PostgreSQL a resend is
// two round trips: that read, and the commit (EmailQuota.CommitWithinAsync, Data/OneRoundTrip.cs).
internal static class ResendInvitation
{
    public const string Description = """
        Resends an existing invitation, generating a new invitation email to the original recipient. The rules, in order:
        1. A missing or non-integer `id`, an `id` ≤ 0 or a `tenantId` ≤ 0 is 400 ValidationError.
        2. A missing or invalid bearer is 401; a caller who is not Owner or Admin of the tenant (nor a platform admin) is 403.
        3. No invitation with that id in this tenant is 404 (an id from another tenant is 404 too).
        4. An Accepted, Declined or Revoked invitation is 409 InvitationNotPending. Pending and Expired invitations can be resent.
        5. Within the cooldown (default 60 s) of the last send, or after 5 sends in the last 24 hours, the answer is 429 RateLimited with `Retry-After`.
           So is a resend when the tenant has used its hourly email quota (`emailsPerHour` in the settings, default 1000).
        6. Otherwise, in one transaction: a new token replaces the old one (which from then on answers 410 InvitationSuperseded),
           `expiresAt` becomes now plus the invitation's validity, `sendCount` goes up by one, `lastSentAt` becomes now,
           one email is queued, one audit event and the invitation.resent event are written. The answer is 200 with `value: [the invitation]`.
        7. If the request is aborted before the commit, nothing changes.
        """;

    // The caller's role, the tenant's email quota and the invitation (tracked, for the guarded update), in one query compiled
    // once (as InvitationsApi's get is: EF Core's per-request cost of a LINQ query showed in the profile). The role lookups
    // are written out as TenantAdmin describes (above AdmitAsync).
    private static readonly Func<AppDbContext, long, long, string?, string, CancellationToken, Task<Found?>> Find =
        EF.CompileAsyncQuery((AppDbContext db, long tenantId, long id, string? subject, string email, CancellationToken _) => (
            from t in db.Tenants
            where t.Id == tenantId
            join row in db.Invitations.Where(i => i.Id == id) on t.Id equals row.TenantId into rows
            from match in rows.DefaultIfEmpty()
            select new Found
            {
                BySubject = db.Memberships.Where(m => m.User.Subject == subject).Select(m => (MemberRole?)m.Role).FirstOrDefault(),
                ByEmail = db.Memberships.Where(m => m.User.Subject == null && m.User.NormalizedEmail == email).Select(m => (MemberRole?)m.Role).FirstOrDefault(),
                EmailsPerHour = t.EmailsPerHour,
                Invitation = match,
            })
            .FirstOrDefault());

    private sealed record Found
    {
        public MemberRole? BySubject { get; init; }
        public MemberRole? ByEmail { get; init; }
        public int? EmailsPerHour { get; init; }
        public Invitation? Invitation { get; init; }
    }

    public static async Task<Results<Ok<Envelope<UserInvitationModel[]>>, Failure>> Handle(
        long tenantId, long id, Caller caller, HttpContext http, AppDbContext db, IdGenerator ids, EmailOutbox outbox,
        IOptions<InvitationOptions> options, TimeProvider clock, CancellationToken cancellationToken)
    {
        var result = await Concurrency.Retry.ExecuteAsync<Results<Ok<Envelope<UserInvitationModel[]>>, Failure>>(async ct =>
        {
            db.ChangeTracker.Clear();
            var found = await Find(db, tenantId, id, caller.Subject, caller.NormalizedEmail ?? "", ct);
            var (admitted, refused) = await TenantAdmin.AdmitAsync(http, db, caller, found is not null, found?.BySubject, found?.ByEmail, ct);
            if (refused is not null)
            {
                return refused;
            }
            if (found?.Invitation is not { } invitation)
            {
                return Failure.NotFound("The invitation");
            }
            var now = clock.UtcNow();
            var rules = options.Value;
            if (invitation.CanResend(now, rules.ResendCooldown, rules.MaxSendsPerDay) is { IsOk: false } notNow)
            {
                AppMetrics.ResendRefused(notNow.MetricReason);
                return notNow.ToFailure();
            }
            var token = InvitationToken.New();
            var message = await outbox.NewMessageAsync(invitation.Id, tenantId, token.Value, now, ct);
            db.SupersededTokens.Add(new SupersededToken { Hash = invitation.TokenHash, InvitationId = invitation.Id, SupersededAt = now });
            invitation.Resend(token.Hash, message.Id, now, rules.MaxSendsPerDay);
            db.OutboxMessages.Add(message);
            db.AuditEvents.Add(AuditEvent.Record(await ids.NextAsync(ct), admitted, "invitation.resent", tenantId, "invitation", invitation.Id, now,
                $"send {invitation.SendCount}"));
            EventLog.Add(db, await ids.NextAsync(ct), EventTypes.InvitationResent, tenantId, admitted, invitation.ToModel(now, options.Value), now);
            if (await EmailQuota.CommitWithinAsync(db, tenantId, found.EmailsPerHour ?? rules.EmailsPerHour, now, ct) is { } overQuota)
            {
                AppMetrics.ResendRefused("quota");
                return overQuota;
            }
            outbox.Committed();
            return ApiResults.Ok(new[] { invitation.ToModel(now, options.Value) });
        }, cancellationToken);
        return result;
    }
}
