using System.ComponentModel.DataAnnotations;
using MailKit.Security;

namespace TenantInvitations.Email;

internal sealed class EmailOptions
{
    // Where emails are written as .eml files when no SMTP host is set.
    [Required] public string PickupDirectory { get; set; } = "data/mail";

    public SmtpOptions Smtp { get; set; } = new();

    // How often the dispatcher looks for due retries when nothing wakes it (a newly queued email wakes it at once).
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    // Retries after a temporary failure: exponential with jitter from RetryBaseDelay, each wait capped at MaxRetryDelay,
    // for RetryFor after the email was queued; then the email is marked Failed.
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(10);

    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(10);

    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan RetryFor { get; set; } = TimeSpan.FromDays(1);

    // How long a dispatcher owns the emails it claimed; if it dies, another takes them over after this.
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(2);

    [Range(1, 1000)] public int BatchSize { get; set; } = 50;
}

internal sealed class SmtpOptions
{
    public string? Host { get; set; }

    [Range(1, 65535, ErrorMessage = "Email:Smtp:Port must be from 1 to 65535.")]
    public int Port { get; set; } = 587;
    public string? Username { get; set; }
    public string? Password { get; set; }

    // TLS is required when true: implicit TLS on port 465, STARTTLS on any other port. False only for a relay you trust, such as one on loopback.
    public bool UseTls { get; set; } = true;

    [Required(ErrorMessage = "Email:Smtp:From is required.")]
    public string From { get; set; } = "Invitations <no-reply@localhost>";

    [Range(typeof(TimeSpan), "00:00:01", "00:10:00", ErrorMessage = "Email:Smtp:Timeout must be between 00:00:01 and 00:10:00.")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    public SecureSocketOptions Security => !UseTls ? SecureSocketOptions.None
        : Port == 465 ? SecureSocketOptions.SslOnConnect
        : SecureSocketOptions.StartTls;
}
