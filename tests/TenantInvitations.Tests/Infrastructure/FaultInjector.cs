using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;
using TenantInvitations.Data;

namespace TenantInvitations.Tests;

// Lets a test make the real database path misbehave on purpose: fail a query, or hold a commit until the request is aborted.
public sealed class FaultInjector
{
    private volatile string? failOn;
    private volatile TaskCompletionSource? commitReached;
    private HeldCommand? commandHeld;

    private sealed record HeldCommand(string Sql, TaskCompletionSource Reached);

    public IInterceptor[] Interceptors => [new Commands(this), new Transactions(this)];

    // The next command whose SQL contains this text (ignoring identifier quotes, which only SQLite's SQL has) throws an unexpected exception.
    public void FailNextCommandContaining(string sql) => failOn = sql;

    // The next commit waits until its cancellation token fires; the returned task completes when that commit is reached. On
    // PostgreSQL a resend or create commits in the one command that also writes it (OneRoundTrip): that command is held.
    public Task HoldNextCommit()
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        commitReached = reached;
        return reached.Task;
    }

    // The next command whose SQL contains this text (identifier quotes ignored) waits until its cancellation token fires: a
    // request held at a statement of its own, which no background job runs.
    public Task HoldNextCommandContaining(string sql)
    {
        var held = new HeldCommand(sql, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        Volatile.Write(ref commandHeld, held);
        return held.Reached.Task;
    }

    private async Task HoldIfMarkedAsync(DbCommand command, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref commandHeld) is { } held && command.CommandText.Replace("\"", "", StringComparison.Ordinal).Contains(held.Sql, StringComparison.Ordinal)
            && Interlocked.CompareExchange(ref commandHeld, null, held) == held)
        {
            held.Reached.SetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
    }

    private sealed class Commands(FaultInjector faults) : DbCommandInterceptor
    {
        public override async ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData,
            InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            if (faults.failOn is { } marker && command.CommandText.Replace("\"", "", StringComparison.Ordinal).Contains(marker, StringComparison.Ordinal))
            {
                faults.failOn = null;
                throw new InvalidOperationException("Injected failure with secret detail: do-not-show-this");
            }
            await faults.HoldIfMarkedAsync(command, cancellationToken);
            if (command.CommandText.Contains(OneRoundTrip.Marker, StringComparison.Ordinal) && Interlocked.Exchange(ref faults.commitReached, null) is { } reached)
            {
                reached.SetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            return await base.ReaderExecutingAsync(command, eventData, result, cancellationToken);
        }

        public override async ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData,
            InterceptionResult<int> result, CancellationToken cancellationToken = default)
        {
            await faults.HoldIfMarkedAsync(command, cancellationToken);
            return await base.NonQueryExecutingAsync(command, eventData, result, cancellationToken);
        }
    }

    private sealed class Transactions(FaultInjector faults) : DbTransactionInterceptor
    {
        public override async ValueTask<InterceptionResult> TransactionCommittingAsync(DbTransaction transaction, TransactionEventData eventData,
            InterceptionResult result, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Exchange(ref faults.commitReached, null) is { } reached)
            {
                reached.SetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            return await base.TransactionCommittingAsync(transaction, eventData, result, cancellationToken);
        }
    }
}
