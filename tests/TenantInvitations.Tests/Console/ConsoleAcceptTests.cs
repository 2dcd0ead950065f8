using Microsoft.EntityFrameworkCore;
using OpenQA.Selenium;

namespace TenantInvitations.Tests;

// An Owner invites from the console, the invitee accepts in a second browser session, and the console shows them joined:
// on both providers, since it is the flow that crosses the most tables.
public sealed class ConsoleAcceptTests(BrowserApp app) : IClassFixture<BrowserApp>
{
    [Fact]
    public async Task An_Owner_invites_in_the_console_the_invitee_accepts_in_another_session_and_the_console_shows_it()
    {
        var tenant = await app.CreateTenantAsync("Accept Co");
        var owner = new ConsoleBrowser(app.Browser, app.BaseUrl);
        owner.SignIn($"sub-{tenant.OwnerEmail}", tenant.OwnerEmail);
        owner.Open($"/console/tenants/{tenant.Id}/invitations");
        var email = Scenarios.UniqueEmail("joiner");
        owner.Fill("Invite email", email);
        owner.Field("Role").FindElements(By.TagName("option")).Single(o => o.Text == "Admin").Click();
        owner.Press("Invite");
        owner.Wait(() => owner.Notice == $"Invited {email} as Admin. The email is queued.");

        var link = (await app.Smtp.WaitForAsync(email)).Single().TextBody!.Split('\n').Select(l => l.Trim()).Single(l => l.Contains("/accept?token=", StringComparison.Ordinal));
        var profile = Directory.CreateTempSubdirectory("ti-chromium-invitee-").FullName;
        var invitee = Chromium.Start(profile);
        try
        {
            invitee.Navigate().GoToUrl(link);
            invitee.FindElement(By.CssSelector("button[value=accept]")).Click();
            new ConsoleBrowser(invitee, app.BaseUrl).Wait(() => invitee.FindElement(By.TagName("h1")).Text == "You have joined Accept Co");
        }
        finally
        {
            invitee.Quit();
            Directory.Delete(profile, recursive: true);
        }

        owner.ReloadUntil(() => owner.Row(email).FindElement(By.CssSelector(".status .badge")).Text == "Accepted");
        Assert.Empty(owner.Row(email).FindElements(By.TagName("button"))); // nothing to resend or revoke
        owner.Open($"/console/tenants/{tenant.Id}/members");
        Assert.Equal("Admin", owner.Row(email).FindElement(By.CssSelector("select option:checked")).Text);
        var role = await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters()
            .Where(m => m.TenantId == tenant.Id && m.User.NormalizedEmail == email).Select(m => m.Role.ToString()).SingleAsync());
        Assert.Equal("Admin", role);
        owner.SignOut();
    }
}
