using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace TenantInvitations.Members;

// A person who joined at least one tenant. Linked to sign-ins by sub, or by email until first linked.
internal sealed class User
{
    public long Id { get; init; }
    public required string Email { get; init; }
    public required string NormalizedEmail { get; init; }
    public string? Subject { get; set; }
    public string? DisplayName { get; set; }
    public DateTime CreatedAt { get; init; }
}

internal sealed class UserConfiguration : IEntityTypeConfiguration<User>
{
    public void Configure(EntityTypeBuilder<User> user)
    {
        user.Property(u => u.Id).ValueGeneratedNever();
        user.Property(u => u.Email).HasMaxLength(Limits.Email);
        user.Property(u => u.NormalizedEmail).HasMaxLength(Limits.Email);
        user.Property(u => u.Subject).HasMaxLength(Limits.Subject);
        user.Property(u => u.DisplayName).HasMaxLength(Limits.Name);
        user.HasIndex(u => u.NormalizedEmail).IsUnique();
        user.HasIndex(u => u.Subject).IsUnique();
    }
}
