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

    // Adds the invitation, its email, its audit row and its event to the context; the caller saves them in one SaveChanges.
    public static async Task<Invitation> AddAsync(AppDbContext db, IdGenerator ids, EmailOutbox outbox, Tenant tenant, string email,
        MemberRole role, int validityDays, string? message, string locale, Caller caller, DateTime now, CancellationToken cancellationToken)
    {
        var invitationId = await ids.NextAsync(cancellationToken);
        var token = InvitationToken.New();
        var outgoing = await outbox.NewMessageAsync(invitationId, tenant.Id, token.Value, now, cancellationToken);
        var invitation = Invitation.Create(invitationId, tenant, email, role, validityDays, message is { Length: > 0 } ? message : null,
            locale, caller.DisplayName, token.Hash, outgoing.Id, now);
        db.Invitations.Add(invitation);
        db.OutboxMessages.Add(outgoing);
        db.AuditEvents.Add(AuditEvent.Record(await ids.NextAsync(cancellationToken), caller, "invitation.created", tenant.Id, "invitation", invitationId, now,
            $"role {role}"));
        EventLog.Add(db, await ids.NextAsync(cancellationToken), EventTypes.InvitationCreated, tenant.Id, caller, invitation.ToModel(now), now);
        return invitation;
    }
}
