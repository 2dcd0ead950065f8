using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using MimeKit;
using TenantInvitations.Invitations;
using TenantInvitations.Members;

namespace TenantInvitations.Tests;

// The tenant admin's invitation endpoints: create, list, get and revoke.
public sealed class InvitationsTests(TestApp app) : IClassFixture<TestApp>
{
    private static readonly string[] ModelFields =
    [
        "id", "tenantId", "email", "role", "status", "createdAt", "expiresAt", "lastSentAt", "sendCount", "nextResendAt", "invitedBy",
        "acceptedAt", "declinedAt", "revokedAt", "delivery",
    ];

    private DateTime Now => app.Clock.GetUtcNow().UtcDateTime;

    private static string InvitationsPath(TenantSetup tenant) => $"/tenant/{tenant.Id}/admin/user/invitation";

    // ---- create ----

    [Fact]
    public async Task Create_is_201_with_location_and_the_whole_invitation()
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail("new");
        var now = Now;

        var response = await app.PostAsync(InvitationsPath(tenant), new { email }, tenant.OwnerToken);

        var model = Assert.Single(response.AssertSuccess(HttpStatusCode.Created).EnumerateArray());
        AssertIsInvitationModel(model);
        var id = model.GetProperty("id").GetInt64();
        Assert.True(id > 0);
        Assert.Equal(tenant.Id, model.GetProperty("tenantId").GetInt64());
        Assert.Equal(email, model.GetProperty("email").GetString());
        Assert.Equal("Member", model.GetProperty("role").GetString());
        Assert.Equal("Pending", model.GetProperty("status").GetString());
        Assert.Equal(now, model.GetProperty("createdAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        Assert.Equal(now.AddDays(7), model.GetProperty("expiresAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        Assert.Equal(now, model.GetProperty("lastSentAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        foreach (var time in new[] { "createdAt", "expiresAt", "lastSentAt" })
        {
            Assert.EndsWith("Z", model.GetProperty(time).GetString());
        }
        Assert.Equal(1, model.GetProperty("sendCount").GetInt32());
        Assert.Equal(tenant.OwnerEmail, model.GetProperty("invitedBy").GetString());
        Assert.Equal(JsonValueKind.Null, model.GetProperty("acceptedAt").ValueKind);
        Assert.Equal(JsonValueKind.Null, model.GetProperty("declinedAt").ValueKind);
        Assert.Equal(JsonValueKind.Null, model.GetProperty("revokedAt").ValueKind);
        var delivery = model.GetProperty("delivery");
        Assert.Equal("Queued", delivery.GetProperty("status").GetString());
        Assert.Equal(0, delivery.GetProperty("attempts").GetInt32());
        Assert.Equal(JsonValueKind.Null, delivery.GetProperty("lastAttemptAt").ValueKind);
        Assert.Equal(JsonValueKind.Null, delivery.GetProperty("lastError").ValueKind);

        var location = response.Headers.Location?.OriginalString;
        Assert.Equal($"/tenant/{tenant.Id}/admin/user/invitation/{id}", location);
        Assert.NotNull(location);
        var fetched = (await app.GetAsync(location, tenant.OwnerToken)).AssertSuccess();
        AssertIsInvitationModel(fetched);
        Assert.Equal(WithoutDelivery(model), WithoutDelivery(fetched));

        var token = Mailbox.TokenFrom(Assert.Single(await app.Mail.WaitForAsync(email)));
        var stored = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleAsync(i => i.Id == id));
        Assert.Equal(tenant.Id, stored.TenantId);
        Assert.Equal(InvitationStatus.Pending, stored.Status);
        Assert.Equal(MemberRole.Member, stored.Role);
        Assert.Equal(7, stored.ValidityDays);
        Assert.Equal("en", stored.Locale);
        Assert.Null(stored.Message);
        Assert.Equal(SHA256.HashData(Encoding.ASCII.GetBytes(token)), stored.TokenHash);
        Assert.Equal(1, await app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters().CountAsync(m => m.InvitationId == id)));
        var audit = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().SingleAsync(a => a.TargetId == id));
        Assert.Equal(("invitation.created", tenant.Id, $"sub-{tenant.OwnerEmail}"), (audit.Action, audit.TenantId, audit.ActorSubject));
    }

