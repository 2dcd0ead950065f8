using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace TenantInvitations.Data;

// Ready means the database answers; /health/ready is what a load balancer should poll. One instance per process.
internal sealed class DatabaseHealthCheck(IDbContextFactory<AppDbContext> contexts, IHostApplicationLifetime lifetime) : IHealthCheck
{
    // Well inside a load balancer's probe timeout, whatever connect timeout the connection string has.
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    private readonly Lock sync = new();
    private Task? ping;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("This node is shutting down.");
        }
        Task current;
        lock (sync)
        {
            // Npgsql does not give up a connection attempt when cancelled, so only the wait is bounded; while one attempt
            // is still running against a silent server, later probes wait on it instead of piling up attempts of their own.
            if (ping is null || ping.IsCompleted)
            {
                ping = PingAsync(contexts.CreateDbContext());
            }
            current = ping;
        }
        try
        {
            await current.WaitAsync(Timeout, cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The database does not answer.");
        }
    }

    private static async Task PingAsync(AppDbContext db)
    {
        await using (db)
        {
            // A real round trip: a pooled connection can look open after the server went away.
            await db.Database.ExecuteSqlRawAsync("SELECT 1");
        }
    }
}
