using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using TenantInvitations.Events;

namespace TenantInvitations.Webhooks;

// Pending: not tried yet. Retrying: tried and failed, another attempt is scheduled. Then Succeeded or Failed.
internal enum WebhookDeliveryStatus { Pending, Succeeded, Retrying, Failed }

// One event to one endpoint. Claimed by a dispatcher with a lease, like the email outbox, so nodes share the work and a dead
// node's claims return when their lease runs out.
internal sealed class WebhookDelivery
{
    public const int MaxError = 1000;
    public const int KeptResponseChars = 1024;

    // After the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h (API.md), each with jitter; then Failed.
    public static readonly TimeSpan[] RetrySchedule =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2), TimeSpan.FromHours(5),
        TimeSpan.FromHours(10), TimeSpan.FromHours(14), TimeSpan.FromHours(20), TimeSpan.FromHours(24),
    ];

    public long Id { get; init; }
    public long EndpointId { get; init; }
    public long EventId { get; init; }
    public required string EventType { get; init; }
    public long? TenantId { get; init; }
    public WebhookDeliveryStatus Status { get; private set; }
    public int Attempts { get; private set; }
    public DateTime CreatedAt { get; init; }
    public DateTime NextAttemptAt { get; private set; }
    public DateTime? LastAttemptAt { get; private set; }
    public int? ResponseStatus { get; private set; }
    public string? Error { get; private set; }
    public string? ResponseBody { get; private set; }
    public int? DurationMs { get; private set; }
    // The request that caused the event.
    public string? TraceId { get; init; }
    public DateTime? LockedUntil { get; set; }
    public Guid? LockedBy { get; set; }

    public static WebhookDelivery For(long id, WebhookEndpoint endpoint, Event e, DateTime now) => new()
    {
        Id = id,
        EndpointId = endpoint.Id,
        EventId = e.Id,
        EventType = e.Type,
        TenantId = endpoint.TenantId,
        Status = WebhookDeliveryStatus.Pending,
        CreatedAt = now,
        NextAttemptAt = now,
        TraceId = e.TraceId,
    };

    public bool IsFinished => Status is WebhookDeliveryStatus.Succeeded or WebhookDeliveryStatus.Failed;

    public void Succeeded(int status, string? body, int durationMs, DateTime now)
    {
        Record(now, status, null, body, durationMs);
        Status = WebhookDeliveryStatus.Succeeded;
    }

    // A failed attempt: retried at the scheduled time with ±10% jitter (`random` in [0, 1)), or later when the receiver asked to
    // wait longer, until the schedule ends.
    public void Failed(int? status, string error, string? body, int durationMs, DateTime now, double random, TimeSpan? retryAfter)
    {
        Record(now, status, error, body, durationMs);
        if (Attempts > RetrySchedule.Length)
        {
            Status = WebhookDeliveryStatus.Failed;
            return;
        }
        var delay = RetrySchedule[Attempts - 1] * (0.9 + 0.2 * random);
        Status = WebhookDeliveryStatus.Retrying;
        NextAttemptAt = now + (retryAfter > delay ? retryAfter.Value : delay);
    }

    // A failed attempt after which there is no other: the receiver answered 410, or its endpoint is disabled.
    public void FailedForGood(int? status, string error, string? body, int durationMs, DateTime now)
    {
        Record(now, status, error, body, durationMs);
        Status = WebhookDeliveryStatus.Failed;
    }

    // Given up without an attempt: it could not even be signed.
    public void GiveUp(string reason)
    {
        Error = reason.Length > MaxError ? reason[..MaxError] : reason;
        Status = WebhookDeliveryStatus.Failed;
        LockedUntil = null;
        LockedBy = null;
    }

    // A manual retry: goes now, whatever its status; its attempts keep counting.
    public void RetryNow(DateTime now)
    {
        Status = Attempts == 0 ? WebhookDeliveryStatus.Pending : WebhookDeliveryStatus.Retrying;
        NextAttemptAt = now;
        LockedUntil = null;
        LockedBy = null;
    }

    private void Record(DateTime now, int? status, string? error, string? body, int durationMs)
    {
        Attempts++;
        LastAttemptAt = now;
        ResponseStatus = status;
        Error = error is { Length: > MaxError } ? error[..MaxError] : error;
        ResponseBody = body is { Length: > KeptResponseChars } ? body[..KeptResponseChars] : body;
        DurationMs = durationMs;
        LockedUntil = null;
        LockedBy = null;
    }
}

internal sealed class WebhookDeliveryConfiguration : IEntityTypeConfiguration<WebhookDelivery>
{
    public void Configure(EntityTypeBuilder<WebhookDelivery> delivery)
    {
        delivery.Property(d => d.Id).ValueGeneratedNever();
        delivery.Property(d => d.EventType).HasMaxLength(Event.MaxTypeLength);
        delivery.Property(d => d.Status).HasConversion<string>().HasMaxLength(16);
        delivery.Property(d => d.Error).HasMaxLength(WebhookDelivery.MaxError);
        delivery.Property(d => d.ResponseBody).HasMaxLength(WebhookDelivery.KeptResponseChars);
        delivery.Property(d => d.TraceId).HasMaxLength(64);
        // A dispatcher's record of an attempt only lands while it still owns the delivery.
        delivery.Property(d => d.LockedBy).IsConcurrencyToken();
        delivery.HasOne<WebhookEndpoint>().WithMany().HasForeignKey(d => d.EndpointId).OnDelete(DeleteBehavior.Cascade);
        delivery.HasOne<Event>().WithMany().HasForeignKey(d => d.EventId);
        // An event reaches an endpoint once, however often the fan-out runs.
        delivery.HasIndex(d => new { d.EndpointId, d.EventId }).IsUnique();
        // The delivery log, newest first.
        delivery.HasIndex(d => new { d.EndpointId, d.CreatedAt, d.Id }).IsDescending(false, true, true);
        // The dispatcher's claim: what is due.
        delivery.HasIndex(d => d.NextAttemptAt).HasFilter("status IN ('Pending', 'Retrying')").HasDatabaseName("ix_webhook_deliveries_due");
        delivery.HasIndex(d => d.EventId);
    }
}