    [Theory]
    [InlineData("Admin", 1, "de", "de")]
    [InlineData("Member", 14, "pt-BR", "en")] // no Portuguese templates: the tenant's default, then English
    [InlineData("Admin", 30, "en", "en")]
    [InlineData("Member", 3, "fr-CA", "fr")] // the language of a regional tag
    public async Task Create_honours_role_expiry_and_locale(string role, int expiresInDays, string locale, string emailLanguage)
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail();
        var now = Now;

        var response = await app.PostAsync(InvitationsPath(tenant), new { email, role, expiresInDays, locale }, tenant.OwnerToken);

        var model = response.AssertSuccess(HttpStatusCode.Created)[0];
        Assert.Equal(role, model.GetProperty("role").GetString());
        Assert.Equal(now.AddDays(expiresInDays), model.GetProperty("expiresAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        var id = model.GetProperty("id").GetInt64();
        var stored = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleAsync(i => i.Id == id));
        Assert.Equal((Enum.Parse<MemberRole>(role), expiresInDays, locale), (stored.Role, stored.ValidityDays, stored.Locale));
        var message = Assert.Single(await app.Mail.WaitForAsync(email));
        Assert.Contains($"<html lang=\"{emailLanguage}\">", message.HtmlBody);
        Assert.Equal(emailLanguage, message.Body?.Headers[MimeKit.HeaderId.ContentLanguage]);
    }

    [Fact]
    public async Task A_locale_without_templates_falls_back_to_the_tenants_default_before_English()
    {
        var tenant = await app.CreateTenantAsync("Fallback GmbH");
        (await app.PutAsync($"/tenant/{tenant.Id}/admin/settings", tenant.OwnerToken, new { defaultLocale = "de" })).AssertSuccess();
        var email = Scenarios.UniqueEmail();

        (await app.PostAsync(InvitationsPath(tenant), new { email, locale = "pt-BR" }, tenant.OwnerToken)).AssertSuccess(HttpStatusCode.Created);

        var message = Assert.Single(await app.Mail.WaitForAsync(email));
        Assert.Contains("<html lang=\"de\">", message.HtmlBody);
        Assert.Equal($"{tenant.OwnerEmail} hat Sie zu Fallback GmbH eingeladen", message.Subject);
    }

    [Fact]
    public async Task Email_has_text_and_html_parts_and_links_to_the_public_base_url_whatever_the_host_header()
    {
        var tenant = await app.CreateTenantAsync("Globex Research");
        var email = Scenarios.UniqueEmail();

        var response = await PostFromHostAsync(InvitationsPath(tenant), new { email, role = "Admin" }, tenant.OwnerToken, "evil.example");

        var model = response.AssertSuccess(HttpStatusCode.Created)[0];
        Assert.DoesNotContain("evil.example", response.Headers.Location?.OriginalString);
        var message = Assert.Single(await app.Mail.WaitForAsync(email));
        Assert.Equal("multipart/alternative", message.Body?.ContentType.MimeType);
        var parts = message.BodyParts.OfType<TextPart>().ToArray();
        Assert.Equal(2, parts.Length);
        Assert.Single(parts, p => p.IsPlain);
        Assert.Single(parts, p => p.IsHtml);
        Assert.Equal([email], message.To.Mailboxes.Select(m => m.Address));
        Assert.Equal($"{tenant.OwnerEmail} invited you to join Globex Research", message.Subject);

        var token = Mailbox.TokenFrom(message);
        var link = $"https://invitations.example.test/accept?token={token}";
        // The expiry is written the way the recipient's language writes a date (English here).
        var expires = model.GetProperty("expiresAt").GetDateTime().ToUniversalTime()
            .ToString("dddd, MMMM d, yyyy h:mm tt 'UTC'", CultureInfo.GetCultureInfo("en"));
        foreach (var body in new[] { message.TextBody, message.HtmlBody })
        {
            Assert.Contains("Globex Research", body);
            Assert.Contains(tenant.OwnerEmail, body);
            Assert.Contains("an Admin", body);
            Assert.Contains(expires, body);
            Assert.Contains(link, body);
            Assert.DoesNotContain("evil.example", body);
        }
        Assert.Contains($"href=\"{link}\"", message.HtmlBody);
    }

    [Fact]
    public async Task Message_is_sent_as_text_and_html_escaped_in_the_html_part()
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail();
        const string note = "Welcome <b>aboard</b> & <script>alert(1)</script>";

        (await app.PostAsync(InvitationsPath(tenant), new { email, message = note }, tenant.OwnerToken)).AssertSuccess(HttpStatusCode.Created);

