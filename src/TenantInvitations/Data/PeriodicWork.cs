namespace TenantInvitations.Data;

// A background job every node runs on a timer: batch after batch until one comes back short, then a wait. One warning per run
// of failures (an outage), not one per round; a stop ends it between batches.
internal abstract class PeriodicWork(IHostApplicationLifetime lifetime, ILogger logger) : BackgroundService
{
    protected abstract string Name { get; }
    protected abstract TimeSpan Interval { get; }
    protected virtual TimeSpan BetweenBatches => TimeSpan.Zero;

    // One batch; true when a full one was done and more may be waiting.
    public abstract Task<bool> RunBatchAsync(CancellationToken cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken hostStopping)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(hostStopping, lifetime.ApplicationStopping);
        var stoppingToken = stopping.Token;
        var failing = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await RunBatchAsync(stoppingToken))
                {
                    await Task.Delay(BetweenBatches, stoppingToken);
                }
                failing = false;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                if (!failing)
                {
                    failing = true;
                    logger.LogWarning(exception, "{Work} failed; it will try again every {Interval}.", Name, Interval);
                }
            }
            try
            {
                await Task.Delay(Interval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
