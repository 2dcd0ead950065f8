using TenantInvitations.Email;
using TenantInvitations.Members;

namespace TenantInvitations.Invitations;

// An invitation as the API shows it. It never carries the token, its hash or the accept link.
internal sealed record UserInvitationModel(
    long Id, long TenantId, string Email, MemberRole Role, InvitationStatus Status,
    DateTime CreatedAt, DateTime ExpiresAt, DateTime LastSentAt, int SendCount, string InvitedBy,
    DateTime? AcceptedAt, DateTime? DeclinedAt, DateTime? RevokedAt, DeliveryModel Delivery);

// The latest email of an invitation: Queued, Sending (being sent, or retrying after a temporary failure), Sent or Failed.
internal sealed record DeliveryModel(DeliveryStatus Status, int Attempts, DateTime? LastAttemptAt, string? LastError);

internal sealed record CreateInvitationRequest(string? Email, MemberRole? Role, int? ExpiresInDays, string? Message, string? Locale);

internal sealed record InvitationPreviewModel(string TenantName, MemberRole Role, string Email, InvitationStatus Status, DateTime ExpiresAt, string InvitedBy);

internal sealed record InvitationTokenRequest(string? Token);

internal sealed record AcceptedInvitationModel(long TenantId, long UserId, MemberRole Role);

internal static class InvitationMapping
{
    public static UserInvitationModel ToModel(this Invitation i, DateTime now) => new(
        i.Id, i.TenantId, i.Email, i.Role, i.StatusAt(now), i.CreatedAt, i.ExpiresAt, i.LastSentAt, i.SendCount, i.InvitedBy,
        i.AcceptedAt, i.DeclinedAt, i.RevokedAt,
        new DeliveryModel(i.DeliveryStatus, i.DeliveryAttempts, i.DeliveryLastAttemptAt, i.DeliveryLastError));
}
