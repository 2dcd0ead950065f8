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
        // A user's memberships, and the role check's lookup (user, tenant) whichever index the plan starts from: with the
        // user alone, a generic plan for "this user in this tenant" read every membership of the user (9,000 rows for
        // an admin of 10,000 tenants, 0.9 ms) before finding the tenant's (bench/analysis.md).
        membership.HasIndex(m => new { m.UserId, m.TenantId });
    }
}
