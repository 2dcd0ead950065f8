using System.Net;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using TenantInvitations.Email;
using TenantInvitations.Invitations;
using TenantInvitations.Members;

namespace TenantInvitations.Tests;

// Tenants (create, read, mine), their settings, the audit trail, invitation history and the email preview.
public sealed class TenantsTests(TestApp app) : IClassFixture<TestApp>
{
    private DateTime Now => app.Clock.GetUtcNow().UtcDateTime;

    private static string SettingsPath(TenantSetup tenant) => $"/tenant/{tenant.Id}/admin/settings";
    private static string InvitationsPath(TenantSetup tenant) => $"/tenant/{tenant.Id}/admin/user/invitation";

    // ---- POST /tenant ----

    [Fact]
    public async Task Platform_admin_creates_a_tenant_and_its_Owner_invitation_is_queued()
    {
        var name = $"Stark Industries {Guid.NewGuid():N}";
        var ownerEmail = Scenarios.UniqueEmail("owner");
        var now = Now;

        var response = await app.PostAsync("/tenant", new { name, ownerEmail }, app.PlatformAdminToken);

        var value = response.AssertSuccess(HttpStatusCode.Created);
        Assert.Equal(["createdAt", "id", "name"], value.EnumerateObject().Select(p => p.Name).Order());
        var id = value.GetProperty("id").GetInt64();
        Assert.True(id > 0);
        Assert.Equal(name, value.GetProperty("name").GetString());
        Assert.Equal(now, value.GetProperty("createdAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        Assert.EndsWith("Z", value.GetProperty("createdAt").GetString());
        Assert.Equal($"/tenant/{id}", response.Headers.Location?.OriginalString);
        (await app.GetAsync($"/tenant/{id}", app.PlatformAdminToken)).AssertSuccess();

        var invitation = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleAsync(i => i.TenantId == id));
        Assert.Equal((ownerEmail, MemberRole.Owner, InvitationStatus.Pending, "root@platform.test"),
            (invitation.Email, invitation.Role, invitation.Status, invitation.InvitedBy));
        var message = Assert.Single(await app.Mail.WaitForAsync(ownerEmail));
        Assert.Contains($"join {name} as an Owner", message.TextBody);
        // Nobody is a member until the Owner accepts.
        Assert.False(await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters().AnyAsync(m => m.TenantId == id)));
        var accepted = await app.PostAsync("/invitation/accept", new { token = Mailbox.TokenFrom(message) }, TestApp.Token("sub-new-owner", ownerEmail));
        Assert.Equal("Owner", accepted.AssertSuccess().GetProperty("role").GetString());
        var audit = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().SingleAsync(a => a.TenantId == id && a.Action == "tenant.created"));
        Assert.True(audit.ActorIsPlatformAdmin);
    }

    [Fact]
    public async Task Only_a_platform_admin_may_create_a_tenant()
    {
        var tenant = await app.CreateTenantAsync();
        var name = $"Not allowed {Guid.NewGuid():N}";

        (await app.PostAsync("/tenant", new { name, ownerEmail = Scenarios.UniqueEmail() }, tenant.OwnerToken)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        var anonymous = await app.PostAsync("/tenant", new { name, ownerEmail = Scenarios.UniqueEmail() });
        anonymous.AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.Single().Scheme);

        Assert.False(await app.QueryAsync(db => db.Tenants.AnyAsync(t => t.Name == name)));
    }

    [Theory]
    [InlineData("""{"ownerEmail":"EMAIL"}""", "The name field is required.")]
    [InlineData("""{"name":"   ","ownerEmail":"EMAIL"}""", "The name field is required.")]
    [InlineData("""{"name":"LONG","ownerEmail":"EMAIL"}""", "The name field must be at most 200 characters.")]
    [InlineData("""{"name":"Line\nbreak","ownerEmail":"EMAIL"}""", "The name field must not contain line breaks or control characters.")]
    [InlineData("""{"name":"NAME"}""", "The ownerEmail field is required.")]
    [InlineData("""{"name":"NAME","ownerEmail":"not-an-email"}""", "The ownerEmail field must be a valid email address, such as someone@example.com.")]
    [InlineData("""{"name":"NAME","ownerEmail":"a@b.test\r\nBcc: x@y.test"}""", "The ownerEmail field must not contain spaces, line breaks, invisible or control characters.")]
    public async Task Create_tenant_with_an_invalid_field_is_400_and_creates_nothing(string body, string problem)
    {
        var name = $"Invalid {Guid.NewGuid():N}";
        var email = Scenarios.UniqueEmail();
        body = body.Replace("EMAIL", email, StringComparison.Ordinal).Replace("NAME", name, StringComparison.Ordinal)
            .Replace("LONG", new string('n', 201), StringComparison.Ordinal);

        var response = await app.SendAsync(HttpMethod.Post, "/tenant", app.PlatformAdminToken, rawBody: body);

        Assert.Equal([problem], response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
        Assert.False(await app.QueryAsync(db => db.Tenants.AnyAsync(t => t.Name == name || t.Name.Length > 200)));
        Assert.False(await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AnyAsync(i => i.Email == email)));
    }

    [Fact]
    public async Task Name_of_exactly_200_characters_is_accepted()
    {
        var name = new string('n', 168) + Guid.NewGuid().ToString("N");

        var response = await app.PostAsync("/tenant", new { name, ownerEmail = Scenarios.UniqueEmail() }, app.PlatformAdminToken);

        Assert.Equal(name, response.AssertSuccess(HttpStatusCode.Created).GetProperty("name").GetString());
    }

    // ---- GET /tenant/{id} and /me/tenants ----

    [Fact]
    public async Task A_member_can_read_the_tenant_and_a_non_member_cannot()
    {
        var tenant = await app.CreateTenantAsync("Wayne Enterprises");
        var member = await app.AddMemberAsync(tenant, "Member");
        var outsider = await app.CreateTenantAsync();

        var response = await app.GetAsync($"/tenant/{tenant.Id}", member.Token);

        var value = response.AssertSuccess();
        Assert.Equal(["createdAt", "id", "name"], value.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal((tenant.Id, "Wayne Enterprises"), (value.GetProperty("id").GetInt64(), value.GetProperty("name").GetString()));
        Assert.Equal(value.GetRawText(), (await app.GetAsync($"/tenant/{tenant.Id}", tenant.OwnerToken)).AssertSuccess().GetRawText());
        Assert.Equal(value.GetRawText(), (await app.GetAsync($"/tenant/{tenant.Id}", app.PlatformAdminToken)).AssertSuccess().GetRawText());
        (await app.GetAsync($"/tenant/{tenant.Id}", outsider.OwnerToken)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.GetAsync($"/tenant/{tenant.Id}", TestApp.Token("sub-nobody", Scenarios.UniqueEmail()))).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.GetAsync($"/tenant/{tenant.Id}")).AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
    }

    [Fact]
    public async Task A_platform_admin_gets_404_for_a_tenant_that_does_not_exist()
    {
        (await app.GetAsync("/tenant/987654321", app.PlatformAdminToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        (await app.GetAsync("/tenant/987654321/admin/settings", app.PlatformAdminToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        (await app.GetAsync("/tenant/0", app.PlatformAdminToken)).AssertError(HttpStatusCode.BadRequest, "ValidationError");
    }

    [Fact]
    public async Task Me_tenants_lists_the_callers_memberships()
    {
        var first = await app.CreateTenantAsync("First Co");
        var second = await app.CreateTenantAsync("Second Co");
        await app.CreateTenantAsync("Not Mine");
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        var member = await app.AddMemberAsync(first, "Member");
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        var again = await InviteExistingAddressAsync(second, member.Email, "Admin");
        (await app.PostAsync("/invitation/accept", new { token = again }, member.Token)).AssertSuccess();

        var response = await app.GetAsync("/me/tenants", member.Token);

        var items = response.AssertSuccess().EnumerateArray().ToArray();
        Assert.All(items, i => Assert.Equal(["joinedAt", "role", "tenantId", "tenantName"], i.EnumerateObject().Select(p => p.Name).Order()));
        Assert.Equal([first.Id, second.Id], Pages.Ids(items, "tenantId"));
        Assert.Equal(["First Co", "Second Co"], items.Select(i => i.GetProperty("tenantName").GetString()));
        Assert.Equal(["Member", "Admin"], items.Select(i => i.GetProperty("role").GetString()));

        Assert.Empty((await app.GetAsync("/me/tenants", TestApp.Token("sub-nobody", Scenarios.UniqueEmail()))).AssertSuccess().EnumerateArray());
        (await app.GetAsync("/me/tenants")).AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
    }

    [Fact]
    public async Task Me_tenants_includes_a_membership_joined_by_link_before_the_first_sign_in()
    {
        var tenant = await app.CreateTenantAsync("Linked Co");
        var invitation = await app.InviteAsync(tenant);
        (await app.PostAsync("/invitation/accept", new { token = invitation.Token })).AssertSuccess();

        var response = await app.GetAsync("/me/tenants", TestApp.Token($"sub-{Guid.NewGuid():N}", invitation.Email));

        var item = Assert.Single(response.AssertSuccess().EnumerateArray());
        Assert.Equal((tenant.Id, "Member"), (item.GetProperty("tenantId").GetInt64(), item.GetProperty("role").GetString()));
    }

    // ---- settings ----

    // The quota protects inboxes from the tenant's own admins: lowering or keeping it is theirs, raising it past the
    // service's default (1,000) is a platform admin's, and every change of it is in the audit trail.
    [Fact]
    public async Task Only_a_platform_admin_may_raise_the_email_quota_above_the_default_and_each_change_is_audited()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = await app.AddMemberAsync(tenant, "Admin");

        var raisedByOwner = await app.PutAsync(SettingsPath(tenant), tenant.OwnerToken, new { emailsPerHour = 1001 });
        var raisedByAdmin = await app.PutAsync(SettingsPath(tenant), admin.Token, new { emailsPerHour = 1_000_000 });
        var raisedByPlatform = await app.PutAsync(SettingsPath(tenant), app.PlatformAdminToken, new { emailsPerHour = 5000 });
        var keptByAdmin = await app.PutAsync(SettingsPath(tenant), admin.Token, new { emailsPerHour = 5000, displayName = "Kept" });
        var loweredByAdmin = await app.PutAsync(SettingsPath(tenant), admin.Token, new { emailsPerHour = 10 });

        raisedByOwner.AssertError(HttpStatusCode.Forbidden, "Forbidden");
        raisedByAdmin.AssertError(HttpStatusCode.Forbidden, "Forbidden");
        Assert.Equal(5000, raisedByPlatform.AssertSuccess().GetProperty("emailsPerHour").GetInt32());
        Assert.Equal(5000, keptByAdmin.AssertSuccess().GetProperty("emailsPerHour").GetInt32());
        Assert.Equal(10, loweredByAdmin.AssertSuccess().GetProperty("emailsPerHour").GetInt32());
        var details = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters()
            .Where(a => a.TenantId == tenant.Id && a.Action == "settings.updated").OrderBy(a => a.Id).Select(a => a.Details).ToListAsync());
        Assert.Equal(["emailsPerHour default to 5000", null, "emailsPerHour 5000 to 10"], details);
    }

    [Fact]
    public async Task Settings_round_trip()
    {
        var tenant = await app.CreateTenantAsync("Round Trip Ltd");
        var defaults = (await app.GetAsync(SettingsPath(tenant), tenant.OwnerToken)).AssertSuccess();
        Assert.Equal("Round Trip Ltd", defaults.GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, defaults.GetProperty("displayName").ValueKind);
        Assert.Equal(JsonValueKind.Null, defaults.GetProperty("replyTo").ValueKind);
        Assert.Equal("en", defaults.GetProperty("defaultLocale").GetString());
        Assert.Equal(7, defaults.GetProperty("invitationValidityDays").GetInt32());
        Assert.Empty(defaults.GetProperty("allowedEmailDomains").EnumerateArray());
        Assert.Equal(1000, defaults.GetProperty("emailsPerHour").GetInt32());

        var put = await app.PutAsync(SettingsPath(tenant), tenant.OwnerToken, new
        {
            displayName = "Round Trip",
            replyTo = "help@roundtrip.test",
            defaultLocale = "de",
            invitationValidityDays = 12,
            allowedEmailDomains = new[] { "roundtrip.test", "Example.TEST" },
            emailsPerHour = 250,
        });

        var saved = put.AssertSuccess();
        Assert.Equal("Round Trip Ltd", saved.GetProperty("name").GetString());
        Assert.Equal("Round Trip", saved.GetProperty("displayName").GetString());
        Assert.Equal("help@roundtrip.test", saved.GetProperty("replyTo").GetString());
        Assert.Equal("de", saved.GetProperty("defaultLocale").GetString());
        Assert.Equal(12, saved.GetProperty("invitationValidityDays").GetInt32());
        Assert.Equal(["roundtrip.test", "example.test"], saved.GetProperty("allowedEmailDomains").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal(250, saved.GetProperty("emailsPerHour").GetInt32());
        var read = (await app.GetAsync(SettingsPath(tenant), tenant.OwnerToken)).AssertSuccess();
        Assert.Equal(saved.GetRawText(), read.GetRawText());
        Assert.Equal(1, await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TenantId == tenant.Id && a.Action == "settings.updated")));

        // A PUT replaces everything: what is left out returns to its default.
        var cleared = (await app.PutAsync(SettingsPath(tenant), tenant.OwnerToken, new { })).AssertSuccess();
        Assert.Equal(defaults.GetRawText(), cleared.GetRawText());
    }

    [Fact]
    public async Task Settings_are_for_Owners_and_Admins_only()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = await app.AddMemberAsync(tenant, "Admin");
        var member = await app.AddMemberAsync(tenant, "Member");

        (await app.GetAsync(SettingsPath(tenant), admin.Token)).AssertSuccess();
        Assert.Equal("By Admin", (await app.PutAsync(SettingsPath(tenant), admin.Token, new { displayName = "By Admin" })).AssertSuccess().GetProperty("displayName").GetString());
        (await app.GetAsync(SettingsPath(tenant), member.Token)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.PutAsync(SettingsPath(tenant), member.Token, new { displayName = "By Member" })).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.GetAsync(SettingsPath(tenant))).AssertError(HttpStatusCode.Unauthorized, "Unauthorized");

        Assert.Equal("By Admin", await app.QueryAsync(db => db.Tenants.Where(t => t.Id == tenant.Id).Select(t => t.DisplayName).SingleAsync()));
    }

    [Fact]
    public async Task Hourly_email_quota_refuses_create_and_resend_until_the_oldest_email_leaves_the_hour()
    {
        var tenant = await app.CreateTenantAsync(); // its Owner invitation is email 1 of the hour
        (await app.PutAsync(SettingsPath(tenant), tenant.OwnerToken, new { emailsPerHour = 2 })).AssertSuccess();
        app.Clock.Advance(TimeSpan.FromMinutes(10));
        var second = await app.InviteAsync(tenant);

        var third = Scenarios.UniqueEmail();
        var refused = await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = third }, tenant.OwnerToken);
        refused.AssertError(HttpStatusCode.TooManyRequests, "RateLimited");
        Assert.Equal(TimeSpan.FromMinutes(50), refused.Headers.RetryAfter?.Delta);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        (await app.PutAsync(Scenarios.ResendPath(tenant, second.Id), tenant.OwnerToken)).AssertError(HttpStatusCode.TooManyRequests, "RateLimited");
        Assert.Empty(app.Mail.To(third));
        Assert.Equal(0, await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().CountAsync(i => i.NormalizedEmail == third)));

        app.Clock.Advance(TimeSpan.FromMinutes(48));
        (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = third }, tenant.OwnerToken)).AssertSuccess(HttpStatusCode.Created);
    }

    [Theory]
    [InlineData("""{"displayName":"LONG"}""", "The displayName field must be at most 200 characters.")]
    [InlineData("""{"displayName":"Two\nlines"}""", "The displayName field must not contain line breaks or control characters.")]
    [InlineData("""{"replyTo":"not-an-email"}""", "The replyTo field must be a valid email address, such as someone@example.com.")]
    [InlineData("""{"replyTo":"a@b.test\r\nBcc: x@y.test"}""", "The replyTo field must not contain spaces, line breaks, invisible or control characters.")]
    [InlineData("""{"defaultLocale":"english please"}""", "The defaultLocale field must be a language tag such as en, de or pt-BR.")]
    [InlineData("""{"invitationValidityDays":0}""", "The invitationValidityDays field must be from 1 to 30.")]
    [InlineData("""{"invitationValidityDays":31}""", "The invitationValidityDays field must be from 1 to 30.")]
    [InlineData("""{"emailsPerHour":0}""", "The emailsPerHour field must be from 1 to 1000000.")]
    [InlineData("""{"emailsPerHour":1000001}""", "The emailsPerHour field must be from 1 to 1000000.")]
    [InlineData("""{"allowedEmailDomains":["not a domain"]}""", "Each entry of allowedEmailDomains must be a domain name such as example.com.")]
    [InlineData("""{"allowedEmailDomains":["localhost"]}""", "Each entry of allowedEmailDomains must be a domain name such as example.com.")]
    [InlineData("""{"allowedEmailDomains":["@example.com"]}""", "Each entry of allowedEmailDomains must be a domain name such as example.com.")]
    public async Task Settings_with_an_invalid_value_are_400_and_change_nothing(string body, string problem)
    {
        var tenant = await app.CreateTenantAsync();
        var before = (await app.GetAsync(SettingsPath(tenant), tenant.OwnerToken)).AssertSuccess().GetRawText();

        var response = await app.SendAsync(HttpMethod.Put, SettingsPath(tenant), tenant.OwnerToken,
            rawBody: body.Replace("LONG", new string('d', 201), StringComparison.Ordinal));

        Assert.Equal([problem], response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
        Assert.Equal(before, (await app.GetAsync(SettingsPath(tenant), tenant.OwnerToken)).AssertSuccess().GetRawText());
    }

    [Fact]
    public async Task Allowed_email_domains_restrict_new_invitations()
    {
        var tenant = await app.CreateTenantAsync();
        (await app.PutAsync(SettingsPath(tenant), tenant.OwnerToken, new { allowedEmailDomains = new[] { "allowed.test" } })).AssertSuccess();
        var outside = $"someone-{Guid.NewGuid():N}@elsewhere.test";
        var lookalike = $"someone-{Guid.NewGuid():N}@notallowed.test";
        var inside = $"someone-{Guid.NewGuid():N}@ALLOWED.test";

        foreach (var email in new[] { outside, lookalike })
        {
            var refused = await app.PostAsync(InvitationsPath(tenant), new { email }, tenant.OwnerToken);
            Assert.Equal(["This tenant only invites addresses at: allowed.test."], refused.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
        }
        (await app.PostAsync(InvitationsPath(tenant), new { email = inside }, tenant.OwnerToken)).AssertSuccess(HttpStatusCode.Created);

        var invited = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.TenantId == tenant.Id && i.Role != MemberRole.Owner).Select(i => i.Email).ToListAsync());
        Assert.Equal([inside], invited);
    }

    [Fact]
    public async Task The_next_email_uses_the_display_name_reply_to_and_default_locale()
    {
        var tenant = await app.CreateTenantAsync("Legal Name GmbH");
        (await app.PutAsync(SettingsPath(tenant), tenant.OwnerToken, new { displayName = "Friendly Name", replyTo = "team@friendly.test", defaultLocale = "fr" })).AssertSuccess();
        var invitation = await app.InviteAsync(tenant);

        var message = Assert.Single(app.Mail.To(invitation.Email));

        Assert.Equal($"{tenant.OwnerEmail} vous invite à rejoindre Friendly Name", message.Subject);
        Assert.Contains("Cette invitation expire le", message.TextBody);
        Assert.Contains("Friendly Name", message.TextBody);
        Assert.DoesNotContain("Legal Name GmbH", message.TextBody);
        Assert.Equal(["team@friendly.test"], message.ReplyTo.Mailboxes.Select(m => m.Address));
        Assert.Contains("<html lang=\"fr\">", message.HtmlBody);
        Assert.Equal("Friendly Name", (await app.GetAsync($"/invitation?token={invitation.Token}")).AssertSuccess().GetProperty("tenantName").GetString());
    }

    [Fact]
    public async Task Invitation_validity_days_apply_when_the_request_does_not_say()
    {
        var tenant = await app.CreateTenantAsync();
        (await app.PutAsync(SettingsPath(tenant), tenant.OwnerToken, new { invitationValidityDays = 3 })).AssertSuccess();
        var now = Now;

        var omitted = await app.PostAsync(InvitationsPath(tenant), new { email = Scenarios.UniqueEmail() }, tenant.OwnerToken);
        var explicitDays = await app.PostAsync(InvitationsPath(tenant), new { email = Scenarios.UniqueEmail(), expiresInDays = 10 }, tenant.OwnerToken);

        Assert.Equal(now.AddDays(3), omitted.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("expiresAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        Assert.Equal(now.AddDays(10), explicitDays.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("expiresAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        var id = omitted.Value[0].GetProperty("id").GetInt64();
        Assert.Equal(3, await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.Id == id).Select(i => i.ValidityDays).SingleAsync()));
    }

    // ---- audit ----

    [Fact]
    public async Task Audit_lists_the_tenants_events_newest_first_with_an_action_filter_and_paging()
    {
        var tenant = await app.CreateTenantAsync();
        var other = await app.CreateTenantAsync();
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        var invitation = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)).AssertSuccess();
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        (await app.PutAsync($"{InvitationsPath(tenant)}/revoke?id={invitation.Id}", tenant.OwnerToken)).AssertSuccess();
        await app.InviteAsync(other);

        var all = (await app.GetAsync($"/tenant/{tenant.Id}/admin/audit", tenant.OwnerToken)).AssertSuccess().EnumerateArray().ToArray();

        Assert.Equal(["invitation.revoked", "invitation.resent", "invitation.created", "invitation.accepted", "invitation.created", "tenant.created"],
            all.Select(a => a.GetProperty("action").GetString()));
        var expected = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().Where(a => a.TenantId == tenant.Id)
            .OrderByDescending(a => a.OccurredAt).ThenByDescending(a => a.Id).Select(a => a.Id).ToListAsync());
        Assert.Equal(expected, Pages.Ids(all));
        Assert.All(all, a => Assert.Equal(
            ["action", "actor", "clientAddress", "details", "id", "occurredAt", "targetId", "targetType", "traceId"],
            a.EnumerateObject().Select(p => p.Name).Order()));
        var revoked = all[0];
        Assert.Equal(("invitation", invitation.Id), (revoked.GetProperty("targetType").GetString(), revoked.GetProperty("targetId").GetInt64()));
        var actor = revoked.GetProperty("actor");
        Assert.Equal(($"sub-{tenant.OwnerEmail}", tenant.OwnerEmail, false),
            (actor.GetProperty("subject").GetString(), actor.GetProperty("email").GetString(), actor.GetProperty("isPlatformAdmin").GetBoolean()));
        Assert.True(all[^1].GetProperty("actor").GetProperty("isPlatformAdmin").GetBoolean());
        Assert.Equal(Now, revoked.GetProperty("occurredAt").GetDateTime(), TimeSpan.FromMilliseconds(1));

        var created = (await app.GetAsync($"/tenant/{tenant.Id}/admin/audit?action=invitation.created", tenant.OwnerToken)).AssertSuccess().EnumerateArray().ToArray();
        Assert.Equal(2, created.Length);
        Assert.All(created, a => Assert.Equal("invitation.created", a.GetProperty("action").GetString()));
        Assert.Empty((await app.GetAsync($"/tenant/{tenant.Id}/admin/audit?action=invitation", tenant.OwnerToken)).AssertSuccess().EnumerateArray());

        var pages = await Pages.ReadAllAsync(app, $"/tenant/{tenant.Id}/admin/audit?limit=4", tenant.OwnerToken);
        Assert.Equal([4, 2], pages.Select(p => p.Length));
        Assert.Equal(expected, Pages.Ids(pages.SelectMany(p => p)));
        var filteredPages = await Pages.ReadAllAsync(app, $"/tenant/{tenant.Id}/admin/audit?action=invitation.created&limit=1", tenant.OwnerToken);
        Assert.Equal(Pages.Ids(created), Pages.Ids(filteredPages.SelectMany(p => p)));
    }

    [Theory]
    [InlineData("?limit=0", "The limit must be from 1 to 100.")]
    [InlineData("?limit=101", "The limit must be from 1 to 100.")]
    [InlineData("?after=not-a-cursor", "The after cursor is not valid. Use the one from the previous page's Link header.")]
    public async Task Audit_with_a_bad_query_is_400(string query, string problem)
    {
        var tenant = await app.CreateTenantAsync();

        var response = await app.GetAsync($"/tenant/{tenant.Id}/admin/audit{query}", tenant.OwnerToken);

        Assert.Equal([problem], response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
    }

    [Fact]
    public async Task Audit_is_for_Owners_and_Admins_only()
    {
        var tenant = await app.CreateTenantAsync();
        var member = await app.AddMemberAsync(tenant, "Member");
        var outsider = await app.CreateTenantAsync();

        (await app.GetAsync($"/tenant/{tenant.Id}/admin/audit", member.Token)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.GetAsync($"/tenant/{tenant.Id}/admin/audit", outsider.OwnerToken)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
    }

    // ---- history ----

    [Fact]
    public async Task History_tells_the_story_of_one_invitation()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        var historyPath = $"{InvitationsPath(tenant)}/{invitation.Id}/history";

        var sent = await Eventually.ValueAsync(() => EventsAsync(historyPath, tenant), e => e.SequenceEqual(["invitation.created", "email.sent"]));
        Assert.Equal(2, sent.Length);
        var entries = (await app.GetAsync(historyPath, tenant.OwnerToken)).AssertSuccess().EnumerateArray().ToArray();
        Assert.All(entries, e => Assert.Equal(["actor", "at", "delivery", "details", "event"], e.EnumerateObject().Select(p => p.Name).Order()));
        Assert.Equal($"sub-{tenant.OwnerEmail}", entries[0].GetProperty("actor").GetProperty("subject").GetString());
        Assert.Equal(JsonValueKind.Null, entries[0].GetProperty("delivery").ValueKind);
        var delivery = entries[1].GetProperty("delivery");
        Assert.Equal(("Sent", 1), (delivery.GetProperty("status").GetString(), delivery.GetProperty("attempts").GetInt32()));
        Assert.Equal(JsonValueKind.Null, entries[1].GetProperty("actor").ValueKind);

        app.Clock.Advance(TimeSpan.FromSeconds(61));
        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)).AssertSuccess();
        await Eventually.ValueAsync(() => EventsAsync(historyPath, tenant), e => e.Length == 4 && e[3] == "email.sent");
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        (await app.PutAsync($"{InvitationsPath(tenant)}/revoke?id={invitation.Id}", tenant.OwnerToken)).AssertSuccess();

        var story = (await app.GetAsync(historyPath, tenant.OwnerToken)).AssertSuccess().EnumerateArray().ToArray();
        Assert.Equal(["invitation.created", "email.sent", "invitation.resent", "email.sent", "invitation.revoked"],
            story.Select(e => e.GetProperty("event").GetString()));
        Assert.Equal("Sent", story[3].GetProperty("delivery").GetProperty("status").GetString());
        Assert.Equal("send 2", story[2].GetProperty("details").GetString());
        var times = story.Select(e => e.GetProperty("at").GetDateTime()).ToArray();
        Assert.Equal(times.Order(), times);
    }

    // ---- email preview ----

    [Fact]
    public async Task Email_preview_renders_with_a_placeholder_link_and_sends_nothing()
    {
        var tenant = await app.CreateTenantAsync("Preview Corp");
        var email = Scenarios.UniqueEmail();
        var created = await app.PostAsync(InvitationsPath(tenant), new { email, role = "Admin", message = "See you <b>soon</b>" }, tenant.OwnerToken);
        var id = created.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();
        var realEmail = Assert.Single(await app.Mail.WaitForAsync(email));
        var realToken = Mailbox.TokenFrom(realEmail);
        var mailBefore = app.Mail.All().Length;
        var outboxBefore = await app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters().CountAsync(m => m.InvitationId == id));

        var response = await app.GetAsync($"{InvitationsPath(tenant)}/{id}/email", tenant.OwnerToken);

        var preview = response.AssertSuccess();
        Assert.Equal(["html", "locale", "subject", "text"], preview.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal("en", preview.GetProperty("locale").GetString());
        Assert.Equal(realEmail.Subject, preview.GetProperty("subject").GetString());
        var placeholderLink = $"https://invitations.example.test/{EmailPreviewApi.PreviewPath}";
        var html = preview.GetProperty("html").GetString();
        var text = preview.GetProperty("text").GetString();
        Assert.Contains(placeholderLink, text);
        Assert.Contains($"href=\"{placeholderLink}\"", html);
        Assert.Contains("Preview Corp", text);
        Assert.Contains("an Admin", text);
        Assert.Contains("See you <b>soon</b>", text);
        Assert.Contains("See you &lt;b&gt;soon&lt;/b&gt;", html);
        Assert.DoesNotContain(realToken, response.Body);
        // Apart from the link, it is the email that was sent.
        Assert.Equal(realEmail.TextBody, text!.Replace(placeholderLink, $"https://invitations.example.test/accept?token={realToken}", StringComparison.Ordinal));

        Assert.Equal(mailBefore, app.Mail.All().Length);
        Assert.Equal(outboxBefore, await app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters().CountAsync(m => m.InvitationId == id)));
        // And the real link still works.
        (await app.GetAsync($"/invitation?token={realToken}")).AssertSuccess();
    }

    [Fact]
    public async Task A_platform_admins_successful_reads_inside_a_tenant_are_audited()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        (await app.GetAsync($"/tenant/{tenant.Id}/admin/user/invitation/{invitation.Id}", app.PlatformAdminToken)).AssertSuccess();
        (await app.GetAsync($"/tenant/{tenant.Id}/admin/user/invitation?limit=0", app.PlatformAdminToken)).AssertError(HttpStatusCode.BadRequest, "ValidationError");
        (await app.GetAsync($"/tenant/{tenant.Id}/admin/user", tenant.OwnerToken)).AssertSuccess(); // a member's reads are not

        var reads = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters()
            .Where(a => a.TenantId == tenant.Id && a.Action == "platform_admin.read").ToListAsync());
        var read = Assert.Single(reads);
        Assert.True(read.ActorIsPlatformAdmin);
        Assert.Equal($"GET /tenant/{{tenantId}}/admin/user/invitation/{{id}} id {invitation.Id}", read.Details);
    }

    [Fact]
    public async Task Email_preview_of_an_unknown_invitation_is_404_and_a_Member_may_not_preview()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        var member = await app.AddMemberAsync(tenant, "Member");

        (await app.GetAsync($"{InvitationsPath(tenant)}/987654321/email", tenant.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        (await app.GetAsync($"{InvitationsPath(tenant)}/{invitation.Id}/email", member.Token)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.GetAsync($"{InvitationsPath(tenant)}/{invitation.Id}/history", member.Token)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
    }

    // Scenarios.InviteAsync expects a fresh address; this one invites an address that already has mail and returns the new link's token.
    private async Task<string> InviteExistingAddressAsync(TenantSetup tenant, string email, string role = "Member")
    {
        var earlier = app.Mail.To(email).Select(Mailbox.TokenFrom).ToHashSet();
        (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email, role }, tenant.OwnerToken)).AssertSuccess(HttpStatusCode.Created);
        var messages = await app.Mail.WaitForAsync(email, earlier.Count + 1);
        return Assert.Single(messages.Select(Mailbox.TokenFrom), t => !earlier.Contains(t));
    }

    private async Task<string[]> EventsAsync(string historyPath, TenantSetup tenant) =>
        [.. (await app.GetAsync(historyPath, tenant.OwnerToken)).AssertSuccess().EnumerateArray().Select(e => e.GetProperty("event").GetString()!)];
}
