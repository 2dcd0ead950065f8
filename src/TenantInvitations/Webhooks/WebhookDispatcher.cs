using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;
using TenantInvitations.Api;
using TenantInvitations.Data;
using TenantInvitations.Operations;

namespace TenantInvitations.Webhooks;

// Wakes the webhook dispatcher at once when a test send or a manual retry is queued.
internal sealed class WebhookSignal : Signal;

// Delivers webhooks at least once. Each round it fans new feed events out into deliveries (WebhookFanOut), then claims due
// deliveries with a lease, as the email outbox does, so nodes share the work and a dead node's claims come back when their lease
// runs out. Each claimed delivery goes out on its endpoint's lane (WebhookLane: concurrency, pace, circuit breaker) and its
// outcome is recorded only while this node still owns it.
internal sealed class WebhookDispatcher(
    IDbContextFactory<AppDbContext> contexts, WebhookFanOut fanOut, WebhookSender sender, WebhookSecrets secrets, WebhookSignal signal,
    TimeProvider clock, IOptions<WebhookOptions> options, IHostApplicationLifetime lifetime, ILogger<WebhookDispatcher> logger) : PeriodicWork(lifetime, logger)
{
    // The pace is about the load on a receiver, so it runs on real time whatever clock the service's rules use.
    private static readonly TimeProvider Wall = TimeProvider.System;

    private readonly Guid node = Guid.NewGuid();
    private readonly ConcurrentDictionary<long, WebhookLane> lanes = new();
    // The deliveries this node holds, by endpoint, and the tasks delivering them.
    private readonly ConcurrentDictionary<long, int> held = new();
    private readonly ConcurrentDictionary<Task, bool> running = new();
    // When the last claim ran, how many deliveries were in flight after it, and how many have finished since; and whether the
    // fan-out left events for its next round.
    private DateTimeOffset lastClaim;
    private int inFlightAfterClaim;
    private int finishedSinceClaim;
    private bool fanOutBehind;
    // Outcomes waiting to be recorded, and whether a delivery is recording them now (RecordAsync).
    private readonly ConcurrentQueue<Outcome> outcomes = new();
    private int recording;

    // Outcomes are recorded at most this many to a transaction.
    private const int ChunkSize = 50;

    private WebhookOptions Settings => options.Value;

    // Whether this node leaves the endpoint's deliveries alone for now (its circuit is open or its probe is out).
    public bool IsResting(long endpointId) => lanes.TryGetValue(endpointId, out var lane) && lane.IsResting;

    protected override string Name => "the webhook dispatcher";
    protected override TimeSpan Interval => Settings.PollInterval;

    // A round fans new events out, then claims what is due; one that started deliveries, or left events to fan out, is
    // followed by another at once. While deliveries are in flight, the claim waits until a quarter of those in flight after
    // the last claim have finished, or a poll interval has passed: a claim per finished delivery (fan-out, claim, reads,
    // pace: about eight statements) cost more than the delivery, and held the drain of 8 busy endpoints to about 300 a
    // second. The fan-out itself keeps going while it is behind, so a slow receiver never holds up the others' events.
    // (Holding more than an endpoint's in-flight share was tried and undone: slots reserved ahead for deliveries that then
    // waited for the endpoint's lane could go out bunched, past Webhooks:MaxPerSecondPerEndpoint.)
    public override async Task<bool> RunBatchAsync(CancellationToken cancellationToken)
    {
        var claimNow = running.IsEmpty || Volatile.Read(ref finishedSinceClaim) >= Math.Max(1, inFlightAfterClaim / 4)
            || Wall.GetUtcNow() - lastClaim >= Settings.PollInterval;
        if (!claimNow && !fanOutBehind)
        {
            return false;
        }
        fanOutBehind = await fanOut.RunAsync(cancellationToken);
        if (!claimNow)
        {
            return fanOutBehind;
        }
        lastClaim = Wall.GetUtcNow();
        Interlocked.Exchange(ref finishedSinceClaim, 0);
        var claimed = await ClaimAsync(cancellationToken);
        inFlightAfterClaim = running.Count;
        return claimed > 0 || fanOutBehind;
    }

    protected override Task WaitAsync(CancellationToken cancellationToken) => signal.WaitAsync(Interval, cancellationToken);

    // No new claims once a stop begins; what is in flight finishes (each attempt is bounded by Webhooks:Timeout).
    protected override async Task ExecuteAsync(CancellationToken hostStopping)
    {
        await base.ExecuteAsync(hostStopping);
        await Task.WhenAll(running.Keys);
    }

    // Claims what this node has room for and starts delivering it; returns how many.
    private async Task<int> ClaimAsync(CancellationToken stoppingToken)
    {
        var room = Settings.MaxConcurrent - running.Count;
        if (room <= 0)
        {
            return 0;
        }
        // Once started the claim is not cancelled (as in the email dispatcher): a claim nobody knows it made waits out its lease.
        var cancellationToken = CancellationToken.None;
        var now = clock.UtcNow();
        var leaseEnds = now + Settings.LeaseDuration;
        // Endpoints this node has its share of in flight, and endpoints that rest between probes: nothing of theirs is claimed.
        var busy = held.Where(h => h.Value >= WebhookOptions.PerEndpoint).Select(h => h.Key)
            .Concat(lanes.Where(l => l.Value.IsResting).Select(l => l.Key)).Distinct().ToArray();
        await using var db = contexts.CreateDbContext();
        var claimed = db.Database.IsNpgsql()
            ? await WebhookClaims.OnPostgresAsync(db, node, now, leaseEnds, room, busy)
            : await WebhookClaims.OnSqliteAsync(db, node, now, leaseEnds, room, busy);
        if (claimed.Count == 0)
        {
            return 0;
        }
        // What was claimed, its endpoints and its events: each read by key (as one join, on statistics taken while the
        // deliveries table was small, the plan could scan the events).
        var deliveries = await db.WebhookDeliveries.IgnoreQueryFilters().AsNoTracking().Where(d => claimed.Contains(d.Id)).ToListAsync(cancellationToken);
        var endpointIds = deliveries.Select(d => d.EndpointId).Distinct().ToList();
        var endpoints = await db.WebhookEndpoints.IgnoreQueryFilters().AsNoTracking().Where(e => endpointIds.Contains(e.Id))
            .ToDictionaryAsync(e => e.Id, cancellationToken);
        var eventIds = deliveries.Select(d => d.EventId).Distinct().ToList();
        var bodies = (await db.Events.IgnoreQueryFilters().AsNoTracking().Where(e => eventIds.Contains(e.Id)).ToListAsync(cancellationToken))
            .ToDictionary(e => e.Id, e => JsonSerializer.Serialize(e.ToModel(), ApiJson.Options));
        // The send times of each endpoint's share, in one statement.
        var slots = await WebhookClaims.ReservePaceAsync(db, deliveries.Where(d => endpoints.ContainsKey(d.EndpointId)).GroupBy(d => d.EndpointId)
            .ToDictionary(g => g.Key, g => g.Count()), Settings.MaxPerSecondPerEndpoint, Wall);
        var interval = TimeSpan.TicksPerSecond / Settings.MaxPerSecondPerEndpoint;
        foreach (var delivery in deliveries)
        {
            if (!endpoints.TryGetValue(delivery.EndpointId, out var endpoint) || !bodies.TryGetValue(delivery.EventId, out var body))
            {
                continue; // its endpoint was deleted a moment ago, and the delivery with it
            }
            held.AddOrUpdate(endpoint.Id, 1, (_, n) => n + 1);
            var slot = new DateTimeOffset(slots[endpoint.Id], TimeSpan.Zero);
            slots[endpoint.Id] += interval;
            var task = DeliverAsync(delivery, endpoint, body, slot, stoppingToken);
            running[task] = true;
            _ = task.ContinueWith(done =>
            {
                running.TryRemove(done, out _);
                held.AddOrUpdate(endpoint.Id, 0, (_, n) => n - 1);
                Interlocked.Increment(ref finishedSinceClaim);
                signal.Notify(); // room for another claim
            }, TaskScheduler.Default);
        }
        return deliveries.Count;
    }

    private async Task DeliverAsync(WebhookDelivery delivery, WebhookEndpoint endpoint, string body, DateTimeOffset slot, CancellationToken stoppingToken)
    {
        await Task.Yield();
        var lane = LaneFor(endpoint);
        try
        {
            await lane.Slots.WaitAsync(stoppingToken);
            try
            {
                // A slot far ahead (other nodes reserved many) is not waited for under a lease: back in the queue for then, untried.
                var wait = slot - Wall.GetUtcNow();
                if (wait > Settings.LeaseDuration / 2)
                {
                    await PutBackAsync(delivery, clock.UtcNow() + wait);
                    return;
                }
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, Wall, stoppingToken);
                }
                string[] keys;
                try
                {
                    keys = secrets.Unprotect(endpoint.SigningSecrets(clock.UtcNow()));
                }
                catch (CryptographicException)
                {
                    await GiveUpAsync(delivery, endpoint,
                        "Its signing secret could not be decrypted (the Data Protection keys changed). Rotate the secret, then enable it again.");
                    return;
                }
                WebhookAttempt attempt;
                try
                {
                    attempt = await lane.Breaker.ExecuteAsync(
                        async _ => await sender.SendAsync(endpoint.Url, keys, delivery.EventId, body), CancellationToken.None);
                }
                catch (BrokenCircuitException open)
                {
                    // Not tried: the endpoint is down. No attempt is counted; it waits for the circuit's next probe.
                    lane.HoldBack(delivery.Id);
                    await PutBackAsync(delivery, lane.IsPaused ? clock.UtcNow() + (open.RetryAfter ?? TimeSpan.FromSeconds(1)) : clock.UtcNow());
                    await ReleaseHeldBackAsync(lane);
                    return;
                }
                await RecordAsync(delivery, attempt);
                await ReleaseHeldBackAsync(lane);
            }
            finally
            {
                lane.Slots.Release();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            await PutBackAsync(delivery, delivery.NextAttemptAt); // not tried: back in the queue at once rather than after the lease
        }
        catch (Exception exception)
        {
            // Never let one delivery stop the others; its lease runs out and it is tried again.
            logger.LogError(exception, "Webhook delivery {DeliveryId} to endpoint {EndpointId} failed unexpectedly.", delivery.Id, endpoint.Id);
        }
    }

    private sealed record Outcome(long DeliveryId, long EndpointId, WebhookAttempt Attempt, TaskCompletionSource Recorded);

    // An attempt's outcome is recorded with the others that finished meanwhile, in one transaction (a group commit): the
    // delivery that finds nobody recording records what is queued, chunk after chunk, and each waits for its own. A
    // transaction per delivery (read the endpoint, update, commit) held the drain to about 300 a second on PostgreSQL.
    // After a crash, what was sent and not recorded yet is sent again when its lease runs out: at most what the node had in
    // flight, Webhooks:MaxConcurrent (64) deliveries (docs/events.md).
    private async Task RecordAsync(WebhookDelivery delivery, WebhookAttempt attempt)
    {
        var outcome = new Outcome(delivery.Id, delivery.EndpointId, attempt, new(TaskCreationOptions.RunContinuationsAsynchronously));
        outcomes.Enqueue(outcome);
        // Whoever records checks the queue again after letting go, so an outcome queued in between is not left waiting.
        while (!outcomes.IsEmpty && Interlocked.CompareExchange(ref recording, 1, 0) == 0)
        {
            try
            {
                await RecordQueuedAsync();
            }
            finally
            {
                Volatile.Write(ref recording, 0);
            }
        }
        await outcome.Recorded.Task;
    }

    // What is queued, chunk after chunk, until the queue is empty; each outcome's waiter learns how its chunk went.
    private async Task RecordQueuedAsync()
    {
        while (TakeChunk() is { Count: > 0 } chunk)
        {
            try
            {
                await RecordChunkAsync(chunk);
                chunk.ForEach(o => o.Recorded.TrySetResult());
            }
            catch (Exception exception)
            {
                chunk.ForEach(o => o.Recorded.TrySetException(exception));
            }
        }
    }

    private List<Outcome> TakeChunk()
    {
        var chunk = new List<Outcome>();
        while (chunk.Count < ChunkSize && outcomes.TryDequeue(out var outcome))
        {
            chunk.Add(outcome);
        }
        return chunk;
    }

    // The attempts, the deliveries' next steps and their endpoints' health, in one transaction, and only for the deliveries
    // this node still owns. If one is taken over between the read and the write, each is recorded again on its own.
    private async Task RecordChunkAsync(List<Outcome> chunk)
    {
        if (await TryRecordAsync(chunk))
        {
            return;
        }
        if (chunk.Count == 1)
        {
            logger.LogWarning("Webhook delivery {DeliveryId} was taken over by another node after its lease ran out; its outcome here is not recorded.",
                chunk[0].DeliveryId);
            return;
        }
        foreach (var outcome in chunk)
        {
            await RecordChunkAsync([outcome]);
        }
    }

    // False when a delivery was taken over between the read and the write (nothing is recorded then).
    private async Task<bool> TryRecordAsync(List<Outcome> chunk)
    {
        var cancellationToken = CancellationToken.None;
        var now = clock.UtcNow();
        await using var db = contexts.CreateDbContext();
        using var writer = await SqliteWriters.EnterAsync(db, cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var endpointIds = chunk.Select(o => o.EndpointId).Distinct().ToList();
        var endpoints = await db.WebhookEndpoints.IgnoreQueryFilters().Where(e => endpointIds.Contains(e.Id)).ToDictionaryAsync(e => e.Id, cancellationToken);
        var deliveryIds = chunk.Select(o => o.DeliveryId).ToList();
        var deliveries = await db.WebhookDeliveries.IgnoreQueryFilters().Where(d => deliveryIds.Contains(d.Id) && d.LockedBy == node)
            .ToDictionaryAsync(d => d.Id, cancellationToken);
        var disabled = new List<(WebhookEndpoint Endpoint, string Reason)>();
        var decided = new List<WebhookDelivery>();
        foreach (var outcome in chunk)
        {
            if (!endpoints.TryGetValue(outcome.EndpointId, out var endpoint))
            {
                continue; // deleted meanwhile, with its deliveries
            }
            if (!deliveries.TryGetValue(outcome.DeliveryId, out var delivery))
            {
                logger.LogWarning("Webhook delivery {DeliveryId} was taken over by another node after its lease ran out; its outcome here is not recorded.",
                    outcome.DeliveryId);
                continue;
            }
            if (Decide(delivery, endpoint, outcome.Attempt, now) is { } reason)
            {
                await WebhookEndpoints.DisableAsync(db, endpoint, reason, now, cancellationToken);
                disabled.Add((endpoint, reason));
            }
            decided.Add(delivery);
        }
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            return false;
        }
        await transaction.CommitAsync(cancellationToken);
        foreach (var delivery in decided)
        {
            AppMetrics.WebhookDelivery(delivery.Status switch
            {
                WebhookDeliveryStatus.Succeeded => "succeeded",
                WebhookDeliveryStatus.Retrying => "retry",
                _ => "failed",
            });
        }
        foreach (var (endpoint, reason) in disabled)
        {
            logger.LogWarning("Webhook endpoint {EndpointId} ({Host}) was disabled: {Reason}", endpoint.Id, HostOf(endpoint.Url), reason);
        }
        return true;
    }

    // An attempt's outcome on the delivery and its endpoint's health; answers why the endpoint is to be disabled, if it is.
    private static string? Decide(WebhookDelivery delivery, WebhookEndpoint endpoint, WebhookAttempt attempt, DateTime now)
    {
        string? disabled = null;
        if (attempt.Succeeded)
        {
            delivery.Succeeded(attempt.Status!.Value, attempt.ResponseBody, attempt.DurationMs, now);
            endpoint.FailingSince = null;
        }
        else if (attempt.Gone)
        {
            delivery.FailedForGood(attempt.Status, attempt.Error!, attempt.ResponseBody, attempt.DurationMs, now);
            disabled = endpoint.Enabled ? "The endpoint answered 410 Gone." : null;
        }
        else
        {
            endpoint.FailingSince ??= now;
            if (endpoint.Enabled && now - endpoint.FailingSince >= WebhookEndpoint.DisableAfterFailing)
            {
                disabled = $"Every attempt failed for {WebhookEndpoint.DisableAfterFailing.TotalDays:0} days, "
                    + $"since {endpoint.FailingSince:yyyy-MM-dd HH:mm} UTC.";
            }
            if (!endpoint.Enabled || disabled is not null)
            {
                delivery.FailedForGood(attempt.Status, $"{attempt.Error} Not retried: the endpoint is disabled.", attempt.ResponseBody,
                    attempt.DurationMs, now);
            }
            else
            {
                delivery.Failed(attempt.Status, attempt.Error!, attempt.ResponseBody, attempt.DurationMs, now, Random.Shared.NextDouble(), attempt.RetryAfter);
            }
        }
        return disabled;
    }

    // One lane per endpoint and URL: a changed URL is another destination, which starts with a closed circuit.
    private WebhookLane LaneFor(WebhookEndpoint endpoint) => lanes.AddOrUpdate(endpoint.Id,
        id => new WebhookLane(id, endpoint.Url, clock, logger),
        (id, lane) => lane.Url == endpoint.Url ? lane : new WebhookLane(id, endpoint.Url, clock, logger));

    // Once the endpoint is back (its circuit closed), what was held back untried while it was down goes now; a retry scheduled
    // after a failed attempt keeps its time.
    private async Task ReleaseHeldBackAsync(WebhookLane lane)
    {
        if (lane.IsPaused || lane.TakeHeldBack() is not { Length: > 0 } ids)
        {
            return;
        }
        var now = clock.UtcNow();
        await using var db = contexts.CreateDbContext();
        await db.WebhookDeliveries.IgnoreQueryFilters()
            .Where(d => ids.Contains(d.Id) && (d.Status == WebhookDeliveryStatus.Pending || d.Status == WebhookDeliveryStatus.Retrying)
                && d.NextAttemptAt > now && d.LockedBy == null)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.NextAttemptAt, now), CancellationToken.None);
        signal.Notify();
    }

    // A delivery that can't be sent at all: failed without an attempt, and its endpoint disabled saying why.
    private async Task GiveUpAsync(WebhookDelivery delivery, WebhookEndpoint endpoint, string reason)
    {
        var now = clock.UtcNow();
        await using var db = contexts.CreateDbContext();
        using var writer = await SqliteWriters.EnterAsync(db, CancellationToken.None);
        await using var transaction = await db.Database.BeginTransactionAsync(CancellationToken.None);
        var current = await db.WebhookEndpoints.IgnoreQueryFilters().FirstOrDefaultAsync(e => e.Id == endpoint.Id, CancellationToken.None);
        db.Attach(delivery);
        delivery.GiveUp($"Not sent. {reason}");
        if (current is { Enabled: true })
        {
            await WebhookEndpoints.DisableAsync(db, current, reason, now, CancellationToken.None);
            logger.LogWarning("Webhook endpoint {EndpointId} ({Host}) was disabled: {Reason}", endpoint.Id, HostOf(endpoint.Url), reason);
        }
        await db.SaveChangesAsync(CancellationToken.None);
        await transaction.CommitAsync(CancellationToken.None);
        AppMetrics.WebhookDelivery("failed");
    }

    // Gives a delivery back without counting an attempt, to be claimed again from `at`.
    private async Task PutBackAsync(WebhookDelivery delivery, DateTime at)
    {
        await using var db = contexts.CreateDbContext();
        await db.WebhookDeliveries.IgnoreQueryFilters().Where(d => d.Id == delivery.Id && d.LockedBy == node)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.NextAttemptAt, at).SetProperty(d => d.LockedUntil, (DateTime?)null)
                .SetProperty(d => d.LockedBy, (Guid?)null), CancellationToken.None);
    }

    // Logs name an endpoint by its id and host, never its path or query, which may hold the receiver's own key.
    private static string HostOf(string url) => Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.Host : "?";

    public override void Dispose()
    {
        foreach (var lane in lanes.Values)
        {
            lane.Dispose();
        }
        base.Dispose();
    }
}
