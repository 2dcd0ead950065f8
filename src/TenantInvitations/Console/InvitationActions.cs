using Microsoft.Extensions.Options;
using TenantInvitations.Data;
using TenantInvitations.Email;
using TenantInvitations.Invitations;

namespace TenantInvitations.Console;

// Resend and revoke from the table and from one invitation's page: the API's handlers, their refusals shown on the page.
internal static class InvitationActions
{
    public static async Task<UserInvitationModel?> ResendAsync(ConsolePage page, long tenantId, long id)
    {
        var result = await ResendInvitation.Handle(tenantId, id, page.Caller, page.HttpContext, page.Service<AppDbContext>(), page.Service<IdGenerator>(),
            page.Service<EmailOutbox>(), page.Service<IOptions<InvitationOptions>>(), page.Service<TimeProvider>(), page.HttpContext.RequestAborted);
        return page.Answer<UserInvitationModel[]>(result.Result) is [var sent] ? sent : null;
    }

    public static async Task<UserInvitationModel?> RevokeAsync(ConsolePage page, long tenantId, long id)
    {
        var result = await InvitationsApi.RevokeInvitation(tenantId, id, page.Caller, page.Service<AppDbContext>(), page.Service<IdGenerator>(),
            page.Service<IOptions<InvitationOptions>>(), page.Service<TimeProvider>(), page.HttpContext.RequestAborted);
        return page.Answer<UserInvitationModel[]>(result.Result) is [var revoked] ? revoked : null;
    }
}
