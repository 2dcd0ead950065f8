namespace TenantInvitations.Tests;

// The email dispatcher writes invitation.delivered and invitation.delivery_failed with the outcome it records, over real SMTP.
public sealed class DeliveryEventsTests(SmtpTestApp app) : IClassFixture<SmtpTestApp>
{
    [Fact]
    public async Task A_refused_email_is_one_delivery_failed_event_and_an_accepted_one_is_one_delivered_event()
    {
        var tenant = await app.CreateTenantAsync();
        var refused = Scenarios.UniqueEmail("refused");
        app.Smtp.Refuses = address => address == refused;
        var delivered = await app.InviteAsync(tenant);
        var failedId = (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = refused }, tenant.OwnerToken))
            .AssertSuccess(System.Net.HttpStatusCode.Created)[0].GetProperty("id").GetInt64();
        var feed = $"/tenant/{tenant.Id}/admin/events?type=invitation.delivered&type=invitation.delivery_failed";

        var events = await Eventually.ValueAsync(async () => (await app.ReadToEndAsync(feed, tenant.OwnerToken)).Events,
            e => e.Any(x => x.Type == "invitation.delivery_failed") && e.Count(x => x.Type == "invitation.delivered") >= 2);

        var failed = Assert.Single(events, e => e.Type == "invitation.delivery_failed");
        Assert.Equal(failedId, failed.DataId());
        Assert.Null(failed.Actor);
        var delivery = failed.Data.GetProperty("delivery");
        Assert.Equal(("Failed", 1), (delivery.GetProperty("status").GetString(), delivery.GetProperty("attempts").GetInt32()));
        Assert.Contains("550", delivery.GetProperty("lastError").GetString());
        Assert.Equal(1, events.Count(e => e.Type == "invitation.delivered" && e.DataId() == delivered.Id));
        Assert.DoesNotContain(events, e => e.Type == "invitation.delivered" && e.DataId() == failedId);
    }
}
