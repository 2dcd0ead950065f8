using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace TenantInvitations.Data;

// Ready means the database answers; /health/ready is what a load balancer should poll.
internal sealed class DatabaseHealthCheck(IDbContextFactory<AppDbContext> contexts) : IHealthCheck
{
    // Well inside a load balancer's probe timeout, whatever connect timeout the connection string has.
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            // Npgsql does not give up a connection attempt when cancelled, so only the wait is bounded; the attempt
            // ends on its own connect timeout and then returns its context.
            await PingAsync(contexts.CreateDbContext(), cancellationToken).WaitAsync(Timeout, cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The database does not answer.");
        }
    }

    private static async Task PingAsync(AppDbContext db, CancellationToken cancellationToken)
    {
        await using (db)
        {
            // A real round trip: a pooled connection can look open after the server went away.
            await db.Database.ExecuteSqlRawAsync("SELECT 1", cancellationToken);
        }
    }
}
