using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using MimeKit;
using Polly.CircuitBreaker;
using Polly.Contrib.WaitAndRetry;
using TenantInvitations.Data;
using TenantInvitations.Events;
using TenantInvitations.Invitations;
using TenantInvitations.Operations;

namespace TenantInvitations.Email;

// Delivers queued emails at least once, each with a Message-ID fixed when it was queued, and records every outcome.
internal sealed class OutboxDispatcher(
    IDbContextFactory<AppDbContext> contexts, IEmailSender sender, EmailOutbox outbox, InvitationEmailRenderer renderer, IdGenerator ids,
    OutboxSignal signal, TimeProvider clock, IOptions<EmailOptions> options, IOptions<AppOptions> app, IOptions<Invitations.InvitationOptions> rules,
    IHostApplicationLifetime lifetime, ILogger<OutboxDispatcher> logger) : PeriodicWork(lifetime, logger)
{
    private readonly Guid node = Guid.NewGuid();
    private readonly MailServerCircuit circuit = new(ServerName(options.Value), clock, logger);
    private EmailOptions Settings => options.Value;

    private static string ServerName(EmailOptions email) =>
        string.IsNullOrWhiteSpace(email.Smtp.Host) ? $"(the pickup directory {email.PickupDirectory})" : $"{email.Smtp.Host}:{email.Smtp.Port}";

    protected override string Name => "the outbox dispatcher";
    protected override TimeSpan Interval => Settings.PollInterval;

    public override async Task<bool> RunBatchAsync(CancellationToken cancellationToken) => await DispatchBatchAsync(cancellationToken) > 0;

    protected override Task WaitAsync(CancellationToken cancellationToken) => signal.WaitAsync(Interval, cancellationToken);

    // How long a chunk of a batch runs before its outcomes are recorded: what an email is sent for was read at most this
    // long before (plus one send), and at most this much sending (and ChunkSize emails) is repeated after a crash.
    public static readonly TimeSpan ChunkTime = TimeSpan.FromMilliseconds(100);
    public const int ChunkSize = 50;

    // A batch is claimed at once, then sent in chunks: each chunk's invitations are read in one query, its emails sent in
    // order over one SMTP session, and their outcomes recorded in one transaction.
    public async Task<int> DispatchBatchAsync(CancellationToken stoppingToken)
    {
        if (circuit.IsResting)
        {
            return 0; // the mail server is down: the emails wait, unclaimed, until its next probe is due
        }
        await using var db = contexts.CreateDbContext();
        var (messages, leaseEnds) = await ClaimAsync(db, stoppingToken);
        if (messages.Count == 0)
        {
            return 0;
        }
        var owned = messages.Select(m => m.Id).ToHashSet();
        var done = new HashSet<long>();
        try
        {
            // Once claimed, an email is sent and recorded even if the service is stopping (the SMTP timeout bounds it);
            // the stop only prevents the next one from starting.
            await using var session = await sender.OpenSessionAsync(CancellationToken.None);
            var serverDown = false;
            var next = 0;
            while (next < messages.Count && !serverDown && !stoppingToken.IsCancellationRequested)
            {
                var upcoming = messages.Skip(next).Take(ChunkSize).ToList();
                var read = await ReadAsync(db, upcoming);
                var chunk = new List<OutboxMessage>();
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                foreach (var message in upcoming)
                {
                    if (serverDown || stoppingToken.IsCancellationRequested || (chunk.Count > 0 && System.Diagnostics.Stopwatch.GetElapsedTime(started) >= ChunkTime))
                    {
                        break;
                    }
                    next++;
                    var now = clock.UtcNow();
                    if (now >= leaseEnds - Settings.LeaseDuration / 2)
                    {
                        (owned, leaseEnds) = await RenewLeaseAsync(db, owned, now, CancellationToken.None);
                    }
                    if (!owned.Contains(message.Id))
                    {
                        continue; // the lease ran out and another dispatcher took this message over
                    }
                    // Once the server is found unreachable, the rest of the batch is not tried: it is released below, its
                    // attempts untouched, and waits for the circuit's next probe.
                    var outcome = await DeliverAsync(session, message, read[message.InvitationId], now);
                    serverDown = outcome != Sent.Done;
                    if (outcome != Sent.NotTried)
                    {
                        chunk.Add(message);
                    }
                }
                await RecordAsync(db, chunk, read);
                done.UnionWith(chunk.Select(m => m.Id));
            }
        }
        finally
        {
            await ReleaseAsync(db, owned.Except(done).ToList());
        }
        return messages.Count;
    }

    // The invitations (and their tenants) the next emails are for, as they are now, untracked.
    private static async Task<Dictionary<long, (Invitation Invitation, Tenants.Tenant Tenant)>> ReadAsync(AppDbContext db, List<OutboxMessage> messages)
    {
        var ids = messages.Select(m => m.InvitationId).Distinct().ToList();
        var rows = await db.Invitations.IgnoreQueryFilters().AsNoTracking()
            .Where(i => ids.Contains(i.Id))
            .Join(db.Tenants, i => i.TenantId, t => t.Id, (i, t) => new { Invitation = i, Tenant = t })
            .ToListAsync(CancellationToken.None);
        return rows.ToDictionary(r => r.Invitation.Id, r => (r.Invitation, r.Tenant));
    }

    // Claimed but not processed (the service is stopping): give them back at once rather than after the lease.
    private async Task ReleaseAsync(AppDbContext db, List<long> unprocessed)
    {
        if (unprocessed.Count > 0)
        {
            await db.OutboxMessages.IgnoreQueryFilters()
                .Where(m => unprocessed.Contains(m.Id) && m.LockedBy == node && m.Status == OutboxStatus.Queued)
                .ExecuteUpdateAsync(s => s.SetProperty(m => m.LockedUntil, (DateTime?)null).SetProperty(m => m.LockedBy, (Guid?)null), CancellationToken.None);
        }
    }

    // The claim is one conditional update that takes a lease, so two dispatchers never own the same message at once, and a
    // node that dies holding messages gives them up when its lease runs out. On PostgreSQL the rows are picked with
    // SKIP LOCKED, so dispatchers on several nodes claim different messages instead of queuing behind each other's claim;
    // SQLite has one writer at a time, so its conditional update alone decides.
    // Once the claim has started it is not cancelled: a stop between the update and the read-back would leave messages locked
    // that nobody knows it owns, until the lease ran out. The batch loop sees the stop instead and releases them at once.
    private async Task<(List<OutboxMessage> Messages, DateTime LeaseEnds)> ClaimAsync(AppDbContext db, CancellationToken stoppingToken)
    {
        stoppingToken.ThrowIfCancellationRequested();
        var cancellationToken = CancellationToken.None;
        var now = clock.UtcNow();
        var leaseEnds = now + Settings.LeaseDuration;
        var outbox = db.OutboxMessages.IgnoreQueryFilters();
        var due = outbox
            .Where(m => m.Status == OutboxStatus.Queued && m.NextAttemptAt <= now && (m.LockedUntil == null || m.LockedUntil <= now))
            .OrderBy(m => m.NextAttemptAt)
            .Select(m => m.Id)
            .Take(Settings.BatchSize);
        var claimed = db.Database.IsNpgsql()
            ? await db.Database.ExecuteSqlAsync($"""
                UPDATE outbox_messages SET locked_until = {leaseEnds}, locked_by = {node}
                WHERE id IN (
                    SELECT id FROM outbox_messages
                    WHERE status = 'Queued' AND next_attempt_at <= {now} AND (locked_until IS NULL OR locked_until <= {now})
                    ORDER BY next_attempt_at
                    LIMIT {Settings.BatchSize}
                    FOR UPDATE SKIP LOCKED)
                """, cancellationToken)
            : await outbox
                .Where(m => due.Contains(m.Id) && m.Status == OutboxStatus.Queued && m.NextAttemptAt <= now && (m.LockedUntil == null || m.LockedUntil <= now))
                .ExecuteUpdateAsync(s => s.SetProperty(m => m.LockedUntil, leaseEnds).SetProperty(m => m.LockedBy, node), cancellationToken);
        return (claimed == 0 ? [] : await outbox.Where(m => m.LockedBy == node && m.LockedUntil == leaseEnds).OrderBy(m => m.NextAttemptAt).ToListAsync(cancellationToken),
            leaseEnds);
    }

    // A long batch (a slow mail server) keeps what it still owns for another lease, and learns what it lost.
    private async Task<(HashSet<long> Owned, DateTime LeaseEnds)> RenewLeaseAsync(AppDbContext db, HashSet<long> owned, DateTime now, CancellationToken cancellationToken)
    {
        var leaseEnds = now + Settings.LeaseDuration;
        var outbox = db.OutboxMessages.IgnoreQueryFilters();
        await outbox.Where(m => owned.Contains(m.Id) && m.LockedBy == node && m.Status == OutboxStatus.Queued)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.LockedUntil, leaseEnds), cancellationToken);
        var kept = await outbox.Where(m => owned.Contains(m.Id) && m.LockedBy == node && m.LockedUntil == leaseEnds).Select(m => m.Id).ToListAsync(cancellationToken);
        return ([.. kept], leaseEnds);
    }

    private enum Sent { Done, ServerDown, NotTried }

    // Sends one message and sets its outcome: Done (sent, or an outcome of its own), ServerDown (tried, and the server itself
    // could not be reached: one attempt counted), NotTried (the circuit is open; nothing changed).
    private async Task<Sent> DeliverAsync(IEmailSession session, OutboxMessage message, (Invitation Invitation, Tenants.Tenant Tenant) read, DateTime now)
    {
        var cancellationToken = CancellationToken.None;
        var (invitation, tenant) = read;

        if (message.Status != OutboxStatus.Queued)
        {
            return Sent.Done; // already finished elsewhere
        }
        if (invitation.DeliveryOutboxId != message.Id || invitation.Status != InvitationStatus.Pending)
        {
            message.Cancel(invitation.Status != InvitationStatus.Pending
                ? $"Not sent: the invitation was {invitation.Status.ToString().ToLowerInvariant()} first."
                : "Not sent: a newer email for this invitation replaced it.");
            return Sent.Done;
        }
        if (invitation.StatusAt(now) == InvitationStatus.Expired)
        {
            message.MarkAttemptFailed(now, "Not sent: the invitation expired before the email could be delivered. Resend it.", retryAt: null);
            return Sent.Done;
        }

        try
        {
            var link = app.Value.AcceptLink(outbox.UnprotectToken(message.ProtectedToken!));
            var email = await renderer.RenderAsync(InvitationEmailContent.For(invitation, tenant, link));
            var mime = InvitationEmailRenderer.ToMime(email, Settings.Smtp.From, invitation.Email, tenant.ReplyTo, message.MessageId, now);
            await circuit.SendAsync(token => session.SendAsync(mime, token), cancellationToken);
            message.MarkSent(now);
            return Sent.Done;
        }
        catch (BrokenCircuitException)
        {
            return Sent.NotTried;
        }
        catch (CryptographicException)
        {
            message.MarkAttemptFailed(now, "Not sent: its link could not be decrypted (the Data Protection keys changed). Resend the invitation.", retryAt: null);
            return Sent.Done;
        }
        catch (DeliveryException failure)
        {
            var retryAt = failure.Permanent ? null : RetryAt(message, now);
            // The server being down is the circuit's one warning; an email's own refusal is a warning without a stack trace.
            logger.Log(failure.ConnectionFailed ? LogLevel.Debug : LogLevel.Warning,
                "Email {MessageId} for invitation {InvitationId} was not delivered (attempt {Attempt}, {Outcome}): {Reason}",
                message.MessageId, invitation.Id, message.Attempts + 1, retryAt is null ? "final" : "will retry", failure.Message);
            logger.LogDebug(failure.InnerException, "What the mail client reported for email {MessageId}.", message.MessageId);
            message.MarkAttemptFailed(now, retryAt is null && !failure.Permanent
                ? $"Gave up after retrying for {Settings.RetryFor.TotalHours:0.#} hours. Last error: {failure.Message}"
                : failure.Message, retryAt);
            return failure.ConnectionFailed ? Sent.ServerDown : Sent.Done;
        }
        catch (ParseException)
        {
            message.MarkAttemptFailed(now, $"Not sent: {invitation.Email} or the tenant's reply-to address is not an address a mail server accepts.", retryAt: null);
            return Sent.Done;
        }
        catch (Exception exception)
        {
            // Never let one email stop the others: record it, keep the details in the log, and retry it.
            logger.LogError(exception, "Email {MessageId} for invitation {InvitationId} failed unexpectedly.", message.MessageId, invitation.Id);
            var retryAt = RetryAt(message, now);
            message.MarkAttemptFailed(now, retryAt is null
                ? "Not sent: an unexpected error kept happening; the service log has the details."
                : "An unexpected error stopped this email; the service log has the details. It will be retried.", retryAt);
            return Sent.Done;
        }
    }

    // When to try again: Polly's decorrelated-jitter exponential backoff, each wait capped, until RetryFor has passed since
    // the email's first real attempt (not since it was queued: an outage it waited out unattempted doesn't count).
    private DateTime? RetryAt(OutboxMessage message, DateTime now)
    {
        var attempt = Math.Min(message.Attempts, 30);
        var delay = Backoff.DecorrelatedJitterBackoffV2(Settings.RetryBaseDelay, attempt + 1).Last();
        var next = now + (delay < Settings.MaxRetryDelay ? delay : Settings.MaxRetryDelay);
        return next <= (message.FirstAttemptAt ?? now) + Settings.RetryFor ? next : null;
    }

    // The outcomes of a chunk, in one transaction: each message, its invitation's delivery if this is still its latest email,
    // and for the latest email's outcome, sent or given up, an event (a cancelled email is neither: its invitation moved on).
    // Each update is guarded (the message by this dispatcher still owning it, the invitation by its version): if another
    // request or dispatcher moved on meanwhile, the chunk is recorded again one email at a time, each deciding anew.
    private async Task RecordAsync(AppDbContext db, List<OutboxMessage> chunk, Dictionary<long, (Invitation Invitation, Tenants.Tenant Tenant)> read)
    {
        var cancellationToken = CancellationToken.None;
        if (chunk.Count == 0)
        {
            return;
        }
        foreach (var message in chunk)
        {
            var invitation = read[message.InvitationId].Invitation;
            if (invitation.DeliveryOutboxId != message.Id)
            {
                continue;
            }
            if (db.Entry(invitation).State == EntityState.Detached)
            {
                db.Attach(invitation);
            }
            invitation.RecordDelivery(OutboxMessage.DeliveryStatusOf(message.Status, message.Attempts), message.Attempts, message.LastAttemptAt, message.LastError);
            if (EventTypeOf(message) is { } type)
            {
                var now = message.LastAttemptAt ?? clock.UtcNow();
                EventLog.Add(db, await ids.NextAsync(cancellationToken), type, invitation.TenantId, actor: null, invitation.ToModel(now, rules.Value), now, traceId: null);
            }
        }
        try
        {
            using var writer = await SqliteWriters.EnterAsync(db, cancellationToken);
            await db.SaveChangesAsync(cancellationToken);
            chunk.ForEach(Count);
        }
        catch (DbUpdateConcurrencyException)
        {
            foreach (var entry in db.ChangeTracker.Entries().Where(e => e.Entity is not OutboxMessage).ToList())
            {
                entry.State = EntityState.Detached;
            }
            foreach (var message in chunk)
            {
                if (await RecordOneAsync(db, message))
                {
                    Count(message);
                }
            }
        }
        // Recorded: no later SaveChanges of this batch needs to look at them again (change detection scans every tracked row).
        foreach (var entry in db.ChangeTracker.Entries().Where(e => e.Entity is not OutboxMessage || chunk.Contains((OutboxMessage)e.Entity)).ToList())
        {
            entry.State = EntityState.Detached;
        }
    }

    // An outcome once recorded, in email_deliveries_total (and, when sent, the time from queuing to the mail server's accepting).
    private static void Count(OutboxMessage message)
    {
        switch (message.Status)
        {
            case OutboxStatus.Sent:
                AppMetrics.EmailDelivery("sent");
                AppMetrics.EmailDelivered(message.SentAt!.Value - message.CreatedAt);
                break;
            case OutboxStatus.Failed:
                AppMetrics.EmailDelivery("failed");
                break;
            case OutboxStatus.Queued when message.Attempts > 0:
                AppMetrics.EmailDelivery("retry");
                break;
        }
    }

    // One email's outcome on its own, when its chunk could not be recorded at once; false when another dispatcher has it now.
    private async Task<bool> RecordOneAsync(AppDbContext db, OutboxMessage message)
    {
        var cancellationToken = CancellationToken.None;
        var eventType = EventTypeOf(message);
        var eventId = eventType is null ? 0 : await ids.NextAsync(cancellationToken); // before the transaction (see EmailQuota)
        using var writer = await SqliteWriters.EnterAsync(db, cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var mine = await db.OutboxMessages.IgnoreQueryFilters()
            .Where(m => m.Id == message.Id && m.LockedBy == node)
            .ExecuteUpdateAsync(s => s
                .SetProperty(m => m.Status, message.Status)
                .SetProperty(m => m.Attempts, message.Attempts)
                .SetProperty(m => m.SentAt, message.SentAt)
                .SetProperty(m => m.LastAttemptAt, message.LastAttemptAt)
                .SetProperty(m => m.FirstAttemptAt, message.FirstAttemptAt)
                .SetProperty(m => m.LastError, message.LastError)
                .SetProperty(m => m.NextAttemptAt, message.NextAttemptAt)
                .SetProperty(m => m.ProtectedToken, message.ProtectedToken)
                .SetProperty(m => m.LockedUntil, message.LockedUntil)
                .SetProperty(m => m.LockedBy, message.LockedBy), cancellationToken) == 1;
        if (!mine)
        {
            logger.LogWarning("Email {MessageId} was taken over by another dispatcher after its lease ran out; its outcome here is not recorded.", message.MessageId);
            return false;
        }
        var latest = await db.Invitations.IgnoreQueryFilters()
            .Where(i => i.Id == message.InvitationId && i.DeliveryOutboxId == message.Id)
            .ExecuteUpdateAsync(s => s
                .SetProperty(i => i.DeliveryStatus, OutboxMessage.DeliveryStatusOf(message.Status, message.Attempts))
                .SetProperty(i => i.DeliveryAttempts, message.Attempts)
                .SetProperty(i => i.DeliveryLastAttemptAt, message.LastAttemptAt)
                .SetProperty(i => i.DeliveryLastError, message.LastError), cancellationToken) == 1;
        if (latest && eventType is not null)
        {
            var invitation = await db.Invitations.IgnoreQueryFilters().AsNoTracking().SingleAsync(i => i.Id == message.InvitationId, cancellationToken);
            var now = message.LastAttemptAt ?? clock.UtcNow();
            EventLog.Add(db, eventId, eventType, invitation.TenantId, actor: null, invitation.ToModel(now, rules.Value), now, traceId: null);
            await db.SaveChangesAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    private static string? EventTypeOf(OutboxMessage message) => message.Status switch
    {
        OutboxStatus.Sent => EventTypes.InvitationDelivered,
        OutboxStatus.Failed => EventTypes.InvitationDeliveryFailed,
        _ => null,
    };
}
