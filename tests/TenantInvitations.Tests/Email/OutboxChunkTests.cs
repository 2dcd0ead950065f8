using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;
using TenantInvitations.Email;

namespace TenantInvitations.Tests;

// The service with a sender that lets a test act while an email is on its way (and still writes the pickup folder).
public sealed class HookedSenderApp : TestApp
{
    public Func<MimeMessage, Task>? BeforeSend { get; set; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.AddSingleton<IEmailSender>(new HookedSender(new PickupDirectorySender(Path.Combine(Folder, "mail")), this)));
    }

    private sealed class HookedSender(PickupDirectorySender inner, HookedSenderApp app) : IEmailSender, IEmailSession
    {
        public Task<IEmailSession> OpenSessionAsync(CancellationToken cancellationToken) => Task.FromResult<IEmailSession>(this);

        public async Task SendAsync(MimeMessage message, CancellationToken cancellationToken)
        {
            if (app.BeforeSend is { } hook)
            {
                await hook(message);
            }
            await inner.SendAsync(message, cancellationToken);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

// The dispatcher records a chunk of outcomes at once, guarded; a change that lands while the chunk is being sent makes it
// record one email at a time, so an old email's outcome never overwrites the delivery of the newer one.
public sealed class OutboxChunkTests(HookedSenderApp app) : IClassFixture<HookedSenderApp>
{
    [Fact]
    public async Task A_resend_while_the_first_email_is_sent_keeps_the_new_email_s_delivery_and_only_its_event()
    {
        var tenant = await app.CreateTenantAsync();
        var email = Scenarios.UniqueEmail("chunk");
        var resent = new TaskCompletionSource<ApiResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        app.BeforeSend = async message =>
        {
            if (message.To.Mailboxes.Any(m => m.Address == email) && !resent.Task.IsCompleted)
            {
                // The dispatcher has read the invitation for this chunk; the resend supersedes that email before it is recorded.
                app.Clock.Advance(TimeSpan.FromMinutes(2));
                var id = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().Where(i => i.NormalizedEmail == email).Select(i => i.Id).SingleAsync());
                resent.SetResult(await app.PutAsync($"/tenant/{tenant.Id}/admin/user/invitation/resend?id={id}", tenant.OwnerToken));
            }
        };
        var invitationId = (await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email }, tenant.OwnerToken))
            .AssertSuccess(System.Net.HttpStatusCode.Created)[0].GetProperty("id").GetInt64();
        (await resent.Task.WaitAsync(TimeSpan.FromSeconds(20))).AssertSuccess();
        await app.WaitForEmailAsync(email, 2);
        await DatabaseSnapshot.SettledAsync(app);

        var stored = await app.QueryAsync(db => db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleAsync(i => i.Id == invitationId));
        var outbox = await app.QueryAsync(db => db.OutboxMessages.IgnoreQueryFilters().Where(m => m.InvitationId == invitationId)
            .OrderBy(m => m.Id).Select(m => new { m.Id, m.Status, m.Attempts }).ToListAsync());
        Assert.Equal([(OutboxStatus.Sent, 1), (OutboxStatus.Sent, 1)], outbox.Select(m => (m.Status, m.Attempts)));
        Assert.Equal(outbox[1].Id, stored.DeliveryOutboxId);
        Assert.Equal((DeliveryStatus.Sent, 1), (stored.DeliveryStatus, stored.DeliveryAttempts));
        var delivered = await app.QueryAsync(db => db.Events.IgnoreQueryFilters()
            .Where(e => e.Type == "invitation.delivered" && e.TenantId == tenant.Id && e.Data.Contains($"\"id\":{invitationId},")).CountAsync());
        Assert.Equal(1, delivered); // the new email's; the superseded one was recorded on its outbox row only
        Assert.Equal(2, app.Mail.To(email).Length);
    }
}
