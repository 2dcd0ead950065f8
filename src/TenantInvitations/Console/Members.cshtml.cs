using Microsoft.AspNetCore.Mvc;
using TenantInvitations.Data;
using TenantInvitations.Members;

namespace TenantInvitations.Console;

// /console/tenants/{tenantId}/members: the members (GET …/admin/user), a role change (PUT …/user/role) and removal with a
// confirmation step (DELETE …/user); the last-Owner refusal is the API's, in its words.
public sealed class MembersModel : ConsolePage
{
    [BindProperty(SupportsGet = true)] public long TenantId { get; set; }
    [BindProperty(SupportsGet = true)] public string? After { get; set; }
    [BindProperty(SupportsGet = true)] public long? Remove { get; set; }

    internal MemberModel[] Rows { get; private set; } = [];
    public string? Next { get; private set; }
    public string Here => $"/console/tenants/{TenantId}/members";

    public async Task OnGetAsync()
    {
        if (await AdmitAsync(Service<AppDbContext>()))
        {
            await LoadAsync();
            await AuditReadAsync();
        }
    }

    public async Task<IActionResult> OnPostRoleAsync(long id, string? role)
    {
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        var result = await MembersApi.ChangeRole(TenantId, id, new ChangeRoleRequest(InvitationsModel.ParseRole(role)), Caller, Service<AppDbContext>(),
            Service<IdGenerator>(), Service<TimeProvider>(), HttpContext.RequestAborted);
        Report(Answer<MemberModel>(result.Result) is { } changed ? $"{changed.Email} is now {Article(changed.Role)}." : null);
        return Redirect(Here);
    }

    // Without confirmed=true this only asks; the question's own Remove button confirms.
    public async Task<IActionResult> OnPostRemoveAsync(long id, bool confirmed)
    {
        if (!confirmed)
        {
            return Redirect($"{Here}?remove={id}{(After is { Length: > 0 } ? $"&after={Uri.EscapeDataString(After)}" : "")}");
        }
        if (!await AdmitAsync(Service<AppDbContext>()))
        {
            return Page();
        }
        var result = await MembersApi.RemoveMember(TenantId, id, Caller, Service<AppDbContext>(), Service<IdGenerator>(), Service<TimeProvider>(),
            HttpContext.RequestAborted);
        Report(Answer<MemberModel>(result.Result) is { } removed ? $"Removed {removed.Email}. They lost access at once." : null);
        return Redirect(Here);
    }

    private async Task LoadAsync()
    {
        var result = await MembersApi.ListMembers(TenantId, After, null, HttpContext, Service<AppDbContext>(), HttpContext.RequestAborted);
        Rows = Answer<MemberModel[]>(result.Result) ?? [];
        Next = TakeNextCursor();
    }

    public static string Article(MemberRole role) => role switch { MemberRole.Owner => "an Owner", MemberRole.Admin => "an Admin", _ => "a Member" };
}
