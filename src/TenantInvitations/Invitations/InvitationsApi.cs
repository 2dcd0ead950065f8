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
using TenantInvitations.Tenants;

namespace TenantInvitations.Invitations;

internal static class InvitationsApi
{
    public static void MapInvitations(this IEndpointRouteBuilder app)
    {
        var invitations = app.MapTenantAdminGroup("/tenant/{tenantId}/admin/user/invitation").WithTags("Invitations");
        invitations.MapGet("", ListInvitations).WithName("ListInvitations").ProducesFailures(404)
            .WithSummary("Lists invitations, newest first")
            .WithDescription("Filters by status (Expired means Pending past its expiry) and by exact email. The next page is linked in a `Link: <…>; rel=\"next\"` header; `after` is that opaque cursor.");
        invitations.MapGet("/{id}", GetInvitation).WithName("GetInvitation").ProducesFailures(404).WithMetadata(new RoleReadByHandler())
            .WithSummary("Gets one invitation")
            .WithDescription("Its status (Expired is a Pending invitation past `expiresAt`), sends, `nextResendAt` and the delivery of its latest email. Never its token or link. An id of another tenant is 404.");
        invitations.MapPost("", CreateInvitation).WithName("CreateInvitation").ProducesFailures(404, 409, 429).WithMetadata(new RoleReadByHandler())
            .WithSummary("Invites someone by email")
            .WithDescription("Queues the invitation email. Only an Owner (or a platform admin) may invite an Owner. Unknown and server-owned fields in the body are ignored. 409 AlreadyInvited gives the pending invitation's id in `info`; 409 AlreadyMember means the address already belongs to a member. 429 RateLimited when the tenant has used its hourly email quota.");
        invitations.MapPut("/resend", ResendInvitation.Handle).WithName("ResendInvitation").ProducesFailures(404, 409, 429).WithMetadata(new RoleReadByHandler())
            .WithSummary("Resends an invitation")
            .WithDescription(ResendInvitation.Description);
        invitations.MapBulkInvitations();
        invitations.MapPut("/revoke", RevokeInvitation).WithName("RevokeInvitation").ProducesFailures(404, 409)
            .WithSummary("Revokes a pending invitation; its link stops working")
            .WithDescription("A pending (or expired) invitation only: any other status is 409 InvitationNotPending with the status in `info`. The answer is the invitation after it, as a one-item array like create and resend.");

        // The seed's own example calls this path; it is the same handler behind the same checks.
        app.MapTenantAdminGroup("/api/tenant/{tenantId}").WithTags("Invitations")
            .MapPut("/invitations/resend", ResendInvitation.Handle).WithName("ResendInvitationSeedPath").ProducesFailures(404, 409, 429).WithMetadata(new RoleReadByHandler())
            .WithSummary("Resends an invitation (the seed's path)")
            .WithDescription(ResendInvitation.Description);
    }

    internal static async Task<Results<Ok<Envelope<UserInvitationModel[]>>, Failure>> ListInvitations(
        long tenantId, InvitationStatus? status, string? email, string? after, int? limit,
        HttpContext http, AppDbContext db, IOptions<InvitationOptions> options, TimeProvider clock, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var page = Page.Parse(limit, after, problems);
        // The binder also reads numbers and comma lists as enums; only a status name is a valid filter.
        if (status is not null && !StrictEnum.TryParse<InvitationStatus>(http.Request.Query["status"], out _))
        {
            problems.Add($"The status must be one of {string.Join(", ", Enum.GetNames<InvitationStatus>())}.");
        }
        if (email is { Length: > Limits.Email })
        {
            problems.Add($"The email filter must be at most {Limits.Email} characters.");
        }
        else if (email is not null && Text.HasControlCharacters(email))
        {
            problems.Add("The email filter must not contain control characters.");
        }
        if (problems.Count > 0)
        {
            return Failure.Validation(problems);
        }
        var now = clock.UtcNow();
        var query = db.Invitations.AsNoTracking();
        query = status switch
        {
            null => query,
            InvitationStatus.Pending => query.Where(i => i.Status == InvitationStatus.Pending && i.ExpiresAt > now),
            InvitationStatus.Expired => query.Where(i => i.Status == InvitationStatus.Pending && i.ExpiresAt <= now),
            var stored => query.Where(i => i.Status == stored),
        };
        if (email is not null)
        {
            var normalized = EmailAddress.Normalize(email);
            query = query.Where(i => i.NormalizedEmail == normalized);
        }
        if (page.After is { } cursor)
        {
            // The first condition alone bounds the index range; the second only sorts out rows at the cursor's own time.
            query = query.Where(i => i.CreatedAt <= cursor.At && (i.CreatedAt < cursor.At || i.Id < cursor.Id));
        }
        var rows = await query.OrderByDescending(i => i.CreatedAt).ThenByDescending(i => i.Id).Take(page.Limit + 1).ToListAsync(cancellationToken);
        return ApiResults.Ok(page.Finish(http, rows, i => new Cursor(i.CreatedAt, i.Id)).Select(i => i.ToModel(now, options.Value)).ToArray());
    }

