using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Api;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Email;
using TenantInvitations.Invitations;

namespace TenantInvitations.Audit;

internal sealed record AuditActorModel(string? Subject, string? Email, bool IsPlatformAdmin);

internal sealed record AuditEventModel(
    long Id, string Action, string TargetType, long TargetId, AuditActorModel Actor, DateTime OccurredAt,
    string? TraceId, string? ClientAddress, string? Details);

// One line of an invitation's story: an audited change, or an email with how its delivery went.
internal sealed record InvitationHistoryEntry(DateTime At, string Event, AuditActorModel? Actor, string? Details, DeliveryModel? Delivery);

internal static class AuditApi
{
    public static void MapAudit(this IEndpointRouteBuilder app)
    {
        var admin = app.MapTenantAdminGroup("/tenant/{tenantId}/admin").WithTags("Audit");
        admin.MapGet("/audit", ListAuditEvents).WithName("ListAuditEvents").ProducesFailures(404)
            .WithSummary("Lists the tenant's audit trail, newest first")
            .WithDescription("Append-only. `action` filters exactly (for example invitation.resent). The next page is linked in a `Link: <…>; rel=\"next\"` header.");
        admin.MapGet("/user/invitation/{id}/history", InvitationHistory).WithName("GetInvitationHistory").ProducesFailures(404)
            .WithSummary("Every event of one invitation, oldest first")
            .WithDescription("Created, each email with its delivery outcome, resent, revoked, accepted or declined.");
    }

    internal static async Task<Results<Ok<Envelope<AuditEventModel[]>>, Failure>> ListAuditEvents(
        long tenantId, string? action, string? after, int? limit, HttpContext http, AppDbContext db, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var page = Page.Parse(limit, after, problems);
        if (action is { Length: > 64 })
        {
            problems.Add("The action filter must be at most 64 characters.");
        }
        else if (action is not null && Text.HasControlCharacters(action))
        {
            problems.Add("The action filter must not contain control characters.");
        }
        if (problems.Count > 0)
        {
            return Failure.Validation(problems);
        }
        var query = db.AuditEvents.AsNoTracking();
        if (action is not null)
        {
            query = query.Where(a => a.Action == action);
        }
        if (page.After is { } cursor)
        {
            // The first condition alone bounds the index range (as for invitations).
            query = query.Where(a => a.OccurredAt <= cursor.At && (a.OccurredAt < cursor.At || a.Id < cursor.Id));
        }
        var rows = await query.OrderByDescending(a => a.OccurredAt).ThenByDescending(a => a.Id).Take(page.Limit + 1).ToListAsync(cancellationToken);
        return ApiResults.Ok(page.Finish(http, rows, a => new Cursor(a.OccurredAt, a.Id)).Select(ToModel).ToArray());
    }

    internal static async Task<Results<Ok<Envelope<InvitationHistoryEntry[]>>, Failure>> InvitationHistory(
        long tenantId, long id, AppDbContext db, CancellationToken cancellationToken)
    {
        if (!await db.Invitations.AnyAsync(i => i.Id == id, cancellationToken))
        {
            return Failure.NotFound("The invitation");
        }
        var changes = await db.AuditEvents.AsNoTracking()
            .Where(a => a.TargetType == "invitation" && a.TargetId == id).ToListAsync(cancellationToken);
        var emails = await db.OutboxMessages.AsNoTracking()
            .Where(m => m.InvitationId == id)
            .Select(m => new { m.CreatedAt, m.Status, m.Attempts, m.LastAttemptAt, m.LastError })
            .ToListAsync(cancellationToken);
        var history = changes.Select(a => new InvitationHistoryEntry(a.OccurredAt, a.Action, Actor(a), a.Details, null))
            .Concat(emails.Select(m => new InvitationHistoryEntry(m.CreatedAt, $"email.{m.Status.ToString().ToLowerInvariant()}", null, m.LastError,
                new DeliveryModel(OutboxMessage.DeliveryStatusOf(m.Status, m.Attempts), m.Attempts, m.LastAttemptAt, m.LastError))))
            .OrderBy(e => e.At).ThenBy(e => e.Event.StartsWith("email.", StringComparison.Ordinal))
            .ToArray();
        return ApiResults.Ok(history);
    }

    private static AuditActorModel Actor(AuditEvent a) => new(a.ActorSubject, a.ActorEmail, a.ActorIsPlatformAdmin);

    private static AuditEventModel ToModel(AuditEvent a) =>
        new(a.Id, a.Action, a.TargetType, a.TargetId, Actor(a), a.OccurredAt, a.TraceId, a.ClientAddress, a.Details);
}