        var message = Assert.Single(await app.Mail.WaitForAsync(email));
        Assert.Contains(note, message.TextBody);
        Assert.Contains("Welcome &lt;b&gt;aboard&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;", message.HtmlBody);
        Assert.DoesNotContain("<b>", message.HtmlBody);
        Assert.DoesNotContain("<script>", message.HtmlBody);
    }

    // The tenant's name and the inviter's name (here a subject without an email claim) reach the email too: escaped in the
    // HTML part, as typed in the text part and the subject.
    [Fact]
    public async Task Markup_in_the_tenant_name_and_the_inviters_name_is_escaped_in_html_and_plain_in_text()
    {
        var tenant = await app.CreateTenantAsync("<i>Acme</i> & Co");
        var inviter = TestApp.Token("<b>Mallory</b> & <script>x()</script>", email: null, platformAdmin: true);
        var email = Scenarios.UniqueEmail();

        (await app.PostAsync(InvitationsPath(tenant), new { email }, inviter)).AssertSuccess(HttpStatusCode.Created);

        var message = Assert.Single(await app.Mail.WaitForAsync(email));
        Assert.Contains("<i>Acme</i> & Co", message.Subject);
        Assert.Contains("<i>Acme</i> & Co", message.TextBody);
        Assert.Contains("<b>Mallory</b> & <script>x()</script>", message.TextBody);
        Assert.Contains("&lt;i&gt;Acme&lt;/i&gt; &amp; Co", message.HtmlBody);
        Assert.Contains("&lt;b&gt;Mallory&lt;/b&gt; &amp; &lt;script&gt;x()&lt;/script&gt;", message.HtmlBody);
        Assert.DoesNotContain("<i>", message.HtmlBody);
        Assert.DoesNotContain("<b>", message.HtmlBody);
        Assert.DoesNotContain("<script", message.HtmlBody);
    }

    [Fact]
    public async Task Responses_never_contain_the_token_its_hash_or_the_link()
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail();

        var created = await app.PostAsync(InvitationsPath(tenant), new { email }, tenant.OwnerToken);
        var id = created.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();
        var token = Mailbox.TokenFrom(Assert.Single(await app.Mail.WaitForAsync(email)));
        var hash = SHA256.HashData(Encoding.ASCII.GetBytes(token));
        var single = await app.GetAsync($"{InvitationsPath(tenant)}/{id}", tenant.OwnerToken);
        var list = await app.GetAsync(InvitationsPath(tenant), tenant.OwnerToken);

        foreach (var response in new[] { created, single, list })
        {
            Assert.DoesNotContain(token, response.Body);
            Assert.DoesNotContain(Convert.ToBase64String(hash), response.Body);
            Assert.DoesNotContain(Convert.ToHexString(hash), response.Body, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("token", response.Body, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("/accept", response.Body);
        }
    }

    // ---- validation ----

    [Theory]
    [InlineData("""{}""", "The email field is required.")]
    [InlineData("""{"email":""}""", "The email field is required.")]
    [InlineData("""{"email":"not-an-email"}""", "The email field must be a valid email address, such as someone@example.com.")]
    [InlineData("""{"email":"Dana <dana@example.test>"}""", "The email field must not contain spaces, line breaks, invisible or control characters.")]
    [InlineData("""{"email":"dana@example.test\r\nBcc: all@example.test"}""", "The email field must not contain spaces, line breaks, invisible or control characters.")]
    [InlineData("""{"email":"dana@example.test\n"}""", "The email field must not contain spaces, line breaks, invisible or control characters.")]
    [InlineData("""{"email":"EMAIL","expiresInDays":0}""", "The expiresInDays field must be from 1 to 30.")]
    [InlineData("""{"email":"EMAIL","expiresInDays":31}""", "The expiresInDays field must be from 1 to 30.")]
    [InlineData("""{"email":"EMAIL","expiresInDays":-1}""", "The expiresInDays field must be from 1 to 30.")]
    [InlineData("""{"email":"EMAIL","message":"LONG"}""", "The message field must be at most 500 characters of text.")]
    [InlineData("""{"email":"EMAIL","locale":"english please"}""", "The locale field must be a language tag such as en, de or pt-BR.")]
    [InlineData("""{"email":"EMAIL","locale":"e"}""", "The locale field must be a language tag such as en, de or pt-BR.")]
    [InlineData("""{"email":"EMAIL","role":"Superuser"}""", "The request body is not valid JSON, or the field at $.role has the wrong type or value.")]
    [InlineData("""{"email":"EMAIL","role":0}""", "The request body is not valid JSON, or the field at $.role has the wrong type or value.")]
    [InlineData("""{"email":"EMAIL","expiresInDays":"7"}""", "The request body is not valid JSON, or the field at $.expiresInDays has the wrong type or value.")]
    public async Task Create_with_an_invalid_field_is_400_naming_the_problem(string body, string problem)
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail();
        body = body.Replace("EMAIL", email, StringComparison.Ordinal).Replace("LONG", new string('x', 501), StringComparison.Ordinal);

        var response = await app.SendAsync(HttpMethod.Post, InvitationsPath(tenant), tenant.OwnerToken, rawBody: body);

        Assert.Equal([problem], response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
        Assert.Equal(1, await InvitationCountAsync(tenant)); // only the owner's own
    }

    [Fact]
    public async Task Create_lists_every_problem_at_once()
    {
        var tenant = await app.CreateTenantAsync();

        var response = await app.PostAsync(InvitationsPath(tenant),
            new { email = "nope", expiresInDays = 0, message = new string('x', 501), locale = "!!" }, tenant.OwnerToken);

        Assert.Equal(
        [
            "The email field must be a valid email address, such as someone@example.com.",
            "The expiresInDays field must be from 1 to 30.",
            "The message field must be at most 500 characters of text.",
            "The locale field must be a language tag such as en, de or pt-BR.",
        ], response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
    }

    [Fact]
    public async Task Message_of_exactly_500_characters_is_accepted()
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail();
        var note = new string('x', 500);

        (await app.PostAsync(InvitationsPath(tenant), new { email, message = note }, tenant.OwnerToken)).AssertSuccess(HttpStatusCode.Created);

        Assert.Contains(note, Assert.Single(await app.Mail.WaitForAsync(email)).TextBody);
    }

    // ---- conflicts and permissions ----

    [Fact]
    public async Task Inviting_an_address_with_a_pending_invitation_is_409_AlreadyInvited_giving_its_id_whatever_the_case()
    {
        var tenant = await app.CreateTenantAsync();
        var unique = Guid.NewGuid().ToString("N");
        var first = await app.PostAsync(InvitationsPath(tenant), new { email = $"Dana-{unique}@Example.test" }, tenant.OwnerToken);
        var id = first.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();

        foreach (var again in new[] { $"Dana-{unique}@Example.test", $"dana-{unique}@example.test", $"DANA-{unique}@EXAMPLE.TEST" })
        {
            var response = await app.PostAsync(InvitationsPath(tenant), new { email = again, role = "Admin" }, tenant.OwnerToken);
            Assert.Equal([$"id: {id}"], response.AssertError(HttpStatusCode.Conflict, "AlreadyInvited").ErrorInfo);
        }
        Assert.Equal(1, await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().CountAsync(i => i.NormalizedEmail == $"dana-{unique}@example.test")));
        Assert.Single(await app.Mail.WaitForAsync($"dana-{unique}@example.test"));
    }

    [Fact]
    public async Task Inviting_a_member_is_409_AlreadyMember_but_a_member_of_another_tenant_can_be_invited()
    {
        var tenant = await app.CreateTenantAsync();
        var member = await app.AddMemberAsync(tenant, "Member");
        var other = await app.CreateTenantAsync();

        foreach (var email in new[] { member.Email, member.Email.ToUpperInvariant(), tenant.OwnerEmail })
        {
            (await app.PostAsync(InvitationsPath(tenant), new { email }, tenant.OwnerToken)).AssertError(HttpStatusCode.Conflict, "AlreadyMember");
        }
        Assert.Equal(2, await InvitationCountAsync(tenant)); // the owner's and the member's, both accepted

        (await app.PostAsync(InvitationsPath(other), new { email = member.Email }, other.OwnerToken)).AssertSuccess(HttpStatusCode.Created);
    }

    [Fact]
    public async Task A_revoked_invitation_does_not_block_a_new_one_to_the_same_address()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        (await app.PutAsync($"{InvitationsPath(tenant)}/revoke?id={invitation.Id}", tenant.OwnerToken)).AssertSuccess();

        var again = await app.PostAsync(InvitationsPath(tenant), new { email = invitation.Email }, tenant.OwnerToken);

        Assert.NotEqual(invitation.Id, again.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64());
    }

    [Fact]
    public async Task An_Admin_may_not_invite_an_Owner_but_may_invite_Admins_and_Members()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = await app.AddMemberAsync(tenant, "Admin");
        var email = Scenarios.UniqueEmail();

        var refused = await app.PostAsync(InvitationsPath(tenant), new { email, role = "Owner" }, admin.Token);

        refused.AssertError(HttpStatusCode.Forbidden, "Forbidden");
        Assert.Equal(0, await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().CountAsync(i => i.Email == email)));
        (await app.PostAsync(InvitationsPath(tenant), new { email, role = "Admin" }, admin.Token)).AssertSuccess(HttpStatusCode.Created);
        (await app.PostAsync(InvitationsPath(tenant), new { email = Scenarios.UniqueEmail(), role = "Member" }, admin.Token)).AssertSuccess(HttpStatusCode.Created);
    }

    [Fact]
    public async Task An_Owner_may_invite_an_Owner()
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail();

        var response = await app.PostAsync(InvitationsPath(tenant), new { email, role = "Owner" }, tenant.OwnerToken);

        Assert.Equal("Owner", response.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("role").GetString());
        var token = Mailbox.TokenFrom(Assert.Single(await app.Mail.WaitForAsync(email)));
        Assert.Equal("Owner", (await app.PostAsync("/invitation/accept", new { token })).AssertSuccess().GetProperty("role").GetString());
    }

    [Fact]
    public async Task A_platform_admin_may_invite_an_Owner()
    {
        var tenant = await app.CreateTenantAsync();

        var response = await app.PostAsync(InvitationsPath(tenant), new { email = Scenarios.UniqueEmail(), role = "Owner" }, app.PlatformAdminToken);

        Assert.Equal("Owner", response.AssertSuccess(HttpStatusCode.Created)[0].GetProperty("role").GetString());
        var audit = await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters()
            .SingleAsync(a => a.TargetId == response.Value[0].GetProperty("id").GetInt64() && a.Action == "invitation.created"));
        Assert.True(audit.ActorIsPlatformAdmin);
    }

    [Fact]
    public async Task A_Member_or_an_outsider_may_not_invite_and_no_bearer_is_401()
    {
        var tenant = await app.CreateTenantAsync();
        var member = await app.AddMemberAsync(tenant, "Member");
        var outsider = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail();

        (await app.PostAsync(InvitationsPath(tenant), new { email }, member.Token)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.PostAsync(InvitationsPath(tenant), new { email }, outsider.OwnerToken)).AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.PostAsync(InvitationsPath(tenant), new { email })).AssertError(HttpStatusCode.Unauthorized, "Unauthorized");
        // The role is read in the handler's own query (RoleReadByHandler), and rule 2 still comes before the body's problems.
        (await app.PostAsync(InvitationsPath(tenant), new { email = "not an address", role = "Owner" }, member.Token))
            .AssertError(HttpStatusCode.Forbidden, "Forbidden");
        (await app.PostAsync(InvitationsPath(tenant), new { email = "not an address" }, tenant.OwnerToken))
            .AssertError(HttpStatusCode.BadRequest, "ValidationError");
        Assert.Equal(0, await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().CountAsync(i => i.Email == email)));
    }

    [Fact]
    public async Task Server_owned_fields_in_the_body_are_ignored()
    {
        var tenant = await app.CreateTenantAsync();
        var other = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail();
        const long forgedId = 424242424242;

        var response = await app.PostAsync(InvitationsPath(tenant), new
        {
            email,
            id = forgedId,
            tenantId = other.Id,
            status = "Accepted",
            sendCount = 99,
            tokenHash = Convert.ToBase64String(new byte[32]),
            invitedBy = "ceo@example.test",
            acceptedAt = "2020-01-01T00:00:00Z",
        }, tenant.OwnerToken);

        var model = response.AssertSuccess(HttpStatusCode.Created)[0];
        var id = model.GetProperty("id").GetInt64();
        Assert.NotEqual(forgedId, id);
        Assert.Equal(tenant.Id, model.GetProperty("tenantId").GetInt64());
        Assert.Equal("Pending", model.GetProperty("status").GetString());
        Assert.Equal(1, model.GetProperty("sendCount").GetInt32());
        Assert.Equal(tenant.OwnerEmail, model.GetProperty("invitedBy").GetString());
        Assert.Equal(JsonValueKind.Null, model.GetProperty("acceptedAt").ValueKind);

        var token = Mailbox.TokenFrom(Assert.Single(await app.Mail.WaitForAsync(email)));
        var stored = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleAsync(i => i.Email == email));
        Assert.Equal((id, tenant.Id, InvitationStatus.Pending, 1), (stored.Id, stored.TenantId, stored.Status, stored.SendCount));
        Assert.Equal(SHA256.HashData(Encoding.ASCII.GetBytes(token)), stored.TokenHash);
        Assert.False(await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AnyAsync(i => i.Id == forgedId)));
        Assert.Equal(1, await InvitationCountAsync(other));
    }

    // ---- list ----

    [Fact]
    public async Task List_is_newest_first()
    {
        var tenant = await app.CreateTenantAsync();
        var ownerInvitation = await OwnerInvitationIdAsync(tenant);
        var created = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            app.Clock.Advance(TimeSpan.FromSeconds(1));
            created.Add((await app.InviteAsync(tenant)).Id);
        }

        var response = await app.GetAsync(InvitationsPath(tenant), tenant.OwnerToken);

        var items = response.AssertSuccess().EnumerateArray().ToArray();
        Assert.Equal([created[2], created[1], created[0], ownerInvitation], Pages.Ids(items));
        Assert.All(items, AssertIsInvitationModel);
        Assert.All(items, i => Assert.Equal(tenant.Id, i.GetProperty("tenantId").GetInt64()));
        Assert.False(response.Headers.Contains("Link"));
    }

    [Fact]
    public async Task List_filters_by_status_with_Expired_computed_from_the_clock()
    {
        var tenant = await app.CreateTenantAsync();
        var ownerInvitation = await OwnerInvitationIdAsync(tenant);
        var expiring = await CreateAsync(tenant, new { email = Scenarios.UniqueEmail(), expiresInDays = 1 });
        var pending = await CreateAsync(tenant, new { email = Scenarios.UniqueEmail(), expiresInDays = 3 });
        var revoked = await app.InviteAsync(tenant);
        var accepted = await app.InviteAsync(tenant);
        var declined = await app.InviteAsync(tenant);
        (await app.PutAsync($"{InvitationsPath(tenant)}/revoke?id={revoked.Id}", tenant.OwnerToken)).AssertSuccess();
        (await app.PostAsync("/invitation/accept", new { token = accepted.Token })).AssertSuccess();
        (await app.PostAsync("/invitation/decline", new { token = declined.Token })).AssertSuccess();
        app.Clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1));

        Assert.Equal([pending], await ListIdsAsync(tenant, "?status=Pending"));
        Assert.Equal([expiring], await ListIdsAsync(tenant, "?status=Expired"));
        Assert.Equal([revoked.Id], await ListIdsAsync(tenant, "?status=Revoked"));
        Assert.Equal([accepted.Id, ownerInvitation], await ListIdsAsync(tenant, "?status=Accepted"));
        Assert.Equal([declined.Id], await ListIdsAsync(tenant, "?status=Declined"));
        Assert.Equal(6, (await ListIdsAsync(tenant, "")).Length);

        var expired = (await app.GetAsync($"{InvitationsPath(tenant)}/{expiring}", tenant.OwnerToken)).AssertSuccess();
        Assert.Equal("Expired", expired.GetProperty("status").GetString());
        // Expired is computed when read, never stored.
        Assert.Equal(InvitationStatus.Pending, await app.QueryAsync(db =>
            db.Invitations.IgnoreQueryFilters().Where(i => i.Id == expiring).Select(i => i.Status).SingleAsync()));
    }

    [Fact]
    public async Task List_filters_by_exact_email_case_insensitively()
    {
        var tenant = await app.CreateTenantAsync();
        var wanted = await app.InviteAsync(tenant);
        await app.InviteAsync(tenant);

        Assert.Equal([wanted.Id], await ListIdsAsync(tenant, $"?email={Uri.EscapeDataString(wanted.Email)}"));
        Assert.Equal([wanted.Id], await ListIdsAsync(tenant, $"?email={Uri.EscapeDataString(wanted.Email.ToUpperInvariant())}"));
        Assert.Empty(await ListIdsAsync(tenant, $"?email={Uri.EscapeDataString(wanted.Email[..10])}"));
    }

    [Fact]
    public async Task List_pages_with_limit_and_a_relative_Link_that_works_when_followed()
    {
        var tenant = await app.CreateTenantAsync();
        for (var i = 0; i < 4; i++)
        {
            await app.InviteAsync(tenant); // at one instant: the cursor must break ties by id
        }
        var everything = await ListIdsAsync(tenant, "");
        Assert.Equal(5, everything.Length);

        var first = await app.GetAsync($"{InvitationsPath(tenant)}?limit=2", tenant.OwnerToken);
        Assert.Equal(everything[..2], Pages.Ids(first.AssertSuccess().EnumerateArray()));
        var next = Pages.Next(first);
        Assert.NotNull(next);
        Assert.StartsWith($"{InvitationsPath(tenant)}?", next);
        Assert.Contains("limit=2", next);

        var pages = await Pages.ReadAllAsync(app, $"{InvitationsPath(tenant)}?limit=2", tenant.OwnerToken);
        Assert.Equal([2, 2, 1], pages.Select(p => p.Length));
        Assert.Equal(everything, Pages.Ids(pages.SelectMany(p => p)));
    }

    [Fact]
    public async Task List_paging_keeps_the_filter()
    {
        var tenant = await app.CreateTenantAsync();
        var pending = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            pending.Insert(0, (await app.InviteAsync(tenant)).Id);
        }
        var revoked = await app.InviteAsync(tenant);
        (await app.PutAsync($"{InvitationsPath(tenant)}/revoke?id={revoked.Id}", tenant.OwnerToken)).AssertSuccess();

        var pages = await Pages.ReadAllAsync(app, $"{InvitationsPath(tenant)}?status=Pending&limit=2", tenant.OwnerToken);

        Assert.Equal([2, 1], pages.Select(p => p.Length));
        Assert.Equal(pending, Pages.Ids(pages.SelectMany(p => p)));
    }

    [Theory]
    [InlineData("?limit=0", "The limit must be from 1 to 100.")]
    [InlineData("?limit=101", "The limit must be from 1 to 100.")]
    [InlineData("?after=garbage!", "The after cursor is not valid. Use the one from the previous page's Link header.")]
    [InlineData("?after=bm90LWEtY3Vyc29y", "The after cursor is not valid. Use the one from the previous page's Link header.")]
    [InlineData("?status=Bogus", "The status must be one of Pending, Accepted, Declined, Revoked, Expired.")]
    [InlineData("?status=1", "The status must be one of Pending, Accepted, Declined, Revoked, Expired.")]
    [InlineData("?status=Pending,Accepted", "The status must be one of Pending, Accepted, Declined, Revoked, Expired.")]
    [InlineData("?limit=abc", "The limit parameter must be a whole number.")]
    public async Task List_with_a_bad_query_is_400(string query, string problem)
    {
        var tenant = await app.CreateTenantAsync();

        var response = await app.GetAsync($"{InvitationsPath(tenant)}{query}", tenant.OwnerToken);

        Assert.Equal([problem], response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo);
    }

    // ---- get and revoke ----

    [Fact]
    public async Task Get_of_an_unknown_id_is_404()
    {
        var tenant = await app.CreateTenantAsync();

        (await app.GetAsync($"{InvitationsPath(tenant)}/987654321", tenant.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
    }

    [Fact]
    public async Task Revoke_is_200_and_the_link_stops_working()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromSeconds(5));
        var now = Now;

        var response = await app.PutAsync($"{InvitationsPath(tenant)}/revoke?id={invitation.Id}", tenant.OwnerToken);

        var model = Assert.Single(response.AssertSuccess().EnumerateArray());
        AssertIsInvitationModel(model);
        Assert.Equal(invitation.Id, model.GetProperty("id").GetInt64());
        Assert.Equal("Revoked", model.GetProperty("status").GetString());
        Assert.Equal(now, model.GetProperty("revokedAt").GetDateTime(), TimeSpan.FromMilliseconds(1));
        var stored = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleAsync(i => i.Id == invitation.Id));
        Assert.Equal(InvitationStatus.Revoked, stored.Status);
        Assert.Equal(1, await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TargetId == invitation.Id && a.Action == "invitation.revoked")));

        var accept = await app.PostAsync("/invitation/accept", new { token = invitation.Token });
        Assert.Equal(["status: Revoked"], accept.AssertError(HttpStatusCode.Conflict, "InvitationNotPending").ErrorInfo);
        var twice = await app.PutAsync($"{InvitationsPath(tenant)}/revoke?id={invitation.Id}", tenant.OwnerToken);
        Assert.Equal(["status: Revoked"], twice.AssertError(HttpStatusCode.Conflict, "InvitationNotPending").ErrorInfo);
        Assert.False(await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters().AnyAsync(m => m.TenantId == tenant.Id && m.User.Email == invitation.Email)));
    }

    [Fact]
    public async Task Revoke_of_an_accepted_invitation_is_409()
    {
        var tenant = await app.CreateTenantAsync();
        var invitation = await app.InviteAsync(tenant);
        (await app.PostAsync("/invitation/accept", new { token = invitation.Token })).AssertSuccess();

        var response = await app.PutAsync($"{InvitationsPath(tenant)}/revoke?id={invitation.Id}", tenant.OwnerToken);

        Assert.Equal(["status: Accepted"], response.AssertError(HttpStatusCode.Conflict, "InvitationNotPending").ErrorInfo);
    }

    // ---- tenant isolation ----

    [Fact]
    public async Task Another_tenants_invitation_id_is_404_everywhere_and_nothing_changes()
    {
        var tenantA = await app.CreateTenantAsync();
        var tenantB = await app.CreateTenantAsync();
        var invitationOfA = await app.InviteAsync(tenantA);
        var before = await SnapshotAsync(invitationOfA.Id);
        var mailBefore = app.Mail.All().Length;
        var pathInB = $"{InvitationsPath(tenantB)}/{invitationOfA.Id}";

        (await app.GetAsync(pathInB, tenantB.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        (await app.PutAsync($"{InvitationsPath(tenantB)}/revoke?id={invitationOfA.Id}", tenantB.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        (await app.GetAsync($"{pathInB}/email", tenantB.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        (await app.GetAsync($"{pathInB}/history", tenantB.OwnerToken)).AssertError(HttpStatusCode.NotFound, "NotFound");
        Assert.DoesNotContain(invitationOfA.Id, await ListIdsAsync(tenantB, ""));
        Assert.Empty(await ListIdsAsync(tenantB, $"?email={Uri.EscapeDataString(invitationOfA.Email)}"));

        Assert.Equal(before, await SnapshotAsync(invitationOfA.Id));
        Assert.Equal(mailBefore, app.Mail.All().Length);
        // The invitation still works in its own tenant.
        (await app.PostAsync("/invitation/accept", new { token = invitationOfA.Token })).AssertSuccess();
    }

    // ---- helpers ----

    private static void AssertIsInvitationModel(JsonElement model)
    {
        Assert.Equal(ModelFields.Order(), model.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(["attempts", "lastAttemptAt", "lastError", "status"], model.GetProperty("delivery").EnumerateObject().Select(p => p.Name).Order());
    }

    private static string WithoutDelivery(JsonElement model) =>
        string.Join(",", model.EnumerateObject().Where(p => p.Name != "delivery").Select(p => $"{p.Name}={p.Value.GetRawText()}"));

    private async Task<long> CreateAsync(TenantSetup tenant, object body) =>
        (await app.PostAsync(InvitationsPath(tenant), body, tenant.OwnerToken)).AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64();

    private async Task<long[]> ListIdsAsync(TenantSetup tenant, string query) =>
        Pages.Ids((await app.GetAsync($"{InvitationsPath(tenant)}{query}", tenant.OwnerToken)).AssertSuccess().EnumerateArray());

    private Task<int> InvitationCountAsync(TenantSetup tenant) =>
        app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().CountAsync(i => i.TenantId == tenant.Id));

    private Task<long> OwnerInvitationIdAsync(TenantSetup tenant) =>
        app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.TenantId == tenant.Id && i.Email == tenant.OwnerEmail).Select(i => i.Id).SingleAsync());

    private Task<string> SnapshotAsync(long invitationId) => app.QueryAsync(async db =>
    {
        var i = await db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleAsync(x => x.Id == invitationId);
        var outbox = await db.OutboxMessages.IgnoreQueryFilters().CountAsync(m => m.InvitationId == invitationId);
        var audits = await db.AuditEvents.IgnoreQueryFilters().CountAsync(a => a.TargetId == invitationId);
        return $"{i.TenantId} {i.Status} {Convert.ToHexString(i.TokenHash)} {i.SendCount} {i.ExpiresAt:O} {i.Version} {i.RevokedAt:O} {outbox} {audits}";
    });

    // A request as it would arrive through a hostile proxy: every host the service could see says evil.example.
    private async Task<ApiResponse> PostFromHostAsync(string path, object body, string token, string host)
    {
        using var client = app.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri($"http://{host}/") });
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Host = host;
        request.Headers.Add("X-Forwarded-Host", host);
        request.Headers.Add("X-Forwarded-Proto", "https");
        using var response = await client.SendAsync(request);
        return await ApiResponse.ReadAsync(response);
    }
}
