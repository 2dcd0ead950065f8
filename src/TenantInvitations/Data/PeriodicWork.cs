namespace TenantInvitations.Data;

// A background job every node runs: batch after batch while each comes back full, then a wait (Interval, or less for a worker
// a Signal wakes). A database outage gets one warning and one line when it is back, not one per round; any other failure is
// logged and the next round tries again. A stop ends it between batches.
internal abstract class PeriodicWork(IHostApplicationLifetime lifetime, ILogger logger) : BackgroundService
{
    // What the log lines call it: "the outbox dispatcher".
    protected abstract string Name { get; }
    protected abstract TimeSpan Interval { get; }
    protected virtual TimeSpan BetweenBatches => TimeSpan.Zero;

    // One batch; true when a full one was done and more may be waiting.
    public abstract Task<bool> RunBatchAsync(CancellationToken cancellationToken);

    // The wait after a short batch.
    protected virtual Task WaitAsync(CancellationToken cancellationToken) => Task.Delay(Interval, cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken hostStopping)
    {
        // A stop begins with ApplicationStopping, while the requests in flight drain and before hosted services are stopped:
        // no new batch from that moment.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(hostStopping, lifetime.ApplicationStopping);
        var stoppingToken = stopping.Token;
        var databaseDown = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await RunBatchAsync(stoppingToken))
                {
                    await Task.Delay(BetweenBatches, stoppingToken);
                }
                if (databaseDown)
                {
                    databaseDown = false;
                    logger.LogInformation("The database is back; {Work} resumed.", Name);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (Storage.IsUnavailable(exception))
            {
                if (!databaseDown)
                {
                    databaseDown = true;
                    logger.LogWarning("The database is unavailable ({Reason}); {Work} will keep trying every {Interval}.", exception.Message, Name, Interval);
                }
            }
            catch (Exception exception)
            {
                logger.LogError(exception, "A round of {Work} failed; it will try again.", Name);
            }
            try
            {
                await WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
