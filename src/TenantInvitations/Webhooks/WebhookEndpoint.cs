using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace TenantInvitations.Webhooks;

// Where a tenant's events (or, with no tenant, every tenant's: a platform endpoint) are POSTed, signed with its secret.
internal sealed class WebhookEndpoint
{
    public const int MaxPerTenant = 20;
    public const int MaxDescription = 500;
    public const int MaxReason = 500;
    // An endpoint whose every attempt failed for this long is disabled (API.md).
    public static readonly TimeSpan DisableAfterFailing = TimeSpan.FromDays(5);
    // After a rotation the previous secret keeps signing for this long, so receivers can switch without missing a beat.
    public static readonly TimeSpan PreviousSecretOverlap = TimeSpan.FromHours(24);

    public long Id { get; init; }
    public long? TenantId { get; init; }
    public required string Url { get; set; }
    // Null: every event type, including ones added later.
    public List<string>? Types { get; set; }
    public string? Description { get; set; }
    public bool Enabled { get; private set; } = true;
    public string? DisabledReason { get; private set; }
    public DateTime? DisabledAt { get; private set; }
    public DateTime CreatedAt { get; init; }
    // The feed's visible edge when it was registered: it receives the events that became visible after that.
    public long FromPosition { get; init; }
    // The pace across nodes: the real time (UTC ticks) from which the next delivery to it may go; each claim reserves its slots.
    public long NextSendTicks { get; init; }
    // The signing secrets, encrypted with the service's Data Protection keys; signing needs them back, so no hash.
    public required string ProtectedSecret { get; set; }
    public string? ProtectedPreviousSecret { get; private set; }
    public DateTime? PreviousSecretExpiresAt { get; private set; }
    // The first failed attempt since the last success; five days of nothing but failures disables the endpoint.
    public DateTime? FailingSince { get; set; }

    public bool Receives(string eventType) => Types is null || Types.Contains(eventType, StringComparer.Ordinal);

    // The secrets that sign now, newest first.
    public IEnumerable<string> SigningSecrets(DateTime now) =>
        ProtectedPreviousSecret is { } previous && PreviousSecretExpiresAt > now ? [ProtectedSecret, previous] : [ProtectedSecret];

    public void Disable(string reason, DateTime now)
    {
        Enabled = false;
        DisabledReason = reason.Length > MaxReason ? reason[..MaxReason] : reason;
        DisabledAt = now;
    }

    // Re-enabling clears why it was disabled and starts the five days afresh.
    public void Enable()
    {
        Enabled = true;
        DisabledReason = null;
        DisabledAt = null;
        FailingSince = null;
    }
}

internal static class WebhookEndpoints
{
    // Disables an endpoint (tracked, saved by the caller) and gives up its deliveries that are waiting; those in flight on a
    // dispatcher right now record their own outcome. New events are not delivered to it; its receiver catches up from the feed.
    public static async Task DisableAsync(Data.AppDbContext db, WebhookEndpoint endpoint, string reason, DateTime now, CancellationToken cancellationToken)
    {
        endpoint.Disable(reason, now);
        var why = $"Not delivered: the endpoint was disabled. {endpoint.DisabledReason}";
        await db.WebhookDeliveries.IgnoreQueryFilters()
            .Where(d => d.EndpointId == endpoint.Id && (d.Status == WebhookDeliveryStatus.Pending || d.Status == WebhookDeliveryStatus.Retrying)
                && (d.LockedUntil == null || d.LockedUntil <= now))
            .ExecuteUpdateAsync(set => set.SetProperty(d => d.Status, WebhookDeliveryStatus.Failed).SetProperty(d => d.Error, why), cancellationToken);
    }
}

internal sealed class WebhookEndpointConfiguration : IEntityTypeConfiguration<WebhookEndpoint>
{
    public void Configure(EntityTypeBuilder<WebhookEndpoint> endpoint)
    {
        endpoint.Property(e => e.Id).ValueGeneratedNever();
        endpoint.Property(e => e.Url).HasMaxLength(WebhookAddresses.MaxUrlLength);
        endpoint.Property(e => e.Description).HasMaxLength(WebhookEndpoint.MaxDescription);
        endpoint.Property(e => e.DisabledReason).HasMaxLength(WebhookEndpoint.MaxReason);
        endpoint.HasOne<Tenants.Tenant>().WithMany().HasForeignKey(e => e.TenantId);
        endpoint.HasIndex(e => new { e.TenantId, e.CreatedAt, e.Id });
    }
}
