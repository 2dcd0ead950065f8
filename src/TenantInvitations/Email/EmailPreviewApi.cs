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
    // The preview's link opens the accept page without any token (it says the link doesn't work): nothing in a response
    // should even look like an accept link with a token.
    public const string PreviewPath = "accept?preview";

    public static void MapEmailPreview(this IEndpointRouteBuilder app) =>
        app.MapTenantAdminGroup("/tenant/{tenantId}/admin/user/invitation").WithTags("Invitations")
            .MapGet("/{id}/email", PreviewEmail).WithName("PreviewInvitationEmail").ProducesFailures(404)
            .WithSummary("Renders the email the invitee would get, without sending it")
            .WithDescription("The link is a placeholder without a token (`/accept?preview`); the real email carries the invitation's link.");

    internal static async Task<Results<Ok<Envelope<EmailPreviewModel>>, Failure>> PreviewEmail(
        long tenantId, long id, AppDbContext db, InvitationEmailRenderer renderer, IOptions<AppOptions> app, CancellationToken cancellationToken)
    {
        var found = await db.Invitations.AsNoTracking().Where(i => i.Id == id)
            .Join(db.Tenants, i => i.TenantId, t => t.Id, (i, t) => new { Invitation = i, Tenant = t })
            .FirstOrDefaultAsync(cancellationToken);
        if (found is null)
        {
            return Failure.NotFound("The invitation");
        }
        var email = await renderer.RenderAsync(InvitationEmailContent.For(found.Invitation, found.Tenant, new Uri(app.Value.BaseUri, PreviewPath).ToString()));
        return ApiResults.Ok(new EmailPreviewModel(email.Subject, email.Html, email.Text, email.Locale));
    }
}
