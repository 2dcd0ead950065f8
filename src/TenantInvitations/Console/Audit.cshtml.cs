using Microsoft.AspNetCore.Mvc;
using TenantInvitations.Audit;
using TenantInvitations.Data;

namespace TenantInvitations.Console;

// /console/tenants/{tenantId}/audit: the tenant's trail, newest first, filterable by action (GET …/admin/audit).
public sealed class AuditModel : ConsolePage
{
    // The actions the service records, for the filter's list; any other text is still sent to the API as typed.
    public static readonly string[] Actions =
    [
        "invitation.created", "invitation.resent", "invitation.revoked", "invitation.accepted", "invitation.declined",
        "member.role_changed", "member.removed", "user.linked", "settings.updated", "tenant.created", "tenant.renamed", "platform_admin.read",
        "webhook.created", "webhook.updated", "webhook.deleted", "webhook.secret_rotated", "import.started", "import.cancelled", "import.completed",
        "import.failed",
    ];

    [BindProperty(SupportsGet = true)] public long TenantId { get; set; }
    [BindProperty(SupportsGet = true)] public string? Action { get; set; }
    [BindProperty(SupportsGet = true)] public string? After { get; set; }

    internal AuditEventModel[] Rows { get; private set; } = [];
    public string? Next { get; private set; }
    public string Here => $"/console/tenants/{TenantId}/audit";

    public async Task OnGetAsync()
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return;
        }
        var action = string.IsNullOrWhiteSpace(Action) ? null : Action.Trim();
        var result = await AuditApi.ListAuditEvents(TenantId, action, After, null, HttpContext, Service<AppDbContext>(), HttpContext.RequestAborted);
        Rows = Answer<AuditEventModel[]>(result.Result) ?? [];
        Next = TakeNextCursor();
        await AuditReadAsync();
    }

    public string PageLink(string after) =>
        $"{Here}?{(Action is { Length: > 0 } ? $"action={Uri.EscapeDataString(Action)}&" : "")}after={Uri.EscapeDataString(after)}";
}
