using TenantInvitations.Api;
using TenantInvitations.Audit;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Email;
using TenantInvitations.Events;
using TenantInvitations.Members;
using TenantInvitations.Tenants;

namespace TenantInvitations.Invitations;

// What creating an invitation takes, shared by POST .../invitation and POST /tenant (whose first Owner is invited too).
internal static class NewInvitation
{
    public static List<string> Validate(CreateInvitationRequest request)
    {
        var problems = new List<string>();
        if (EmailAddress.Problem(request.Email, "email") is { } emailProblem)
        {
            problems.Add(emailProblem);
        }
        if (request.Role is { } role && !Enum.IsDefined(role))
        {
            problems.Add("The role field must be Owner, Admin or Member.");
        }
        if (request.ExpiresInDays is < 1 or > Limits.MaxValidityDays)
        {
            problems.Add($"The expiresInDays field must be from 1 to {Limits.MaxValidityDays}.");
        }
        if (request.Message is { } message && (message.Length > Limits.Message || Text.HasControlCharacters(message, allowLineBreaks: true)))
        {
            problems.Add($"The message field must be at most {Limits.Message} characters of text.");
        }
        if (request.Locale is { } locale && !Text.IsLocale(locale))
        {
            problems.Add("The locale field must be a language tag such as en, de or pt-BR.");
        }
        return problems;
    }

    // The inviter is shown by the bearer's email (or sub) in the email's subject and body: it must be one short line.
    public static string? InviterProblem(Caller caller) =>
        caller.DisplayName.Length > Limits.Email || Text.HasControlCharacters(caller.DisplayName)
            ? $"Your sign-in's email (or sub) must be one line of at most {Limits.Email} characters to be shown as the inviter."
            : null;

    public static Failure AlreadyMember() =>
        Failure.Conflict(ErrorCode.AlreadyMember, "That email already belongs to a member of this tenant.");

    // The pending invitation's id is in info, unless it was answered in the moment since it won a race.
    public static Failure AlreadyInvited(long? pendingId) =>
        Failure.Conflict(ErrorCode.AlreadyInvited, "A pending invitation for that email already exists; resend it instead.",
            pendingId is { } id ? [$"id: {id}"] : []);

    // The ids one invitation takes: its own, its email's, its audit row's and its event's.
    public const int IdsPerInvitation = 4;

    // Adds the invitation, its email, its audit row and its event to the context; the caller saves them in one SaveChanges.
    public static async Task<Invitation> AddAsync(AppDbContext db, IdGenerator ids, EmailOutbox outbox, Tenant tenant, string email,
        MemberRole role, int validityDays, string? message, string locale, Caller caller, InvitationOptions rules, DateTime now, CancellationToken cancellationToken) =>
        Add(db, await ids.TakeAsync(IdsPerInvitation, cancellationToken), outbox, tenant, email, role, validityDays, message, locale, caller,
            $"role {role}", rules, now);

    // The same with ids taken beforehand (a batch takes them before it locks the tenant: see EmailQuota).
    public static Invitation Add(AppDbContext db, Queue<long> ids, EmailOutbox outbox, Tenant tenant, string email,
        MemberRole role, int validityDays, string? message, string locale, Caller caller, string auditDetails, InvitationOptions rules, DateTime now)
    {
        var invitationId = ids.Dequeue();
        var token = InvitationToken.New();
        var outgoing = outbox.NewMessage(ids.Dequeue(), invitationId, tenant.Id, token.Value, now);
        var invitation = Invitation.Create(invitationId, tenant, email, role, validityDays, message is { Length: > 0 } ? message : null,
            locale, caller.DisplayName, token.Hash, outgoing.Id, now);
        db.Invitations.Add(invitation);
        db.OutboxMessages.Add(outgoing);
        db.AuditEvents.Add(AuditEvent.Record(ids.Dequeue(), caller, "invitation.created", tenant.Id, "invitation", invitationId, now, auditDetails));
        EventLog.Add(db, ids.Dequeue(), EventTypes.InvitationCreated, tenant.Id, caller, invitation.ToModel(now, rules), now);
        return invitation;
    }
}
