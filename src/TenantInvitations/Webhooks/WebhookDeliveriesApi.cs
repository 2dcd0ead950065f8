using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Api;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Events;

namespace TenantInvitations.Webhooks;

// An endpoint's deliveries: the log, a manual retry, and a test send. The same under a tenant and for platform endpoints.
internal static class WebhookDeliveriesApi
{
    public static void MapWebhookDeliveries(this IEndpointRouteBuilder app)
    {
        var tenant = app.MapTenantAdminGroup("/tenant/{tenantId}/admin/webhooks/{id}").WithTags("Webhooks").ProducesFailures(404);
        tenant.MapPost("/test", (long tenantId, long id, Caller caller, AppDbContext db, IdGenerator ids, WebhookSignal signal, TimeProvider clock,
                CancellationToken cancellationToken) => TestAsync(tenantId, id, caller, db, ids, signal, clock, cancellationToken))
            .WithName("TestTenantWebhook").WithSummary("Sends a webhook.test event to this endpoint only").WithDescription(TestDescription);
        tenant.MapGet("/deliveries", (long tenantId, long id, string? after, int? limit, HttpContext http, AppDbContext db,
                CancellationToken cancellationToken) => ListAsync(tenantId, id, after, limit, http, db, cancellationToken))
            .WithName("ListTenantWebhookDeliveries").WithSummary("The endpoint's deliveries, newest first").WithDescription(ListDescription);
        tenant.MapPost("/deliveries/{deliveryId}/retry", (long tenantId, long id, long deliveryId, AppDbContext db, WebhookSignal signal,
                TimeProvider clock, CancellationToken cancellationToken) => RetryAsync(tenantId, id, deliveryId, db, signal, clock, cancellationToken))
            .WithName("RetryTenantWebhookDelivery").WithSummary("Queues a delivery to go again now, whatever its status")
            .WithDescription(RetryDescription);

        var platform = app.MapGroup("/webhooks/{id}").WithTags("Webhooks").RequireAuthorization(AuthSetup.PlatformAdminPolicy)
            .RequirePositiveIds().ProducesFailures(400, 401, 403, 404);
        platform.MapPost("/test", (long id, Caller caller, AppDbContext db, IdGenerator ids, WebhookSignal signal, TimeProvider clock,
                CancellationToken cancellationToken) => TestAsync(null, id, caller, db, ids, signal, clock, cancellationToken))
            .WithName("TestPlatformWebhook").WithSummary("Sends a webhook.test event to this platform endpoint only")
            .WithDescription(TestDescription);
        platform.MapGet("/deliveries", (long id, string? after, int? limit, HttpContext http, AppDbContext db, CancellationToken cancellationToken) =>
                ListAsync(null, id, after, limit, http, db, cancellationToken))
            .WithName("ListPlatformWebhookDeliveries").WithSummary("The platform endpoint's deliveries, newest first").WithDescription(ListDescription);
        platform.MapPost("/deliveries/{deliveryId}/retry", (long id, long deliveryId, AppDbContext db, WebhookSignal signal, TimeProvider clock,
                CancellationToken cancellationToken) => RetryAsync(null, id, deliveryId, db, signal, clock, cancellationToken))
            .WithName("RetryPlatformWebhookDelivery").WithSummary("Queues a delivery to go again now, whatever its status")
            .WithDescription(RetryDescription);
    }

    private const string TestDescription = "202 with the new delivery. The event (`data: {}`) goes to this endpoint only, also when it is "
        + "disabled (so it can be checked before enabling it again), and never appears in the feed.";

    private const string ListDescription = "Status is Pending (not tried yet), Retrying (failed, `nextAttemptAt` says when it goes again), "
        + "Succeeded or Failed. `responseBody` is the first 1 KiB of the receiver's answer; `traceId` is the request that caused the event. "
        + "The next page is linked in a `Link: <…>; rel=\"next\"` header.";

