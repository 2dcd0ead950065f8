using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TenantInvitations.Data;
using TenantInvitations.Invitations;

namespace TenantInvitations.Events;

// Writes invitation.expired once per lapse. Every node sweeps; claiming the invitation (a row lock on PostgreSQL, the one
// write lock on SQLite) and its version bump make sure a lapse is announced by exactly one of them.
internal sealed class ExpirySweeper(
    IDbContextFactory<AppDbContext> contexts, IdGenerator ids, TimeProvider clock, IOptions<EventOptions> options, IOptions<InvitationOptions> rules,
    IHostApplicationLifetime lifetime, ILogger<ExpirySweeper> logger) : PeriodicWork(lifetime, logger)
{
    public const int BatchSize = 200;

    protected override string Name => "the expiry sweep";
    // Twice per Events:ExpirySweep, so a lapse is announced within it.
    protected override TimeSpan Interval => options.Value.ExpirySweep / 2;

    public override async Task<bool> RunBatchAsync(CancellationToken cancellationToken) => await SweepAsync(cancellationToken) == BatchSize;

    // Announces up to one batch of lapsed invitations; returns how many.
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var now = clock.UtcNow();
        await using var db = contexts.CreateDbContext();
        var due = await db.Invitations.IgnoreQueryFilters()
            .Where(i => i.Status == InvitationStatus.Pending && !i.ExpiryAnnounced && i.ExpiresAt <= now).OrderBy(i => i.ExpiresAt).Take(BatchSize)
            .CountAsync(cancellationToken);
        if (due == 0)
        {
            return 0;
        }
        var eventIds = new Queue<long>();
        for (var i = 0; i < due; i++)
        {
            eventIds.Enqueue(await ids.NextAsync(cancellationToken)); // before the transaction (see EmailQuota)
        }
        using var writer = await SqliteWriters.EnterAsync(db, cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // On PostgreSQL another node's sweep (or a request changing the invitation) holds the row: skip it, not wait.
        var lapsed = db.Database.IsNpgsql()
            ? await db.Invitations.FromSql($"""
                SELECT * FROM invitations
                WHERE status = 'Pending' AND NOT expiry_announced AND expires_at <= {now}
                ORDER BY expires_at LIMIT {due}
                FOR UPDATE SKIP LOCKED
                """).IgnoreQueryFilters().ToListAsync(cancellationToken)
            : await db.Invitations.IgnoreQueryFilters()
                .Where(i => i.Status == InvitationStatus.Pending && !i.ExpiryAnnounced && i.ExpiresAt <= now)
                .OrderBy(i => i.ExpiresAt).Take(due).ToListAsync(cancellationToken);
        foreach (var invitation in lapsed)
        {
            invitation.AnnounceExpiry();
            EventLog.Add(db, eventIds.Dequeue(), EventTypes.InvitationExpired, invitation.TenantId, actor: null,
                invitation.ToModel(now, rules.Value), invitation.ExpiresAt);
        }
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return lapsed.Count;
    }
}
