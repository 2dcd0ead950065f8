using Microsoft.Extensions.Options;

namespace TenantInvitations.Api;

// A clean stop on SIGTERM. From the moment the stop begins /health/ready says Unhealthy (DatabaseHealthCheck), so a load
// balancer moves on, while requests keep being served; before Kestrel stops, the requests in flight are waited for,
// because Kestrel's stop cancels pending body reads and a request still being received would otherwise fail. The wait
// ends when none is in flight, or at half the host's shutdown timeout, leaving the rest for Kestrel and the dispatcher.
internal sealed class RequestDrain(IOptions<HostOptions> host) : IHostedLifecycleService
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
        await drained.WaitAsync(host.Value.ShutdownTimeout / 2, cancellationToken)
            .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
