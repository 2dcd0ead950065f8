using System.Net;

namespace TenantInvitations.Tests;

public sealed record TenantSetup(long Id, string OwnerEmail, string OwnerToken, long OwnerUserId);

public sealed record InvitationSetup(long Id, string Email, string Token);

// Each test makes its own tenants, people and invitations through the API, as a client would.
public static class Scenarios
{
    public static string UniqueEmail(string who = "person") => $"{who}-{Guid.NewGuid():N}@example.test";

    public static async Task<TenantSetup> CreateTenantAsync(this TestApp app, string name = "Acme")
    {
        var ownerEmail = UniqueEmail("owner");
        var created = await app.PostAsync("/tenant", new { name, ownerEmail }, app.PlatformAdminToken);
        var tenantId = created.AssertSuccess(HttpStatusCode.Created).GetProperty("id").GetInt64();
        var invitationEmail = Assert.Single(await app.WaitForEmailAsync(ownerEmail));
        var ownerToken = TestApp.Token($"sub-{ownerEmail}", ownerEmail);
        var accepted = await app.PostAsync("/invitation/accept", new { token = Mailbox.TokenFrom(invitationEmail) }, ownerToken);
        return new TenantSetup(tenantId, ownerEmail, ownerToken, accepted.AssertSuccess().GetProperty("userId").GetInt64());
    }

    // Invites someone and waits for the email, returning the link's token too.
    public static async Task<InvitationSetup> InviteAsync(this TestApp app, TenantSetup tenant, string role = "Member", string? email = null)
    {
        email ??= UniqueEmail();
        var created = await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email, role }, tenant.OwnerToken);
        var id = created.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();
        var message = Assert.Single(await app.WaitForEmailAsync(email));
        return new InvitationSetup(id, email, Mailbox.TokenFrom(message));
    }

    // A member with the given role who has signed in: returns their user id and bearer token.
    public static async Task<(long UserId, string Token, string Email)> AddMemberAsync(this TestApp app, TenantSetup tenant, string role)
    {
        var invitation = await app.InviteAsync(tenant, role);
        var token = TestApp.Token($"sub-{invitation.Email}", invitation.Email);
        var accepted = await app.PostAsync("/invitation/accept", new { token = invitation.Token }, token);
        return (accepted.AssertSuccess().GetProperty("userId").GetInt64(), token, invitation.Email);
    }

    public static string ResendPath(TenantSetup tenant, long id) => $"/tenant/{tenant.Id}/admin/user/invitation/resend?id={id}";
}
