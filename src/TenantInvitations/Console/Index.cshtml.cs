using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using TenantInvitations.Data;
using TenantInvitations.Email;
using TenantInvitations.Invitations;
using TenantInvitations.Tenants;

namespace TenantInvitations.Console;

// GET /console: the person's tenants (GET /me/tenants); a platform admin sees every tenant (GET /tenant) and creates one (POST /tenant).
public sealed class IndexModel : ConsolePage
{
    internal MyTenantModel[] Mine { get; private set; } = [];
    internal TenantModel[] All { get; private set; } = [];
    public string? Next { get; private set; }

    [BindProperty(SupportsGet = true)] public string? After { get; set; }
    [BindProperty] public string? TenantName { get; set; }
    [BindProperty] public string? OwnerEmail { get; set; }

    public async Task OnGetAsync() => await LoadAsync();

    public async Task<IActionResult> OnPostCreateAsync()
    {
        if (!Caller.IsPlatformAdmin)
        {
            Refuse(Api.Failure.Forbidden("Only a platform admin may create a tenant."));
            return Page();
        }
        var result = await TenantsApi.CreateTenant(new CreateTenantRequest(TenantName, OwnerEmail), Caller, Service<AppDbContext>(), Service<IdGenerator>(),
            Service<EmailOutbox>(), Service<IOptions<InvitationOptions>>(), Service<TimeProvider>(), HttpContext.RequestAborted);
        if (Answer<TenantModel>(result.Result) is { } created)
        {
            Tell($"Created {created.Name}. The Owner invitation to {OwnerEmail!.Trim()} is on its way.");
            return Redirect($"/console/tenants/{created.Id}/invitations");
        }
        Response.StatusCode = StatusCodes.Status400BadRequest;
        await LoadAsync();
        return Page();
    }

    private async Task LoadAsync()
    {
        var db = Service<AppDbContext>();
        Mine = Answer<MyTenantModel[]>((await TenantsApi.MyTenants(Caller, db, Service<IdGenerator>(), Service<TimeProvider>(), HttpContext.RequestAborted))) ?? [];
        if (Caller.IsPlatformAdmin)
        {
            All = Answer<TenantModel[]>((await TenantsApi.ListTenants(After, null, HttpContext, db, HttpContext.RequestAborted)).Result) ?? [];
            Next = TakeNextCursor();
        }
    }
}
