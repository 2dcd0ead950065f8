using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using TenantInvitations.Api;
using TenantInvitations.Auth;

namespace TenantInvitations.Events;

// One change that integrators can learn about (API.md "Events"), written in the transaction of the change itself.
internal sealed class Event
{
    public const int MaxTypeLength = 64;

    public long Id { get; init; }
    public required string Type { get; init; }
    // Null only for a platform endpoint's webhook.test.
    public long? TenantId { get; init; }
    public DateTime OccurredAt { get; init; }
    // No actor (both null) for what the service does by itself: expiry, delivery.
    public string? ActorSubject { get; init; }
    public string? ActorEmail { get; init; }
    public bool ActorIsPlatformAdmin { get; init; }
    // The payload's `data`, as JSON text written once: payloads show the change as it was, not as it is now.
    public required string Data { get; init; }
    // The request that caused the event; its webhook deliveries keep it, so the two can be joined.
    public string? TraceId { get; init; }
    // Where the event sits in the feed. Set by the database (a trigger), never by the service: the id of the writing
    // transaction on PostgreSQL, a counter taken under the write lock on SQLite (docs/events.md).
    public long? Position { get; init; }

    public EventModel ToModel() => new(Id, Type, TenantId, OccurredAt,
        ActorSubject is null && ActorEmail is null ? null : new EventActorModel(ActorSubject, ActorEmail, ActorIsPlatformAdmin),
        JsonSerializer.Deserialize<JsonElement>(Data));
}

internal sealed record EventActorModel(string? Subject, string? Email, bool IsPlatformAdmin);

// An event as the feed and webhooks show it. `data` is the invitation, member, tenant or settings after the change.
internal sealed record EventModel(long Id, string Type, long? TenantId, DateTime OccurredAt, EventActorModel? Actor, JsonElement Data);

// The one small insert every event goes through (the hot paths may fold it into their own statement later).
internal static class EventLog
{
    public static Event Add(Data.AppDbContext db, long id, string type, long? tenantId, Caller? actor, object data, DateTime now,
        string? traceId = null) =>
        db.Events.Add(new Event
        {
            Id = id,
            Type = type,
            TenantId = tenantId,
            OccurredAt = now,
            ActorSubject = actor?.Subject,
            ActorEmail = actor?.Email,
            ActorIsPlatformAdmin = actor?.IsPlatformAdmin ?? false,
            Data = JsonSerializer.Serialize(data, data.GetType(), ApiJson.Options),
            TraceId = traceId ?? actor?.TraceId,
        }).Entity;
}

internal sealed class EventConfiguration : IEntityTypeConfiguration<Event>
{
    public void Configure(EntityTypeBuilder<Event> entity)
    {
        entity.Property(e => e.Id).ValueGeneratedNever();
        entity.Property(e => e.Type).HasMaxLength(Event.MaxTypeLength);
        entity.Property(e => e.ActorSubject).HasMaxLength(Limits.Subject);
        entity.Property(e => e.ActorEmail).HasMaxLength(Limits.Email);
        entity.Property(e => e.TraceId).HasMaxLength(64);
        // The trigger sets it; the service inserts nothing there.
        entity.Property(e => e.Position).ValueGeneratedNever();
        // The feeds: everything, and one tenant's, in position order.
        entity.HasIndex(e => new { e.Position, e.Id });
        entity.HasIndex(e => new { e.TenantId, e.Position, e.Id });
        // Retention deletes the oldest first.
        entity.HasIndex(e => e.OccurredAt);
    }
}

// Marks along the feed, one row each: how far webhook deliveries have been made, how far retention has deleted, and on
// SQLite the last position handed out.
internal sealed class EventMark
{
    public const string LastPosition = "last_position";
    public const string WebhooksFannedOut = "webhooks_fanned_out";
    public const string RetentionDeleted = "retention_deleted";

    public required string Name { get; init; }
    public long Position { get; set; }
    public long EventId { get; set; }

    public FeedCursor Cursor => new(Position, EventId);
}

internal sealed class EventMarkConfiguration : IEntityTypeConfiguration<EventMark>
{
    public void Configure(EntityTypeBuilder<EventMark> mark)
    {
        mark.HasKey(m => m.Name);
        mark.Property(m => m.Name).HasMaxLength(32);
        mark.HasData(
            new EventMark { Name = EventMark.WebhooksFannedOut },
            new EventMark { Name = EventMark.RetentionDeleted });
    }
}
