namespace TenantInvitations.Tests;

public sealed class SlowPaceApp : WebhookTestApp
{
    protected override IEnumerable<KeyValuePair<string, string>> ExtraSettings() => [new("Webhooks:MaxPerSecondPerEndpoint", "4")];
}

// Deliveries to one endpoint go out no faster than Webhooks:MaxPerSecondPerEndpoint, however many are due: the slots are
// reserved on the endpoint's row, so nodes share the pace. What is checked are lower bounds on the spacing, never a speed.
public sealed class WebhookPaceTests(SlowPaceApp app) : IClassFixture<SlowPaceApp>
{
    [Fact]
    public async Task Twelve_due_deliveries_to_one_endpoint_arrive_at_most_four_a_second()
    {
        var tenant = await app.CreateSettledTenantAsync();
        await using var receiver = await WebhookReceiver.StartAsync(app.Transcript);
        var webhook = await app.CreateWebhookAsync(tenant, receiver.Url, ["invitation.created"]);
        (await app.PutAsync(webhook.Path, tenant.OwnerToken, new { enabled = false })).AssertSuccess();
        for (var i = 0; i < 12; i++)
        {
            (await app.PostAsync($"{webhook.Path}/test", null, tenant.OwnerToken)).AssertSuccess(System.Net.HttpStatusCode.Accepted);
        }

        var arrived = (await receiver.WaitForCountAsync(12)).Select(r => r.ArrivedAt).Order().ToList();

        // Slots are 250 ms apart. Arrivals vary by the time each request takes (the first opens the connection), so the bounds
        // leave room for that; without the pace all twelve would arrive within a fraction of a second.
        Assert.True(arrived[^1] - arrived[1] >= TimeSpan.FromSeconds(2), $"Arrivals 1 to 11 came {(arrived[^1] - arrived[1]).TotalMilliseconds} ms apart.");
        for (var i = 0; i + 4 < arrived.Count; i++)
        {
            Assert.True(arrived[i + 4] - arrived[i] >= TimeSpan.FromMilliseconds(750),
                $"Arrivals {i} to {i + 4} came {(arrived[i + 4] - arrived[i]).TotalMilliseconds} ms apart.");
        }
    }
}