    // The get's one query: the caller's role in the tenant (rule 2, applied by AdmitAsync as the group filter would), the
    // tenant, and the row, compiled once: as a LINQ query, EF Core funcletized and hashed its expression tree into the query
    // cache's key on every request (the profile and the before/after are in docs/benchmarks.md). The role lookups are
    // written out as TenantAdmin describes (above AdmitAsync).
    private static readonly Func<AppDbContext, long, long, string?, string, CancellationToken, Task<FoundForGet?>> FindForGet =
        EF.CompileAsyncQuery((AppDbContext db, long tenantId, long id, string? subject, string email, CancellationToken _) => (
            from t in db.Tenants.AsNoTracking()
            where t.Id == tenantId
            join row in db.Invitations.AsNoTracking().Where(i => i.Id == id) on t.Id equals row.TenantId into rows
            from match in rows.DefaultIfEmpty()
            select new FoundForGet
            {
                BySubject = db.Memberships.Where(m => m.User.Subject == subject).Select(m => (MemberRole?)m.Role).FirstOrDefault(),
                ByEmail = db.Memberships.Where(m => m.User.Subject == null && m.User.NormalizedEmail == email).Select(m => (MemberRole?)m.Role).FirstOrDefault(),
                Invitation = match,
            })
            .FirstOrDefault());

    private sealed record FoundForGet
    {
        public MemberRole? BySubject { get; init; }
        public MemberRole? ByEmail { get; init; }
        public Invitation? Invitation { get; init; }
    }

    internal static async Task<Results<Ok<Envelope<UserInvitationModel>>, Failure>> GetInvitation(
        long tenantId, long id, Caller caller, HttpContext http, AppDbContext db, IOptions<InvitationOptions> options, TimeProvider clock,
        CancellationToken cancellationToken)
    {
        var found = await FindForGet(db, tenantId, id, caller.Subject, caller.NormalizedEmail ?? "", cancellationToken);
        if ((await TenantAdmin.AdmitAsync(http, db, caller, found is not null, found?.BySubject, found?.ByEmail, cancellationToken)).Refusal is { } refused)
        {
            return refused;
        }
        return found?.Invitation is { } invitation ? ApiResults.Ok(invitation.ToModel(clock.UtcNow(), options.Value)) : Failure.NotFound("The invitation");
    }

    // The create's one read, compiled once like the get's: the caller's role, the tenant, and whether the address is a
    // member or already invited.
    private static readonly Func<AppDbContext, long, string?, string, string, CancellationToken, Task<FoundForCreate?>> FindForCreate =
        EF.CompileAsyncQuery((AppDbContext db, long tenantId, string? subject, string email, string normalized, CancellationToken _) =>
            db.Tenants.AsNoTracking().Where(t => t.Id == tenantId).Select(t => new FoundForCreate
            {
                BySubject = db.Memberships.Where(m => m.User.Subject == subject).Select(m => (MemberRole?)m.Role).FirstOrDefault(),
                ByEmail = db.Memberships.Where(m => m.User.Subject == null && m.User.NormalizedEmail == email).Select(m => (MemberRole?)m.Role).FirstOrDefault(),
                Tenant = t,
                IsMember = db.Memberships.Any(m => m.User.NormalizedEmail == normalized),
                PendingId = db.Invitations.Where(i => i.NormalizedEmail == normalized && i.Status == InvitationStatus.Pending).Select(i => (long?)i.Id).FirstOrDefault(),
            }).FirstOrDefault());

    private sealed record FoundForCreate
    {
        public MemberRole? BySubject { get; init; }
        public MemberRole? ByEmail { get; init; }
        public required Tenant Tenant { get; init; }
        public bool IsMember { get; init; }
        public long? PendingId { get; init; }
    }

