using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using TenantInvitations.Auth;

namespace TenantInvitations.Audit;

// One change, who made it and from where. Rows are only ever inserted.
internal sealed class AuditEvent
{
    public long Id { get; init; }
    public long TenantId { get; init; }
    public required string Action { get; init; }
    public required string TargetType { get; init; }
    public long TargetId { get; init; }
    public string? ActorSubject { get; init; }
    public string? ActorEmail { get; init; }
    public bool ActorIsPlatformAdmin { get; init; }
    public DateTime OccurredAt { get; init; }
    public string? TraceId { get; init; }
    public string? ClientAddress { get; init; }
    public string? Details { get; init; }

    public static AuditEvent Record(long id, Caller caller, string action, long tenantId, string targetType, long targetId,
        DateTime now, string? details = null) => new()
    {
        Id = id,
        TenantId = tenantId,
        Action = action,
        TargetType = targetType,
        TargetId = targetId,
        ActorSubject = caller.Subject,
        ActorEmail = caller.Email,
        ActorIsPlatformAdmin = caller.IsPlatformAdmin,
        OccurredAt = now,
        TraceId = caller.TraceId,
        ClientAddress = caller.ClientAddress,
        Details = details,
    };
}

internal sealed class AuditEventConfiguration : IEntityTypeConfiguration<AuditEvent>
{
    public void Configure(EntityTypeBuilder<AuditEvent> audit)
    {
        audit.Property(a => a.Id).ValueGeneratedNever();
        audit.Property(a => a.Action).HasMaxLength(64);
        audit.Property(a => a.TargetType).HasMaxLength(32);
        audit.Property(a => a.ActorSubject).HasMaxLength(Limits.Subject);
        audit.Property(a => a.ActorEmail).HasMaxLength(Limits.Email);
        audit.Property(a => a.TraceId).HasMaxLength(64);
        audit.Property(a => a.ClientAddress).HasMaxLength(64);
        audit.Property(a => a.Details).HasMaxLength(1000);
        audit.HasIndex(a => new { a.TenantId, a.OccurredAt, a.Id }).IsDescending(false, true, true);
        audit.HasIndex(a => new { a.TenantId, a.TargetType, a.TargetId });
    }
}
