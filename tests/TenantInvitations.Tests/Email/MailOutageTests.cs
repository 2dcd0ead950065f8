using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using TenantInvitations.Auth;
using TenantInvitations.Data;
using TenantInvitations.Email;
using TenantInvitations.Invitations;
using TenantInvitations.Members;

namespace TenantInvitations.Tests;

// The mail server goes away under a 10,000-email backlog: one warning, no claims while it is down, one real attempt per
// probe, nobody's retry time used up, and every email delivered once it is back, with one line saying so.
public sealed class MailOutageTests
{
    private const int Backlog = 10_000;

    [Fact]
    public async Task A_backlog_waits_out_an_outage_calmly_and_is_all_delivered_after()
    {
        await using var app = new OutageApp();
        var tenant = await app.CreateTenantAsync("Outage");
        await app.Smtp.StopAsync();
        var start = app.Clock.GetUtcNow();

        // 10,000 invitations, each with its email queued, as the API would make them (in batches, for speed).
        var tenantId = tenant.Id;
        await app.QueryAsync(async db =>
        {
            db.TenantId = tenantId;
            var services = app.Services;
            var (ids, outbox) = (services.GetRequiredService<IdGenerator>(), services.GetRequiredService<EmailOutbox>());
            var row = await db.Tenants.SingleAsync(t => t.Id == tenantId);
            var inviter = new Caller("sub-owner", tenant.OwnerEmail, tenant.OwnerEmail, false, null, null);
            for (var i = 0; i < Backlog; i++)
            {
                await NewInvitation.AddAsync(db, ids, outbox, row, $"backlog-{i}@outage.test", MemberRole.Member, 7, null, "en", inviter,
                    new InvitationOptions(), app.Clock.UtcNow(), CancellationToken.None);
                if (i % 1000 == 999)
                {
                    await db.SaveChangesAsync();
                    db.ChangeTracker.Clear();
                }
            }
            outbox.Committed();
            return 0;
        });

        // Down: the first tries fail, the circuit opens, and the dispatcher stops claiming.
        await Eventually.ValueAsync(() => Task.FromResult(app.Transcript.Entries.Count(e => e.Where.StartsWith("log Warning", StringComparison.Ordinal)
            && e.Text.Contains("can't be reached", StringComparison.Ordinal))), count => count == 1, seconds: 60);
        var afterOpening = await AttemptsAsync(app);
        Assert.InRange(afterOpening.Attempted, 1, 3);

        // An hour of outage in fake time: probes after 5 s, 10 s, 20 s, ... up to 10 minutes apart, each one real attempt.
        var probes = 0;
        for (var minute = 0; minute < 60; minute++)
        {
            app.Clock.Advance(TimeSpan.FromMinutes(1));
            await Task.Delay(60);
            probes++;
        }
        await Task.Delay(500);
        var down = await AttemptsAsync(app);
        Assert.Equal(0, down.Failed);
        Assert.Equal(Backlog, down.Queued);
        // At most one real attempt per minute advanced (pauses grow to 10 minutes), plus the two that opened the circuit.
        Assert.InRange(down.AttemptsMade, afterOpening.AttemptsMade, afterOpening.AttemptsMade + probes);
        Assert.True(down.AttemptsMade <= 20, $"{down.AttemptsMade} attempts during an hour's outage");

        // Back: the next probe goes through, the circuit closes, and the whole backlog drains.
        app.Smtp.Start();
        app.Clock.Advance(TimeSpan.FromMinutes(11));
        await Eventually.ValueAsync(() => AttemptsAsync(app), a => a.Sent == Backlog, seconds: 180);
        Assert.Equal(Backlog, app.Smtp.Messages.Count(m => m.To.Mailboxes.Single().Address.EndsWith("@outage.test", StringComparison.Ordinal)));
        var after = await AttemptsAsync(app);
        // No email lost attempts it did not make: only the probed ones were tried more than once.
        Assert.True(after.TriedMoreThanOnce <= down.AttemptsMade, $"{after.TriedMoreThanOnce} emails tried more than once");

        // The log: one warning when the server went away, one line when it came back, and nothing else above Information.
        var lines = app.Transcript.Entries.Where(e => e.Where.StartsWith("log ", StringComparison.Ordinal)
            && !e.Where.StartsWith("log Debug", StringComparison.Ordinal) && !e.Where.StartsWith("log Trace", StringComparison.Ordinal)
            && e.Where.Contains("Email", StringComparison.Ordinal)).ToList();
        var warnings = lines.Where(e => !e.Where.StartsWith("log Information", StringComparison.Ordinal)).ToList();
        Assert.Single(warnings);
        Assert.Single(lines, e => e.Text.Contains("is reachable again", StringComparison.Ordinal));
        Assert.DoesNotContain(warnings, e => e.Text.Contains("   at ", StringComparison.Ordinal));
        Assert.True(app.Clock.GetUtcNow() - start > TimeSpan.FromHours(1));
    }

    // Failure details go to Debug here, so the test sees that they stay out of the warnings.
    private sealed class OutageApp : SmtpTestApp
    {
        protected override IEnumerable<KeyValuePair<string, string>> Settings() =>
            [.. base.Settings(), new("Logging:LogLevel:TenantInvitations.Email", "Debug")];
    }

    private sealed record Attempts(int Queued, int Sent, int Failed, int Attempted, int AttemptsMade, int TriedMoreThanOnce);

    private static Task<Attempts> AttemptsAsync(TestApp app) => app.QueryAsync(async db =>
    {
        var rows = await db.OutboxMessages.IgnoreQueryFilters().Where(m => m.MessageId.Contains("@")).Join(db.Invitations.IgnoreQueryFilters(),
                m => m.InvitationId, i => i.Id, (m, i) => new { m.Status, m.Attempts, i.Email })
            .Where(r => r.Email.EndsWith("@outage.test")).ToListAsync();
        return new Attempts(rows.Count(r => r.Status == OutboxStatus.Queued), rows.Count(r => r.Status == OutboxStatus.Sent),
            rows.Count(r => r.Status == OutboxStatus.Failed), rows.Count(r => r.Attempts > 0), rows.Sum(r => r.Attempts), rows.Count(r => r.Attempts > 1));
    });
}
