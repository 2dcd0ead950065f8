using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TenantInvitations.Api;
using TenantInvitations.Auth;
using TenantInvitations.Data;

namespace TenantInvitations.Invitations;

// The public JSON endpoints for the person invited: the token is the credential (see InvitationAnswers).
internal static class InviteeApi
{
    public static void MapInvitee(this IEndpointRouteBuilder app)
    {
        var invitee = app.MapGroup("/invitation").WithTags("Invitee").AllowAnonymous()
            .RequireRateLimiting(TokenRateLimit.Policy).ProducesFailures(400, 404, 410, 429);
        invitee.MapGet("", PreviewInvitation).WithName("PreviewInvitation")
            .WithSummary("Shows an invitation to the person holding its token")
            .WithDescription("Changes nothing, and answers any invitation it finds, whatever its status (accepted, declined, revoked or expired: `status` says which). The email is masked. A token replaced by a resend answers 410 InvitationSuperseded; an unknown token 404. " + RateLimitNote);
        invitee.MapPost("/accept", AcceptInvitation).WithName("AcceptInvitation").ProducesFailures(401, 403, 409).WithMetadata(new OpenApiSetup.OptionalBearer())
            .WithSummary("Accepts an invitation and returns the new membership")
            .WithDescription("With a bearer token the member is the caller, whose email claim must match the invitation (else 403 EmailMismatch). Without one, the member is the user with the invited email, created if new, unless Invitations:RequireSignedInAccept is true. Expired or superseded tokens answer 410; accepted, declined or revoked invitations 409 InvitationNotPending. Of many racing accepts exactly one wins. " + RateLimitNote);
        invitee.MapPost("/decline", DeclineInvitation).WithName("DeclineInvitation").ProducesFailures(409).WithMetadata(new OpenApiSetup.OptionalBearer())
            .WithSummary("Declines an invitation")
            .WithDescription(RateLimitNote);
    }

    private const string RateLimitNote = "Against token guessing, each client address may make RateLimits:TokenRequestsPerMinute (default 100) "
        + "requests a minute to these endpoints and the accept page together, whatever the token; past that the answer is 429 RateLimited with `Retry-After`.";

    private static async Task<Results<Ok<Envelope<InvitationPreviewModel>>, Failure>> PreviewInvitation(
        string? token, AppDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (InvitationAnswers.TokenProblem(token) is { } problem)
        {
            return problem;
        }
        var found = await InvitationAnswers.FindAsync(db, token!, cancellationToken);
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
        if (InvitationAnswers.TokenProblem(request.Token) is { } problem)
        {
            return problem;
        }
        var caller = Caller.From(http);
        if (!caller.IsAuthenticated && (http.Request.Headers.Authorization.Count > 0 || options.Value.RequireSignedInAccept))
        {
            return TypedResults.Challenge();
        }
        var (accepted, failure) = await InvitationAnswers.AcceptAsync(db, ids, caller, request.Token!, options.Value, clock, cancellationToken);
        return failure is null ? ApiResults.Ok(accepted!) : failure;
    }

    private static async Task<Results<Ok<Envelope<InvitationPreviewModel>>, Failure>> DeclineInvitation(
        InvitationTokenRequest request, HttpContext http, AppDbContext db, IdGenerator ids, IOptions<InvitationOptions> options, TimeProvider clock,
        CancellationToken cancellationToken)
    {
        if (InvitationAnswers.TokenProblem(request.Token) is { } problem)
        {
            return problem;
        }
        var (declined, failure) = await InvitationAnswers.DeclineAsync(db, ids, Caller.From(http), request.Token!, options.Value, clock, cancellationToken);
        if (failure is not null)
        {
            return failure;
        }
        var tenantName = await db.Tenants.Where(t => t.Id == declined!.TenantId).Select(t => t.DisplayName ?? t.Name).SingleAsync(cancellationToken);
        return ApiResults.Ok(Preview(declined!, tenantName, clock.UtcNow()));
    }

    private static InvitationPreviewModel Preview(Invitation invitation, string tenantName, DateTime now) =>
        new(tenantName, invitation.Role, EmailAddress.Mask(invitation.Email), invitation.StatusAt(now), invitation.ExpiresAt, invitation.InvitedBy);
}
