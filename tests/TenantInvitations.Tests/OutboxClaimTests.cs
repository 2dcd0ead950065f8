using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;
using TenantInvitations.Email;

namespace TenantInvitations.Tests;

// The service with a sender that counts every send by Message-ID (and still writes the pickup folder the scenarios read).
public sealed class CountingSenderApp : TestApp
{
    public ConcurrentDictionary<string, int> Sends { get; } = new();

    protected override IEnumerable<KeyValuePair<string, string>> Settings() =>
        [new("Email:BatchSize", "7"), new("Invitations:EmailsPerHour", "10000")];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.AddSingleton<IEmailSender>(
            new CountingSender(new PickupDirectorySender(Path.Combine(Folder, "mail")), Sends)));
    }

    private sealed class CountingSender(PickupDirectorySender inner, ConcurrentDictionary<string, int> sends) : IEmailSender, IEmailSession
    {
        public Task<IEmailSession> OpenSessionAsync(CancellationToken cancellationToken) => Task.FromResult<IEmailSession>(this);

        public async Task SendAsync(MimeMessage message, CancellationToken cancellationToken)
        {
            sends.AddOrUpdate(message.MessageId ?? "", 1, (_, count) => count + 1);
            await inner.SendAsync(message, cancellationToken);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

// Several dispatchers claiming from one outbox at once (the service's own plus two more, as on three nodes): every
// message is claimed by exactly one of them and sent exactly once. On PostgreSQL the claims go through SKIP LOCKED,
// on SQLite through the conditional update alone.
public sealed class OutboxClaimTests(CountingSenderApp app) : IClassFixture<CountingSenderApp>
{
    [Fact]
    public async Task Three_dispatchers_draining_one_outbox_send_every_message_exactly_once()
    {
        var tenant = await app.CreateTenantAsync();
        using var stop = new CancellationTokenSource();
        var dispatchers = Enumerable.Range(0, 2).Select(_ => ActivatorUtilities.CreateInstance<OutboxDispatcher>(app.Services)).ToList();
        var loops = dispatchers.Select(dispatcher => Task.Run(async () =>
        {
            var batches = 0;
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    if (await dispatcher.DispatchBatchAsync(stop.Token) > 0)
                    {
                        batches++;
                    }
                    else
                    {
                        await Task.Delay(2, stop.Token);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // stopped by the test
            }
            return batches;
        })).ToList();

        var emails = Enumerable.Range(0, 150).Select(_ => Scenarios.UniqueEmail("claim")).ToList();
        await Parallel.ForEachAsync(emails, new ParallelOptions { MaxDegreeOfParallelism = 6 }, async (email, _) =>
            (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email, role = "Member" }, tenant.OwnerToken))
                .AssertSuccess(System.Net.HttpStatusCode.Created));
        await Eventually.ValueAsync(() => app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters()
            .CountAsync(m => m.TenantId == tenant.Id && m.Status == OutboxStatus.Queued)), queued => queued == 0);
        await stop.CancelAsync();
        var batches = await Task.WhenAll(loops);

        var outbox = await app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters().Where(m => m.TenantId == tenant.Id)
            .Select(m => new { m.MessageId, m.Status, m.Attempts }).ToListAsync());
        Assert.Equal(151, outbox.Count); // the Owner's invitation and the 150
        Assert.All(outbox, m => Assert.Equal((OutboxStatus.Sent, 1), (m.Status, m.Attempts)));
        Assert.All(outbox, m => Assert.Equal(1, app.Sends.GetValueOrDefault(m.MessageId)));
        Assert.True(batches.Sum() > 0, "the extra dispatchers claimed nothing, so nothing raced");
    }
}
