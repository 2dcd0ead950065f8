using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TenantInvitations.Api;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Invitations;

namespace TenantInvitations.Email;

internal sealed record EmailPreviewModel(string Subject, string Html, string Text, string Locale);

internal static class EmailPreviewApi
{
    // Stands in for the real token, which is never stored in a readable form.
    public const string PreviewToken = "preview-token-not-a-real-link";

    public static void MapEmailPreview(this IEndpointRouteBuilder app) =>
        app.MapTenantAdminGroup("/tenant/{tenantId}/admin/user/invitation").WithTags("Invitations")
            .MapGet("/{id}/email", PreviewEmail).WithName("PreviewInvitationEmail").ProducesFailures(404)
            .WithSummary("Renders the email the invitee would get, without sending it")
            .WithDescription("The link carries a placeholder, not the real token.");

    private static async Task<Results<Ok<Envelope<EmailPreviewModel>>, Failure>> PreviewEmail(
        long tenantId, long id, AppDbContext db, InvitationEmailRenderer renderer, IOptions<AppOptions> app, CancellationToken cancellationToken)
    {
        var found = await db.Invitations.AsNoTracking().Where(i => i.Id == id)
            .Join(db.Tenants, i => i.TenantId, t => t.Id, (i, t) => new { Invitation = i, Tenant = t })
            .FirstOrDefaultAsync(cancellationToken);
        if (found is null)
        {
            return Failure.NotFound("The invitation");
        }
        var email = await renderer.RenderAsync(InvitationEmailContent.For(found.Invitation, found.Tenant, app.Value.AcceptLink(PreviewToken)));
        return ApiResults.Ok(new EmailPreviewModel(email.Subject, email.Html, email.Text, email.Locale));
    }
}