    internal static async Task<Results<Created<Envelope<UserInvitationModel[]>>, Failure>> CreateInvitation(
        long tenantId, CreateInvitationRequest request, Caller caller, HttpContext http, AppDbContext db, IdGenerator ids, EmailOutbox outbox,
        IOptions<InvitationOptions> options, TimeProvider clock, CancellationToken cancellationToken)
    {
        var problems = NewInvitation.Validate(request);
        if (NewInvitation.InviterProblem(caller) is { } inviterProblem)
        {
            problems.Add(inviterProblem);
        }
        // The caller's role, the tenant, and whether the address is a member or already invited, in one query; rule 2 (403)
        // then comes before the body's problems, as it does for every endpoint whose role the filter reads.
        var normalized = problems.Count == 0 ? EmailAddress.Normalize(request.Email!) : "";
        var found = await FindForCreate(db, tenantId, caller.Subject, caller.NormalizedEmail ?? "", normalized, cancellationToken);
        var (admitted, refused) = await TenantAdmin.AdmitAsync(http, db, caller, found is not null, found?.BySubject, found?.ByEmail, cancellationToken);
        if (refused is not null)
        {
            return refused;
        }
        if (problems.Count > 0)
        {
            return Failure.Validation(problems);
        }
        var role = request.Role ?? MemberRole.Member;
        if (role == MemberRole.Owner && !admitted.CanManageOwners)
        {
            return Failure.Forbidden("Only an Owner may invite an Owner.");
        }
        if (found is null)
        {
            return Failure.NotFound("The tenant");
        }
        if (found.Tenant.RejectsDomainOf(normalized))
        {
            return Failure.Validation($"This tenant only invites addresses at: {string.Join(", ", found.Tenant.AllowedEmailDomains)}.");
        }
        if (found.IsMember)
        {
            return NewInvitation.AlreadyMember();
        }
        if (found.PendingId is { } pendingId)
        {
            return NewInvitation.AlreadyInvited(pendingId);
        }

        var now = clock.UtcNow();
        var validityDays = request.ExpiresInDays ?? found.Tenant.InvitationValidityDays ?? options.Value.DefaultValidityDays;
        var invitation = await NewInvitation.AddAsync(db, ids, outbox, found.Tenant, request.Email!.Trim(), role, validityDays,
            request.Message, request.Locale ?? found.Tenant.DefaultLocale, admitted, options.Value, now, cancellationToken);
        try
        {
            if (await EmailQuota.CommitWithinAsync(db, tenantId, found.Tenant.EmailsPerHour ?? options.Value.EmailsPerHour, now, cancellationToken) is { } overQuota)
            {
                return overQuota;
            }
        }
        catch (DbUpdateException exception) when (Storage.IsUniqueViolation(exception))
        {
            // Another request invited the same address a moment ago; the partial unique index decided. (The failed
            // transaction is rolled back by now, so the winner can be read.)
            db.ChangeTracker.Clear();
            var winner = await db.Invitations.Where(i => i.NormalizedEmail == normalized && i.Status == InvitationStatus.Pending)
                .Select(i => (long?)i.Id).FirstOrDefaultAsync(cancellationToken);
            return NewInvitation.AlreadyInvited(winner);
        }
        outbox.Committed();
        return TypedResults.Created($"/tenant/{tenantId}/admin/user/invitation/{invitation.Id}", Envelope.Of(new[] { invitation.ToModel(now, options.Value) }));
    }

    internal static async Task<Results<Ok<Envelope<UserInvitationModel[]>>, Failure>> RevokeInvitation(
        long tenantId, long id, Caller caller, AppDbContext db, IdGenerator ids, IOptions<InvitationOptions> options, TimeProvider clock,
        CancellationToken cancellationToken) =>
        await Concurrency.Retry.ExecuteAsync<Results<Ok<Envelope<UserInvitationModel[]>>, Failure>>(async ct =>
        {
            db.ChangeTracker.Clear();
            var invitation = await db.Invitations.FirstOrDefaultAsync(i => i.Id == id, ct);
            if (invitation is null)
            {
                return Failure.NotFound("The invitation");
            }
            if (invitation.CanRevoke() is { IsOk: false } refused)
            {
                return refused.ToFailure();
            }
            var now = clock.UtcNow();
            invitation.Revoke(now);
            db.AuditEvents.Add(AuditEvent.Record(await ids.NextAsync(ct), caller, "invitation.revoked", tenantId, "invitation", id, now));
            EventLog.Add(db, await ids.NextAsync(ct), EventTypes.InvitationRevoked, tenantId, caller, invitation.ToModel(now, options.Value), now);
            await db.SaveChangesAsync(ct);
            return ApiResults.Ok(new[] { invitation.ToModel(now, options.Value) });
        }, cancellationToken);
}
