using TenantInvitations.Api;

namespace TenantInvitations.Invitations;

internal enum OutcomeKind { Ok, NotPending, Expired, RateLimited }

// What a state rule decided. Endpoints turn it into the envelope with ToFailure.
// Limit names the rule of a RateLimited outcome for the metrics (cooldown, daily_cap).
internal readonly record struct Outcome(OutcomeKind Kind, InvitationStatus Status = default, TimeSpan RetryAfter = default, string? Reason = null,
    string? Limit = null)
{
    public static Outcome Ok => new(OutcomeKind.Ok);
    public static Outcome Expired => new(OutcomeKind.Expired);
    public static Outcome NotPending(InvitationStatus status) => new(OutcomeKind.NotPending, status);
    public static Outcome RateLimited(TimeSpan wait, string reason, string limit) => new(OutcomeKind.RateLimited, RetryAfter: wait, Reason: reason, Limit: limit);

    public bool IsOk => Kind == OutcomeKind.Ok;

    // The refusal's label in invitation_resend_refusals_total.
    public string MetricReason => Kind == OutcomeKind.NotPending ? "not_pending" : Limit ?? Kind.ToString().ToLowerInvariant();

    public Failure ToFailure() => Kind switch
    {
        OutcomeKind.NotPending => Failure.Conflict(ErrorCode.InvitationNotPending,
            $"The invitation is {Status} and can no longer change.", $"status: {Status}"),
        OutcomeKind.Expired => Failure.Gone(ErrorCode.InvitationExpired,
            "This invitation has expired. Ask your admin to resend it."),
        OutcomeKind.RateLimited => Failure.RateLimited(RetryAfter, Reason ?? "Too many requests."),
        _ => throw new InvalidOperationException("A successful outcome is not a failure."),
    };
}
