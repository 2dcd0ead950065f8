using System.ComponentModel.DataAnnotations;

namespace TenantInvitations.Email;

internal sealed class EmailOptions
{
    // Where emails are written as .eml files when no SMTP host is set.
    [Required] public string PickupDirectory { get; set; } = "data/mail";

    public SmtpOptions Smtp { get; set; } = new();

    // How often the dispatcher looks for due retries when nothing wakes it.
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    [Range(1, 100)] public int MaxAttempts { get; set; } = 12;
}

internal sealed class SmtpOptions
{
    public string? Host { get; set; }
    public int Port { get; set; } = 587;
    public string? Username { get; set; }
    public string? Password { get; set; }
    public bool UseTls { get; set; } = true;
    public string From { get; set; } = "Invitations <no-reply@localhost>";
}
