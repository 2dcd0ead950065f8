namespace TenantInvitations.Api;

// On SIGTERM, Kestrel's stop cancels pending body reads, and the JSON binding then fails a request still being received
// with a 500. So the stop waits here, before Kestrel's, until the requests in flight have finished (or the shutdown timeout).
internal sealed class RequestDrain : IHostedLifecycleService
{
    private readonly Lock sync = new();
    private int inFlight;
    private TaskCompletionSource? idle;

    public async Task InvokeAsync(HttpContext http, RequestDelegate next)
    {
        lock (sync)
        {
            inFlight++;
        }
        try
        {
            await next(http);
        }
        finally
        {
            lock (sync)
            {
                if (--inFlight == 0)
                {
                    idle?.TrySetResult();
                }
            }
        }
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        Task drained;
        lock (sync)
        {
            idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            drained = inFlight == 0 ? Task.CompletedTask : idle.Task;
        }
        await drained.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
