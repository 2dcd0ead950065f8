using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using TenantInvitations.Audit;
using TenantInvitations.Data;
using TenantInvitations.Email;
using TenantInvitations.Invitations;

namespace TenantInvitations.Console;

// /console/tenants/{tenantId}/invitations/{id}: one invitation (GET …/invitation/{id}), its history (…/history) as a timeline,
// the email preview (…/email) in a sandboxed frame, and Resend and Revoke (with a confirmation step).
public sealed class InvitationModel : ConsolePage
{
    [BindProperty(SupportsGet = true)] public long TenantId { get; set; }
    [BindProperty(SupportsGet = true)] public long Id { get; set; }
    [BindProperty(SupportsGet = true)] public string? Confirm { get; set; }

    internal UserInvitationModel? Invitation { get; private set; }
    internal InvitationHistoryEntry[] History { get; private set; } = [];
    internal EmailPreviewModel? Email { get; private set; }
    public string ResendAction => $"{Here}?handler=Resend";
    public string Here => $"/console/tenants/{TenantId}/invitations/{Id}";

    public async Task OnGetAsync()
    {
        if (await AdmitAsync(Service<AppDbContext>()) && await LoadAsync())
        {
            await AuditReadAsync();
        }
    }

    public async Task<IActionResult> OnPostResendAsync()
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        Report(await InvitationActions.ResendAsync(this, TenantId, Id) is { } sent ? $"Sent again to {sent.Email}." : null);
        return Redirect(Here);
    }

    // Without confirmed=true this only asks; the question's own Revoke button confirms.
    public async Task<IActionResult> OnPostRevokeAsync(bool confirmed)
    {
        if (!confirmed)
        {
            return Redirect($"{Here}?confirm=revoke");
        }
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        Report(await InvitationActions.RevokeAsync(this, TenantId, Id) is { } revoked ? $"Revoked the invitation to {revoked.Email}. Its link no longer works." : null);
        return Redirect(Here);
    }

    private async Task<bool> LoadAsync()
    {
        var db = Service<AppDbContext>();
        var options = Service<IOptions<InvitationOptions>>();
        var found = await InvitationsApi.GetInvitation(TenantId, Id, Caller, HttpContext, db, options, Service<TimeProvider>(), HttpContext.RequestAborted);
        if (found.Result is Api.Failure missing)
        {
            return Refuse(missing);
        }
        Invitation = Answer<UserInvitationModel>(found.Result);
        History = Answer<InvitationHistoryEntry[]>((await AuditApi.InvitationHistory(TenantId, Id, db, HttpContext.RequestAborted)).Result) ?? [];
        Email = Answer<EmailPreviewModel>((await EmailPreviewApi.PreviewEmail(TenantId, Id, db, Service<InvitationEmailRenderer>(),
            Service<IOptions<AppOptions>>(), HttpContext.RequestAborted)).Result);
        return true;
    }
}
