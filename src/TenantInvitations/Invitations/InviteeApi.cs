using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TenantInvitations.Api;
using TenantInvitations.Audit;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Members;

namespace TenantInvitations.Invitations;

// The public endpoints: the token is the credential. They are the only ones that look across tenants, and only by token hash.
internal static class InviteeApi
{
    public static void MapInvitee(this IEndpointRouteBuilder app)
    {
        var invitee = app.MapGroup("/invitation").WithTags("Invitee").AllowAnonymous()
            .ProducesFailures(400, 404, 409, 410);
        invitee.MapGet("", PreviewInvitation).WithName("PreviewInvitation")
            .WithSummary("Shows an invitation to the person holding its token")
            .WithDescription("Changes nothing. The email is masked. A token replaced by a resend answers 410 InvitationSuperseded; an unknown token 404.");
        invitee.MapPost("/accept", AcceptInvitation).WithName("AcceptInvitation").ProducesFailures(401, 403)
            .WithSummary("Accepts an invitation and returns the new membership")
            .WithDescription("With a bearer token the member is the caller, whose email claim must match the invitation (else 403 EmailMismatch). Without one, the member is the user with the invited email, created if new, unless Invitations:RequireSignedInAccept is true. Expired or superseded tokens answer 410; accepted, declined or revoked invitations 409 InvitationNotPending. Of many racing accepts exactly one wins.");
        invitee.MapPost("/decline", DeclineInvitation).WithName("DeclineInvitation")
            .WithSummary("Declines an invitation");
    }

    private static async Task<Results<Ok<Envelope<InvitationPreviewModel>>, Failure>> PreviewInvitation(
        string? token, AppDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (TokenProblem(token) is { } problem)
        {
            return problem;
        }
        var found = await FindAsync(db, token!, cancellationToken);
        if (found.Failure is { } failure)
        {
            return failure;
        }
        var tenantName = await db.Tenants.Where(t => t.Id == found.Invitation!.TenantId).Select(t => t.DisplayName ?? t.Name).SingleAsync(cancellationToken);
        return ApiResults.Ok(Preview(found.Invitation!, tenantName, clock.UtcNow()));
    }

    private static async Task<Results<Ok<Envelope<AcceptedInvitationModel>>, Failure, ChallengeHttpResult>> AcceptInvitation(
        InvitationTokenRequest request, HttpContext http, AppDbContext db, IdGenerator ids, IOptions<InvitationOptions> options,
        TimeProvider clock, CancellationToken cancellationToken)
    {
        if (TokenProblem(request.Token) is { } problem)
        {
            return problem;
        }
        var caller = Caller.From(http);
        if (!caller.IsAuthenticated && (http.Request.Headers.Authorization.Count > 0 || options.Value.RequireSignedInAccept))
        {
            return TypedResults.Challenge();
        }
        return await Concurrency.Retry.ExecuteAsync<Results<Ok<Envelope<AcceptedInvitationModel>>, Failure, ChallengeHttpResult>>(async ct =>
        {
            db.ChangeTracker.Clear();
            var now = clock.UtcNow();
            var (invitation, failure) = await FindAnswerableAsync(db, request.Token!, now, ct);
            if (failure is not null)
            {
                return failure;
            }
            if (caller.IsAuthenticated && caller.NormalizedEmail != invitation.NormalizedEmail)
            {
                return EmailMismatch(caller.NormalizedEmail is null
                    ? "Your sign-in has no verified email, so it cannot accept an invitation sent to an address."
                    : "This invitation was sent to a different email address than the one you are signed in with.");
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
                        return EmailMismatch("This email address is already linked to a different sign-in.");
                    }
                    user.Subject = caller.Subject; // the first sign-in of someone who joined through an email link
                }
                if (await db.Memberships.IgnoreQueryFilters().AnyAsync(m => m.TenantId == invitation.TenantId && m.UserId == user.Id, ct))
                {
                    // A racing accept of this very invitation may have made the membership since it was read.
                    var current = await db.Invitations.IgnoreQueryFilters().Where(i => i.Id == invitation.Id).Select(i => i.Status).SingleAsync(ct);
                    return current == InvitationStatus.Pending ? NewInvitation.AlreadyMember() : Outcome.NotPending(current).ToFailure();
                }
            }
            invitation.Accept(user.Id, now);
            db.Memberships.Add(new Membership { TenantId = invitation.TenantId, UserId = user.Id, Role = invitation.Role, JoinedAt = now });
            db.AuditEvents.Add(AuditEvent.Record(await ids.NextAsync(ct), caller with { Email = caller.Email ?? invitation.Email },
                "invitation.accepted", invitation.TenantId, "invitation", invitation.Id, now, $"user {user.Id} joined as {invitation.Role}"));
            await db.SaveChangesAsync(ct);
            return ApiResults.Ok(new AcceptedInvitationModel(invitation.TenantId, user.Id, invitation.Role));
        }, cancellationToken);
    }

    private static async Task<Results<Ok<Envelope<InvitationPreviewModel>>, Failure>> DeclineInvitation(
        InvitationTokenRequest request, HttpContext http, AppDbContext db, IdGenerator ids, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (TokenProblem(request.Token) is { } problem)
        {
            return problem;
        }
        var caller = Caller.From(http);
        return await Concurrency.Retry.ExecuteAsync<Results<Ok<Envelope<InvitationPreviewModel>>, Failure>>(async ct =>
        {
            db.ChangeTracker.Clear();
            var now = clock.UtcNow();
            var (invitation, failure) = await FindAnswerableAsync(db, request.Token!, now, ct);
            if (failure is not null)
            {
                return failure;
            }
            invitation.Decline(now);
            db.AuditEvents.Add(AuditEvent.Record(await ids.NextAsync(ct), caller with { Email = caller.Email ?? invitation.Email },
                "invitation.declined", invitation.TenantId, "invitation", invitation.Id, now));
            await db.SaveChangesAsync(ct);
            var tenantName = await db.Tenants.Where(t => t.Id == invitation.TenantId).Select(t => t.DisplayName ?? t.Name).SingleAsync(ct);
            return ApiResults.Ok(Preview(invitation, tenantName, now));
        }, cancellationToken);
    }

    private static Failure? TokenProblem(string? token) => token switch
    {
        null or "" => Failure.Validation("The token is required."),
        _ when !InvitationToken.IsWellFormed(token) => Failure.Validation($"The token must be the {InvitationToken.Length}-character code from the invitation link."),
        _ => null,
    };

    // The invitation whose current token this is; a token a resend replaced is 410, one never issued is 404.
    private static async Task<(Invitation? Invitation, Failure? Failure)> FindAsync(AppDbContext db, string token, CancellationToken cancellationToken)
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

    private static InvitationPreviewModel Preview(Invitation invitation, string tenantName, DateTime now) =>
        new(tenantName, invitation.Role, EmailAddress.Mask(invitation.Email), invitation.StatusAt(now), invitation.ExpiresAt, invitation.InvitedBy);

    private static Failure EmailMismatch(string message) => new(StatusCodes.Status403Forbidden, new ApiError(ErrorCode.EmailMismatch, message, []));
}
