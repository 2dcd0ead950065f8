using Microsoft.EntityFrameworkCore;
using OpenQA.Selenium;

namespace TenantInvitations.Tests;

// Members, audit and settings in Chromium: each action through the API's own handler, checked against the database.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class ConsoleTenantPagesTests(BrowserApp app) : IClassFixture<BrowserApp>
{
    [Fact]
    public async Task An_Owner_changes_a_role_is_refused_removing_the_last_Owner_in_words_and_removes_after_confirming()
    {
        var tenant = await app.CreateTenantAsync("Roles Co");
        var member = await app.AddMemberAsync(tenant, "Member");
        var console = new ConsoleBrowser(app.Browser, app.BaseUrl);
        console.SignIn($"sub-{tenant.OwnerEmail}", tenant.OwnerEmail);
        console.Open($"/console/tenants/{tenant.Id}/members");
        Assert.Equal("Members", console.Heading);
        console.AssertAccessible("members");

        var row = console.Row(member.Email);
        row.FindElements(By.TagName("option")).Single(o => o.Text == "Admin").Click();
        console.Press("Change role", row);
        console.Wait(() => console.Notice == $"{member.Email} is now an Admin.");
        Assert.Equal("Admin", await RoleAsync(tenant, member.UserId));

        var owner = console.Row(tenant.OwnerEmail);
        owner.FindElements(By.TagName("option")).Single(o => o.Text == "Member").Click();
        console.Press("Change role", owner);
        console.Wait(() => console.Notice?.Contains("You cannot", StringComparison.Ordinal) == true);
        Assert.Equal("You cannot demote the last Owner of the tenant. Make someone else an Owner first.", console.Notice);
        console.Press("Remove", console.Row(tenant.OwnerEmail));
        console.Wait(() => console.Main.Contains($"Remove {tenant.OwnerEmail}?", StringComparison.Ordinal));
        console.Press("Remove", console.Driver.FindElement(By.CssSelector(".confirm")));
        console.Wait(() => console.Notice?.StartsWith("You cannot remove the last Owner", StringComparison.Ordinal) == true);
        Assert.Equal("Owner", await RoleAsync(tenant, tenant.OwnerUserId));
        console.Screenshot("members");

        console.Press("Remove", console.Row(member.Email));
        console.Wait(() => console.Main.Contains($"Remove {member.Email}?", StringComparison.Ordinal));
        Assert.Equal("Admin", await RoleAsync(tenant, member.UserId)); // asking removed nobody
        console.AssertAccessible("remove confirmation");
        console.Press("Remove", console.Driver.FindElement(By.CssSelector(".confirm")));
        console.Wait(() => console.Notice == $"Removed {member.Email}. They lost access at once.");
        Assert.Null(await RoleAsync(tenant, member.UserId));
        Assert.DoesNotContain(member.Email, console.Driver.FindElement(By.TagName("tbody")).Text);
        console.SignOut();
    }

    [Fact]
    public async Task The_audit_page_shows_the_trail_and_filters_by_action()
    {
        var tenant = await app.CreateTenantAsync("Audited Co");
        var invitation = await app.InviteAsync(tenant);
        (await app.PutAsync($"/tenant/{tenant.Id}/admin/user/invitation/revoke?id={invitation.Id}", tenant.OwnerToken)).AssertSuccess();
        var console = new ConsoleBrowser(app.Browser, app.BaseUrl);
        console.SignIn($"sub-{tenant.OwnerEmail}", tenant.OwnerEmail);

        console.Open($"/console/tenants/{tenant.Id}/audit");
        var actions = console.Driver.FindElements(By.CssSelector("tbody tr")).Select(r => r.FindElements(By.TagName("td"))[1].Text).ToList();
        Assert.Equal(["invitation.revoked", "invitation.created", "invitation.accepted", "invitation.created", "tenant.created"], actions.Take(5));
        console.AssertAccessible("audit");
        console.Screenshot("audit");

        console.Fill("Action", "invitation.revoked");
        console.Press("Filter");
        console.Wait(() => console.Path.Contains("action=invitation.revoked", StringComparison.Ordinal));
        var filtered = console.Driver.FindElements(By.CssSelector("tbody tr"));
        Assert.Equal(["invitation.revoked"], filtered.Select(r => r.FindElements(By.TagName("td"))[1].Text));
        Assert.Equal($"invitation {invitation.Id}", filtered[0].FindElement(By.TagName("a")).Text);
        console.SignOut();
    }

    [Fact]
    public async Task Settings_show_each_validation_message_by_its_field_keep_the_data_and_then_save()
    {
        var tenant = await app.CreateTenantAsync("Settings Co");
        var console = new ConsoleBrowser(app.Browser, app.BaseUrl);
        console.SignIn($"sub-{tenant.OwnerEmail}", tenant.OwnerEmail);
        console.Open($"/console/tenants/{tenant.Id}/settings");
        // Not set by the tenant: blank, following the service's default, which the placeholder names.
        Assert.Equal("", console.Field("Invitation validity in days (1 to 30)").GetAttribute("value"));
        Assert.Equal("the service's default (7)", console.Field("Invitation validity in days (1 to 30)").GetAttribute("placeholder"));

        console.Fill("Invitation validity in days (1 to 30)", "45");
        console.Fill("Default locale (en, de, es, fr, or another language tag)", "not a locale!");
        console.Fill("Allowed email domains (one per line; none means any)", "example.com\nnot a domain");
        console.Press("Save settings");

        console.Wait(() => console.Main.Contains("The settings were not saved", StringComparison.Ordinal));
        Assert.Equal("The invitationValidityDays field must be from 1 to 30.", console.Driver.FindElement(By.Id("invitationValidityDays-problems")).Text);
        Assert.Equal("The defaultLocale field must be a language tag such as en, de or pt-BR.", console.Driver.FindElement(By.Id("defaultLocale-problems")).Text);
        Assert.Equal("Each entry of allowedEmailDomains must be a domain name such as example.com.", console.Driver.FindElement(By.Id("allowedEmailDomains-problems")).Text);
        Assert.Equal("45", console.Field("Invitation validity in days (1 to 30)").GetAttribute("value")); // what was typed stays to be fixed
        var stored = await app.QueryAsync(db => db.Tenants.AsNoTracking().SingleAsync(t => t.Id == tenant.Id));
        Assert.Equal((null, "en", 0), (stored.InvitationValidityDays, stored.DefaultLocale, stored.AllowedEmailDomains.Count));
        console.AssertAccessible("settings with problems");
        console.Screenshot("settings");

        console.Fill("Invitation validity in days (1 to 30)", "14");
        console.Fill("Default locale (en, de, es, fr, or another language tag)", "de");
        console.Fill("Allowed email domains (one per line; none means any)", "example.com\nexample.test");
        console.Fill("Display name (shown in emails instead of the name)", "Settings Company");
        console.Press("Save settings");
        console.Wait(() => console.Notice == "Saved the settings.");
        stored = await app.QueryAsync(db => db.Tenants.AsNoTracking().SingleAsync(t => t.Id == tenant.Id));
        Assert.Equal((14, "de", "Settings Company"), (stored.InvitationValidityDays, stored.DefaultLocale, stored.DisplayName));
        Assert.Equal(["example.com", "example.test"], stored.AllowedEmailDomains);

        console.Fill("Tenant name", "Settings Renamed");
        console.Press("Rename");
        console.Wait(() => console.Notice == "Renamed the tenant Settings Renamed.");
        Assert.Equal("Settings Renamed", (await app.GetAsync($"/tenant/{tenant.Id}", tenant.OwnerToken)).AssertSuccess().GetProperty("name").GetString());
        console.SignOut();
    }

    [Fact]
    public async Task An_Admin_sees_no_rename_form_and_the_API_would_refuse_it()
    {
        var tenant = await app.CreateTenantAsync("Admins Co");
        var admin = await app.AddMemberAsync(tenant, "Admin");
        var console = new ConsoleBrowser(app.Browser, app.BaseUrl);
        console.SignIn($"sub-{admin.Email}", admin.Email);
        console.Open($"/console/tenants/{tenant.Id}/settings");

        Assert.Equal("Settings", console.Heading);
        Assert.Empty(console.Driver.FindElements(By.Id("tenant-name")));
        (await app.PutAsync($"/tenant/{tenant.Id}", admin.Token, new { name = "Nope" })).AssertError(System.Net.HttpStatusCode.Forbidden, "Forbidden");
        console.SignOut();
    }

    private Task<string?> RoleAsync(TenantSetup tenant, long userId) => app.QueryAsync(db => db.Memberships.IgnoreQueryFilters()
        .Where(m => m.TenantId == tenant.Id && m.UserId == userId).Select(m => (string?)m.Role.ToString()).SingleOrDefaultAsync());
}
