using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using TenantInvitations.Api;
using TenantInvitations.Data;
using TenantInvitations.Email;
using TenantInvitations.Invitations;
using TenantInvitations.Members;

namespace TenantInvitations.Console;

// /console/tenants/{tenantId}/invitations: the table (GET …/admin/user/invitation), the invite form (POST …/invitation), pasting
// many (POST …/invitation/bulk) and resend from a row (PUT …/invitation/resend).
public sealed class InvitationsModel : ConsolePage
{
    [BindProperty(SupportsGet = true)] public long TenantId { get; set; }
    [BindProperty(SupportsGet = true)] public string? Status { get; set; }
    [BindProperty(SupportsGet = true, Name = "email")] public string? Search { get; set; }
    [BindProperty(SupportsGet = true)] public string? After { get; set; }

    [BindProperty] public string? InviteEmail { get; set; }
    [BindProperty] public string? InviteRole { get; set; }
    [BindProperty] public string? ManyEmails { get; set; }

    internal UserInvitationModel[] Rows { get; private set; } = [];
    internal BulkRowModel[] BulkRows { get; private set; } = [];
    public string? Next { get; private set; }
    public string ResendAction => $"{Here}?handler=Resend";
    public string Here => $"/console/tenants/{TenantId}/invitations";

    public async Task OnGetAsync()
    {
        if (await AdmitAsync(Service<AppDbContext>()))
        {
            await LoadAsync();
            await AuditReadAsync();
        }
    }

    public async Task<IActionResult> OnPostInviteAsync()
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        var request = new CreateInvitationRequest(InviteEmail, ParseRole(InviteRole), null, null, null);
        var result = await InvitationsApi.CreateInvitation(TenantId, request, Caller, HttpContext, Service<AppDbContext>(), Service<IdGenerator>(),
            Service<EmailOutbox>(), Service<IOptions<InvitationOptions>>(), Service<TimeProvider>(), HttpContext.RequestAborted);
        if (Answer<UserInvitationModel[]>(result.Result) is [var created])
        {
            Tell($"Invited {created.Email} as {created.Role}. The email is queued.");
            return Redirect(Here);
        }
        Response.StatusCode = (result.Result as Api.Failure)?.StatusCode ?? 400;
        await LoadAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostInviteManyAsync()
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        var addresses = (ManyEmails ?? "").Split(['\n', '\r', ',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var request = new BulkInvitationRequest([.. addresses.Select(a => new BulkInvitationRow(a, InviteRole, null, null, null))]);
        var result = await BulkInvitations.CreateInvitations(TenantId, request, Caller, Service<AppDbContext>(), Service<IdGenerator>(),
            Service<EmailOutbox>(), Service<IOptions<InvitationOptions>>(), Service<TimeProvider>(), HttpContext.RequestAborted);
        if (Answer<BulkRowModel[]>(result.Result) is { } rows)
        {
            BulkRows = rows;
            var created = rows.Count(r => r.Status == BulkRowStatus.Created);
            Say($"Invited {created} of {rows.Length}.", created == rows.Length ? "success" : "warning");
            ManyEmails = null;
        }
        else
        {
            Response.StatusCode = (result.Result as Api.Failure)?.StatusCode ?? 400;
        }
        await LoadAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostResendAsync(long id)
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        Report(await InvitationActions.ResendAsync(this, TenantId, id) is { } sent ? $"Sent again to {sent.Email}." : null);
        return Redirect(ConsoleSetup.LocalPath(Request.Form["back"].ToString(), Here, Here));
    }

    private async Task LoadAsync()
    {
        var status = Enum.TryParse<InvitationStatus>(Status, ignoreCase: false, out var parsed) ? parsed : (InvitationStatus?)null;
        var search = string.IsNullOrWhiteSpace(Search) ? null : Search.Trim();
        var error = (Error, ErrorInfo);
        var result = await InvitationsApi.ListInvitations(TenantId, status, search, After, null, HttpContext, Service<AppDbContext>(),
            Service<IOptions<InvitationOptions>>(), Service<TimeProvider>(), HttpContext.RequestAborted);
        Rows = Answer<UserInvitationModel[]>(result.Result) ?? [];
        Next = TakeNextCursor();
        if (error.Error is not null)
        {
            (Error, ErrorInfo) = error; // the post's own failure comes first
        }
    }

    // As the API reads a role: none is the default, and one that is no role is passed on as such, for the API's own 400.
    internal static MemberRole? ParseRole(string? role) =>
        string.IsNullOrWhiteSpace(role) ? null : StrictEnum.TryParse<MemberRole>(role.Trim(), out var parsed) ? parsed : (MemberRole)(-1);

    public string PageLink(string? after) => QueryString.Create(new KeyValuePair<string, string?>[]
        { new("status", Status), new("email", Search), new("after", after) }.Where(p => !string.IsNullOrEmpty(p.Value))) is var query && query.HasValue ? Here + query : Here;
}
