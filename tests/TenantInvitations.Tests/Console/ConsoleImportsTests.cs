using System.Text;
using OpenQA.Selenium;

namespace TenantInvitations.Tests;

// A CSV upload in the console: the import's own rules, its progress on the page, and its results.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class ConsoleImportsTests(BrowserApp app) : IClassFixture<BrowserApp>
{
    [Fact]
    public async Task Upload_a_CSV_follow_its_progress_to_Completed_and_download_its_results()
    {
        var tenant = await app.CreateTenantAsync("Import Co");
        var (first, second) = (Scenarios.UniqueEmail("csv-a"), Scenarios.UniqueEmail("csv-b"));
        var file = Path.Combine(app.Folder, "people.csv");
        await File.WriteAllTextAsync(file, $"Email;Role;Team\n{first};Admin;Sales\n{second};;Ops\nnot-an-address;Member;Ops\n", new UTF8Encoding(true));
        var console = new ConsoleBrowser(app.Browser, app.BaseUrl);
        console.SignIn($"sub-{tenant.OwnerEmail}", tenant.OwnerEmail);
        console.Open($"/console/tenants/{tenant.Id}/imports");
        console.AssertAccessible("imports");

        console.Field("CSV file").SendKeys(file);
        console.Press("Upload and import");
        console.Wait(() => console.Notice == "Importing 3 rows from people.csv.");
        console.Wait(() => console.Row("of 3 rows").FindElement(By.CssSelector(".badge")).Text == "Completed", seconds: 30); // the page refreshes itself
        var row = console.Row("of 3 rows");
        Assert.Equal("3", row.FindElement(By.TagName("progress")).GetAttribute("value"));
        Assert.Contains("ignored columns: Team", row.Text);
        Assert.Equal(["2", "0", "1"], row.FindElements(By.TagName("td")).Skip(3).Take(3).Select(c => c.Text));
        console.AssertAccessible("imports, completed");
        console.Screenshot("imports");

        var results = row.FindElement(By.LinkText("Results")).GetAttribute("href")!;
        var cookie = console.Driver.Manage().Cookies.GetCookieNamed("invitations-console");
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, results);
        request.Headers.Add("Cookie", $"{cookie!.Name}={cookie.Value}");
        using var response = await client.SendAsync(request);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        var lines = (await response.Content.ReadAsStringAsync()).TrimStart('\uFEFF').Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("line,email,status,invitationId,error", lines[0]);
        Assert.StartsWith($"2,{first},Created,", lines[1]);
        Assert.StartsWith($"3,{second},Created,", lines[2]);
        Assert.StartsWith("4,not-an-address,Invalid,,", lines[3]);
        var invited = (await app.GetAsync($"/tenant/{tenant.Id}/admin/user/invitation?email={Uri.EscapeDataString(first)}", tenant.OwnerToken)).AssertSuccess();
        Assert.Equal("Admin", invited[0].GetProperty("role").GetString());
        console.SignOut();
    }

    [Fact]
    public async Task A_file_the_import_refuses_is_the_APIs_message_and_a_2_MB_file_is_taken()
    {
        var tenant = await app.CreateTenantAsync("Refused Co");
        var console = new ConsoleBrowser(app.Browser, app.BaseUrl);
        console.SignIn($"sub-{tenant.OwnerEmail}", tenant.OwnerEmail);
        console.Open($"/console/tenants/{tenant.Id}/imports");
        var noEmail = Path.Combine(app.Folder, "no-email.csv");
        await File.WriteAllTextAsync(noEmail, "name,role\nDana,Admin\n");

        console.Field("CSV file").SendKeys(noEmail);
        console.Press("Upload and import");
        console.Wait(() => console.Main.Contains("The request parameters failed validation.", StringComparison.Ordinal));
        Assert.Contains("email", console.Driver.FindElement(By.CssSelector(".notice.error")).Text);
        Assert.Empty(console.Driver.FindElements(By.CssSelector("tbody tr")));

        // Over the service's 1 MB body limit, under the import's 10 MB: every row Invalid (a message over 500 characters), so no email goes out.
        var big = Path.Combine(app.Folder, "big.csv");
        var message = new string('m', 600);
        await File.WriteAllTextAsync(big, "email,message\n" + string.Concat(Enumerable.Range(0, 3300).Select(i => $"big-{i}@example.test,{message}\n")));
        Assert.True(new FileInfo(big).Length > 2_000_000);
        console.Field("CSV file").SendKeys(big);
        console.Press("Upload and import");
        console.Wait(() => console.Notice == "Importing 3300 rows from big.csv.");
        console.Wait(() => console.Row("of 3300 rows").FindElement(By.CssSelector(".badge")).Text == "Completed", seconds: 60);
        Assert.Equal(["0", "0", "3300"], console.Row("of 3300 rows").FindElements(By.TagName("td")).Skip(3).Take(3).Select(c => c.Text));
        console.SignOut();
    }

    [Fact]
    public async Task Kestrel_refuses_a_form_over_1_MB_elsewhere_with_a_page()
    {
        var tenant = await app.CreateTenantAsync("Large Form Co");
        using var owner = await ConsoleSession.OwnerAsync(app, tenant);
        await owner.GetAsync($"/console/tenants/{tenant.Id}/invitations");

        var tooLarge = await owner.PostAsync($"/console/tenants/{tenant.Id}/invitations?handler=InviteMany", [new("ManyEmails", new string('a', 1_100_000))]);

        Assert.Equal((System.Net.HttpStatusCode.RequestEntityTooLarge, "text/html", "Too large"), (tooLarge.Status, tooLarge.ContentType, tooLarge.Heading));
        Assert.Equal(1, (await app.GetAsync($"/tenant/{tenant.Id}/admin/user/invitation", tenant.OwnerToken)).AssertSuccess().GetArrayLength());
    }
}
