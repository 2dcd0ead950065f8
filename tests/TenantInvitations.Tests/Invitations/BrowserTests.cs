using System.Globalization;
using Microsoft.EntityFrameworkCore;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;

namespace TenantInvitations.Tests;

// The accept page the email links to, in real headless Chromium.
public sealed class BrowserTests(BrowserApp app) : IClassFixture<BrowserApp>
{
    [Fact]
    public async Task The_link_from_the_email_opens_the_page_and_Accept_joins()
    {
        var tenant = await app.CreateTenantAsync("Browser Co");
        var invitation = await app.InviteAsync(tenant, "Admin");
        var link = LinkFrom(Assert.Single(app.Smtp.To(invitation.Email)));
        Assert.StartsWith($"{app.BaseUrl}/accept?token=", link);

        app.Browser.Navigate().GoToUrl(link);
        Assert.Equal("Join Browser Co", Heading());
        Assert.Equal("en", app.Browser.FindElement(By.TagName("html")).GetAttribute("lang"));
        Assert.Contains("Admin", app.Browser.FindElement(By.TagName("dl")).Text);
        Screenshot("accept-page");
        app.Browser.FindElement(By.CssSelector("button[value=accept]")).Click();

        Wait(() => Heading() == "You have joined Browser Co");
        Assert.Contains("You are now an Admin of Browser Co.", app.Browser.FindElement(By.TagName("main")).Text);
        Screenshot("accept-page-joined");
        var role = await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters()
            .Where(m => m.TenantId == tenant.Id && m.User.NormalizedEmail == invitation.Email).Select(m => m.Role.ToString()).SingleAsync());
        Assert.Equal("Admin", role);
    }

    [Fact]
    public async Task Decline_in_the_browser_declines()
    {
        var tenant = await app.CreateTenantAsync("Decliners");
        var invitation = await app.InviteAsync(tenant);

        app.Browser.Navigate().GoToUrl(LinkFrom(Assert.Single(app.Smtp.To(invitation.Email))));
        app.Browser.FindElement(By.CssSelector("button[value=decline]")).Click();

        Wait(() => Heading() == "Invitation declined");
        var status = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.Id == invitation.Id).Select(i => i.Status.ToString()).SingleAsync());
        Assert.Equal("Declined", status);
        Assert.Equal(0, await app.QueryAsync(db => db.Memberships.IgnoreQueryFilters().CountAsync(m => m.TenantId == tenant.Id && m.User.NormalizedEmail == invitation.Email)));
    }

    [Fact]
    public async Task A_superseded_link_says_to_use_the_latest_email_and_the_latest_one_works()
    {
        var tenant = await app.CreateTenantAsync("Resenders");
        var invitation = await app.InviteAsync(tenant);
        var firstLink = LinkFrom(Assert.Single(app.Smtp.To(invitation.Email)));
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        (await app.PutAsync(Scenarios.ResendPath(tenant, invitation.Id), tenant.OwnerToken)).AssertSuccess();
        var latestLink = LinkFrom((await app.Smtp.WaitForAsync(invitation.Email, 2))[1]);

        app.Browser.Navigate().GoToUrl(firstLink);
        Assert.Equal("A newer invitation was sent", Heading());
        Assert.Contains("Use the link in the latest invitation email.", app.Browser.FindElement(By.TagName("main")).Text);
        Assert.Empty(app.Browser.FindElements(By.TagName("button")));

        app.Browser.Navigate().GoToUrl(latestLink);
        app.Browser.FindElement(By.CssSelector("button[value=accept]")).Click();
        Wait(() => Heading() == "You have joined Resenders");
    }

    private string Heading() => app.Browser.FindElement(By.TagName("h1")).Text;

    // After a click the page is replaced; until the next one has loaded, elements vanish or go stale.
    private void Wait(Func<bool> condition)
    {
        var wait = new WebDriverWait(app.Browser, TimeSpan.FromSeconds(15));
        // Chromium may also say "Node with given id does not belong to the document" when the page is swapped mid-read.
        wait.IgnoreExceptionTypes(typeof(StaleElementReferenceException), typeof(NoSuchElementException), typeof(UnknownErrorException));
        wait.Until(_ => condition());
    }

    private static string LinkFrom(MimeKit.MimeMessage message) =>
        message.TextBody!.Split('\n').Select(l => l.Trim()).Single(l => l.Contains("/accept?token=", StringComparison.Ordinal));

    // Kept with the test results, to see what the browser saw.
    private void Screenshot(string name)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        app.Browser.GetScreenshot().SaveAsFile(Path.Combine(folder, $"{name}.png"));
    }
}
