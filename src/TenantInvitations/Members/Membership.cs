using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using TenantInvitations.Tenants;

namespace TenantInvitations.Members;

public enum MemberRole { Owner, Admin, Member }

internal sealed class Membership
{
    public long TenantId { get; init; }
    public long UserId { get; init; }
    public MemberRole Role { get; set; }
    public DateTime JoinedAt { get; init; }
    public User User { get; init; } = null!;
    public Tenant Tenant { get; init; } = null!;

    public static bool IsManager(MemberRole? role) => role is MemberRole.Owner or MemberRole.Admin;
}

internal sealed class MembershipConfiguration : IEntityTypeConfiguration<Membership>
{
    public void Configure(EntityTypeBuilder<Membership> membership)
    {
        membership.HasKey(m => new { m.TenantId, m.UserId });
        membership.Property(m => m.Role).HasConversion<string>().HasMaxLength(16);
        membership.HasOne(m => m.User).WithMany().HasForeignKey(m => m.UserId);
        membership.HasOne(m => m.Tenant).WithMany().HasForeignKey(m => m.TenantId);
        membership.HasIndex(m => m.UserId);
    }
}
