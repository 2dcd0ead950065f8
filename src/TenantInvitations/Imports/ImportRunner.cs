using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TenantInvitations.Api;
using TenantInvitations.Audit;
using TenantInvitations.Data;
using TenantInvitations.Email;
using TenantInvitations.Invitations;

namespace TenantInvitations.Imports;

// Runs imports on every node. A node claims one due import with a lease (a conditional update, as the outbox does), reads its
// file, and commits it chunk by chunk: each chunk's invitations, emails, audit rows, events, results and the import's progress
// in one transaction under the tenant's lock, after checking that it still owns the import and that it was not cancelled. So
// a node that dies loses at most its uncommitted chunk, and the node that takes over after the lease starts from the recorded
// progress: no row makes two invitations. The tenant's hourly quota, less Imports:QuotaReserve, paces it: WaitingForQuota with
// nextRunAt, then claimed again.
internal sealed class ImportRunner(
    IDbContextFactory<AppDbContext> contexts, IdGenerator ids, EmailOutbox outbox, ImportSignal signal, TimeProvider clock,
    IOptions<ImportOptions> options, IOptions<InvitationOptions> invitationOptions, IHostApplicationLifetime lifetime, ILogger<ImportRunner> logger)
    : PeriodicWork(lifetime, logger)
{
    // Claims without a committed chunk in between after which an import is given up (Failed).
    public const int MaxAttempts = 3;

    private readonly Guid node = Guid.NewGuid();
    private ImportOptions Settings => options.Value;

    protected override string Name => "the import runner";
    protected override TimeSpan Interval => Settings.PollInterval;
    protected override Task WaitAsync(CancellationToken cancellationToken) => signal.WaitAsync(Interval, cancellationToken);

    public override async Task<bool> RunBatchAsync(CancellationToken cancellationToken) => await RunNextAsync(cancellationToken);

    private enum Step { More, Done }

    // Claims the oldest due import and runs it until it finishes, waits for the quota, is cancelled or taken over, or the
    // service stops. False when there was none to run.
    public async Task<bool> RunNextAsync(CancellationToken stoppingToken)
    {
        if (await ClaimAsync(stoppingToken) is not { } import)
        {
            return false;
        }
        if (import.Attempts > MaxAttempts)
        {
            await EndAsync(import.Id, import.TenantId, ImportStatus.Failed, "import.failed");
            logger.LogWarning("Import {ImportId} of tenant {TenantId} failed {Attempts} times in a row without progress; it is marked Failed.",
                import.Id, import.TenantId, MaxAttempts);
            return true;
        }
        await using (var db = contexts.CreateDbContext())
        {
            var content = await db.ImportFiles.Where(f => f.ImportId == import.Id).Select(f => f.Content).FirstOrDefaultAsync(stoppingToken);
            if (content is null)
            {
                return true; // ended in the meantime
            }
            var rows = ImportCsv.Parse(content).File?.Rows
                ?? throw new InvalidOperationException($"The file of import {import.Id} no longer parses.");
            try
            {
                while (await RunChunkAsync(import.Id, import.TenantId, rows, stoppingToken) == Step.More)
                {
                    stoppingToken.ThrowIfCancellationRequested();
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                await ReleaseAsync(import.Id);
                throw;
            }
        }
        return true;
    }

    private async Task<InvitationImport?> ClaimAsync(CancellationToken cancellationToken)
    {
        await using var db = contexts.CreateDbContext();
        var now = clock.UtcNow();
        var imports = db.InvitationImports.IgnoreQueryFilters();
        var id = await imports.Where(i => (i.Status == ImportStatus.Queued || i.Status == ImportStatus.Running || i.Status == ImportStatus.WaitingForQuota)
                && (i.NextRunAt == null || i.NextRunAt <= now) && (i.LockedUntil == null || i.LockedUntil <= now))
            .OrderBy(i => i.CreatedAt).ThenBy(i => i.Id).Select(i => i.Id).FirstOrDefaultAsync(cancellationToken);
        if (id == 0)
        {
            return null;
        }
        var claimed = await imports.Where(i => i.Id == id
                && (i.Status == ImportStatus.Queued || i.Status == ImportStatus.Running || i.Status == ImportStatus.WaitingForQuota)
                && (i.LockedUntil == null || i.LockedUntil <= now))
            .ExecuteUpdateAsync(s => s.SetProperty(i => i.LockedBy, node).SetProperty(i => i.LockedUntil, now + Settings.LeaseDuration)
                .SetProperty(i => i.Status, ImportStatus.Running).SetProperty(i => i.NextRunAt, (DateTime?)null)
                .SetProperty(i => i.Attempts, i => i.Attempts + 1), cancellationToken);
        return claimed == 0 ? null : await imports.AsNoTracking().FirstAsync(i => i.Id == id, cancellationToken);
    }

    // One chunk, committed with the import's progress; Done when the import finished, waits for the quota, or is no longer ours.
    private async Task<Step> RunChunkAsync(long importId, long tenantId, IReadOnlyList<ImportRow> rows, CancellationToken cancellationToken)
    {
        // Ids before the tenant's lock: on SQLite a new block is reserved on another connection, which would wait behind it.
        var reserved = await ids.TakeAsync(Settings.ChunkSize * NewInvitation.IdsPerInvitation + 1, cancellationToken);
        await using var db = contexts.CreateDbContext();
        db.TenantId = tenantId;
        Step step;
        using (await SqliteWriters.EnterAsync(db, cancellationToken))
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            await db.LockTenantAsync(tenantId, cancellationToken);
            var import = await db.InvitationImports.FirstOrDefaultAsync(i => i.Id == importId, cancellationToken);
            if (import is not { Status: ImportStatus.Running } || import.LockedBy != node)
            {
                return Step.Done; // cancelled, or taken over after our lease ran out
            }
            var tenant = await db.Tenants.AsNoTracking().FirstAsync(t => t.Id == tenantId, cancellationToken);
            var now = clock.UtcNow();
            var emailsPerHour = tenant.EmailsPerHour ?? invitationOptions.Value.EmailsPerHour;
            var allowed = emailsPerHour - Settings.ReserveOf(emailsPerHour);
            var left = await EmailQuota.LeftAsync(db, tenantId, emailsPerHour, Settings.ReserveOf(emailsPerHour), now, cancellationToken);
            var chunk = rows.Skip(import.ProcessedRows).Take(Settings.ChunkSize).ToList();
            var outcomes = await InvitationBatch.DecideAsync(db, reserved, outbox, tenant, import.Starter, [.. chunk.Select(r => r.Row)],
                invitationOptions.Value, new InvitationBatch.Quota(left, RefuseOver: null), $"import {importId}", now, cancellationToken);
            for (var i = 0; i < outcomes.Count; i++)
            {
                db.ImportResults.Add(new ImportResult
                {
                    ImportId = importId,
                    Line = chunk[i].Line,
                    Email = ImportResults.Stored(chunk[i].Email),
                    Status = outcomes[i].Status,
                    InvitationId = outcomes[i].Invitation?.Id,
                    Error = outcomes[i].Error is { } error ? ImportResults.Stored(ErrorText(error)) : null,
                });
                import.Count(outcomes[i].Status);
            }
            import.Attempts = 0;
            if (outcomes.Count < chunk.Count)
            {
                // The quota ran out before the chunk's end: wait until the import's share of it frees up.
                import.Status = ImportStatus.WaitingForQuota;
                import.NextRunAt = await EmailQuota.FreeAtAsync(db, tenantId, allowed, outcomes.Count(o => o.Status == BulkRowStatus.Created), now, cancellationToken);
                import.LockedBy = null;
                import.LockedUntil = null;
                step = Step.Done;
            }
            else if (import.ProcessedRows >= import.TotalRows)
            {
                import.Finish(ImportStatus.Completed, now);
                await db.ImportFiles.Where(f => f.ImportId == importId).ExecuteDeleteAsync(cancellationToken);
                db.AuditEvents.Add(AuditEvent.Record(reserved.Dequeue(), import.Starter, "import.completed", tenantId, "import", importId, now, import.Summary));
                step = Step.Done;
            }
            else
            {
                import.LockedUntil = now + Settings.LeaseDuration;
                step = Step.More;
            }
            if (db.Database.IsNpgsql())
            {
                await CopyInsert.WriteAddedAsync(db, cancellationToken);
            }
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        outbox.Committed();
        return step;
    }

    // A row's error as the results show it: a validation error's problems, else its message.
    private static string ErrorText(ApiError error) =>
        error.Code == ErrorCode.ValidationError && error.Info.Count > 0 ? string.Join(" ", error.Info) : error.Message;

    // The service is stopping between chunks: give the import back at once rather than after the lease.
    private async Task ReleaseAsync(long importId)
    {
        await using var db = contexts.CreateDbContext();
        await db.InvitationImports.IgnoreQueryFilters().Where(i => i.Id == importId && i.LockedBy == node && i.Status == ImportStatus.Running)
            .ExecuteUpdateAsync(s => s.SetProperty(i => i.LockedBy, (Guid?)null).SetProperty(i => i.LockedUntil, (DateTime?)null), CancellationToken.None);
    }

    private async Task EndAsync(long importId, long tenantId, ImportStatus status, string action)
    {
        var auditId = await ids.NextAsync(CancellationToken.None);
        await using var db = contexts.CreateDbContext();
        db.TenantId = tenantId;
        var import = await db.InvitationImports.FirstAsync(i => i.Id == importId);
        if (import.IsFinished)
        {
            return; // cancelled in the meantime
        }
        var now = clock.UtcNow();
        import.Finish(status, now);
        await db.ImportFiles.Where(f => f.ImportId == importId).ExecuteDeleteAsync();
        db.AuditEvents.Add(AuditEvent.Record(auditId, import.Starter, action, tenantId, "import", importId, now, import.Summary));
        await db.SaveChangesAsync();
    }
}

// Deletes the per-row results of imports that ended more than Imports:ResultRetentionDays ago (they hold addresses), on every node.
internal sealed class ImportRetention(
    IDbContextFactory<AppDbContext> contexts, TimeProvider clock, IOptions<ImportOptions> options,
    IHostApplicationLifetime lifetime, ILogger<ImportRetention> logger) : PeriodicWork(lifetime, logger)
{
    public const int BatchSize = 5000;

    protected override string Name => "import result retention";
    protected override TimeSpan Interval => TimeSpan.FromMinutes(10);
    protected override TimeSpan BetweenBatches => TimeSpan.FromMilliseconds(50);

    public override async Task<bool> RunBatchAsync(CancellationToken cancellationToken) => await DeleteBatchAsync(cancellationToken);

    // One import's results at a time, in batches; true while more may be waiting.
    public async Task<bool> DeleteBatchAsync(CancellationToken cancellationToken)
    {
        var now = clock.UtcNow();
        var cutoff = now.AddDays(-options.Value.ResultRetentionDays);
        await using var db = contexts.CreateDbContext();
        var imports = db.InvitationImports.IgnoreQueryFilters();
        var importId = await imports.Where(i => i.FinishedAt != null && i.FinishedAt <= cutoff && i.ResultsDeletedAt == null)
            .OrderBy(i => i.FinishedAt).Select(i => i.Id).FirstOrDefaultAsync(cancellationToken);
        if (importId == 0)
        {
            return false;
        }
        var lines = await db.ImportResults.Where(r => r.ImportId == importId).OrderBy(r => r.Line).Select(r => r.Line).Take(BatchSize).ToListAsync(cancellationToken);
        if (lines.Count > 0)
        {
            var last = lines[^1];
            await db.ImportResults.Where(r => r.ImportId == importId && r.Line <= last).ExecuteDeleteAsync(cancellationToken);
        }
        if (lines.Count < BatchSize)
        {
            await imports.Where(i => i.Id == importId).ExecuteUpdateAsync(s => s.SetProperty(i => i.ResultsDeletedAt, now), cancellationToken);
        }
        return true;
    }
}
