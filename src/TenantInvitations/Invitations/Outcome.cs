using TenantInvitations.Api;

namespace TenantInvitations.Invitations;

internal enum OutcomeKind { Ok, NotPending, Expired, RateLimited }

// What a state rule decided. Endpoints turn it into the envelope with ToFailure.
internal readonly record struct Outcome(OutcomeKind Kind, InvitationStatus Status = default, TimeSpan RetryAfter = default, string? Reason = null)
{
    public static Outcome Ok => new(OutcomeKind.Ok);
    public static Outcome Expired => new(OutcomeKind.Expired);
    public static Outcome NotPending(InvitationStatus status) => new(OutcomeKind.NotPending, status);
    public static Outcome RateLimited(TimeSpan wait, string reason) => new(OutcomeKind.RateLimited, RetryAfter: wait, Reason: reason);

    public bool IsOk => Kind == OutcomeKind.Ok;

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
