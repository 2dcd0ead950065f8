using System.Net;
using Microsoft.EntityFrameworkCore;

namespace TenantInvitations.Tests;

// The console's forms over HTTP (no browser): what a crafted or odd post gets, and that it changes nothing it shouldn't.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class ConsoleFormsTests(TestApp app) : IClassFixture<TestApp>
{
    [Fact]
    public async Task A_role_that_is_no_role_is_the_APIs_400_and_invites_no_one()
    {
        var tenant = await app.CreateTenantAsync("Roles Form Co");
        using var owner = await ConsoleSession.OwnerAsync(app, tenant);
        var email = Scenarios.UniqueEmail("superuser");
        await owner.GetAsync($"/console/tenants/{tenant.Id}/invitations");

        var answer = await owner.PostAsync($"/console/tenants/{tenant.Id}/invitations?handler=Invite", [new("InviteEmail", email), new("InviteRole", "Superuser")]);

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Contains("The role field must be Owner, Admin or Member.", answer.Body);
        Assert.False(await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AnyAsync(i => i.NormalizedEmail == email)));
        var admin = await owner.PostAsync($"/console/tenants/{tenant.Id}/invitations?handler=Invite", [new("InviteEmail", email), new("InviteRole", "admin")]);
        Assert.Equal(HttpStatusCode.Redirect, admin.Status); // as the API reads it: any case
        Assert.Equal("Admin", await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.NormalizedEmail == email).Select(i => i.Role.ToString()).SingleAsync()));
    }

    [Fact]
    public async Task A_notice_said_on_the_answer_to_a_form_is_not_said_again_on_the_next_page()
    {
        var tenant = await app.CreateTenantAsync("Notice Co");
        using var owner = await ConsoleSession.OwnerAsync(app, tenant);
        await owner.GetAsync($"/console/tenants/{tenant.Id}/invitations");

        var pasted = await owner.PostAsync($"/console/tenants/{tenant.Id}/invitations?handler=InviteMany", [new("ManyEmails", Scenarios.UniqueEmail("many"))]);
        Assert.Contains("Invited 1 of 1.", pasted.Body);

        Assert.DoesNotContain("Invited 1 of 1.", (await owner.GetAsync($"/console/tenants/{tenant.Id}/invitations")).Body);
        var invited = await owner.PostAsync($"/console/tenants/{tenant.Id}/invitations?handler=Invite", [new("InviteEmail", Scenarios.UniqueEmail("one"))]);
        Assert.Equal(HttpStatusCode.Redirect, invited.Status);
        var next = await owner.GetAsync(invited.Location!);
        Assert.Contains("The email is queued.", next.Body); // a redirect's notice is shown once, on the page it leads to
        Assert.DoesNotContain("The email is queued.", (await owner.GetAsync($"/console/tenants/{tenant.Id}/invitations")).Body);
    }

    [Theory]
    [InlineData("/console/\u00e9")]
    [InlineData("/console?x=\u00ff")]
    [InlineData("/console\t/x")]
    [InlineData("//evil.example/console")]
    [InlineData("https://evil.example/console")]
    [InlineData("/console\\..\\evil")]
    public async Task A_return_address_that_is_not_a_plain_path_of_ours_leads_to_the_console(string returnUrl)
    {
        using var session = new ConsoleSession(ConsoleSession.Client(app));
        await session.GetAsync("/console/sign-in");

        var signedIn = await session.PostAsync("/console/sign-in", [new("Subject", "sub-return"), new("Email", "return@example.test"), new("ReturnUrl", returnUrl)]);

        Assert.Equal(HttpStatusCode.Redirect, signedIn.Status);
        Assert.Equal("/console", signedIn.Location);
        Assert.Equal(HttpStatusCode.OK, (await session.GetAsync("/console")).Status);
    }

    [Fact]
    public async Task A_back_address_with_a_line_break_still_resends_once_and_comes_back_to_the_table()
    {
        var tenant = await app.CreateTenantAsync("Back Co");
        var invitation = await app.InviteAsync(tenant);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        using var owner = await ConsoleSession.OwnerAsync(app, tenant);
        await owner.GetAsync($"/console/tenants/{tenant.Id}/invitations");

        var resent = await owner.PostAsync($"/console/tenants/{tenant.Id}/invitations?handler=Resend",
            [new("id", $"{invitation.Id}"), new("back", $"/console/tenants/{tenant.Id}/invitations\r\nSet-Cookie: x=y")]);

        Assert.Equal(HttpStatusCode.Redirect, resent.Status);
        Assert.Equal($"/console/tenants/{tenant.Id}/invitations", resent.Location);
        Assert.Equal(2, await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.Id == invitation.Id).Select(i => i.SendCount).SingleAsync()));
    }

    [Fact]
    public async Task What_no_page_answers_on_a_console_path_is_a_page_too()
    {
        var tenant = await app.CreateTenantAsync("Pages Co");
        using var owner = await ConsoleSession.OwnerAsync(app, tenant);
        await owner.GetAsync($"/console/tenants/{tenant.Id}/invitations");

        var unknown = await owner.GetAsync("/console/tenants/abc/invitations");
        Assert.Equal((HttpStatusCode.NotFound, "text/html", "Not found"), (unknown.Status, unknown.ContentType, unknown.Heading));
        var before = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().CountAsync(i => i.TenantId == tenant.Id));
        var nul = await owner.PostAsync($"/console/tenants/{tenant.Id}/invitations?handler=Invite", [new("InviteEmail", "a\0b@example.test")]);
        Assert.True(nul.Status is HttpStatusCode.BadRequest, $"{(int)nul.Status}: {nul.Body}");
        Assert.Equal("text/html", nul.ContentType);
        Assert.Equal(before, await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().CountAsync(i => i.TenantId == tenant.Id)));
        var notAdmin = await ConsoleSession.OwnerAsync(app, tenant);
        await notAdmin.GetAsync("/console");
        var create = await notAdmin.PostAsync("/console?handler=Create", [new("TenantName", "Sneaky"), new("OwnerEmail", Scenarios.UniqueEmail())]);
        Assert.Equal((HttpStatusCode.Forbidden, "Not allowed"), (create.Status, create.Heading));
        Assert.Contains("Only a platform admin may create a tenant.", create.Body);
    }

    [Fact]
    public async Task A_session_ends_12_hours_after_its_sign_in_however_busy()
    {
        var tenant = await app.CreateTenantAsync("Session Co");
        using var owner = await ConsoleSession.OwnerAsync(app, tenant);
        for (var hour = 0; hour < 11; hour++)
        {
            app.Clock.Advance(TimeSpan.FromHours(1));
            Assert.Equal(HttpStatusCode.OK, (await owner.GetAsync("/console")).Status); // sliding: each use renews it
        }
        app.Clock.Advance(TimeSpan.FromMinutes(61));

        var ended = await owner.GetAsync("/console");

        Assert.Equal(HttpStatusCode.Found, ended.Status);
        Assert.StartsWith("/console/sign-in?ReturnUrl=", ended.Location);
        Assert.Equal("no-store", ended.Headers["Cache-Control"]); // the redirect carries the console's headers too
        Assert.Contains("script-src 'self'", ended.Headers["Content-Security-Policy"]);
    }

    [Fact]
    public async Task Saving_the_settings_unchanged_keeps_following_the_services_defaults()
    {
        var tenant = await app.CreateTenantAsync("Defaults Co");
        using var owner = await ConsoleSession.OwnerAsync(app, tenant);
        var page = await owner.GetAsync($"/console/tenants/{tenant.Id}/settings");
        Assert.Contains("placeholder=\"the service's default (7)\"", page.Body.Replace("&#x27;", "'", StringComparison.Ordinal));

        var saved = await owner.PostAsync($"/console/tenants/{tenant.Id}/settings?handler=Save",
            [new("DisplayName", ""), new("ReplyTo", ""), new("DefaultLocale", "en"), new("InvitationValidityDays", ""), new("AllowedEmailDomains", ""), new("EmailsPerHour", "")]);

        Assert.Equal(HttpStatusCode.Redirect, saved.Status);
        var stored = await app.QueryAsync(db => db.Tenants.AsNoTracking().SingleAsync(t => t.Id == tenant.Id));
        Assert.Equal((null, null), (stored.InvitationValidityDays, stored.EmailsPerHour));
        Assert.Null(await app.QueryAsync(db => db.AuditEvents.IgnoreQueryFilters().Where(a => a.TenantId == tenant.Id && a.Action == "settings.updated")
            .Select(a => a.Details).SingleAsync()));
        var outOfRange = await owner.PostAsync($"/console/tenants/{tenant.Id}/settings?handler=Save", [new("InvitationValidityDays", "99999999999")]);
        Assert.Contains("The invitationValidityDays field must be from 1 to 30.", outOfRange.Body);
    }

    [Fact]
    public async Task The_imports_page_does_not_reload_the_answer_to_a_form()
    {
        var tenant = await app.CreateTenantAsync("Refresh Co");
        await app.SendAsync(HttpMethod.Post, ImportsTests.ImportPath(tenant.Id), tenant.OwnerToken,
            rawBody: "email\n" + string.Concat(Enumerable.Range(0, 3).Select(i => $"{Scenarios.UniqueEmail("r")}\n")), contentType: "text/csv");
        using var owner = await ConsoleSession.OwnerAsync(app, tenant);
        await owner.GetAsync($"/console/tenants/{tenant.Id}/imports");

        var answer = await owner.PostAsync($"/console/tenants/{tenant.Id}/imports?handler=Upload", []);

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Contains("Choose a CSV file to upload.", answer.Body);
        Assert.DoesNotContain("http-equiv=\"refresh\"", answer.Body);
    }
}
