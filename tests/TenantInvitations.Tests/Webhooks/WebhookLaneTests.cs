using TenantInvitations.Webhooks;

namespace TenantInvitations.Tests;

// The per-endpoint pieces on their own: the growing pause between probes, and the retry schedule with its jitter.
[Trait(StorageTrait.Name, StorageTrait.Independent)]
public sealed class WebhookLaneTests
{
    [Fact]
    public void The_pause_before_each_probe_doubles_from_5_seconds_up_to_10_minutes()
    {
        Assert.Equal([5, 10, 20, 40, 80, 160, 320, 600, 600],
            Enumerable.Range(0, 9).Select(n => (int)WebhookLane.PauseAfter(n).TotalSeconds));
        Assert.Equal(TimeSpan.FromMinutes(10), WebhookLane.PauseAfter(int.MaxValue));
    }

    [Theory]
    [InlineData(0.0, 0.9)]
    [InlineData(0.5, 1.0)]
    [InlineData(0.9999, 1.09998)]
    public void Each_failed_attempt_waits_its_scheduled_time_with_jitter_and_the_tenth_is_final(double random, double factor)
    {
        var delivery = new WebhookDelivery { EventType = "member.added" };
        var now = new DateTime(2026, 12, 5, 10, 0, 0, DateTimeKind.Utc);

        for (var attempt = 1; attempt <= 9; attempt++)
        {
            delivery.Failed(500, "The endpoint answered 500.", null, 1, now, random, retryAfter: null);
            Assert.Equal(WebhookDeliveryStatus.Retrying, delivery.Status);
            Assert.Equal(WebhookDelivery.RetrySchedule[attempt - 1].TotalSeconds * factor, (delivery.NextAttemptAt - now).TotalSeconds, 1);
        }
        delivery.Failed(500, "The endpoint answered 500.", null, 1, now, random, retryAfter: null);

        Assert.Equal((WebhookDeliveryStatus.Failed, 10), (delivery.Status, delivery.Attempts));
        Assert.Equal([5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400], WebhookDelivery.RetrySchedule.Select(d => (int)d.TotalSeconds));
    }

    [Fact]
    public void A_longer_Retry_After_wins_and_a_shorter_one_does_not_shorten_the_schedule()
    {
        var now = new DateTime(2026, 12, 5, 10, 0, 0, DateTimeKind.Utc);
        var longer = new WebhookDelivery { EventType = "member.added" };
        var shorter = new WebhookDelivery { EventType = "member.added" };

        longer.Failed(503, "The endpoint answered 503.", null, 1, now, 0.5, TimeSpan.FromMinutes(10));
        shorter.Failed(503, "The endpoint answered 503.", null, 1, now, 0.5, TimeSpan.FromSeconds(1));

        Assert.Equal(now.AddMinutes(10), longer.NextAttemptAt);
        Assert.Equal(now.AddSeconds(5), shorter.NextAttemptAt);
    }
}
