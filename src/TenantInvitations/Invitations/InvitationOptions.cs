using System.ComponentModel.DataAnnotations;

namespace TenantInvitations.Invitations;

internal sealed class InvitationOptions
{
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00", ErrorMessage = "Invitations:ResendCooldown must be between 00:00:00 and 1.00:00:00.")]
    public TimeSpan ResendCooldown { get; set; } = TimeSpan.FromMinutes(1);

    [Range(1, 100, ErrorMessage = "Invitations:MaxSendsPerDay must be from 1 to 100.")]
    public int MaxSendsPerDay { get; set; } = 5;

    [Range(1, Limits.MaxValidityDays, ErrorMessage = "Invitations:DefaultValidityDays must be from 1 to 30.")]
    public int DefaultValidityDays { get; set; } = 7;

    public bool RequireSignedInAccept { get; set; }

    // Each tenant's default email quota; a tenant's own emailsPerHour setting overrides it.
    [Range(1, 1_000_000, ErrorMessage = "Invitations:EmailsPerHour must be from 1 to 1000000.")]
    public int EmailsPerHour { get; set; } = 1000;
}
