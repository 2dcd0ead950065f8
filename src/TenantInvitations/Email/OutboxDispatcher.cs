using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using TenantInvitations.Data;
using TenantInvitations.Invitations;

namespace TenantInvitations.Email;

// Delivers queued emails: claims a batch under a lease, sends each, and records the outcome on the message and its invitation.
internal sealed class OutboxDispatcher(
    IDbContextFactory<AppDbContext> contexts, IEmailSender sender, EmailOutbox outbox, InvitationEmailRenderer renderer,
    OutboxSignal signal, TimeProvider clock, IOptions<EmailOptions> options, IOptions<AppOptions> app,
    ILogger<OutboxDispatcher> logger) : BackgroundService
{
    private const int BatchSize = 50;
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);
    private readonly Guid node = Guid.NewGuid();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var handled = 0;
            try
            {
                handled = await DispatchBatchAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                logger.LogError(exception, "The outbox dispatcher failed a batch; it will try again.");
            }
            if (handled == 0)
            {
                await signal.WaitAsync(options.Value.PollInterval, stoppingToken);
            }
        }
    }

    public async Task<int> DispatchBatchAsync(CancellationToken cancellationToken)
    {
        await using var db = contexts.CreateDbContext();
        var now = clock.UtcNow();
        var leaseEnds = now + Lease;
        var outbox = db.OutboxMessages.IgnoreQueryFilters();
        var due = outbox
            .Where(m => m.Status == OutboxStatus.Queued && m.NextAttemptAt <= now && (m.LockedUntil == null || m.LockedUntil <= now))
            .OrderBy(m => m.NextAttemptAt)
            .Select(m => m.Id)
            .Take(BatchSize);
        // The claim is one conditional update, so two dispatchers never own the same message at once.
        var claimed = await outbox
            .Where(m => due.Contains(m.Id) && (m.LockedUntil == null || m.LockedUntil <= now))
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.LockedUntil, leaseEnds).SetProperty(m => m.LockedBy, node), cancellationToken);
        if (claimed == 0)
        {
            return 0;
        }
        var messages = await outbox.Where(m => m.LockedBy == node && m.LockedUntil == leaseEnds).ToListAsync(cancellationToken);
        foreach (var message in messages)
        {
            await DeliverAsync(db, message, cancellationToken);
        }
        return messages.Count;
    }

    private async Task DeliverAsync(AppDbContext db, OutboxMessage message, CancellationToken cancellationToken)
    {
        var found = await db.Invitations.IgnoreQueryFilters().AsNoTracking()
            .Where(i => i.Id == message.InvitationId)
            .Join(db.Tenants, i => i.TenantId, t => t.Id, (i, t) => new { Invitation = i, Tenant = t })
            .SingleAsync(cancellationToken);
        var (invitation, tenant) = (found.Invitation, found.Tenant);
        var now = clock.UtcNow();

        if (invitation.DeliveryMessageId != message.Id || invitation.Status != InvitationStatus.Pending)
        {
            message.Cancel(invitation.Status != InvitationStatus.Pending
                ? $"Not sent: the invitation was {invitation.Status.ToString().ToLowerInvariant()} first."
                : "Not sent: a newer email for this invitation replaced it.");
            await db.SaveChangesAsync(cancellationToken);
            return;
        }

        try
        {
            var content = new InvitationEmailContent(tenant.NameInEmails, invitation.InvitedBy, invitation.Role, invitation.ExpiresAt,
                invitation.Message, app.Value.AcceptLink(outbox.UnprotectToken(message.ProtectedToken!)), invitation.Locale);
            var email = await renderer.RenderAsync(content);
            var mime = InvitationEmailRenderer.ToMime(email, options.Value.Smtp.From, invitation.Email, tenant.ReplyTo, message.MessageId, now);
            await sender.SendAsync(mime, cancellationToken);
            message.MarkSent(now);
        }
        catch (CryptographicException)
        {
            message.MarkAttemptFailed(now, "The email could not be prepared because its link could not be decrypted. Resend the invitation.", retryAt: null);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var retryAt = message.Attempts + 1 < options.Value.MaxAttempts ? now + Backoff(message.Attempts) : (DateTime?)null;
            logger.LogWarning("Email {MessageId} for invitation {InvitationId} failed on attempt {Attempt}: {Error}",
                message.MessageId, invitation.Id, message.Attempts + 1, exception.Message);
            message.MarkAttemptFailed(now, $"The mail server could not be reached or refused the email: {exception.Message}", retryAt);
        }
        await RecordAsync(db, message, cancellationToken);
    }

    // The message and the invitation's delivery change together; the invitation is only touched if this is still its latest email.
    private static async Task RecordAsync(AppDbContext db, OutboxMessage message, CancellationToken cancellationToken)
    {
        var delivery = message.Status switch
        {
            OutboxStatus.Sent => DeliveryStatus.Sent,
            OutboxStatus.Failed => DeliveryStatus.Failed,
            _ => DeliveryStatus.Sending,
        };
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Invitations.IgnoreQueryFilters()
            .Where(i => i.Id == message.InvitationId && i.DeliveryMessageId == message.Id)
            .ExecuteUpdateAsync(s => s
                .SetProperty(i => i.DeliveryStatus, delivery)
                .SetProperty(i => i.DeliveryAttempts, message.Attempts)
                .SetProperty(i => i.DeliveryLastAttemptAt, message.LastAttemptAt)
                .SetProperty(i => i.DeliveryLastError, message.LastError), cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    private static TimeSpan Backoff(int failedAttempts) =>
        TimeSpan.FromSeconds(Math.Min(3600, 10 * Math.Pow(2, failedAttempts)));
}
