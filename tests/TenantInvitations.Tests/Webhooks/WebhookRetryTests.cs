using System.Net;

namespace TenantInvitations.Tests;

// Retries on the schedule, a receiver that is down, and five days of failures, driven by the fake clock. Signatures are compared
// with StandardWebhooks' own Sign for the same id, timestamp and body (its real-clock check would refuse a moved clock).
public sealed class WebhookRetryTests(WebhookTestApp app) : IClassFixture<WebhookTestApp>
{
    private static readonly TimeSpan[] Schedule =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2), TimeSpan.FromHours(5),
        TimeSpan.FromHours(10), TimeSpan.FromHours(14), TimeSpan.FromHours(20), TimeSpan.FromHours(24),
    ];

    [Fact]
    public async Task A_failing_receiver_is_retried_on_the_schedule_with_jitter_until_the_delivery_is_Failed_after_ten_attempts()
    {
        var (tenant, receiver, webhook) = await SetUpAsync(WebhookReply.WithStatus(500));
        await using var _ = receiver;

        await app.InviteAsync(tenant);

        for (var attempt = 1; attempt <= 10; attempt++)
        {
            var delivery = Assert.Single(await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.Length == 1 && d[0].Attempts == attempt));
            Assert.Equal(((int?)500, "The endpoint answered 500."), (delivery.ResponseStatus, delivery.Error));
            if (attempt == 10)
            {
                Assert.Equal(("Failed", (DateTime?)null), (delivery.Status, delivery.NextAttemptAt));
                break;
            }
            Assert.Equal("Retrying", delivery.Status);
            var wait = delivery.NextAttemptAt!.Value - delivery.LastAttemptAt!.Value;
            Assert.InRange(wait, Schedule[attempt - 1] * 0.9, Schedule[attempt - 1] * 1.1);
            app.Clock.Advance(wait + TimeSpan.FromSeconds(1));
        }
        await DatabaseSnapshot.SettledAsync(app);
        Assert.Equal(10, receiver.Received.Length); // an attempt is counted only when it was made
        Assert.Single(receiver.Received.Select(r => r.Id).Distinct());
        Assert.All(receiver.Received, r => Assert.Equal([Signatures.Verified], Signatures.CompareEachWithSign(webhook.Secret, r)));
        Assert.True((await app.GetAsync(webhook.Path, tenant.OwnerToken)).AssertSuccess().GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public async Task A_Retry_After_longer_than_the_scheduled_wait_is_honoured()
    {
        var (tenant, receiver, webhook) = await SetUpAsync(WebhookReply.RetryAfter(503, 3600));
        await using var _ = receiver;

        await app.InviteAsync(tenant);

        var delivery = Assert.Single(await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.Length == 1 && d[0].Attempts == 1));
        Assert.Equal(("Retrying", (int?)503), (delivery.Status, delivery.ResponseStatus));
        Assert.Equal(TimeSpan.FromHours(1), delivery.NextAttemptAt!.Value - delivery.LastAttemptAt!.Value);
    }

    [Fact]
    public async Task A_Retry_After_date_is_honoured_too()
    {
        var (tenant, receiver, webhook) = await SetUpAsync(WebhookReply.Ok);
        await using var _ = receiver;
        receiver.Respond(WebhookReply.WithStatus(429) with { RetryAfterDate = app.Clock.GetUtcNow() + TimeSpan.FromHours(2) });

        await app.InviteAsync(tenant);

        var delivery = Assert.Single(await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.Length == 1 && d[0].Attempts == 1));
        Assert.Equal(TimeSpan.FromHours(2).TotalSeconds, (delivery.NextAttemptAt!.Value - delivery.LastAttemptAt!.Value).TotalSeconds, 1.0);
    }

    [Fact]
    public async Task An_endpoint_that_is_down_pauses_its_deliveries_without_using_up_their_attempts_and_they_all_arrive_when_it_is_back()
    {
        var (tenant, receiver, webhook) = await SetUpAsync(WebhookReply.WithStatus(503));
        await using var _ = receiver;
        var downLines = Lines("is down");
        var backLines = Lines("is back");

        for (var i = 0; i < 6; i++)
        {
            (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = Scenarios.UniqueEmail() }, tenant.OwnerToken))
                .AssertSuccess(HttpStatusCode.Created);
        }

        // Some were tried and failed; then the circuit opened, and the rest wait untried (held back, or not claimed at all).
        await Eventually.ValueAsync(() => Task.FromResult(Lines("is down")), n => n == downLines + 1);
        await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.Length == 6);
        await Task.Delay(500); // five more dispatcher rounds: nothing else goes out while the clock stands still
        var paused = await app.DeliveriesAsync(webhook, tenant.OwnerToken);
        Assert.Contains(paused, d => d.Attempts == 0);
        Assert.Equal(receiver.Received.Length, paused.Sum(d => d.Attempts));
        Assert.InRange(paused.Sum(d => d.Attempts), 2, 5);
        Assert.Equal(downLines + 1, Lines("is down"));

        // Down for real (connections refused): one probe after the pause, which fails and doubles it; still one log line.
        await receiver.DownAsync();
        var triedBefore = paused.Sum(d => d.Attempts);
        app.Clock.Advance(TimeSpan.FromSeconds(6));
        await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.Sum(x => x.Attempts) == triedBefore + 1);
        await Task.Delay(500);
        var probed = await app.DeliveriesAsync(webhook, tenant.OwnerToken);
        Assert.Equal(triedBefore + 1, probed.Sum(d => d.Attempts));
        Assert.Contains(probed, d => d.Error?.StartsWith("Could not connect", StringComparison.Ordinal) == true);
        Assert.Equal(downLines + 1, Lines("is down"));

        receiver.Respond(WebhookReply.Ok);
        await receiver.UpAsync();
        app.Clock.Advance(TimeSpan.FromMinutes(6)); // past the doubled pause, and past the probe's own next attempt (5 min after its second)
        var delivered = await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.All(x => x.Status == "Succeeded"));
        Assert.Equal(triedBefore + 1 + 6, delivered.Sum(d => d.Attempts));
        Assert.Equal(6, receiver.Received.Where(r => r.Answered?.Status == 200).Select(r => r.Id).Distinct().Count());
        Assert.Equal(backLines + 1, Lines("is back"));
        Assert.Equal(downLines + 1, Lines("is down"));
    }

    [Fact]
    public async Task Five_days_of_nothing_but_failed_attempts_disables_the_endpoint_saying_why()
    {
        var (tenant, receiver, webhook) = await SetUpAsync(WebhookReply.WithStatus(500));
        await using var _ = receiver;
        await app.InviteAsync(tenant);
        await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.Length == 1 && d[0].Attempts == 1);

        app.Clock.Advance(TimeSpan.FromDays(5) + TimeSpan.FromMinutes(1));
        await app.InviteAsync(tenant); // its delivery fails with the others, or is never made if the retry disabled the endpoint first

        var failed = await app.WaitForDeliveriesAsync(webhook, tenant.OwnerToken, d => d.Length >= 1 && d.All(x => x.Status == "Failed"));
        await DatabaseSnapshot.SettledAsync(app);
        failed = await app.DeliveriesAsync(webhook, tenant.OwnerToken);
        Assert.All(failed, d => Assert.Equal("Failed", d.Status));
        var model = (await app.GetAsync(webhook.Path, tenant.OwnerToken)).AssertSuccess();
        Assert.False(model.GetProperty("enabled").GetBoolean());
        Assert.StartsWith("Every attempt failed for 5 days, since ", model.GetProperty("disabledReason").GetString());
        Assert.All(failed, d => Assert.NotNull(d.Error));
    }

    private async Task<(TenantSetup Tenant, WebhookReceiver Receiver, WebhookSetup Webhook)> SetUpAsync(WebhookReply reply)
    {
        var tenant = await app.CreateSettledTenantAsync();
        var receiver = await WebhookReceiver.StartAsync(app.Transcript);
        receiver.Respond(reply);
        var webhook = await app.CreateWebhookAsync(tenant, receiver.Url, ["invitation.created"]);
        return (tenant, receiver, webhook);
    }

    private int Lines(string text) =>
        app.Transcript.Entries.Count(e => e.Where.Contains("WebhookDispatcher", StringComparison.Ordinal) && e.Text.Contains(text, StringComparison.Ordinal));
}
