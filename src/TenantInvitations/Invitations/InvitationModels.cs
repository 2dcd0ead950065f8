using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using TenantInvitations.Api;
using TenantInvitations.Email;
using TenantInvitations.Members;

namespace TenantInvitations.Invitations;

// An invitation as the API shows it. It never carries the token, its hash or the accept link.
internal sealed record UserInvitationModel(
    long Id, long TenantId, string Email, MemberRole Role, InvitationStatus Status,
    DateTime CreatedAt, DateTime ExpiresAt, DateTime LastSentAt, int SendCount,
    [property: Description("When a resend will next be allowed: after Invitations:ResendCooldown from the last send, and after the oldest send counted against Invitations:MaxSendsPerDay leaves its 24 hours. A time already past means now. Null when it can't be resent (accepted, declined or revoked); an expired invitation may be resent.")]
    DateTime? NextResendAt,
    string InvitedBy,
    DateTime? AcceptedAt, DateTime? DeclinedAt, DateTime? RevokedAt, DeliveryModel Delivery);

// The latest email of an invitation: Queued, Sending (being sent, or retrying after a temporary failure), Sent or Failed.
internal sealed record DeliveryModel(DeliveryStatus Status, int Attempts, DateTime? LastAttemptAt, string? LastError);

internal sealed record CreateInvitationRequest(
    [property: Required] string? Email, MemberRole? Role = null, int? ExpiresInDays = null, string? Message = null, string? Locale = null) : IRequestBody;

internal sealed record InvitationPreviewModel(string TenantName, MemberRole Role, string Email, InvitationStatus Status, DateTime ExpiresAt, string InvitedBy);

internal sealed record InvitationTokenRequest([property: Required] string? Token) : IRequestBody;

internal sealed record AcceptedInvitationModel(long TenantId, long UserId, MemberRole Role);

internal static class InvitationMapping
{
    // The resend rules are the service's settings, so that nextResendAt says what a resend would answer.
    public static UserInvitationModel ToModel(this Invitation i, DateTime now, InvitationOptions rules) => new(
        i.Id, i.TenantId, i.Email, i.Role, i.StatusAt(now), i.CreatedAt, i.ExpiresAt, i.LastSentAt, i.SendCount,
        i.NextResendAt(rules.ResendCooldown, rules.MaxSendsPerDay), i.InvitedBy,
        i.AcceptedAt, i.DeclinedAt, i.RevokedAt,
        new DeliveryModel(i.DeliveryStatus, i.DeliveryAttempts, i.DeliveryLastAttemptAt, i.DeliveryLastError));
}
