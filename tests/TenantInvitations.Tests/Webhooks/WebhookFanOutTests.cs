using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TenantInvitations.Data;
using TenantInvitations.Events;
using TenantInvitations.Webhooks;

namespace TenantInvitations.Tests;

// No dispatcher runs here, so the test runs the fan-out itself and no background round can take part of a batch between
// its run and its count (its first round, late on a loaded machine, once made a batch of 500 look like 498).
public sealed class SlowPollWebhookApp : WebhookTestApp
{
    protected override IEnumerable<KeyValuePair<string, string>> ExtraSettings() => [new("Webhooks:PollInterval", "00:01:00")];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services =>
        {
            foreach (var dispatcher in services.Where(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(WebhookDispatcher)).ToList())
            {
                services.Remove(dispatcher);
            }
        });
    }
}

// The fan-out says when it left events behind, so the dispatcher runs it again at once instead of after its poll interval
// (a backlog of events went through at one batch of 500 a poll).
public sealed class WebhookFanOutTests(SlowPollWebhookApp app) : IClassFixture<SlowPollWebhookApp>
{
    [Fact]
    public async Task A_backlog_longer_than_a_batch_goes_out_batch_after_batch_and_each_says_whether_more_is_waiting()
    {
        var tenant = await app.CreateTenantAsync();
        await using var receiver = await WebhookReceiver.StartAsync(app.Transcript);
        var webhook = await app.CreateWebhookAsync(tenant, receiver.Url, [EventTypes.InvitationRevoked]);
        var fanOut = app.Services.GetRequiredService<WebhookFanOut>();
        while (await fanOut.RunAsync(CancellationToken.None))
        {
            // the tenant's and the endpoint's own events first
        }
        var ids = app.Services.GetRequiredService<IdGenerator>();
        var backlog = WebhookFanOut.BatchSize + 1;
        await app.QueryAsync(async db =>
        {
            for (var i = 0; i < backlog; i++)
            {
                EventLog.Add(db, await ids.NextAsync(CancellationToken.None), EventTypes.InvitationRevoked, tenant.Id, actor: null, new { n = i }, DateTime.UtcNow);
            }
            return await db.SaveChangesAsync();
        });

        // On PostgreSQL an event is visible below the cluster's oldest running transaction, which another test's database
        // may hold for a moment: wait until the whole backlog is visible, so the first run sees a full batch.
        await Eventually.ValueAsync(() => app.QueryAsync(async db =>
                await EventsApi.VisibleBelowAsync(db, CancellationToken.None) > await db.Events.IgnoreQueryFilters().MaxAsync(e => e.Position)),
            visible => visible);

        Assert.True(await fanOut.RunAsync(CancellationToken.None)); // a full batch: more may be waiting
        Assert.Equal(WebhookFanOut.BatchSize, await DeliveriesAsync(webhook.Id));
        Assert.False(await fanOut.RunAsync(CancellationToken.None)); // the rest
        Assert.Equal(backlog, await DeliveriesAsync(webhook.Id));
        Assert.False(await fanOut.RunAsync(CancellationToken.None)); // nothing left, and nothing made twice
        Assert.Equal(backlog, await DeliveriesAsync(webhook.Id));
    }

    private Task<int> DeliveriesAsync(long endpointId) =>
        app.QueryAsync(db => db.WebhookDeliveries.IgnoreQueryFilters().CountAsync(d => d.EndpointId == endpointId));
}
