using Microsoft.AspNetCore.Mvc;
using TenantInvitations.Data;
using TenantInvitations.Events;
using TenantInvitations.Webhooks;

namespace TenantInvitations.Console;

// /console/tenants/{tenantId}/webhooks: the tenant's endpoints (GET …/admin/webhooks), adding one (POST) with its secret shown
// this once, a test send (POST …/{id}/test), rotation (POST …/{id}/rotate-secret, the new secret shown once), enabling and
// disabling (PUT …/{id}) and deleting with a confirmation step (DELETE …/{id}). A secret is only ever in the answer to the POST
// that made it: never in a redirect, a notice cookie or another page.
public sealed class WebhooksModel : ConsolePage
{
    [BindProperty(SupportsGet = true)] public long TenantId { get; set; }
    [BindProperty(SupportsGet = true)] public long? Delete { get; set; }
    [BindProperty] public string? EndpointUrl { get; set; }
    [BindProperty] public string? Description { get; set; }
    [BindProperty] public List<string> Types { get; set; } = [];

    internal WebhookModel[] Endpoints { get; private set; } = [];
    public string? Secret { get; private set; }
    public string? SecretFor { get; private set; }
    public string Here => $"/console/tenants/{TenantId}/webhooks";

    public static IReadOnlyList<string> EventTypes => Events.EventTypes.Subscribable;

    public async Task OnGetAsync()
    {
        if (await AdmitAsync(Service<AppDbContext>()))
        {
            await LoadAsync();
            await AuditReadAsync();
        }
    }

    public async Task<IActionResult> OnPostAddAsync()
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        var request = new CreateWebhookRequest(EndpointUrl?.Trim(), Types.Count == 0 ? null : [.. Types], string.IsNullOrWhiteSpace(Description) ? null : Description.Trim());
        var result = await WebhooksApi.CreateAsync(TenantId, request, Caller, Service<AppDbContext>(), Service<WebhookRegistration>(), HttpContext.RequestAborted);
        if (Answer<CreatedWebhookModel>(result.Result) is { } created)
        {
            (Secret, SecretFor) = (created.Secret, created.Url);
            Say($"Added the endpoint {created.Url}.");
            (EndpointUrl, Description, Types) = (null, null, []);
        }
        else
        {
            Response.StatusCode = (result.Result as Api.Failure)?.StatusCode ?? 400;
        }
        await LoadAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostRotateAsync(long id)
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        var result = await WebhooksApi.RotateAsync(TenantId, id, Caller, Service<AppDbContext>(), Service<WebhookRegistration>(), HttpContext.RequestAborted);
        if (Answer<WebhookSecretModel>(result.Result) is { } rotated)
        {
            await LoadAsync();
            (Secret, SecretFor) = (rotated.Secret, Endpoints.FirstOrDefault(e => e.Id == id)?.Url);
            Say("Made a new secret. For 24 hours deliveries carry both signatures, so your receiver can switch without missing one.");
            return Page();
        }
        Response.StatusCode = (result.Result as Api.Failure)?.StatusCode ?? 400;
        await LoadAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostTestAsync(long id)
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        var result = await WebhookDeliveriesApi.TestAsync(TenantId, id, Caller, Service<AppDbContext>(), Service<IdGenerator>(), Service<WebhookSignal>(),
            Service<TimeProvider>(), HttpContext.RequestAborted);
        Report(Answer<WebhookDeliveryModel>(result.Result) is not null ? "Sent a webhook.test event. Its delivery is listed below." : null);
        return Redirect(Error is null ? $"{Here}/{id}" : Here);
    }

    public async Task<IActionResult> OnPostEnableAsync(long id, bool enabled)
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        var result = await WebhooksApi.UpdateAsync(TenantId, id, new UpdateWebhookRequest { Enabled = enabled }, Caller, Service<AppDbContext>(),
            Service<WebhookRegistration>(), HttpContext.RequestAborted);
        Report(Answer<WebhookModel>(result.Result) is { } changed ? $"{(changed.Enabled ? "Enabled" : "Disabled")} {changed.Url}." : null);
        return Redirect(Here);
    }

    // Without confirmed=true this only asks; the question's own Delete button confirms.
    public async Task<IActionResult> OnPostDeleteAsync(long id, bool confirmed)
    {
        if (!confirmed)
        {
            return Redirect($"{Here}?delete={id}");
        }
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        var result = await WebhooksApi.DeleteAsync(TenantId, id, Caller, Service<AppDbContext>(), Service<WebhookRegistration>(), HttpContext.RequestAborted);
        Report(Answer<WebhookModel>(result.Result) is { } deleted ? $"Deleted {deleted.Url}; its pending deliveries were dropped." : null);
        return Redirect(Here);
    }

    private async Task LoadAsync() =>
        Endpoints = Answer<WebhookModel[]>(await WebhooksApi.ListAsync(TenantId, Service<AppDbContext>(), HttpContext.RequestAborted)) ?? [];
}