    private const string RetryDescription = "202 with the delivery, queued to go now. Its attempts keep counting; if this attempt fails, it is "
        + "retried on the schedule (docs/events.md) until the schedule ends. It goes out even when the endpoint is disabled.";

    internal static async Task<Results<Accepted<Envelope<WebhookDeliveryModel>>, Failure>> TestAsync(long? tenantId, long id, Caller caller,
        AppDbContext db, IdGenerator ids, WebhookSignal signal, TimeProvider clock, CancellationToken cancellationToken)
    {
        var (eventId, deliveryId) = (await ids.NextAsync(cancellationToken), await ids.NextAsync(cancellationToken));
        var endpoint = await WebhooksApi.Scoped(db, tenantId).AsNoTracking().FirstOrDefaultAsync(e => e.Id == id, cancellationToken);
        if (endpoint is null)
        {
            return WebhooksApi.NotFound();
        }
        var now = clock.UtcNow();
        var test = EventLog.Add(db, eventId, EventTypes.WebhookTest, tenantId, caller, new EmptyData(), now);
        var delivery = WebhookDelivery.For(deliveryId, endpoint, test, now);
        db.WebhookDeliveries.Add(delivery);
        await db.SaveChangesAsync(cancellationToken);
        signal.Notify();
        return TypedResults.Accepted(DeliveryPath(tenantId, id), Envelope.Of(delivery.ToModel()));
    }

    internal static async Task<Results<Ok<Envelope<WebhookDeliveryModel[]>>, Failure>> ListAsync(long? tenantId, long id, string? after, int? limit,
        HttpContext http, AppDbContext db, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var page = Page.Parse(limit, after, problems);
        if (problems.Count > 0)
        {
            return Failure.Validation(problems);
        }
        if (!await WebhooksApi.Scoped(db, tenantId).AnyAsync(e => e.Id == id, cancellationToken))
        {
            return WebhooksApi.NotFound();
        }
        var query = db.WebhookDeliveries.IgnoreQueryFilters().AsNoTracking().Where(d => d.EndpointId == id);
        if (page.After is { } cursor)
        {
            // The first condition alone bounds the index range (as for invitations).
            query = query.Where(d => d.CreatedAt <= cursor.At && (d.CreatedAt < cursor.At || d.Id < cursor.Id));
        }
        var rows = await query.OrderByDescending(d => d.CreatedAt).ThenByDescending(d => d.Id).Take(page.Limit + 1).ToListAsync(cancellationToken);
        return ApiResults.Ok(page.Finish(http, rows, d => new Cursor(d.CreatedAt, d.Id)).Select(d => d.ToModel()).ToArray());
    }

    internal static async Task<Results<Accepted<Envelope<WebhookDeliveryModel>>, Failure>> RetryAsync(long? tenantId, long id, long deliveryId,
        AppDbContext db, WebhookSignal signal, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (!await WebhooksApi.Scoped(db, tenantId).AnyAsync(e => e.Id == id, cancellationToken))
        {
            return WebhooksApi.NotFound();
        }
        var delivery = await db.WebhookDeliveries.IgnoreQueryFilters().FirstOrDefaultAsync(d => d.Id == deliveryId && d.EndpointId == id, cancellationToken);
        if (delivery is null)
        {
            return Failure.NotFound("The delivery");
        }
        var now = clock.UtcNow();
        if (delivery.LockedUntil > now)
        {
            // Being sent right now: that attempt is the retry (taking it over would lose its outcome).
            return TypedResults.Accepted(DeliveryPath(tenantId, id), Envelope.Of(delivery.ToModel()));
        }
        delivery.RetryNow(now);
        await db.SaveChangesAsync(cancellationToken);
        signal.Notify();
        return TypedResults.Accepted(DeliveryPath(tenantId, id), Envelope.Of(delivery.ToModel()));
    }

    private static string DeliveryPath(long? tenantId, long id) =>
        tenantId is null ? $"/webhooks/{id}/deliveries" : $"/tenant/{tenantId}/admin/webhooks/{id}/deliveries";
}
