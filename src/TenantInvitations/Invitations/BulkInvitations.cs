using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TenantInvitations.Api;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Email;

namespace TenantInvitations.Invitations;

// POST .../invitation/bulk: 1 to 1,000 creates in one request, each row decided on its own by the single create's rules
// (InvitationBatch), all Created rows saved in one transaction with their emails, audit rows and events.
internal static class BulkInvitations
{
    public const int MaxRows = 1000;

    public const string Description = """
        Invites up to 1,000 addresses at once. Each row is decided on its own by the rules of a single create, in order: Invalid (the
        row's values, or an address outside the tenant's allowed domains; `error.info` lists the problems), Forbidden (an Owner row
        from an Admin), AlreadyMember, AlreadyInvited (a pending invitation exists, or an earlier row of this request has the same
        address: `invitation` is that one), RateLimited (the tenant's hourly email quota is used up; `error.info` says when to
        retry), else Created and its email queued. The answer lists every row in the order sent, with `index` from 0; `invitation`
        is set for Created and AlreadyInvited, `error` for every status but Created. A row's JSON of the wrong type (a number
        for an email) makes the whole request a 400. With an `Idempotency-Key`, a retry within 24 hours gets the first answer
        (with `Idempotent-Replayed: true`) and changes nothing.
        """;

    public static void MapBulkInvitations(this RouteGroupBuilder invitations) =>
        invitations.MapPost("/bulk", CreateInvitations).WithName("BulkCreateInvitations").ProducesFailures(404).WithIdempotencyKey()
            .WithSummary("Invites many people at once")
            .WithDescription(Description);

    internal static async Task<Results<Ok<Envelope<BulkRowModel[]>>, Failure>> CreateInvitations(
        long tenantId, BulkInvitationRequest request, Caller caller, AppDbContext db, IdGenerator ids, EmailOutbox outbox,
        IOptions<InvitationOptions> options, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (request.Invitations is not { Count: > 0 and <= MaxRows } sent)
        {
            return Failure.Validation($"The invitations field must list 1 to {MaxRows} invitations.");
        }
        if (NewInvitation.InviterProblem(caller) is { } inviterProblem)
        {
            return Failure.Validation(inviterProblem);
        }
        var rows = sent.Select(ToBatchRow).ToList();
        // Ids before the tenant's lock: on SQLite a new block is reserved on another connection, which would wait behind it.
        var reserved = await ids.TakeAsync(rows.Count * NewInvitation.IdsPerInvitation, cancellationToken);

        var now = clock.UtcNow();
        List<BatchOutcome> outcomes;
        using (await SqliteWriters.EnterAsync(db, cancellationToken))
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            await db.LockTenantAsync(tenantId, cancellationToken);
            if (await db.Tenants.AsNoTracking().FirstOrDefaultAsync(t => t.Id == tenantId, cancellationToken) is not { } tenant)
            {
                return Failure.NotFound("The tenant");
            }
            var emailsPerHour = tenant.EmailsPerHour ?? options.Value.EmailsPerHour;
            ApiError? overQuota = null;
            var quota = new InvitationBatch.Quota(await EmailQuota.LeftAsync(db, tenantId, emailsPerHour, reserve: 0, now, cancellationToken),
                async created => overQuota ??= EmailQuota.RefusalError(
                    await EmailQuota.FreeAtAsync(db, tenantId, emailsPerHour, created, now, cancellationToken), emailsPerHour, now));
            outcomes = await InvitationBatch.DecideAsync(db, reserved, outbox, tenant, caller, rows, options.Value, quota,
                "bulk", now, cancellationToken);
            if (db.Database.IsNpgsql())
            {
                await CopyInsert.WriteAddedAsync(db, cancellationToken);
            }
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        outbox.Committed();
        return ApiResults.Ok(outcomes.Select((o, i) => new BulkRowModel(i, sent[i]?.Email, o.Status, o.Invitation?.ToModel(now, options.Value), o.Error)).ToArray());
    }

    // The role arrives as text, so a role that is no role fails its row only; a value of the wrong JSON type fails the request.
    private static BatchRow ToBatchRow(BulkInvitationRow? row)
    {
        if (row is null)
        {
            return new BatchRow(new CreateInvitationRequest(null, null, null, null, null), ["The row must be an object with an email."]);
        }
        var parsed = BatchRow.FromText(row.Email, row.Role, null, row.Message, row.Locale);
        return parsed with { Request = parsed.Request with { ExpiresInDays = row.ExpiresInDays } };
    }
}

internal sealed record BulkInvitationRequest(
    [property: Required, Description("1 to 1,000 invitations, each decided on its own.")] IReadOnlyList<BulkInvitationRow?>? Invitations) : IIdempotentBody, IRequestBody;

// One row of a bulk request: a create's fields, with the role as text so that a role that is no role fails only its row.
internal sealed record BulkInvitationRow(
    [property: Required, Description("The address to invite; a row without one is Invalid.")] string? Email,
    [property: Description("Owner, Admin or Member (default Member); any other value makes the row Invalid.")] string? Role = null,
    [property: Description("1 to 30; the tenant's validity by default.")] int? ExpiresInDays = null,
    [property: Description("At most 500 characters, sent as text.")] string? Message = null,
    [property: Description("A language tag such as en, de or pt-BR; the tenant's by default.")] string? Locale = null) : IRequestBody;

// One row's result: its position in the request, the address sent, what became of it, the invitation (Created and
// AlreadyInvited) and the error a single create would have answered (every status but Created).
internal sealed record BulkRowModel(
    [property: Description("The row's position in the request, from 0.")] int Index,
    [property: Description("The address as sent.")] string? Email,
    [property: Description("What became of the row.")] BulkRowStatus Status,
    [property: Description("The invitation made (Created) or found (AlreadyInvited); else null.")] UserInvitationModel? Invitation,
    [property: Description("The error a single create would have answered, for every status but Created; else null.")] ApiError? Error);
