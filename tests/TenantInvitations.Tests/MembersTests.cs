using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Members;

namespace TenantInvitations.Tests;

// Listing members, changing their roles and removing them, with the Owner rules.
public sealed class MembersTests(TestApp app) : IClassFixture<TestApp>
{
    private static string MembersPath(TenantSetup tenant) => $"/tenant/{tenant.Id}/admin/user";
    private static string RolePath(TenantSetup tenant, long userId) => $"/tenant/{tenant.Id}/admin/user/role?id={userId}";
    private static string MemberPath(TenantSetup tenant, long userId) => $"/tenant/{tenant.Id}/admin/user?id={userId}";

    // ---- list ----

    [Fact]
    public async Task List_shows_each_member_longest_standing_first()
    {
        var tenant = await app.CreateTenantAsync();
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        var admin = await app.AddMemberAsync(tenant, "Admin");
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        var member = await app.AddMemberAsync(tenant, "Member");

        var response = await app.GetAsync(MembersPath(tenant), tenant.OwnerToken);

        var items = response.AssertSuccess().EnumerateArray().ToArray();
        Assert.Equal([tenant.OwnerUserId, admin.UserId, member.UserId], Pages.Ids(items, "userId"));
        Assert.All(items, i => Assert.Equal(["displayName", "email", "joinedAt", "role", "userId"], i.EnumerateObject().Select(p => p.Name).Order()));
        Assert.Equal([tenant.OwnerEmail, admin.Email, member.Email], items.Select(i => i.GetProperty("email").GetString()));
        Assert.Equal(["Owner", "Admin", "Member"], items.Select(i => i.GetProperty("role").GetString()));
        Assert.All(items, i => Assert.Equal(JsonValueKind.Null, i.GetProperty("displayName").ValueKind));
        Assert.All(items, i => Assert.EndsWith("Z", i.GetProperty("joinedAt").GetString()));
        var joined = await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters().Where(m => m.TenantId == tenant.Id)
            .OrderBy(m => m.JoinedAt).Select(m => m.JoinedAt).ToListAsync());
        Assert.Equal(joined, items.Select(i => i.GetProperty("joinedAt").GetDateTime().ToUniversalTime()));
        Assert.False(response.Headers.Contains("Link"));
    }

    [Fact]
    public async Task List_pages_with_a_Link_that_works_when_followed()
    {
        var tenant = await app.CreateTenantAsync();
        var userIds = new List<long> { tenant.OwnerUserId };
        for (var i = 0; i < 4; i++)
        {
            userIds.Add((await app.AddMemberAsync(tenant, "Member")).UserId); // at one instant: ties are broken by userId
        }

        var pages = await Pages.ReadAllAsync(app, $"{MembersPath(tenant)}?limit=2", tenant.OwnerToken);

        Assert.Equal([2, 2, 1], pages.Select(p => p.Length));
        Assert.Equal(userIds, Pages.Ids(pages.SelectMany(p => p), "userId"));
    }

    [Theory]
    [InlineData("?limit=0", "The limit must be from 1 to 100.")]
    [InlineData("?limit=101", "The limit must be from 1 to 100.")]
    [InlineData("?after=%%%", "The after cursor is not valid. Use the one from the previous page's Link header.")]
    public async Task List_with_a_bad_query_is_400(string query, string problem)
    {
        var tenant = await app.CreateTenantAsync();

        var response = await app.GetAsync($"{MembersPath(tenant)}{query}", tenant.OwnerToken);

        Assert.Equal([problem], response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
    }

    [Fact]
    public async Task A_Member_may_not_list_members()
    {
        var tenant = await app.CreateTenantAsync();
        var member = await app.AddMemberAsync(tenant, "Member");

        (await app.GetAsync(MembersPath(tenant), member.Token)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
    }

    // ---- change role ----

    [Fact]
    public async Task An_Admin_may_change_a_Member_to_Admin_and_back_and_each_change_is_audited()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = await app.AddMemberAsync(tenant, "Admin");
        var member = await app.AddMemberAsync(tenant, "Member");

        var promoted = await app.PutAsync(RolePath(tenant, member.UserId), admin.Token, new { role = "Admin" });

        var value = promoted.AssertSuccess();
        Assert.Equal(["displayName", "email", "joinedAt", "role", "userId"], value.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal((member.UserId, member.Email, "Admin"), (value.GetProperty("userId").GetInt64(), value.GetProperty("email").GetString(), value.GetProperty("role").GetString()));
        Assert.Equal(MemberRole.Admin, await RoleAsync(tenant, member.UserId));
        // The new Admin may manage at once.
        (await app.GetAsync(MembersPath(tenant), member.Token)).AssertSuccess();

        var demoted = await app.PutAsync(RolePath(tenant, member.UserId), admin.Token, new { role = "Member" });
        Assert.Equal("Member", demoted.AssertSuccess().GetProperty("role").GetString());
        Assert.Equal(MemberRole.Member, await RoleAsync(tenant, member.UserId));
        (await app.GetAsync(MembersPath(tenant), member.Token)).AssertError(HttpStatusCode.Forbidden, "Forbidden");

        var audits = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters()
            .Where(a => a.TenantId == tenant.Id && a.Action == "member.role_changed" && a.TargetId == member.UserId)
            .OrderBy(a => a.Id).ToListAsync());
        Assert.Equal(["Member to Admin", "Admin to Member"], audits.Select(a => a.Details));
        Assert.All(audits, a => Assert.Equal(("member", $"sub-{admin.Email}", admin.Email), (a.TargetType, a.ActorSubject, a.ActorEmail)));
    }

    [Fact]
    public async Task An_Admin_may_not_grant_Owner_or_change_an_Owner()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = await app.AddMemberAsync(tenant, "Admin");
        var member = await app.AddMemberAsync(tenant, "Member");
        var auditsBefore = await AuditCountAsync(tenant);

        (await app.PutAsync(RolePath(tenant, member.UserId), admin.Token, new { role = "Owner" })).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.PutAsync(RolePath(tenant, admin.UserId), admin.Token, new { role = "Owner" })).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.PutAsync(RolePath(tenant, tenant.OwnerUserId), admin.Token, new { role = "Member" })).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.PutAsync(RolePath(tenant, tenant.OwnerUserId), admin.Token, new { role = "Admin" })).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.DeleteAsync(MemberPath(tenant, tenant.OwnerUserId), admin.Token)).AssertError(HttpStatusCode.Forbidden, "Forbidden");

        Assert.Equal(MemberRole.Member, await RoleAsync(tenant, member.UserId));
        Assert.Equal(MemberRole.Admin, await RoleAsync(tenant, admin.UserId));
        Assert.Equal(MemberRole.Owner, await RoleAsync(tenant, tenant.OwnerUserId));
        Assert.Equal(auditsBefore, await AuditCountAsync(tenant));
    }

    [Fact]
    public async Task An_Owner_may_grant_Owner_and_change_another_Owners_role()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = await app.AddMemberAsync(tenant, "Admin");

        var granted = await app.PutAsync(RolePath(tenant, admin.UserId), tenant.OwnerToken, new { role = "Owner" });
        Assert.Equal("Owner", granted.AssertSuccess().GetProperty("role").GetString());
        Assert.Equal(MemberRole.Owner, await RoleAsync(tenant, admin.UserId));

        var changed = await app.PutAsync(RolePath(tenant, admin.UserId), tenant.OwnerToken, new { role = "Admin" });
        Assert.Equal("Admin", changed.AssertSuccess().GetProperty("role").GetString());
        Assert.Equal(MemberRole.Admin, await RoleAsync(tenant, admin.UserId));
        var audits = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters()
            .Where(a => a.TenantId == tenant.Id && a.Action == "member.role_changed" && a.TargetId == admin.UserId).OrderBy(a => a.Id).Select(a => a.Details).ToListAsync());
        Assert.Equal(["Admin to Owner", "Owner to Admin"], audits);
    }

    [Fact]
    public async Task An_Owner_may_remove_another_Owner()
    {
        var tenant = await app.CreateTenantAsync();
        var second = await AddOwnerAsync(tenant);

        (await app.DeleteAsync(MemberPath(tenant, second.UserId), tenant.OwnerToken)).AssertSuccess();

        Assert.Null(await RoleAsync(tenant, second.UserId));
    }

    [Fact]
    public async Task With_two_Owners_one_can_be_demoted_and_then_the_other_is_the_last()
    {
        var tenant = await app.CreateTenantAsync();
        var second = await AddOwnerAsync(tenant);

        var demoted = await app.PutAsync(RolePath(tenant, tenant.OwnerUserId), app.PlatformAdminToken, new { role = "Member" });
        Assert.Equal("Member", demoted.AssertSuccess().GetProperty("role").GetString());
        Assert.Equal(MemberRole.Member, await RoleAsync(tenant, tenant.OwnerUserId));

        var last = await app.PutAsync(RolePath(tenant, second.UserId), app.PlatformAdminToken, new { role = "Admin" });
        last.AssertError(HttpStatusCode.Conflict, "LastOwner");
        Assert.Equal(MemberRole.Owner, await RoleAsync(tenant, second.UserId));
    }

    [Fact]
    public async Task With_two_Owners_one_can_be_removed_and_then_the_other_is_the_last()
    {
        var tenant = await app.CreateTenantAsync();
        var second = await AddOwnerAsync(tenant);

        (await app.DeleteAsync(MemberPath(tenant, second.UserId), app.PlatformAdminToken)).AssertSuccess();
        (await app.DeleteAsync(MemberPath(tenant, tenant.OwnerUserId), app.PlatformAdminToken)).AssertError(HttpStatusCode.Conflict, "LastOwner");

        Assert.Null(await RoleAsync(tenant, second.UserId));
        Assert.Equal(MemberRole.Owner, await RoleAsync(tenant, tenant.OwnerUserId));
    }

    [Fact]
    public async Task Demoting_or_removing_the_last_Owner_is_409_LastOwner()
    {
        var tenant = await app.CreateTenantAsync();
        var auditsBefore = await AuditCountAsync(tenant);

        foreach (var role in new[] { "Admin", "Member" })
        {
            var response = await app.PutAsync(RolePath(tenant, tenant.OwnerUserId), app.PlatformAdminToken, new { role });
            Assert.Empty(response.AssertError(HttpStatusCode.Conflict, "LastOwner").ErrorInfo);
        }
        (await app.DeleteAsync(MemberPath(tenant, tenant.OwnerUserId), app.PlatformAdminToken)).AssertError(HttpStatusCode.Conflict, "LastOwner");

        Assert.Equal(MemberRole.Owner, await RoleAsync(tenant, tenant.OwnerUserId));
        Assert.Equal(auditsBefore, await AuditCountAsync(tenant));
    }

    [Fact]
    public async Task The_last_Owner_may_not_demote_or_remove_themselves()
    {
        var tenant = await app.CreateTenantAsync();

        (await app.PutAsync(RolePath(tenant, tenant.OwnerUserId), tenant.OwnerToken, new { role = "Admin" })).AssertError(HttpStatusCode.Conflict, "LastOwner");
        (await app.DeleteAsync(MemberPath(tenant, tenant.OwnerUserId), tenant.OwnerToken)).AssertError(HttpStatusCode.Conflict, "LastOwner");

        Assert.Equal(MemberRole.Owner, await RoleAsync(tenant, tenant.OwnerUserId));
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"role":null}""")]
    public async Task Change_role_without_a_role_is_400(string body)
    {
        var tenant = await app.CreateTenantAsync();
        var member = await app.AddMemberAsync(tenant, "Member");

        var response = await app.SendAsync(HttpMethod.Put, RolePath(tenant, member.UserId), tenant.OwnerToken, rawBody: body);

        Assert.Equal(["The role field is required and must be Owner, Admin or Member."],
            response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
    }

    [Fact]
    public async Task Change_role_to_an_unknown_role_is_400()
    {
        var tenant = await app.CreateTenantAsync();
        var member = await app.AddMemberAsync(tenant, "Member");

        var response = await app.PutAsync(RolePath(tenant, member.UserId), tenant.OwnerToken, new { role = "Superuser" });

        response.AssertError(HttpStatusCode.BadRequest, "ValidationError");
        Assert.Equal(MemberRole.Member, await RoleAsync(tenant, member.UserId));
    }

    // ---- remove ----

    [Fact]
    public async Task Removing_an_Admin_takes_away_their_access_at_once_and_is_audited()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = await app.AddMemberAsync(tenant, "Admin");
        (await app.GetAsync(MembersPath(tenant), admin.Token)).AssertSuccess();

        var response = await app.DeleteAsync(MemberPath(tenant, admin.UserId), tenant.OwnerToken);

        var value = response.AssertSuccess();
        Assert.Equal((admin.UserId, admin.Email, "Admin"), (value.GetProperty("userId").GetInt64(), value.GetProperty("email").GetString(), value.GetProperty("role").GetString()));
        Assert.Null(await RoleAsync(tenant, admin.UserId));
        (await app.GetAsync(MembersPath(tenant), admin.Token)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = Scenarios.UniqueEmail() }, admin.Token))
            .AssertError(HttpStatusCode.Forbidden, "Forbidden");
        Assert.DoesNotContain(admin.UserId, Pages.Ids((await app.GetAsync(MembersPath(tenant), tenant.OwnerToken)).AssertSuccess().EnumerateArray(), "userId"));

        var audit = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters()
            .SingleAsync(a => a.TenantId == tenant.Id && a.Action == "member.removed" && a.TargetId == admin.UserId));
        Assert.Equal(("member", "was Admin", $"sub-{tenant.OwnerEmail}"), (audit.TargetType, audit.Details, audit.ActorSubject));
        // The user still exists; only the membership is gone.
        Assert.True(await app.QueryAsync(db => db.Users.AnyAsync(u => u.Id == admin.UserId)));
    }

    [Fact]
    public async Task An_Admin_may_remove_a_Member()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = await app.AddMemberAsync(tenant, "Admin");
        var member = await app.AddMemberAsync(tenant, "Member");

        (await app.DeleteAsync(MemberPath(tenant, member.UserId), admin.Token)).AssertSuccess();

        Assert.Null(await RoleAsync(tenant, member.UserId));
    }

    [Fact]
    public async Task Unknown_or_other_tenants_member_is_404_and_nothing_changes()
    {
        var tenant = await app.CreateTenantAsync();
        var other = await app.CreateTenantAsync();
        var otherMember = await app.AddMemberAsync(other, "Member");
        var auditsBefore = await AuditCountAsync(other);

        foreach (var userId in new[] { 987654321L, otherMember.UserId, other.OwnerUserId })
        {
            (await app.PutAsync(RolePath(tenant, userId), tenant.OwnerToken, new { role = "Admin" })).AssertError(HttpStatusCode.NotFound, "NotFound");
            (await app.DeleteAsync(MemberPath(tenant, userId), tenant.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        }
        // A platform admin is scoped by the path too.
        (await app.DeleteAsync(MemberPath(tenant, otherMember.UserId), app.PlatformAdminToken)).AssertError(HttpStatusCode.NotFound, "NotFound");

        Assert.Equal(MemberRole.Member, await RoleAsync(other, otherMember.UserId));
        Assert.Equal(MemberRole.Owner, await RoleAsync(other, other.OwnerUserId));
        Assert.Equal(auditsBefore, await AuditCountAsync(other));
    }

    [Fact]
    public async Task A_Member_may_not_change_roles_or_remove_anyone()
    {
        var tenant = await app.CreateTenantAsync();
        var member = await app.AddMemberAsync(tenant, "Member");
        var other = await app.AddMemberAsync(tenant, "Member");

        (await app.PutAsync(RolePath(tenant, member.UserId), member.Token, new { role = "Admin" })).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.DeleteAsync(MemberPath(tenant, other.UserId), member.Token)).AssertError(HttpStatusCode.Forbidden, "Forbidden");

        Assert.Equal(MemberRole.Member, await RoleAsync(tenant, member.UserId));
        Assert.Equal(MemberRole.Member, await RoleAsync(tenant, other.UserId));
    }

    // A second Owner, invited by the platform admin so the setup does not depend on the Owner rules under test.
    private async Task<(long UserId, string Token)> AddOwnerAsync(TenantSetup tenant)
    {
        var email = Scenarios.UniqueEmail("owner");
        (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email, role = "Owner" }, app.PlatformAdminToken)).AssertSuccess(HttpStatusCode.Created);
        var token = TestApp.Token($"sub-{email}", email);
        var accepted = await app.PostAsync("/invitation/accept", new { token = Mailbox.TokenFrom(Assert.Single(await app.Mail.WaitForAsync(email))) }, token);
        return (accepted.AssertSuccess().GetProperty("userId").GetInt64(), token);
    }

    private Task<MemberRole?> RoleAsync(TenantSetup tenant, long userId) => app.QueryAsync(db => db.Memberships.IgnoreQueryFilters()
        .Where(m => m.TenantId == tenant.Id && m.UserId == userId).Select(m => (MemberRole?)m.Role).SingleOrDefaultAsync());

    private Task<int> AuditCountAsync(TenantSetup tenant) =>
        app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TenantId == tenant.Id));
}
