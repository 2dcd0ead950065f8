using System.ComponentModel.DataAnnotations;

namespace TenantInvitations.Events;

internal sealed class EventOptions
{
    // invitation.expired is written within this time after expiresAt passes; each node sweeps twice as often.
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "Events:ExpirySweep must be between 00:00:00.100 and 01:00:00.")]
    public TimeSpan ExpirySweep { get; set; } = TimeSpan.FromMinutes(1);

    // How long events (and their webhook deliveries) are kept.
    [Range(1, 3650, ErrorMessage = "Events:RetentionDays must be from 1 to 3650.")]
    public int RetentionDays { get; set; } = 30;

    // How often each node deletes events past retention, in small batches.
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00", ErrorMessage = "Events:RetentionInterval must be between 00:00:00.100 and 1.00:00:00.")]
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromMinutes(10);
}
