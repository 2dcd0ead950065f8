using System.Data.Common;
using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TenantInvitations.Data;
using TenantInvitations.Events;

namespace TenantInvitations.Tests;

// The hard cases, made to happen rather than hoped for: an event whose transaction commits late, and several sweepers at once.
public sealed class FeedVisibilityTests(TestApp app) : IClassFixture<TestApp>
{
    [Fact]
    public async Task An_event_that_commits_late_is_not_skipped_and_the_events_after_it_wait_for_it()
    {
        var tenant = await app.CreateTenantAsync();
        await DatabaseSnapshot.SettledAsync(app);
        var feed = $"/events?tenantId={tenant.Id}";
        var cursor = (await app.ReadToEndAsync(feed, app.PlatformAdminToken)).Next;

        // A writer's transaction that has written its event and not committed yet.
        await using var late = app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext();
        await using var transaction = await late.Database.BeginTransactionAsync();
        var lateId = 8_000_000_000 + Random.Shared.Next(1_000_000);
        EventLog.Add(late, lateId, EventTypes.TenantSettingsChanged, tenant.Id, actor: null, new EmptyData(), app.Clock.UtcNow());
        await late.SaveChangesAsync();

        Assert.Empty((await app.GetAsync(cursor, app.PlatformAdminToken)).Events());
        var later = new List<long>();
        if (TestDatabase.IsPostgres)
        {
            // Events committed after it, through the API, wait behind it: a consumer that saw them would move past the late one.
            for (var i = 0; i < 3; i++)
            {
                later.Add((await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = Scenarios.UniqueEmail() }, tenant.OwnerToken))
                    .AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64());
            }
            var stored = await app.QueryAsync(db => db.Events.IgnoreQueryFilters().CountAsync(e => e.TenantId == tenant.Id && e.Type == "invitation.created"));
            Assert.True(stored >= 4, "The later events are committed.");
            Assert.Empty((await app.GetAsync(cursor, app.PlatformAdminToken)).Events());
        }

        await transaction.CommitAsync();

        var seen = await Eventually.ValueAsync(async () => (await app.ReadToEndAsync(cursor, app.PlatformAdminToken)).Events,
            e => e.Count(x => x.Type == "invitation.created") == later.Count && e.Any(x => x.Id == lateId));
        Assert.Equal(lateId, seen[0].Id); // first, in the position of its transaction
        Assert.Equal(seen.Count, seen.Select(e => e.Id).Distinct().Count());
        Assert.Equal(later.Order(), seen.Where(e => e.Type == "invitation.created").Select(e => e.DataId()).Order());
    }

    [Fact]
    public async Task Four_sweepers_at_once_announce_each_lapse_exactly_once()
    {
        var tenant = await app.CreateTenantAsync();
        var invited = new List<long>();
        for (var i = 0; i < 30; i++)
        {
            invited.Add((await app.PostAsync($"/tenant/{tenant.Id}/admin/user/invitation", new { email = Scenarios.UniqueEmail(), expiresInDays = 1 },
                tenant.OwnerToken)).AssertSuccess(HttpStatusCode.Created)[0].GetProperty("id").GetInt64());
        }
        app.Clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromSeconds(1));

        // As on four nodes: each sweeper claims what it can and skips what another holds, the service's own one included.
        var sweepers = Enumerable.Range(0, 3).Select(_ => new ExpirySweeper(app.Services.GetRequiredService<IDbContextFactory<AppDbContext>>(),
            app.Services.GetRequiredService<IdGenerator>(), app.Clock, app.Services.GetRequiredService<IOptions<EventOptions>>(),
            app.Services.GetRequiredService<IOptions<TenantInvitations.Invitations.InvitationOptions>>(),
            app.Services.GetRequiredService<IHostApplicationLifetime>(), NullLogger<ExpirySweeper>.Instance)).ToList();
        await Task.WhenAll(sweepers.Select(s => Task.Run(async () =>
        {
            for (var round = 0; round < 5; round++)
            {
                try
                {
                    await s.SweepAsync(CancellationToken.None);
                }
                catch (DbException)
                {
                    // SQLite's one writer kept another sweeper waiting too long: it sweeps again next round, as the service does
                }
            }
        })));

        var expired = await Eventually.ValueAsync(() => app.QueryAsync(db => db.Events.IgnoreQueryFilters().AsNoTracking()
            .Where(e => e.TenantId == tenant.Id && e.Type == EventTypes.InvitationExpired).ToListAsync()), e => e.Count >= invited.Count);
        await Task.Delay(500);
        expired = await app.QueryAsync(db => db.Events.IgnoreQueryFilters().AsNoTracking()
            .Where(e => e.TenantId == tenant.Id && e.Type == EventTypes.InvitationExpired).ToListAsync());
        Assert.Equal(invited.Order(), expired.Select(e => System.Text.Json.JsonDocument.Parse(e.Data).RootElement.GetProperty("id").GetInt64()).Order());
    }
}
