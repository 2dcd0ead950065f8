using System.Text.Json;
using OpenQA.Selenium;

namespace TenantInvitations.Tests;

// Webhooks in the console, delivering over real HTTP to a loopback receiver; signatures checked with the secret the page showed,
// by the StandardWebhooks package.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class ConsoleWebhooksTests(BrowserApp app) : IClassFixture<BrowserApp>
{
    [Fact]
    public async Task Add_an_endpoint_see_its_secret_once_send_a_test_see_the_delivery_retry_it_and_rotate()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var tenant = await app.CreateTenantAsync("Hooks Co");
        var console = new ConsoleBrowser(app.Browser, app.BaseUrl);
        console.SignIn($"sub-{tenant.OwnerEmail}", tenant.OwnerEmail);
        console.Open($"/console/tenants/{tenant.Id}/webhooks");
        console.AssertAccessible("webhooks");

        console.Fill("Endpoint URL", receiver.Url);
        console.Fill("Description", "Our CRM");
        console.Field("invitation.created").Click();
        console.Press("Add endpoint");

        console.Wait(() => console.Notice == $"Added the endpoint {receiver.Url}.");
        var secret = console.Field("Signing secret").GetAttribute("value")!;
        Assert.StartsWith("whsec_", secret);
        Assert.NotNull(console.Button("Copy"));
        app.RememberSecret(secret); // the leak scan fails the run if it shows up anywhere else
        console.AssertAccessible("webhooks with the new secret");
        console.Screenshot("webhooks");
        var endpoint = Assert.Single((await app.GetAsync($"/tenant/{tenant.Id}/admin/webhooks", tenant.OwnerToken)).AssertSuccess().EnumerateArray());
        Assert.Equal((receiver.Url, "Our CRM"), (endpoint.GetProperty("url").GetString(), endpoint.GetProperty("description").GetString()));
        Assert.Equal(["invitation.created"], endpoint.GetProperty("types").EnumerateArray().Select(t => t.GetString()));

        console.Open($"/console/tenants/{tenant.Id}/webhooks");
        Assert.DoesNotContain(secret, console.Driver.PageSource); // shown once

        console.Press("Send test", console.Row(receiver.Url));
        console.Wait(() => console.Heading == $"Deliveries to {receiver.Url}");
        var received = Assert.Single(await receiver.WaitForCountAsync(1));
        Assert.Equal("webhook.test", JsonDocument.Parse(received.Body).RootElement.GetProperty("type").GetString());
        Assert.Equal(Signatures.Verified, Signatures.VerifyWithStandardWebhooks(secret, received));
        console.ReloadUntil(() => console.Row("webhook.test").FindElement(By.CssSelector(".badge")).Text == "Succeeded");
        Assert.Contains("HTTP 200", console.Row("webhook.test").Text);
        console.AssertAccessible("deliveries");

        console.Press("Retry", console.Row("webhook.test"));
        console.Wait(() => console.Notice?.EndsWith("goes again now.", StringComparison.Ordinal) == true);
        Assert.Equal(2, (await receiver.WaitForCountAsync(2)).Length);
        console.ReloadUntil(() => console.Row("webhook.test").FindElements(By.TagName("td"))[2].Text == "2");

        console.Open($"/console/tenants/{tenant.Id}/webhooks");
        console.Press("Rotate secret", console.Row(receiver.Url));
        console.Wait(() => console.Notice?.StartsWith("Made a new secret.", StringComparison.Ordinal) == true);
        var rotated = console.Field("Signing secret").GetAttribute("value")!;
        app.RememberSecret(rotated);
        Assert.NotEqual(secret, rotated);
        console.Press("Send test", console.Row(receiver.Url));
        var third = (await receiver.WaitForCountAsync(3))[2];
        Assert.Equal(Signatures.Verified, Signatures.VerifyWithStandardWebhooks(rotated, third));
        console.SignOut();
    }
}
