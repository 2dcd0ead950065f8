using System.Net;
using Microsoft.EntityFrameworkCore;

namespace TenantInvitations.Tests;

// Get, create and resend read the caller's role in their own compiled query (two lookups written out in each); the list
// reads it in the group filter (TenantAdmin.MatchAsync). The same callers get the same answers from all four.
public sealed class RoleLookupTests(TestApp app) : IClassFixture<TestApp>
{
    private static readonly string[] Paths = ["get", "create", "resend", "list"];

    private async Task<ApiResponse> CallAsync(string path, TenantSetup tenant, string bearer)
    {
        var invitations = $"/tenant/{tenant.Id}/admin/user/invitation";
        switch (path)
        {
            case "get":
                return await app.GetAsync($"{invitations}/{(await app.InviteAsync(tenant)).Id}", bearer);
            case "create":
                return await app.PostAsync(invitations, new { email = Scenarios.UniqueEmail("lookup") }, bearer);
            case "resend":
                var invitation = await app.InviteAsync(tenant);
                app.Clock.Advance(TimeSpan.FromMinutes(2));
                return await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), bearer);
            default:
                return await app.GetAsync(invitations, bearer);
        }
    }

    // Joined through the link without signing in: the user has an email and no sub until a sign-in with that email.
    private async Task<(string Email, long UserId)> JoinByLinkAsync(TenantSetup tenant, string role)
    {
        var invited = await app.InviteAsync(tenant, role);
        var accepted = await app.PostAsync("/invitation/accept", new { token = invited.Token });
        return (invited.Email, accepted.AssertSuccess().GetProperty("userId").GetInt64());
    }

    private Task<string?> SubjectOfAsync(long userId) =>
        app.QueryAsync(db => db.Users.Where(u => u.Id == userId).Select(u => u.Subject).SingleAsync());

    [Theory]
    [MemberData(nameof(EachPath))]
    public async Task An_admin_who_joined_by_link_is_admitted_by_email_and_the_sign_in_is_linked(string path)
    {
        var tenant = await app.CreateTenantAsync();
        var (email, userId) = await JoinByLinkAsync(tenant, "Admin");
        Assert.Null(await SubjectOfAsync(userId));
        var bearer = TestApp.Token($"sub-{email}", email);

        var response = await CallAsync(path, tenant, bearer);

        response.AssertSuccess(path == "create" ? HttpStatusCode.Created : HttpStatusCode.OK);
        Assert.Equal($"sub-{email}", await SubjectOfAsync(userId));
        // Linked: the next call finds the role by sub.
        (await CallAsync(path, tenant, bearer)).AssertSuccess(path == "create" ? HttpStatusCode.Created : HttpStatusCode.OK);
    }

    [Theory]
    [MemberData(nameof(EachPath))]
    public async Task A_member_who_joined_by_link_is_refused_and_the_sign_in_is_linked_all_the_same(string path)
    {
        var tenant = await app.CreateTenantAsync();
        var (email, userId) = await JoinByLinkAsync(tenant, "Member");
        var bearer = TestApp.Token($"sub-{email}", email);

        var response = await CallAsync(path, tenant, bearer);

        Assert.Equal("You may not manage invitations in this tenant.",
            response.AssertError(HttpStatusCode.Forbidden, "Forbidden").Json.GetProperty("error").GetProperty("message").GetString());
        // The sign-in is theirs (a verified email of a user with no sub), whatever this endpoint allows them.
        Assert.Equal($"sub-{email}", await SubjectOfAsync(userId));
    }

    [Theory]
    [MemberData(nameof(EachPath))]
    public async Task Roles_are_read_in_the_named_tenant_only(string path)
    {
        var tenant = await app.CreateTenantAsync();
        var other = await app.CreateTenantAsync();

        // The other tenant's Owner: a member by sub and by email, but not of this tenant.
        var response = await CallAsync(path, tenant, other.OwnerToken);

        response.AssertError(HttpStatusCode.Forbidden, "Forbidden");
    }

    public static TheoryData<string> EachPath() => [.. Paths];
}
