using System.Net;
using Microsoft.EntityFrameworkCore;

namespace TenantInvitations.Tests;

// As in production (Webhooks:AllowPrivateNetworks unset): addresses that are not public are refused when an endpoint is registered,
// and again when each connection is made, which goes to the address that was checked (DNS rebinding gets nowhere).
public sealed class WebhookSsrfTests(StrictWebhookApp app) : IClassFixture<StrictWebhookApp>
{
    private static readonly IPAddress Public = IPAddress.Parse("93.184.216.34");

    [Theory]
    [InlineData("http://127.0.0.1:8080/hooks", "The url field's host 127.0.0.1 is a loopback address")]
    [InlineData("http://[::1]/hooks", "The url field's host [::1] is a loopback address")]
    [InlineData("https://10.1.2.3/hooks", "The url field's host 10.1.2.3 is a private address")]
    [InlineData("https://192.168.0.10/hooks", "The url field's host 192.168.0.10 is a private address")]
    [InlineData("https://100.64.0.1/hooks", "The url field's host 100.64.0.1 is a shared (100.64.0.0/10) address")]
    [InlineData("https://169.254.169.254/latest/meta-data", "The url field's host 169.254.169.254 is a link-local address")]
    [InlineData("https://224.0.0.1/hooks", "The url field's host 224.0.0.1 is a multicast address")]
    [InlineData("https://[::ffff:127.0.0.1]/hooks", "The url field's host [::ffff:127.0.0.1] is a loopback address")]
    [InlineData("https://intranet.example.test/hooks", "The url field's host intranet.example.test resolves to a private address")]
    [InlineData("https://sneaky.example.test/hooks", "The url field's host sneaky.example.test resolves to a loopback address")]
    public async Task An_endpoint_whose_host_is_not_public_is_400_and_nothing_is_stored(string url, string problem)
    {
        app.Names.Set("intranet.example.test", IPAddress.Parse("10.0.0.5"));
        app.Names.Set("sneaky.example.test", Public, IPAddress.Loopback);
        var tenant = await app.CreateTenantAsync();
        var before = await SnapshotAsync();

        var response = await app.PostAsync($"/tenant/{tenant.Id}/admin/webhooks", new { url }, tenant.OwnerToken);

        Assert.StartsWith(problem, Assert.Single(response.AssertError(HttpStatusCode.BadRequest, "ValidationError").ErrorInfo));
        Assert.Empty(DatabaseSnapshot.Differences(before, await SnapshotAsync()));
    }

    [Fact]
    public async Task A_name_that_resolved_to_a_public_address_and_later_to_loopback_is_refused_at_connect_time_and_nothing_reaches_loopback()
    {
        var tenant = await app.CreateTenantAsync();
        await using var receiver = await WebhookReceiver.StartAsync(app.Transcript);
        app.Names.Set("rebinding.example.test", Public);
        var webhook = await app.CreateWebhookAsync(tenant, $"http://rebinding.example.test:{receiver.Port}/hooks");
        var lookups = app.Names.LookupsOf("rebinding.example.test");

        app.Names.Set("rebinding.example.test", IPAddress.Loopback);
        (await app.PostAsync($"{webhook.Path}/test", null, tenant.OwnerToken)).AssertSuccess(HttpStatusCode.Accepted);

        var delivery = Assert.Single(await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.Length == 1 && d[0].Attempts == 1));
        Assert.Equal(("Retrying", (int?)null), (delivery.Status, delivery.ResponseStatus));
        Assert.Equal("Could not connect: The webhook host rebinding.example.test resolves only to loopback addresses; webhooks only go to public addresses.",
            delivery.Error);
        Assert.True(app.Names.LookupsOf("rebinding.example.test") > lookups, "The name was resolved again to connect.");
        Assert.Empty(receiver.Received);
    }

    [Fact]
    public async Task A_name_that_does_not_resolve_yet_is_accepted_and_resolved_and_checked_again_at_each_connection()
    {
        var tenant = await app.CreateTenantAsync();
        await using var receiver = await WebhookReceiver.StartAsync(app.Transcript);

        var webhook = await app.CreateWebhookAsync(tenant, $"http://not-yet.example.test:{receiver.Port}/hooks");

        Assert.True(await app.QueryAsync(db => db.WebhookEndpoints.IgnoreQueryFilters().AnyAsync(e => e.Id == webhook.Id)));
        app.Names.Set("not-yet.example.test", IPAddress.Loopback);
        (await app.PostAsync($"{webhook.Path}/test", null, tenant.OwnerToken)).AssertSuccess(HttpStatusCode.Accepted);
        var delivery = Assert.Single(await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.Length == 1 && d[0].Attempts == 1));
        Assert.StartsWith("Could not connect: The webhook host not-yet.example.test resolves only to loopback addresses", delivery.Error);
        Assert.Empty(receiver.Received);
    }

    private async Task<Dictionary<string, string>> SnapshotAsync()
    {
        await DatabaseSnapshot.SettledAsync(app);
        return await DatabaseSnapshot.TakeAsync(app);
    }
}
