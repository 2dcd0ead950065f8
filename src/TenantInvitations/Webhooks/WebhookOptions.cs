using System.ComponentModel.DataAnnotations;

namespace TenantInvitations.Webhooks;

internal sealed class WebhookOptions
{
    // A delivery succeeds on a 2xx within this time.
    [Range(typeof(TimeSpan), "00:00:01", "00:01:00", ErrorMessage = "Webhooks:Timeout must be between 00:00:01 and 00:01:00.")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(15);

    // http:// destinations; null means only in Development (https everywhere else).
    public bool? AllowHttp { get; set; }

    // Loopback, private (RFC 1918, fc00::/7) and shared (100.64.0.0/10) destinations, for tests and private setups.
    public bool AllowPrivateNetworks { get; set; }

    [Range(1, 10_000, ErrorMessage = "Webhooks:MaxPerSecondPerEndpoint must be from 1 to 10000.")]
    public int MaxPerSecondPerEndpoint { get; set; } = 50;

    // How often each node looks for new events to deliver and for due retries (a test send or a manual retry wakes it at once).
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00", ErrorMessage = "Webhooks:PollInterval must be between 00:00:00.050 and 00:01:00.")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    // How long a node owns the deliveries it claimed; a node that dies gives them back after this. At least twice the timeout.
    [Range(typeof(TimeSpan), "00:00:02", "01:00:00", ErrorMessage = "Webhooks:LeaseDuration must be between 00:00:02 and 01:00:00.")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(2);

    // At most this many deliveries are in flight on one node, and at most PerEndpoint of them to one endpoint.
    [Range(1, 1000, ErrorMessage = "Webhooks:MaxConcurrent must be from 1 to 1000.")]
    public int MaxConcurrent { get; set; } = 64;

    public const int PerEndpoint = 4;

    public bool HttpAllowed(IHostEnvironment environment) => AllowHttp ?? environment.IsDevelopment();
}
