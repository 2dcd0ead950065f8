using OpenQA.Selenium;

namespace TenantInvitations.Tests;

// Every action works without JavaScript (Chromium with script turned off), and the pages read at 360 px without the page
// itself scrolling sideways (wide tables scroll in their own box).
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class ConsoleWithoutScriptTests(BrowserApp app) : IClassFixture<BrowserApp>
{
    [Fact]
    public async Task Create_a_tenant_invite_resend_and_revoke_with_script_turned_off()
    {
        var profile = Directory.CreateTempSubdirectory("ti-chromium-noscript-").FullName;
        var driver = Chromium.Start(profile, javaScript: false);
        try
        {
            var console = new ConsoleBrowser(driver, app.BaseUrl);
            console.SignIn("sub-noscript", "noscript@platform.test", platformAdmin: true);
            console.Fill("Tenant name", "No Script Co");
            console.Fill("Owner email", Scenarios.UniqueEmail("owner"));
            console.Press("Create tenant");
            console.Wait(() => console.Heading == "Invitations");
            var tenantPath = console.Path;

            var email = Scenarios.UniqueEmail("noscript");
            console.Fill("Invite email", email);
            console.Press("Invite");
            console.Wait(() => console.Notice == $"Invited {email} as Member. The email is queued.");
            await app.Smtp.WaitForAsync(email);
            Assert.False(console.Button("Resend", console.Row(email)).Enabled);

            app.Clock.Advance(TimeSpan.FromSeconds(61));
            console.Open(tenantPath);
            console.Press("Resend", console.Row(email));
            console.Wait(() => console.Notice == $"Sent again to {email}.");
            Assert.Equal(2, (await app.Smtp.WaitForAsync(email, 2)).Length);

            console.Press("Revoke", console.Row(email));
            console.Wait(() => console.Main.Contains("Revoke this invitation?", StringComparison.Ordinal));
            console.Press("Revoke", driver.FindElement(By.CssSelector(".confirm")));
            console.Wait(() => console.Notice?.StartsWith($"Revoked the invitation to {email}.", StringComparison.Ordinal) == true);
            var tenantId = long.Parse(tenantPath.Split('/')[3], System.Globalization.CultureInfo.InvariantCulture);
            var invitation = (await app.GetAsync($"/tenant/{tenantId}/admin/user/invitation?email={Uri.EscapeDataString(email)}", app.PlatformAdminToken)).AssertSuccess()[0];
            Assert.Equal(("Revoked", 2), (invitation.GetProperty("status").GetString(), invitation.GetProperty("sendCount").GetInt32()));
            console.SignOut();
        }
        finally
        {
            driver.Quit();
            Directory.Delete(profile, recursive: true);
        }
    }

    [Fact]
    public async Task The_pages_read_at_360_pixels_without_the_page_scrolling_sideways()
    {
        var tenant = await app.CreateTenantAsync("A Tenant With A Rather Long Name For A Narrow Screen");
        await app.InviteAsync(tenant, email: $"someone-with-a-long-address-{Guid.NewGuid():N}@a-long-domain.example.test");
        var console = new ConsoleBrowser(app.Browser, app.BaseUrl);
        console.SignIn($"sub-{tenant.OwnerEmail}", tenant.OwnerEmail);
        app.Browser.Manage().Window.Size = new System.Drawing.Size(360, 800);
        try
        {
            foreach (var page in new[] { "invitations", "members", "imports", "audit", "settings", "webhooks" })
            {
                console.Open($"/console/tenants/{tenant.Id}/{page}");
                var (scrollWidth, viewport) = (Convert.ToInt64(app.Browser.ExecuteScript("return document.documentElement.scrollWidth;")),
                    Convert.ToInt64(app.Browser.ExecuteScript("return window.innerWidth;")));
                Assert.True(scrollWidth <= viewport, $"{page}: the page is {scrollWidth} px wide in a {viewport} px window");
                console.AssertAccessible($"{page} at 360 px");
            }
            console.Open($"/console/tenants/{tenant.Id}/invitations");
            console.Screenshot("invitations-360");
        }
        finally
        {
            app.Browser.Manage().Window.Size = new System.Drawing.Size(1000, 900);
        }
        console.SignOut();
    }
}
