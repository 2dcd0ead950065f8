using System.Collections.Concurrent;
using System.Data.Common;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace TenantInvitations.Tests;

public sealed record RecordedCommand(string Sql, string[] Parameters, string? TraceId)
{
    // The command without its parameter values: two commands of one shape differ only in what they were given.
    public string Shape => $"{Sql} [{string.Join(", ", Parameters.Select(p => p[..p.IndexOf('=', StringComparison.Ordinal)]))}]";
}

// Every SQL command the app runs, with its parameter values and the trace id of the request that ran it (none for background
// work). Any UPDATE or DELETE of audit_events is a violation: the audit trail is append-only, and TestApp fails on it when disposed.
public sealed partial class CommandLog : DbCommandInterceptor
{
    private readonly ConcurrentQueue<RecordedCommand> commands = new();
    private readonly ConcurrentQueue<string> violations = new();

    public IReadOnlyCollection<RecordedCommand> All => commands;
    public IReadOnlyCollection<string> Violations => violations;

    public RecordedCommand[] OfTrace(string traceId) => [.. commands.Where(c => c.TraceId == traceId)];

    public void Clear()
    {
        commands.Clear();
        violations.Clear();
    }

    public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result) =>
        Record(command, result);

    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData,
        InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default) => ValueTask.FromResult(Record(command, result));

    public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result) =>
        Record(command, result);

    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData,
        InterceptionResult<int> result, CancellationToken cancellationToken = default) => ValueTask.FromResult(Record(command, result));

    public override InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result) =>
        Record(command, result);

    public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(DbCommand command, CommandEventData eventData,
        InterceptionResult<object> result, CancellationToken cancellationToken = default) => ValueTask.FromResult(Record(command, result));

    private T Record<T>(DbCommand command, T result)
    {
        var parameters = command.Parameters.Cast<DbParameter>()
            .Select(p => $"{p.ParameterName}={(p.Value is byte[] bytes ? Convert.ToHexString(bytes) : p.Value)}").ToArray();
        commands.Enqueue(new RecordedCommand(command.CommandText, parameters, Activity.Current?.TraceId.ToString()));
        if (ChangesAudit().IsMatch(command.CommandText))
        {
            violations.Enqueue($"audit_events changed by: {command.CommandText}");
        }
        return result;
    }

    [GeneratedRegex(@"\b(UPDATE|DELETE\s+FROM|TRUNCATE(\s+TABLE)?)\s+""?audit_events\b", RegexOptions.IgnoreCase)]
    private static partial Regex ChangesAudit();
}
