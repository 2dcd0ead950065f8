using System.Net;
using Microsoft.EntityFrameworkCore;
using OpenQA.Selenium;

namespace TenantInvitations.Tests;

// The console in real headless Chromium against the service on a Kestrel socket, emailing through the loopback SMTP server.
// These run once (on SQLite); the invite-and-accept flow also runs on PostgreSQL (ConsoleAcceptTests).
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class ConsoleBrowserTests(BrowserApp app) : IClassFixture<BrowserApp>
{
    private ConsoleBrowser Console => new(app.Browser, app.BaseUrl);

    private long TenantIdFrom(string path) => long.Parse(path.Split('/')[3], System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task A_platform_admin_signs_in_with_the_dev_form_creates_a_tenant_and_the_API_agrees()
    {
        var console = Console;
        console.Open("/console/sign-in");
        console.AssertAccessible("sign-in");
        console.Screenshot("sign-in");
        console.SignIn("root-console", "root@platform.test", platformAdmin: true);
        Assert.Equal("Tenants", console.Heading);
        console.AssertAccessible("/console");
        console.Screenshot("tenants");

        var ownerEmail = Scenarios.UniqueEmail("owner");
        console.Fill("Tenant name", "Console Co");
        console.Fill("Owner email", ownerEmail);
        console.Press("Create tenant");

        console.Wait(() => console.Heading == "Invitations");
        var tenantId = TenantIdFrom(console.Path);
        Assert.Equal($"/console/tenants/{tenantId}/invitations", console.Path);
        Assert.Contains($"Created Console Co. The Owner invitation to {ownerEmail} is on its way.", console.Notice);
        Assert.Contains("Owner", console.Row(ownerEmail).Text);
        var listed = (await app.GetAsync("/tenant?limit=100", app.PlatformAdminToken)).AssertSuccess().EnumerateArray()
            .Single(t => t.GetProperty("id").GetInt64() == tenantId);
        Assert.Equal("Console Co", listed.GetProperty("name").GetString());
        var invitation = Assert.Single((await app.GetAsync($"/tenant/{tenantId}/admin/user/invitation", app.PlatformAdminToken)).AssertSuccess().EnumerateArray());
        Assert.Equal((ownerEmail, "Owner"), (invitation.GetProperty("email").GetString(), invitation.GetProperty("role").GetString()));
        console.SignOut();
    }

    [Fact]
    public async Task Invite_watch_it_sent_resend_after_the_cooldown_then_revoke_with_confirmation()
    {
        var tenant = await app.CreateTenantAsync("Invite Flow");
        var console = Console;
        console.SignIn("sub-invite-flow-admin", "admin@platform.test", platformAdmin: true);
        console.Open($"/console/tenants/{tenant.Id}/invitations");
        var email = Scenarios.UniqueEmail("dana");

        console.Fill("Invite email", email);
        console.Press("Invite");
        console.Wait(() => console.Notice?.Contains($"Invited {email} as Member.", StringComparison.Ordinal) == true);
        console.ReloadUntil(() => console.Row(email).FindElement(By.CssSelector(".delivery .badge")).Text == "Sent");
        Assert.Single(await app.Smtp.WaitForAsync(email));

        // In the cooldown Resend keeps its label, is disabled and says when it will be available.
        var resend = console.Button("Resend", console.Row(email));
        Assert.False(resend.Enabled);
        Assert.Matches("available in (1 minute|[1-5]?[0-9] seconds)", console.Row(email).Text); // the script counts it down
        console.AssertAccessible("invitations");
        console.Screenshot("invitations");

        app.Clock.Advance(TimeSpan.FromSeconds(61));
        console.Open($"/console/tenants/{tenant.Id}/invitations");
        console.Press("Resend", console.Row(email));
        console.Wait(() => console.Notice == $"Sent again to {email}.");
        Assert.Equal(2, (await app.Smtp.WaitForAsync(email, 2)).Length);
        var id = (await app.GetAsync($"/tenant/{tenant.Id}/admin/user/invitation?email={Uri.EscapeDataString(email)}", tenant.OwnerToken))
            .AssertSuccess()[0];
        Assert.Equal(2, id.GetProperty("sendCount").GetInt32());
        var invitationId = id.GetProperty("id").GetInt64();

        console.Row(email).FindElement(By.LinkText(email)).Click();
        console.Wait(() => console.Heading == email);
        Assert.Contains("invitation.resent", console.Main);
        Assert.Equal("Preview of the invitation email", console.Driver.FindElement(By.CssSelector("iframe")).GetAttribute("title"));
        Assert.Equal("", console.Driver.FindElement(By.CssSelector("iframe")).GetAttribute("sandbox"));
        console.AssertAccessible("one invitation");
        console.Screenshot("invitation");

        console.Press("Revoke");
        console.Wait(() => console.Main.Contains("Revoke this invitation?", StringComparison.Ordinal));
        Assert.Equal("Pending", await StatusAsync(tenant, invitationId)); // asking changed nothing
        console.AssertAccessible("revoke confirmation");
        console.Press("Revoke", console.Driver.FindElement(By.CssSelector(".confirm")));
        console.Wait(() => console.Notice?.StartsWith($"Revoked the invitation to {email}.", StringComparison.Ordinal) == true);
        Assert.Equal("Revoked", await StatusAsync(tenant, invitationId));
        Assert.Empty(console.Driver.FindElements(By.XPath("//button[normalize-space()='Revoke']")));
        console.SignOut();
    }

    [Fact]
    public async Task Pasting_many_addresses_invites_each_and_says_what_became_of_every_one()
    {
        var tenant = await app.CreateTenantAsync("Paste Co");
        var console = Console;
        console.SignIn("sub-paste", "paste@platform.test", platformAdmin: true);
        console.Open($"/console/tenants/{tenant.Id}/invitations");
        var (first, second) = (Scenarios.UniqueEmail("first"), Scenarios.UniqueEmail("second"));

        console.Driver.FindElement(By.TagName("summary")).Click();
        console.Fill("Addresses, one per line (up to 1,000)", $"{first}\n{second}\nnot-an-address\n{first}");
        console.Press("Invite all");

        console.Wait(() => console.Notice == "Invited 2 of 4.");
        var results = console.Driver.FindElements(By.CssSelector("table")).First(t => t.Text.Contains("What became of each address", StringComparison.Ordinal));
        var rows = results.FindElements(By.CssSelector("tbody tr")).Select(r => r.FindElements(By.TagName("td"))[1].Text).ToArray();
        Assert.Equal(["Created", "Created", "Invalid", "AlreadyInvited"], rows);
        var listed = (await app.GetAsync($"/tenant/{tenant.Id}/admin/user/invitation", tenant.OwnerToken)).AssertSuccess().EnumerateArray()
            .Select(i => i.GetProperty("email").GetString()).ToHashSet();
        Assert.Contains(first, listed);
        Assert.Contains(second, listed);
        console.SignOut();
    }

    [Fact]
    public async Task A_signed_out_visitor_is_sent_to_sign_in_and_comes_back_to_the_page()
    {
        var tenant = await app.CreateTenantAsync("Return Co");
        var console = Console;
        console.Open($"/console/tenants/{tenant.Id}/invitations");

        console.Wait(() => console.Heading == "Sign in");
        Assert.StartsWith("/console/sign-in?ReturnUrl=", console.Path);
        console.Fill("Subject", "sub-return");
        console.Fill("Email", "return@platform.test");
        console.Field("Platform admin").Click();
        console.Press("Sign in");

        console.Wait(() => console.Heading == "Invitations");
        Assert.Equal($"/console/tenants/{tenant.Id}/invitations", console.Path);
        console.SignOut();
    }

    [Fact]
    public async Task A_Member_gets_403_and_another_tenants_invitation_is_404()
    {
        var tenant = await app.CreateTenantAsync("Members Only");
        var member = await app.AddMemberAsync(tenant, "Member");
        var other = await app.CreateTenantAsync("Someone Else");
        var elsewhere = await app.InviteAsync(other);
        var console = Console;

        console.SignIn($"sub-{member.Email}", member.Email);
        Assert.Equal("Tenants", console.Heading);
        Assert.Contains("Members Only", console.Main);
        console.Open($"/console/tenants/{tenant.Id}/invitations");
        Assert.Equal("Not allowed", console.Heading);
        Assert.Contains("You may not manage invitations in this tenant.", console.Main);
        console.AssertAccessible("403");
        console.SignOut();

        console.SignIn($"sub-{tenant.OwnerEmail}", tenant.OwnerEmail);
        console.Open($"/console/tenants/{tenant.Id}/invitations/{elsewhere.Id}");
        Assert.Equal("Not found", console.Heading);
        Assert.Contains("The invitation was not found.", console.Main);
        console.SignOut();
    }

    private async Task<string?> StatusAsync(TenantSetup tenant, long id) =>
        (await app.GetAsync($"/tenant/{tenant.Id}/admin/user/invitation/{id}", tenant.OwnerToken)).AssertSuccess().GetProperty("status").GetString();
}
