using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using TenantInvitations.Invitations;

namespace TenantInvitations.Email;

// What the invitation shows an admin about its latest email.
internal enum DeliveryStatus { Queued, Sending, Sent, Failed }

// Cancelled: the invitation was resent, revoked or answered before this email left, so it is not sent.
internal enum OutboxStatus { Queued, Sent, Failed, Cancelled }

// One email to deliver, written in the same transaction as the change that causes it.
internal sealed class OutboxMessage
{
    public const int MaxErrorLength = 1000;

    public long Id { get; init; }
    public long TenantId { get; init; }
    public long InvitationId { get; init; }
    // Fixed when queued, so a retry after a crash is recognisably the same email.
    public required string MessageId { get; init; }
    // The accept token, encrypted with Data Protection and erased once the email is sent or abandoned.
    public string? ProtectedToken { get; private set; }
    public OutboxStatus Status { get; private set; }
    public int Attempts { get; private set; }
    public DateTime CreatedAt { get; init; }
    public DateTime NextAttemptAt { get; private set; }
    public DateTime? LastAttemptAt { get; private set; }
    // When the mail server was first really tried with this email: Email:RetryFor counts from here, so a backlog that waited
    // out an outage (unattempted, see MailServerCircuit) still has its whole retry time.
    public DateTime? FirstAttemptAt { get; private set; }
    public string? LastError { get; private set; }
    public DateTime? SentAt { get; private set; }
    // A dispatcher owns the message until this time; after it, another may take it over.
    public DateTime? LockedUntil { get; set; }
    public Guid? LockedBy { get; set; }

    public static OutboxMessage ForInvitation(long id, long invitationId, long tenantId, string protectedToken, string messageIdDomain, DateTime now) => new()
    {
        Id = id,
        TenantId = tenantId,
        InvitationId = invitationId,
        MessageId = $"invitation-{invitationId}-{id}@{messageIdDomain}",
        ProtectedToken = protectedToken,
        Status = OutboxStatus.Queued,
        CreatedAt = now,
        NextAttemptAt = now,
    };

    // What an invitation's delivery shows for this email. A queued email that was already tried is being retried.
    public static DeliveryStatus DeliveryStatusOf(OutboxStatus status, int attempts) => status switch
    {
        OutboxStatus.Sent => DeliveryStatus.Sent,
        OutboxStatus.Failed or OutboxStatus.Cancelled => DeliveryStatus.Failed,
        _ when attempts > 0 => DeliveryStatus.Sending,
        _ => DeliveryStatus.Queued,
    };

    public void MarkSent(DateTime now)
    {
        Attempts++;
        FirstAttemptAt ??= now;
        Status = OutboxStatus.Sent;
        SentAt = LastAttemptAt = now;
        LastError = null;
        Release();
    }

    // A failed attempt: try again at retryAt, or give up when there is none.
    public void MarkAttemptFailed(DateTime now, string error, DateTime? retryAt)
    {
        Attempts++;
        FirstAttemptAt ??= now;
        LastAttemptAt = now;
        LastError = error.Length > MaxErrorLength ? error[..MaxErrorLength] : error;
        if (retryAt is { } next)
        {
            NextAttemptAt = next;
            LockedUntil = null;
            LockedBy = null;
        }
        else
        {
            Status = OutboxStatus.Failed;
            Release();
        }
    }

    public void Cancel(string reason)
    {
        Status = OutboxStatus.Cancelled;
        LastError = reason;
        Release();
    }

    // The message is finished: nobody owns it and the token it carried is gone.
    private void Release()
    {
        ProtectedToken = null;
        LockedUntil = null;
        LockedBy = null;
    }
}

internal sealed class OutboxMessageConfiguration : IEntityTypeConfiguration<OutboxMessage>
{
    public void Configure(EntityTypeBuilder<OutboxMessage> message)
    {
        message.Property(m => m.Id).ValueGeneratedNever();
        message.Property(m => m.MessageId).HasMaxLength(255);
        message.Property(m => m.Status).HasConversion<string>().HasMaxLength(16);
        message.Property(m => m.LastError).HasMaxLength(OutboxMessage.MaxErrorLength);
        // A dispatcher's record of an attempt only lands while it still owns the message.
        message.Property(m => m.LockedBy).IsConcurrencyToken();
        message.HasOne<Invitation>().WithMany().HasForeignKey(m => m.InvitationId);
        message.HasIndex(m => new { m.Status, m.NextAttemptAt });
        message.HasIndex(m => m.InvitationId);
        // Serves the per-tenant hourly email quota.
        message.HasIndex(m => new { m.TenantId, m.CreatedAt });
    }
}
