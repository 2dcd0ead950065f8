using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Api;
using TenantInvitations.Auth;
using TenantInvitations.Data;

namespace TenantInvitations.Events;

internal static class EventsApi
{
    private const string FeedDescription = "Oldest first, in the order events became visible (commit order). Every response, an empty page too, "
        + "carries `Link: <…>; rel=\"next\"`: keep the last one and poll it. Following `next` never misses an event and never shows one twice, "
        + "even when transactions on several nodes commit out of id order (docs/events.md). `type` filters (repeat it for several types). "
        + "A cursor behind events already deleted by retention (Events:RetentionDays, default 30) is 400: start again without `after`. "
        + "Reading the feed is not audited.";

    public static void MapEvents(this IEndpointRouteBuilder app)
    {
        app.MapTenantAdminGroup("/tenant/{tenantId}/admin/events").WithTags("Events").WithMetadata(new NotAuditedRead())
            .MapGet("", TenantFeed).WithName("ListTenantEvents").ProducesFailures(404)
            .WithSummary("The tenant's events, oldest first, followed through `Link: rel=\"next\"`")
            .WithDescription(FeedDescription);
        app.MapGet("/events", PlatformFeed).WithName("ListEvents").WithTags("Events")
            .RequireAuthorization(AuthSetup.PlatformAdminPolicy).ProducesFailures(400, 401, 403)
            .WithSummary("Every tenant's events, oldest first (platform admins only)")
            .WithDescription(FeedDescription + " `tenantId` narrows it to one tenant.");
    }

    private static Task<Results<Ok<Envelope<EventModel[]>>, Failure>> TenantFeed(
        long tenantId, string? after, int? limit, string[]? type, HttpContext http, AppDbContext db, CancellationToken cancellationToken) =>
        ReadAsync(db.Events, after, limit, type, http, db, cancellationToken);

    private static Task<Results<Ok<Envelope<EventModel[]>>, Failure>> PlatformFeed(
        long? tenantId, string? after, int? limit, string[]? type, HttpContext http, AppDbContext db, CancellationToken cancellationToken)
    {
        if (tenantId is <= 0)
        {
            return Task.FromResult<Results<Ok<Envelope<EventModel[]>>, Failure>>(
                Failure.Validation($"The tenantId must be a whole number from 1 to {long.MaxValue}."));
        }
        var events = db.Events.IgnoreQueryFilters();
        return ReadAsync(tenantId is { } only ? events.Where(e => e.TenantId == only) : events, after, limit, type, http, db, cancellationToken);
    }

    private static async Task<Results<Ok<Envelope<EventModel[]>>, Failure>> ReadAsync(IQueryable<Event> events, string? after, int? limit,
        string[]? types, HttpContext http, AppDbContext db, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        if (limit is < 1 or > Limits.MaxPageSize)
        {
            problems.Add($"The limit must be from 1 to {Limits.MaxPageSize}.");
        }
        FeedCursor cursor = default;
        if (after is not null && !FeedCursor.TryDecode(after, out cursor))
        {
            problems.Add("The after cursor is not valid. Use the one from the previous response's Link header, or start without it.");
        }
        foreach (var name in types ?? [])
        {
            if (!EventTypes.IsSubscribable(name))
            {
                problems.Add($"Each type must be an event type of the feed: {string.Join(", ", EventTypes.Subscribable)}.");
                break;
            }
        }
        if (problems.Count > 0)
        {
            return Failure.Validation(problems);
        }
        var page = limit ?? Limits.DefaultPageSize;
        // Read first: everything below it is final, and the page is read from a later snapshot, so nothing below it is missing.
        var visibleBelow = await VisibleBelowAsync(db, cancellationToken);
        var query = events.AsNoTracking().Where(e => e.Position < visibleBelow && e.Type != EventTypes.WebhookTest);
        if (types is { Length: > 0 })
        {
            query = query.Where(e => types.Contains(e.Type));
        }
        // The first condition alone bounds the index range; the second sorts out the events at the cursor's own position.
        query = query.Where(e => e.Position >= cursor.Position && (e.Position > cursor.Position || e.Id > cursor.Id));
        var rows = await query.OrderBy(e => e.Position).ThenBy(e => e.Id).Take(page).ToListAsync(cancellationToken);
        // After the page: a retention batch that deleted past the cursor while the page was read is seen here.
        if (after is not null && cursor.CompareTo(await MarkAsync(db, EventMark.RetentionDeleted, cancellationToken)) < 0)
        {
            return Failure.Validation("The after cursor is older than the events kept (Events:RetentionDays): some events after it were deleted. "
                + "Start again without after.");
        }
        // A short page read everything visible: the next cursor moves to the edge of what is visible, so an idle feed's
        // cursor keeps up with retention.
        var next = rows.Count > 0 ? new FeedCursor(rows[^1].Position!.Value, rows[^1].Id) : cursor;
        if (rows.Count < page)
        {
            next = FeedCursor.Max(next, new FeedCursor(visibleBelow - 1, long.MaxValue));
        }
        Page.LinkNext(http, next.Encode());
        return ApiResults.Ok(rows.Select(e => e.ToModel()).ToArray());
    }

    // The first position not yet known to be final: on PostgreSQL the oldest transaction still running (the snapshot's xmin:
    // every transaction below it has committed or rolled back); on SQLite, one writer at a time, the next position to hand out.
    public static async Task<long> VisibleBelowAsync(AppDbContext db, CancellationToken cancellationToken) =>
        db.Database.IsNpgsql()
            ? await db.Database.SqlQueryRaw<long>("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS \"Value\"")
                .SingleAsync(cancellationToken)
            : await db.EventMarks.Where(m => m.Name == EventMark.LastPosition).Select(m => m.Position + 1).SingleAsync(cancellationToken);

    public static async Task<FeedCursor> MarkAsync(AppDbContext db, string name, CancellationToken cancellationToken) =>
        (await db.EventMarks.AsNoTracking().SingleAsync(m => m.Name == name, cancellationToken)).Cursor;
}

// An endpoint a platform admin may read without an audit row per request (the feed is polled).
internal sealed class NotAuditedRead;
