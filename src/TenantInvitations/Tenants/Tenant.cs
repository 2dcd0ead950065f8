using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace TenantInvitations.Tenants;

internal sealed class Tenant
{
    public long Id { get; init; }
    public required string Name { get; set; }
    public DateTime CreatedAt { get; init; }

    // Settings; null means "use the service-wide default".
    public string? DisplayName { get; set; }
    public string? ReplyTo { get; set; }
    public string DefaultLocale { get; set; } = "en";
    public int? InvitationValidityDays { get; set; }
    public List<string> AllowedEmailDomains { get; set; } = [];
    public int? EmailsPerHour { get; set; }

    public string NameInEmails => DisplayName ?? Name;

    // True when the tenant restricts invitations to some domains and this address is outside them.
    public bool RejectsDomainOf(string normalizedEmail)
    {
        if (AllowedEmailDomains.Count == 0)
        {
            return false;
        }
        var domain = normalizedEmail[(normalizedEmail.LastIndexOf('@') + 1)..];
        return !AllowedEmailDomains.Contains(domain, StringComparer.OrdinalIgnoreCase);
    }
}

internal sealed class TenantConfiguration : IEntityTypeConfiguration<Tenant>
{
    public void Configure(EntityTypeBuilder<Tenant> tenant)
    {
        tenant.Property(t => t.Id).ValueGeneratedNever();
        tenant.Property(t => t.Name).HasMaxLength(Limits.Name);
        tenant.Property(t => t.DisplayName).HasMaxLength(Limits.Name);
        tenant.Property(t => t.ReplyTo).HasMaxLength(Limits.Email);
        tenant.Property(t => t.DefaultLocale).HasMaxLength(Limits.Locale);
    }
}
