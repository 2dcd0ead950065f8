using Microsoft.AspNetCore.Mvc;
using TenantInvitations.Data;
using TenantInvitations.Webhooks;

namespace TenantInvitations.Console;

// /console/tenants/{tenantId}/webhooks/{id}: one endpoint's deliveries, newest first (GET …/{id}/deliveries), each with a retry
// (POST …/deliveries/{deliveryId}/retry).
public sealed class WebhookModelPage : ConsolePage
{
    [BindProperty(SupportsGet = true)] public long TenantId { get; set; }
    [BindProperty(SupportsGet = true)] public long Id { get; set; }
    [BindProperty(SupportsGet = true)] public string? After { get; set; }

    internal WebhookModel? Endpoint { get; private set; }
    internal WebhookDeliveryModel[] Deliveries { get; private set; } = [];
    public string? Next { get; private set; }
    public string Here => $"/console/tenants/{TenantId}/webhooks/{Id}";

    public async Task OnGetAsync()
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return;
        }
        var db = Service<AppDbContext>();
        var found = await WebhooksApi.GetAsync(TenantId, Id, db, HttpContext.RequestAborted);
        if (found.Result is Api.Failure missing)
        {
            Refuse(missing);
            return;
        }
        Endpoint = Answer<WebhookModel>(found.Result);
        var result = await WebhookDeliveriesApi.ListAsync(TenantId, Id, After, null, HttpContext, db, HttpContext.RequestAborted);
        Deliveries = Answer<WebhookDeliveryModel[]>(result.Result) ?? [];
        Next = TakeNextCursor();
        await AuditReadAsync();
    }

    public async Task<IActionResult> OnPostRetryAsync(long deliveryId)
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        var result = await WebhookDeliveriesApi.RetryAsync(TenantId, Id, deliveryId, Service<AppDbContext>(), Service<WebhookSignal>(), Service<TimeProvider>(),
            HttpContext.RequestAborted);
        Report(Answer<WebhookDeliveryModel>(result.Result) is { } queued ? $"Delivery {queued.Id} goes again now." : null);
        return Redirect(Here);
    }
}
