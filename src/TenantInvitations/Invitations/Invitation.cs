using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using TenantInvitations.Email;
using TenantInvitations.Members;
using TenantInvitations.Tenants;

namespace TenantInvitations.Invitations;

// Expired is never stored: it is a Pending invitation read after its expiry.
internal enum InvitationStatus { Pending, Accepted, Declined, Revoked, Expired }

internal sealed class Invitation
{
    private static readonly TimeSpan Day = TimeSpan.FromDays(1);

    public long Id { get; init; }
    public long TenantId { get; init; }
    public required string Email { get; init; }
    public required string NormalizedEmail { get; init; }
    public MemberRole Role { get; init; }
    public InvitationStatus Status { get; private set; }
    public required byte[] TokenHash { get; set; }
    public int ValidityDays { get; init; }
    public string? Message { get; init; }
    public required string Locale { get; init; }
    public required string InvitedBy { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime ExpiresAt { get; private set; }
    public DateTime LastSentAt { get; private set; }
    public int SendCount { get; private set; }
    // The most recent send times, enough to apply the daily cap over any 24 hours.
    public List<DateTime> RecentSends { get; private set; } = [];
    public DateTime? AcceptedAt { get; private set; }
    public DateTime? DeclinedAt { get; private set; }
    public DateTime? RevokedAt { get; private set; }
    public long? AcceptedUserId { get; private set; }
    // Whether invitation.expired was written for the current expiry; a resend re-arms it.
    public bool ExpiryAnnounced { get; private set; }
    // Bumped by every state change; the concurrency token that lets exactly one racing change win.
    public int Version { get; private set; }

    // The outbox row of the latest email; delivery describes that one.
    public long DeliveryOutboxId { get; private set; }
    public DeliveryStatus DeliveryStatus { get; private set; }
    public int DeliveryAttempts { get; private set; }
    public DateTime? DeliveryLastAttemptAt { get; private set; }
    public string? DeliveryLastError { get; private set; }

    public static Invitation Create(long id, Tenant tenant, string email, MemberRole role, int validityDays,
        string? message, string locale, string invitedBy, byte[] tokenHash, long outboxId, DateTime now) => new()
    {
        Id = id,
        TenantId = tenant.Id,
        Email = email,
        NormalizedEmail = EmailAddress.Normalize(email),
        Role = role,
        Status = InvitationStatus.Pending,
        TokenHash = tokenHash,
        ValidityDays = validityDays,
        Message = message,
        Locale = locale,
        InvitedBy = invitedBy,
        CreatedAt = now,
        ExpiresAt = now.AddDays(validityDays),
        LastSentAt = now,
        SendCount = 1,
        RecentSends = [now],
        DeliveryOutboxId = outboxId,
        DeliveryStatus = DeliveryStatus.Queued,
    };

    public InvitationStatus StatusAt(DateTime now) =>
        Status == InvitationStatus.Pending && now >= ExpiresAt ? InvitationStatus.Expired : Status;

    // Rules 4 and 5 of resend: only pending (or expired) invitations, outside the cooldown and the daily cap.
    public Outcome CanResend(DateTime now, TimeSpan cooldown, int maxSendsPerDay)
    {
        if (NextResendAt(cooldown, maxSendsPerDay) is not { } allowedAt)
        {
            return Outcome.NotPending(Status);
        }
        var wait = allowedAt - now;
        if (wait <= TimeSpan.Zero)
        {
            return Outcome.Ok;
        }
        var window = SendsWithinDay(now);
        return window.Count >= maxSendsPerDay
            ? Outcome.RateLimited(wait, $"This invitation was already sent {window.Count} times in the last 24 hours.", "daily_cap")
            : Outcome.RateLimited(wait, "This invitation was sent moments ago; wait for the cooldown to pass.", "cooldown");
    }

    // When rules 4 and 5 next allow a resend: after the cooldown, and once the oldest send counted against the daily cap
    // leaves its 24 hours (the cap frees up then). A time already past means now; null when it is not pending (or expired).
    public DateTime? NextResendAt(TimeSpan cooldown, int maxSendsPerDay)
    {
        if (Status != InvitationStatus.Pending)
        {
            return null;
        }
        var at = LastSentAt + cooldown;
        // RecentSends is kept oldest first (Create, Resend), so no copy or sort per model. Its times come back from SQLite
        // without their kind; they are UTC, as every time here is.
        if (RecentSends.Count >= maxSendsPerDay && DateTime.SpecifyKind(RecentSends[^maxSendsPerDay], DateTimeKind.Utc) + Day is var freesAt && freesAt > at)
        {
            at = freesAt;
        }
        return at;
    }

    // Rule 6 of resend: a new token, a new expiry, one more send, and a freshly queued email.
    public void Resend(byte[] newTokenHash, long outboxId, DateTime now, int maxSendsPerDay)
    {
        TokenHash = newTokenHash;
        ExpiresAt = now.AddDays(ValidityDays);
        SendCount++;
        LastSentAt = now;
        RecentSends = [.. SendsWithinDay(now).TakeLast(Math.Max(0, maxSendsPerDay - 1)), now];
        ExpiryAnnounced = false;
        QueueDelivery(outboxId);
        Version++;
    }

    // The outcome of its latest email, as the email dispatcher recorded it (not a state change: no version bump).
    public void RecordDelivery(DeliveryStatus status, int attempts, DateTime? lastAttemptAt, string? lastError)
    {
        DeliveryStatus = status;
        DeliveryAttempts = attempts;
        DeliveryLastAttemptAt = lastAttemptAt;
        DeliveryLastError = lastError;
    }

    // The expiry sweeper wrote invitation.expired for this lapse. A version bump, so a resend racing it re-reads and re-arms.
    public void AnnounceExpiry()
    {
        ExpiryAnnounced = true;
        Version++;
    }

    // Accepting or declining needs the current token of a pending, unexpired invitation.
    public Outcome CanRespond(DateTime now) => StatusAt(now) switch
    {
        InvitationStatus.Pending => Outcome.Ok,
        InvitationStatus.Expired => Outcome.Expired,
        var status => Outcome.NotPending(status),
    };

    public void Accept(long userId, DateTime now)
    {
        Status = InvitationStatus.Accepted;
        AcceptedAt = now;
        AcceptedUserId = userId;
        Version++;
    }

    public void Decline(DateTime now)
    {
        Status = InvitationStatus.Declined;
        DeclinedAt = now;
        Version++;
    }

    public Outcome CanRevoke() => Status == InvitationStatus.Pending ? Outcome.Ok : Outcome.NotPending(Status);

    public void Revoke(DateTime now)
    {
        Status = InvitationStatus.Revoked;
        RevokedAt = now;
        Version++;
    }

    private void QueueDelivery(long outboxId)
    {
        DeliveryOutboxId = outboxId;
        DeliveryStatus = DeliveryStatus.Queued;
        DeliveryAttempts = 0;
        DeliveryLastAttemptAt = null;
        DeliveryLastError = null;
    }

    private List<DateTime> SendsWithinDay(DateTime now) => RecentSends.Where(t => t > now - Day).Order().ToList();
}

internal sealed class InvitationConfiguration : IEntityTypeConfiguration<Invitation>
{
    public void Configure(EntityTypeBuilder<Invitation> invitation)
    {
        invitation.Property(i => i.Id).ValueGeneratedNever();
        invitation.Property(i => i.Email).HasMaxLength(Limits.Email);
        invitation.Property(i => i.NormalizedEmail).HasMaxLength(Limits.Email);
        invitation.Property(i => i.Role).HasConversion<string>().HasMaxLength(16);
        invitation.Property(i => i.Status).HasConversion<string>().HasMaxLength(16);
        invitation.Property(i => i.DeliveryStatus).HasConversion<string>().HasMaxLength(16);
        invitation.Property(i => i.TokenHash).HasMaxLength(32);
        invitation.Property(i => i.Message).HasMaxLength(Limits.Message);
        invitation.Property(i => i.Locale).HasMaxLength(Limits.Locale);
        invitation.Property(i => i.InvitedBy).HasMaxLength(Limits.Email);
        invitation.Property(i => i.DeliveryLastError).HasMaxLength(OutboxMessage.MaxErrorLength);
        invitation.Property(i => i.Version).IsConcurrencyToken();
        invitation.HasOne<Tenant>().WithMany().HasForeignKey(i => i.TenantId);
        invitation.HasIndex(i => i.TokenHash).IsUnique();
        // At most one pending invitation per address in a tenant; emails are stored normalized, so this is case-insensitive.
        invitation.HasIndex(i => new { i.TenantId, i.NormalizedEmail }).IsUnique()
            .HasFilter("status = 'Pending'").HasDatabaseName("ux_invitations_one_pending_per_email");
        // Serves the list: newest first within a tenant, keyset on (created_at, id).
        invitation.HasIndex(i => new { i.TenantId, i.CreatedAt, i.Id }).IsDescending(false, true, true);
        // Serves the expiry sweeper: only lapses not yet announced.
        invitation.HasIndex(i => i.ExpiresAt).HasFilter("status = 'Pending' AND NOT expiry_announced").HasDatabaseName("ix_invitations_expiry_due");
    }
}

// A token replaced by a resend. It is kept (as a hash) so it can answer InvitationSuperseded.
internal sealed class SupersededToken
{
    public required byte[] Hash { get; init; }
    public long InvitationId { get; init; }
    public DateTime SupersededAt { get; init; }
}

internal sealed class SupersededTokenConfiguration : IEntityTypeConfiguration<SupersededToken>
{
    public void Configure(EntityTypeBuilder<SupersededToken> token)
    {
        token.HasKey(t => t.Hash);
        token.Property(t => t.Hash).HasMaxLength(32);
        token.HasOne<Invitation>().WithMany().HasForeignKey(t => t.InvitationId);
    }
}
